{{/* The chart's name, truncated to Kubernetes' 63 characters. */}}
{{- define "bridge.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release's full name: <release>-bridge, or the release name when it already says bridge. */}}
{{- define "bridge.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels every object carries. */}}
{{- define "bridge.labels" -}}
app.kubernetes.io/name: {{ include "bridge.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Labels that select the pods of one component (pass a dict with "root" and "component"). */}}
{{- define "bridge.selectorLabels" -}}
app.kubernetes.io/name: {{ include "bridge.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* The image reference. */}}
{{- define "bridge.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* The Secret holding credentials: an existing one, or the chart's. */}}
{{- define "bridge.secretName" -}}
{{- .Values.existingSecret | default (printf "%s-secrets" (include "bridge.fullname" .)) -}}
{{- end -}}

{{/* Pod security context: a fixed non-root user, the runtime's default seccomp profile. */}}
{{- define "bridge.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Container security context: read-only root filesystem, no privilege escalation, no capabilities. */}}
{{- define "bridge.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: ["ALL"]
{{- end -}}

{{/* Environment shared by web and worker: plain settings, secrets, and the rules file when given. */}}
{{- define "bridge.envFrom" -}}
- configMapRef:
    name: {{ include "bridge.fullname" . }}-config
- secretRef:
    name: {{ include "bridge.secretName" . }}
{{- end -}}

{{/* Volumes: /tmp is writable (the root filesystem is not), and the rules file when given. */}}
{{- define "bridge.volumes" -}}
- name: tmp
  emptyDir: {}
{{- if .Values.rules }}
- name: rules
  configMap:
    name: {{ include "bridge.fullname" . }}-rules
{{- end }}
{{- end -}}

{{- define "bridge.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
{{- if .Values.rules }}
- name: rules
  mountPath: /etc/bridge
  readOnly: true
{{- end }}
{{- end -}}

{{/* The worker's grace after SIGTERM, refused when shorter than half the calls job's timeout + 30 s. */}}
{{- define "bridge.workerGrace" -}}
{{- $timeout := .Values.config.BRIDGE_CALLS_JOB_TIMEOUT_S | default "120" | int -}}
{{- $needed := add (div (add $timeout 1) 2) 30 -}}
{{- $grace := .Values.worker.terminationGracePeriodSeconds | int -}}
{{- if lt $grace $needed -}}
{{- fail (printf "worker.terminationGracePeriodSeconds is %d, less than half the calls job's timeout (BRIDGE_CALLS_JOB_TIMEOUT_S=%d) + 30 s = %d: a stopped worker would be killed in the middle of its calls" $grace $timeout $needed) -}}
{{- end -}}
{{- $grace -}}
{{- end -}}

{{/* PromQL label matchers selecting this release's series (the ServiceMonitor's job and namespace). */}}
{{- define "bridge.metricsSelector" -}}
{{- .Values.monitoring.alertRules.selector | default (printf "namespace=%q,job=%q" .Release.Namespace (printf "%s-web" (include "bridge.fullname" .))) -}}
{{- end -}}
