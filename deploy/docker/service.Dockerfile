# syntax=docker/dockerfile:1
# One image per service, all from this file (they differed only by name and port). Context: repo root.
#   docker build -f deploy/docker/service.Dockerfile --build-arg SERVICE=catalog --build-arg PORT=8001 \
#     -t aria/aria-catalog .
# The container runs `aria-<service> migrate` then `aria-<service> serve` as uid 10001 and needs
# ARIA_DATABASE_URL, ARIA_KAFKA_BOOTSTRAP, ARIA_JWT_SECRET (see docker-compose.yml / deploy/k8s).

# Every image installs exactly the locked closure of one workspace package with
# deploy/docker/install.sh (uv export --frozen --package ... --no-dev, applied with uv pip sync):
# the same script tests/test_service_packaging.py checks each service's package set with. A service
# image holds its package, the workspace libraries it declares and their pinned third-party
# dependencies; never aria-connector-testkit (simulators, fixtures).
#
# Targets: the default (last) stage is the service image; `--target simulator` builds the vendor
# simulator image (aria-connector-testkit's closure, no service) that docker-compose.yml runs:
#   docker build -f deploy/docker/service.Dockerfile --target simulator -t aria/aria-simulator .

FROM python:3.11-slim AS uv
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never
RUN pip install --no-cache-dir "uv==0.13.9"
WORKDIR /src
# The lock and every workspace member's pyproject.toml: enough to export any package's closure.
COPY pyproject.toml uv.lock ./
COPY libs/contracts/pyproject.toml libs/contracts/
COPY libs/platform/pyproject.toml libs/platform/
COPY libs/connectors/pyproject.toml libs/connectors/
COPY libs/connector-testkit/pyproject.toml libs/connector-testkit/
COPY services/catalog/pyproject.toml services/catalog/
COPY services/installer/pyproject.toml services/installer/
COPY services/vault-gateway/pyproject.toml services/vault-gateway/
COPY services/sync-runner/pyproject.toml services/sync-runner/
COPY services/webhook-ingest/pyproject.toml services/webhook-ingest/
COPY deploy/docker/install.sh deploy/docker/

FROM uv AS build
ARG SERVICE
# Third-party dependencies first: this layer is reused until uv.lock or a pyproject changes.
RUN --mount=type=cache,target=/root/.cache/uv \
    sh deploy/docker/install.sh aria-${SERVICE} /app/.venv --third-party
# Then the workspace packages themselves, installed non-editable into /app/.venv.
COPY libs libs
COPY services services
RUN --mount=type=cache,target=/root/.cache/uv \
    sh deploy/docker/install.sh aria-${SERVICE} /app/.venv

FROM uv AS simulator-build
RUN --mount=type=cache,target=/root/.cache/uv \
    sh deploy/docker/install.sh aria-connector-testkit /app/.venv --third-party
COPY libs libs
RUN --mount=type=cache,target=/root/.cache/uv \
    sh deploy/docker/install.sh aria-connector-testkit /app/.venv

FROM python:3.11-slim AS runtime
RUN groupadd --system --gid 10001 aria \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin aria
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /app

# Vendor simulators for the local stack and demos (docker-compose.yml's `simulator`); the
# compose file gives the command (which simulator, host, port).
FROM runtime AS simulator
COPY --from=simulator-build /app/.venv /app/.venv
USER 10001:10001
CMD ["python", "-m", "aria_connector_testkit.simulators", "list"]

# The service image (default target).
FROM runtime AS service
ARG SERVICE
ARG PORT
COPY --from=build /app/.venv /app/.venv
ENV ARIA_HTTP_HOST=0.0.0.0 \
    ARIA_HTTP_PORT=${PORT} \
    SERVICE=${SERVICE}
USER 10001:10001
EXPOSE ${PORT}
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ['ARIA_HTTP_PORT'], timeout=2)"]
CMD ["sh", "-c", "aria-$SERVICE migrate && exec aria-$SERVICE serve"]
