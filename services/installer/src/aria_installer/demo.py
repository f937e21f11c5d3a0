"""Seed the local stack's demo organization: CrowdStrike Falcon installed against its simulator.

    python -m aria_installer.demo [--installer URL] [--simulator URL]

Goes through the public API like a user would (install → configure → test → enable → sync now),
and prints an admin token for the demo organization. Local use only: it signs the token with
ARIA_JWT_SECRET.
"""

from __future__ import annotations

import argparse
import os

import httpx

from aria_platform.auth import MAX_USER_TOKEN_LIFETIME_S, mint_token

from .dev_signin.service import DEMO_ORG


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--installer", default="http://127.0.0.1:8002")
    parser.add_argument("--simulator", default="http://127.0.0.1:9101")
    parser.add_argument("--client-id", default="demo-client-id")
    parser.add_argument("--client-secret", default="demo-client-secret")
    args = parser.parse_args()
    token = mint_token(os.environ["ARIA_JWT_SECRET"], subject="demo-admin", org_id=DEMO_ORG, role="admin",
                       ttl_s=MAX_USER_TOKEN_LIFETIME_S)
    api = httpx.Client(base_url=args.installer, headers={"authorization": f"Bearer {token}"}, timeout=30)
    inst = api.post("/v1/installations", json={"integration_key": "crowdstrike_falcon"}).raise_for_status().json()
    # Configure on every run: the credential may belong to an OpenBao that was reset since.
    api.put(f"/v1/installations/{inst['id']}/configuration", json={"config": {
        "base_url": args.simulator, "client_id": args.client_id, "client_secret": args.client_secret},
        "sync_frequency": "hourly"}).raise_for_status()
    test = api.post(f"/v1/installations/{inst['id']}/test").raise_for_status().json()
    if api.get(f"/v1/installations/{inst['id']}").json()["status"] != "enabled":
        api.post(f"/v1/installations/{inst['id']}/enable").raise_for_status()
    api.post(f"/v1/installations/{inst['id']}/sync").raise_for_status()
    print(f"demo organization {DEMO_ORG}: CrowdStrike Falcon installation {inst['id']} "
          f"(connection test: {'ok' if test['ok'] else test['message']}), sync requested")
    print(f"demo admin token (12 hours): {token}")


if __name__ == "__main__":
    main()
