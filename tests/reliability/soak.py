"""The soak: tickets and issues with random histories, delivered out of order and more than once, while
workers are killed, Redis restarts and the upstreams fail; then the upstreams are compared with what the
rules define for each subject's newest state (tests/reliability/model.py).

Everything is real and at default settings: a ``redis-server`` with its append-only file, ``bridge web``
and ``bridge worker`` processes, the sandbox's five APIs on loopback. The history plays in real time (the
bridge orders Zendesk's and Jira's clocks against its own when it reads a source), each change made on the
sandbox's Zendesk or Jira first, then delivered — held back at random (reordering), sometimes twice
(the same delivery, or the same content delivered anew); Zendesk triggers render ``updated_at`` to the
minute half of the time, so edits of one ticket in one minute tie.

Run it longer by hand: ``python -m tests.reliability.soak --minutes 10 --seed 3`` (see docs/operations.md).
"""

from __future__ import annotations

import argparse
import heapq
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import redis

from bridge import samples
from bridge.embedded_redis import free_port
from bridge.ops import service
from bridge.upstreams.sandbox import SandboxConfig, SandboxControl, serve_in_thread
from tests.reliability.model import Verdict, judge

JIRA_SECRET = "soak-jira-secret"
ZENDESK_SECRET = "soak-zendesk-secret"
TICKET_FIELD = "360000000001"
ISSUE_FIELD = "customfield_10050"
STATUSES = ("new", "open", "pending", "hold", "solved", "closed")


@dataclass
class SoakConfig:
    """How big and how hostile a soak is."""

    seed: int = 1
    seconds: float = 30.0
    """How long the history plays (deliveries and chaos); convergence is measured after it."""
    tickets: int = 30
    issues: int = 10
    changes_per_second: float = 6.0
    workers: int = 2
    duplicate_rate: float = 0.15
    hold_back_s: float = 3.0
    """A delivery is held back up to this long at random: deliveries overtake each other."""
    kill_every_s: float = 10.0
    redis_restarts: int = 1
    redis_down_s: float = 3.0
    fault_every_s: float = 1.5
    converge_timeout_s: float = 60.0


@dataclass
class Report:
    """What a soak did and found."""

    config: SoakConfig
    verdict: Verdict = field(default_factory=Verdict)
    converged_after_s: float | None = None
    changes: int = 0
    deliveries: int = 0
    redelivered: int = 0
    refused: list[str] = field(default_factory=list)
    kills: int = 0
    exited: list[str] = field(default_factory=list)
    """Workers that ended on their own (none should: a worker waits Redis out); each was replaced."""
    redis_restarts: int = 0
    faults: int = 0
    diagnosis: str = ""
    """When it did not converge: each wrong subject's deliveries and the bridge's records of it."""

    def summary(self) -> str:
        converged = (
            f"{self.converged_after_s:.1f} s" if self.converged_after_s is not None else "not converged"
        )
        return (
            f"soak seed {self.config.seed}: {self.changes} changes, {self.deliveries} deliveries"
            f" ({self.redelivered} again), {self.kills} workers killed, {len(self.exited)} exited on their own,"
            f" {self.redis_restarts} Redis restarts,"
            f" {self.faults} faults; {self.verdict.expected_links} links expected;"
            f" {self.verdict.counts()}; converged after the last delivery in {converged}"
        )


@dataclass(order=True)
class _Delivery:
    due: float
    order: int
    source: str = field(compare=False)
    payload: dict[str, Any] = field(compare=False)
    identifier: str = field(compare=False)


