# The bridge's image: the same two processes as the Procfile (`bridge web`, `bridge worker`).
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bridge ./bridge
COPY workers ./workers
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 PORT=8000
COPY --from=build /install /usr/local
# A fixed non-root user (the Helm chart runs it with runAsUser 10001 and a read-only root filesystem).
RUN useradd --uid 10001 --no-create-home --shell /usr/sbin/nologin bridge
USER 10001
EXPOSE 8000
CMD ["bridge", "web"]
