#!/usr/bin/env bash
# Stop the local ARIA stack started by deploy/local/up.sh: the five services, the simulator,
# then Kafka and OpenBao (deploy/local/infra.sh down). PostgreSQL is left running (it is the
# machine's Debian cluster); `deploy/local/down.sh --all` stops it as well.
set -euo pipefail

LOG_TAG=down
# shellcheck source=deploy/local/lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
# shellcheck source=deploy/local/services.sh
. "$LOCAL_DIR_SCRIPTS/services.sh"

stop_pidfile "$SERVICES_STATE/simulator.pid" aria_connector_testkit.simulators simulator 20
for svc in "${SERVICES[@]}"; do
  stop_service "$svc"
done
"$LOCAL_DIR_SCRIPTS/infra.sh" down "$@"
