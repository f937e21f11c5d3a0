#!/usr/bin/env bash
# Stop the local ARIA stack started by deploy/local/up.sh: the edge, the simulator, the five services,
# then Kafka and OpenBao (deploy/local/infra.sh down). PostgreSQL is left running (it is the
# machine's Debian cluster); `deploy/local/down.sh --all` stops it as well.
set -euo pipefail

LOG_TAG=down
# shellcheck source=deploy/local/lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
# shellcheck source=deploy/local/services.sh
. "$LOCAL_DIR_SCRIPTS/services.sh"

stop_edge
stop_simulator
for svc in "${SERVICES[@]}"; do
  stop_service "$svc"
done
"$LOCAL_DIR_SCRIPTS/infra.sh" down "$@"
