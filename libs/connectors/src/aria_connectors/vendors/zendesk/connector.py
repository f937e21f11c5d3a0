"""Zendesk: the one thing the manifest cannot say - two ways to authenticate.

The manifest's auth is basic ``{email}/token:{api_token}``; an installation configured with
an OAuth access token (``oauth_token``) sends ``Authorization: Bearer <token>`` instead.
"""

from __future__ import annotations

from typing import Any

from aria_connectors.sdk import DeclarativeConnector
from aria_connectors.sdk.http import Authenticator
from aria_connectors.sdk.manifest import BearerAuth


class ZendeskConnector(DeclarativeConnector):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.api is not None and self._secrets.get("oauth_token"):
            spec = BearerAuth(type="bearer", token="{secrets.oauth_token}")
            self.api.auth = Authenticator(spec, self.template_ctx, self.api.base_url, self.http, self.retry)
