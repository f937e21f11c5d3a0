# syntax=docker/dockerfile:1
# One image per service, all from this file (they differed only by name and port). Context: repo root.
#   docker build -f deploy/docker/service.Dockerfile --build-arg SERVICE=catalog --build-arg PORT=8001 \
#     -t aria/aria-catalog .
# The container runs `aria-<service> migrate` then `aria-<service> serve` as uid 10001 and needs
# ARIA_DATABASE_URL, ARIA_KAFKA_BOOTSTRAP, ARIA_JWT_SECRET (see docker-compose.yml / deploy/k8s).

FROM python:3.11-slim AS build
ARG SERVICE
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
RUN pip install --no-cache-dir "uv==0.13.9"
WORKDIR /src
# Third-party dependencies first: this layer is reused until uv.lock or a pyproject changes.
COPY pyproject.toml uv.lock ./
COPY libs/contracts/pyproject.toml libs/contracts/
COPY libs/platform/pyproject.toml libs/platform/
COPY libs/connectors/pyproject.toml libs/connectors/
COPY services/catalog/pyproject.toml services/catalog/
COPY services/installer/pyproject.toml services/installer/
COPY services/vault-gateway/pyproject.toml services/vault-gateway/
COPY services/sync-runner/pyproject.toml services/sync-runner/
COPY services/webhook-ingest/pyproject.toml services/webhook-ingest/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --package aria-${SERVICE} --no-dev --no-install-workspace
# Then the workspace packages themselves, installed non-editable into /app/.venv.
COPY libs libs
COPY services services
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --package aria-${SERVICE} --no-dev --no-editable

FROM python:3.11-slim
ARG SERVICE
ARG PORT
RUN groupadd --system --gid 10001 aria \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin aria
COPY --from=build /app/.venv /app/.venv
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    ARIA_HTTP_HOST=0.0.0.0 \
    ARIA_HTTP_PORT=${PORT} \
    SERVICE=${SERVICE}
WORKDIR /app
USER 10001:10001
EXPOSE ${PORT}
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ['ARIA_HTTP_PORT'], timeout=2)"]
CMD ["sh", "-c", "aria-$SERVICE migrate && exec aria-$SERVICE serve"]
