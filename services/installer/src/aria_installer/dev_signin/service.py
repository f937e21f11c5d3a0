"""Local dev sign-in: a token for the demo organization (or a chosen one) with a chosen role.

Only wired when `dev_signin` is set (deploy/local sets it) and the service signs with a local
HS256 key; production signs people in through OIDC and never serves this.
"""

from __future__ import annotations

import uuid

from aria_platform.auth import mint_token

DEMO_ORG = uuid.UUID("00000000-0000-4000-8000-00000000de70")
TTL_S = 8 * 3600


def sign_in(*, jwt_secret: str, role: str, org_id: uuid.UUID | None, name: str | None) -> dict:
    org = org_id or DEMO_ORG
    subject = f"dev-{role}" if not name else f"dev-{name}"
    token = mint_token(jwt_secret, subject=subject, org_id=org, role=role, ttl_s=TTL_S)  # type: ignore[arg-type]
    return {"access_token": token, "token_type": "Bearer", "expires_in": TTL_S, "org_id": org, "role": role,
            "subject": subject}