class Soak:
    """One soak run in ``workdir`` (logs, Redis's files)."""

    def __init__(self, config: SoakConfig, workdir: Path) -> None:
        self.config = config
        self.workdir = workdir
        self.random = random.Random(config.seed)
        self.report = Report(config)
        self._lock = threading.Lock()
        self._pending: list[_Delivery] = []
        self._order = 0
        self._sent = 0
        self._playing = True
        self._processes: list[subprocess.Popen[bytes]] = []
        self._workers: list[subprocess.Popen[bytes]] = []
        self._clock: dict[str, int] = {}
        self._journal: list[str] = []
        self._started = time.monotonic()

    # The run --------------------------------------------------------------------------------------------

    def run(self) -> Report:
        config = SandboxConfig(auto_issues=False, zendesk_refuse_duplicate_links=False)
        with serve_in_thread(config) as sandbox, SandboxControl(sandbox.url) as control:
            self.sandbox, self.control = sandbox, control
            self.redis_port = free_port()
            self.redis = self._start_redis()
            try:
                self._start_bridge()
                self._seed()
                self._play()
                self._converge()
            finally:
                self._stop()
        return self.report

    def _play(self) -> None:
        threads = [threading.Thread(target=self._send_loop, daemon=True) for _ in range(4)]
        threads.append(threading.Thread(target=self._chaos, daemon=True))
        for thread in threads:
            thread.start()
        end = time.monotonic() + self.config.seconds
        while time.monotonic() < end:
            self._change()
            time.sleep(self.random.expovariate(self.config.changes_per_second))
        self._playing = False
        while True:
            with self._lock:
                if not self._pending and self._sent == self.report.deliveries:
                    break
            time.sleep(0.05)
        for thread in threads:
            thread.join(timeout=30)
        self.control.clear_faults()

    def _converge(self) -> None:
        started = time.monotonic()
        base = self.sandbox.env()["ZENDESK_BASE_URL"]
        while True:
            verdict = judge(self.control.state(), base, TICKET_FIELD, ISSUE_FIELD)
            self.report.verdict = verdict
            if verdict.converged:
                self.report.converged_after_s = time.monotonic() - started
                return
            if time.monotonic() - started > self.config.converge_timeout_s:
                self.report.diagnosis = self._diagnose(verdict)
                return
            time.sleep(1.0)

    # The history ----------------------------------------------------------------------------------------

    def _seed(self) -> None:
        self.issue_ids: list[str] = []
        for n in range(self.config.issues):
            issue = self.control.seed_issue(f"SOAK-{n + 1}", id=str(20001 + n), fields={ISSUE_FIELD: ""})
            self.issue_ids.append(issue["id"])
        self.ticket_ids = [str(9001 + n) for n in range(self.config.tickets)]
        self.live_tickets: set[str] = set()
        self.soft_deleted: set[str] = set()
        self.gone_tickets: set[str] = set()
        self.gone_issues: set[str] = set()
        self.moves = 0

    def _change(self) -> None:
        roll = self.random.random()
        live_issues = [issue_id for issue_id in self.issue_ids if issue_id not in self.gone_issues]
        if roll < 0.62 or not live_issues:
            self._change_ticket()
        elif roll < 0.66:
            self._delete_ticket()
        elif roll < 0.92:
            self._change_issue(self.random.choice(live_issues))
        elif roll < 0.96:
            self._move_issue(self.random.choice(live_issues))
        elif len(live_issues) > 2:
            self._delete_issue(self.random.choice(live_issues))
        self.report.changes += 1

    def _keys(self) -> str:
        state = self.control.state()["jira"]
        known = [issue["key"] for issue in state["issues"]] + list(state["aliases"])
        if self.gone_issues and self.random.random() < 0.1:
            known.append("SOAK-GONE-1")  # a key no issue has
        chosen = self.random.sample(known, k=min(len(known), self.random.choice((0, 1, 1, 2, 3))))
        return " ".join(chosen)

    def _change_ticket(self) -> None:
        choices = [t for t in self.ticket_ids if t not in self.gone_tickets]
        if not choices:
            return
        ticket_id = self.random.choice(choices)
        if ticket_id in self.soft_deleted:
            self.control.restore_ticket(ticket_id, updated_at=self._now_iso())
            self.soft_deleted.discard(ticket_id)
            self._deliver_zendesk(self._subscription(ticket_id, "ticket.undeleted"))
            return
        fields = {
            "subject": f"Ticket {ticket_id} #{self.report.changes}",
            "status": self.random.choice(STATUSES),
            "jira_keys": self._keys(),
            "updated_at": self._now_iso(),
        }
        ticket = self.control.put_ticket(ticket_id, **fields)
        self.live_tickets.add(ticket_id)
        if self.random.random() < 0.7:
            self._deliver_zendesk(self._trigger(ticket))
        else:
            self._deliver_zendesk(self._subscription(ticket_id, "ticket.custom_field_changed", ticket))

    def _delete_ticket(self) -> None:
        live = sorted(self.live_tickets - self.soft_deleted - self.gone_tickets)
        if self.soft_deleted and self.random.random() < 0.3:
            ticket_id = self.random.choice(sorted(self.soft_deleted))
            self.control.delete_ticket(ticket_id, permanent=True)
            self.soft_deleted.discard(ticket_id)
            self.gone_tickets.add(ticket_id)
            self._deliver_zendesk(self._subscription(ticket_id, "ticket.permanently_deleted"))
        elif live:
            ticket_id = self.random.choice(live)
            self.control.delete_ticket(ticket_id, updated_at=self._now_iso())
            self.soft_deleted.add(ticket_id)
            self._deliver_zendesk(self._subscription(ticket_id, "ticket.soft_deleted"))

    def _change_issue(self, issue_id: str) -> None:
        named = self.random.sample(self.ticket_ids, k=self.random.choice((0, 0, 1, 1, 2)))
        issue = self.control.change_issue(issue_id, fields={ISSUE_FIELD: ", ".join(named)})
        self._deliver_jira(self._jira(issue, "jira:issue_updated"))

    def _move_issue(self, issue_id: str) -> None:
        self.moves += 1
        before = self.control.change_issue(issue_id)
        issue = self.control.change_issue(issue_id, key=f"MOVED{self.moves}-{self.moves}")
        payload = self._jira(issue, "jira:issue_updated")
        payload["changelog"]["items"].append(
            {"field": "Key", "fieldtype": "jira", "fromString": before["key"], "toString": issue["key"]}
        )
        self._deliver_jira(payload)

    def _delete_issue(self, issue_id: str) -> None:
        issue = self.control.change_issue(issue_id)
        self.control.delete_issue(issue_id)
        self.gone_issues.add(issue_id)
        self._deliver_jira(self._jira(issue, "jira:issue_deleted"))

    # Delivery bodies ------------------------------------------------------------------------------------

    def _now_iso(self) -> str:
        return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def _trigger(self, ticket: dict[str, Any]) -> dict[str, Any]:
        keys = next((f["value"] for f in ticket["custom_fields"] if str(f["id"]) == TICKET_FIELD), "")
        updated = ticket["updated_at"]
        if self.random.random() < 0.5:
            updated = updated[:16] + "Z"  # {{ticket.updated_at_with_timestamp}}: to the minute
        base = self.sandbox.env()["ZENDESK_BASE_URL"]
        return {
            "ticket": {
                "id": str(ticket["id"]),
                "subject": ticket["subject"],
                "status": ticket["status"].title(),
                "priority": "",
                "url": f"{base}/agent/tickets/{ticket['id']}",
                "updated_at": updated,
                "jira_issue_keys": keys,
            },
            "event": "ticket.updated",
        }

    def _subscription(
        self, ticket_id: str, kind: str, ticket: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        now = datetime.now(UTC)
        detail: dict[str, Any] = {"id": ticket_id, "updated_at": now.strftime("%Y-%m-%dT%H:%M:%SZ")}
        if ticket is not None:
            detail.update(
                subject=ticket["subject"],
                status=ticket["status"].upper(),
                updated_at=ticket["updated_at"],
                custom_fields=[{"id": int(TICKET_FIELD), "value": self._field(ticket)}],
            )
        return {
            "type": f"zen:event-type:{kind}",
            "account_id": 1,
            "id": str(uuid.uuid4()),
            "time": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "zendesk_event_version": "2022-11-06",
            "subject": f"zen:ticket:{ticket_id}",
            "detail": detail,
            "event": {},
        }

    def _field(self, ticket: dict[str, Any]) -> str:
        return str(
            next((f["value"] for f in ticket["custom_fields"] if str(f["id"]) == TICKET_FIELD), "") or ""
        )

    def _jira(self, issue: dict[str, Any], event: str) -> dict[str, Any]:
        tickets = str(issue["fields"].get(ISSUE_FIELD) or "")
        payload = samples.jira_issue(
            issue["key"], tickets, event=event, field=ISSUE_FIELD, issue_id=issue["id"]
        )
        # Jira's clock, in milliseconds, never the same twice for one issue.
        stamp = max(int(time.time() * 1000), self._clock.get(issue["id"], 0) + 1)
        self._clock[issue["id"]] = stamp
        payload["timestamp"] = stamp
        payload["issue"]["fields"]["summary"] = issue["fields"].get("summary", "")
        return payload

    # Sending ---------------------------------------------------------------------------------------------

    def _deliver_zendesk(self, payload: dict[str, Any]) -> None:
        self._schedule("zendesk", payload, str(uuid.uuid4().int % 10**12))

    def _deliver_jira(self, payload: dict[str, Any]) -> None:
        self._schedule("jira", payload, str(uuid.uuid4().int % 10**17))

    def _schedule(self, source: str, payload: dict[str, Any], identifier: str) -> None:
        now = time.monotonic()
        copies = [(now + self.random.uniform(0, self.config.hold_back_s), identifier)]
        if self.random.random() < self.config.duplicate_rate:
            # The same delivery again (a sender's retry), or the same content as a new delivery.
            again = identifier if self.random.random() < 0.5 else str(uuid.uuid4().int % 10**12)
            copies.append((now + self.random.uniform(0, 2 * self.config.hold_back_s), again))
            self.report.redelivered += 1
        with self._lock:
            for due, ident in copies:
                self._journal.append(
                    f"{due - self._started:7.2f} s  {source} delivery {ident}: {_gist(source, payload)}"
                )
                self._order += 1
                heapq.heappush(self._pending, _Delivery(due, self._order, source, payload, ident))
                self.report.deliveries += 1

    def _send_loop(self) -> None:
        with httpx.Client(timeout=10) as client:
            while True:
                with self._lock:
                    ready = self._pending and self._pending[0].due <= time.monotonic()
                    delivery = heapq.heappop(self._pending) if ready else None
                    idle = not self._pending and not self._playing
                if delivery is None:
                    if idle:
                        return
                    time.sleep(0.02)
                    continue
                self._send(client, delivery)
                with self._lock:
                    self._sent += 1

    def _send(self, client: httpx.Client, delivery: _Delivery) -> None:
        # As the senders do: 5xx and no answer are retried until accepted; 4xx are final.
        while True:
            if delivery.source == "zendesk":
                signed = samples.sign_zendesk(delivery.payload, ZENDESK_SECRET, delivery.identifier)
            else:
                signed = samples.sign_jira(delivery.payload, JIRA_SECRET, delivery.identifier)
            try:
                answer = client.post(self.url + signed.path, content=signed.body, headers=signed.headers)
            except httpx.HTTPError:
                time.sleep(0.5)
                continue
            if answer.status_code < 300:
                return
            if answer.status_code < 500 and answer.status_code not in (408, 429):
                self.report.refused.append(f"{answer.status_code} {answer.text[:200]}")
                return
            time.sleep(1.0)

    # Diagnosis -------------------------------------------------------------------------------------------

    def _diagnose(self, verdict: Verdict) -> str:
        """Each wrong ticket's deliveries (when each was due) and what the bridge recorded of its events."""
        problems = verdict.lost + verdict.duplicate + verdict.stale
        tickets = sorted({m for line in problems for m in re.findall(r"ticket (\d+)", line)})[:3]
        conn = redis.Redis(port=self.redis_port)
        lines: list[str] = []
        for ticket_id in tickets:
            lines.append(f"ticket {ticket_id}, deliveries (due after the start):")
            lines += sorted(
                (line for line in self._journal if ticket_id in line), key=lambda line: float(line.split()[0])
            )
            lines.append(f"ticket {ticket_id}, the bridge's events:")
            for found in service.search(conn, ticket_id)["events"]:
                record = service.event(conn, found["event_id"])
                event = record["event"]
                calls = ", ".join(
                    f"{call['kind']} {call['target']} {call['outcome']}"
                    f" (tries {call['attempts']}, next in {call.get('retry_in_s')} s)"
                    for call in record["calls"]
                )
                lines.append(
                    f"  {event.get('id')} {event.get('type')} {event.get('occurred_at')}"
                    f" {record['status']} {record['reason']} [{calls}]"
                )
        conn.close()
        text = "\n".join(lines)
        (self.workdir / "diagnosis.txt").write_text(text + "\n")
        return text

    # Chaos -----------------------------------------------------------------------------------------------

    def _chaos(self) -> None:
        started = time.monotonic()
        next_kill = started + self.random.uniform(2, self.config.kill_every_s)
        next_fault = started + self.config.fault_every_s
        restarts = [
            started + self.config.seconds * (n + 1) / (self.config.redis_restarts + 1)
            for n in range(self.config.redis_restarts)
        ]
        while self._playing:
            now = time.monotonic()
            self._replace_exited()
            if now >= next_kill:
                self._kill_a_worker()
                next_kill = now + self.random.uniform(0.5, 1.5) * self.config.kill_every_s
            if restarts and now >= restarts[0]:
                restarts.pop(0)
                self._restart_redis()
            if now >= next_fault:
                self._add_fault()
                next_fault = now + self.random.uniform(0.5, 1.5) * self.config.fault_every_s
            time.sleep(0.05)

    def _replace_exited(self) -> None:
        for worker in [worker for worker in self._workers if worker.poll() is not None]:
            self.report.exited.append(f"pid {worker.pid} exited with status {worker.returncode}")
            self._workers.remove(worker)
            self._start_worker()

    def _kill_a_worker(self) -> None:
        alive = [worker for worker in self._workers if worker.poll() is None]
        if not alive:
            return
        victim = self.random.choice(alive)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        self._workers.remove(victim)
        self.report.kills += 1
        time.sleep(self.random.uniform(0.2, 1.5))
        self._start_worker()

    def _restart_redis(self) -> None:
        self.redis.send_signal(signal.SIGTERM)  # its append-only file is written on the way out
        self.redis.wait(timeout=20)
        time.sleep(self.config.redis_down_s)
        self.redis = self._start_redis()
        self.report.redis_restarts += 1

    def _add_fault(self) -> None:
        kind = self.random.choice(("429", "500", "503", "slow", "drop", "lost"))
        fault: dict[str, Any] = {
            "api": self.random.choice(("jira", "jira", "zendesk", "zendesk", "jira_software")),
            "times": self.random.randint(1, 3),
        }
        if self.random.random() < 0.7:
            fault["method"] = self.random.choice(("GET", "POST", "DELETE"))
        if kind in ("429", "503"):
            fault.update(status=int(kind), retry_after=1)
        elif kind == "500":
            fault["status"] = 500
        elif kind == "slow":
            fault["delay_s"] = 2.0
        elif kind == "drop":
            fault["drop"] = True
        else:
            fault["drop_after"] = True
        self.control.add_fault(**fault)
        self.report.faults += 1

    # Processes -------------------------------------------------------------------------------------------

    def _start_redis(self) -> subprocess.Popen[bytes]:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("the soak needs redis-server on the PATH")
        args = [binary, "--port", str(self.redis_port), "--bind", "127.0.0.1", "--dir", str(self.workdir)]
        args += ["--appendonly", "yes", "--appendfsync", "everysec", "--save", ""]
        process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.redis_port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 15
        while True:
            try:
                if client.ping():
                    break
            except redis.RedisError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        client.close()
        return process

    def _start_bridge(self) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("BRIDGE_", "JIRA_", "ZENDESK_"))},
            **self.sandbox.env(),
            "REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "PORT": str(port),
            "JIRA_WEBHOOK_SECRET": JIRA_SECRET,
            "ZENDESK_WEBHOOK_SECRET": ZENDESK_SECRET,
            "JIRA_ZENDESK_FIELD": ISSUE_FIELD,
            "ZENDESK_JIRA_FIELD_ID": TICKET_FIELD,
            "BRIDGE_LOG_LEVEL": "WARNING",
        }
        log = (self.workdir / "web.log").open("ab")
        self._processes.append(
            subprocess.Popen([sys.executable, "-m", "bridge", "web"], env=self.env, stdout=log, stderr=log)
        )
        for _ in range(self.config.workers):
            self._start_worker()
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(self.url + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("bridge web did not come up")
            time.sleep(0.1)

    def _start_worker(self) -> None:
        log = (self.workdir / f"worker-{len(self._processes)}.log").open("ab")
        worker = subprocess.Popen(
            [sys.executable, "-m", "bridge", "worker"], env=self.env, stdout=log, stderr=log
        )
        self._processes.append(worker)
        self._workers.append(worker)

    def _stop(self) -> None:
        for process in self._processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self._processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        self.redis.terminate()
        self.redis.wait(timeout=10)


def _gist(source: str, payload: dict[str, Any]) -> str:
    """A delivery in one line: subject, its time and what it says."""
    if source == "jira":
        issue = payload["issue"]
        return (
            f"{payload['webhookEvent']} issue {issue['id']} {issue['key']} at {payload['timestamp']}"
            f" tickets {issue['fields'].get(ISSUE_FIELD)!r}"
        )
    if "ticket" in payload:
        ticket = payload["ticket"]
        return (
            f"trigger ticket {ticket['id']} at {ticket['updated_at']} {ticket['status']}"
            f" keys {ticket['jira_issue_keys']!r}"
        )
    detail = payload["detail"]
    keys = next((field["value"] for field in detail.get("custom_fields", [])), None)
    return (
        f"{payload['type'].rsplit(':', 1)[-1]} ticket {detail['id']} at {detail['updated_at']} keys {keys!r}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=1.0, help="how long the history plays")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--tickets", type=int, default=60)
    parser.add_argument("--issues", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    config = SoakConfig(
        seed=args.seed,
        seconds=args.minutes * 60,
        tickets=args.tickets,
        issues=args.issues,
        workers=args.workers,
        redis_restarts=max(1, int(args.minutes * 2)),
        redis_down_s=6.0,
    )
    with tempfile.TemporaryDirectory(prefix="bridge-soak-") as workdir:
        report = Soak(config, Path(workdir)).run()
        print(report.summary())
        for problem in (report.verdict.lost + report.verdict.duplicate + report.verdict.stale)[:20]:
            print("  " + problem)
        for refusal in report.refused[:5]:
            print("  refused: " + refusal)
        for exit_ in report.exited[:5]:
            print("  worker " + exit_)
    return 0 if report.verdict.converged and not report.refused and not report.exited else 1


if __name__ == "__main__":
    sys.exit(main())
