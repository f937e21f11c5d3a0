# syntax=docker/dockerfile:1
# The web console (ui/): built with Node, served by Debian's nginx as uid 10001 on :8080.
# Context: repo root.   docker build -f deploy/docker/console.Dockerfile -t aria/aria-console .
# It serves only the static console (deploy/docker/console-nginx.conf); the public API is routed
# by the edge in front of it (the Kubernetes Ingress, or the compose `edge` service, which mounts
# deploy/compose/edge-nginx.conf over this config).
FROM node:20-bookworm-slim AS build
WORKDIR /ui
COPY ui/package.json ui/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY ui/ ./
RUN npm run build

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends nginx-light \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd -g 10001 aria && useradd -u 10001 -g aria -M -s /usr/sbin/nologin aria
COPY deploy/docker/console-nginx.conf /etc/nginx/nginx.conf
COPY --from=build /ui/dist /srv/console
USER 10001
EXPOSE 8080
CMD ["nginx", "-g", "daemon off;"]
