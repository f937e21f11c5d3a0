"""The only code that talks to OpenBao/Vault (hvac). Knows nothing about HTTP or Postgres.

Design: each installation has its own transit key `aria-inst-<installation id>`. A credential
version is the transit ciphertext of the secret fields, kept as a KV v2 version under
`installations/<installation id>/<credential name>`. KV v2 gives versions and metadata; transit
gives the crypto-shred: deleting the installation's key makes every stored version (and any
copy of its ciphertext anywhere) unreadable.
"""

from __future__ import annotations

import asyncio
import base64
import time

import hvac
import orjson
import requests
import structlog
from hvac.exceptions import InvalidPath, VaultDown, VaultError

log = structlog.get_logger(__name__)


class VaultUnavailable(Exception):
    """Vault is down, sealed or refusing us; the caller answers 503 and writes nothing."""


class CredentialUnreadable(Exception):
    """The credential's key is gone (shredded) or the ciphertext does not decrypt."""


def key_name(installation_id) -> str:
    return f"aria-inst-{installation_id}"


class Vault:
    def __init__(self, *, addr: str, role_id: str, secret_id: str, transit_mount: str, kv_mount: str):
        self._client = hvac.Client(url=addr, timeout=5)
        self._role_id, self._secret_id = role_id, secret_id
        self._transit, self._kv = transit_mount, kv_mount
        self._token_expires = 0.0
        self._lock = asyncio.Lock()

    # -- authentication -------------------------------------------------------------------

    def _login(self) -> None:
        result = self._client.auth.approle.login(role_id=self._role_id, secret_id=self._secret_id)
        self._token_expires = time.monotonic() + result["auth"]["lease_duration"]

    def _renew_or_login(self) -> None:
        """Renew our token at half its life; log in again if renewal is refused."""
        try:
            result = self._client.auth.token.renew_self()
            self._token_expires = time.monotonic() + result["auth"]["lease_duration"]
        except VaultError:
            self._login()

    async def _call(self, fn, *args, **kwargs):
        try:
            if time.monotonic() > self._token_expires - 30:
                async with self._lock:
                    if time.monotonic() > self._token_expires - 30:
                        await asyncio.to_thread(self._login)
            return await asyncio.to_thread(fn, *args, **kwargs)
        except (VaultDown, requests.ConnectionError, requests.Timeout) as exc:
            raise VaultUnavailable(type(exc).__name__) from None
        except hvac.exceptions.Forbidden:
            # Token revoked or expired early: log in once more, then give up.
            await asyncio.to_thread(self._login)
            try:
                return await asyncio.to_thread(fn, *args, **kwargs)
            except (VaultDown, requests.ConnectionError) as exc:
                raise VaultUnavailable(type(exc).__name__) from None

    async def renew(self) -> None:
        try:
            await asyncio.to_thread(self._renew_or_login)
        except (VaultDown, requests.ConnectionError, requests.Timeout, VaultError) as exc:
            raise VaultUnavailable(type(exc).__name__) from None

    async def ready(self) -> None:
        def check():
            status = self._client.sys.read_health_status(method="GET")
            body = status.json() if hasattr(status, "json") else status
            if body.get("sealed") or not body.get("initialized", True):
                raise VaultUnavailable("sealed")

        try:
            await asyncio.to_thread(check)
        except (requests.ConnectionError, requests.Timeout, VaultDown) as exc:
            raise VaultUnavailable(type(exc).__name__) from None

    # -- credentials ----------------------------------------------------------------------

    async def store(self, *, installation_id, name: str, secrets: dict) -> int:
        """Encrypt with the installation's key and keep as a new KV version; returns the version."""
        key = key_name(installation_id)
        await self._call(self._ensure_key, key)
        plaintext = base64.b64encode(orjson.dumps(secrets)).decode()
        enc = await self._call(self._client.secrets.transit.encrypt_data, key, plaintext, mount_point=self._transit)
        written = await self._call(
            self._client.secrets.kv.v2.create_or_update_secret,
            f"installations/{installation_id}/{name}",
            secret={"ciphertext": enc["data"]["ciphertext"]},
            mount_point=self._kv,
        )
        return int(written["data"]["version"])

    def _ensure_key(self, key: str) -> None:
        try:
            self._client.secrets.transit.read_key(key, mount_point=self._transit)
        except InvalidPath:
            self._client.secrets.transit.create_key(key, key_type="aes256-gcm96", mount_point=self._transit)
            self._client.secrets.transit.update_key_configuration(key, deletion_allowed=True,
                                                                  mount_point=self._transit)

    async def read(self, *, installation_id, name: str, version: int | None = None) -> dict:
        try:
            stored = await self._call(
                self._client.secrets.kv.v2.read_secret_version, f"installations/{installation_id}/{name}",
                version=version, mount_point=self._kv, raise_on_deleted_version=True,
            )
        except InvalidPath:
            raise CredentialUnreadable("no such credential") from None
        return await self.decrypt(installation_id=installation_id, ciphertext=stored["data"]["data"]["ciphertext"])

    async def decrypt(self, *, installation_id, ciphertext: str) -> dict:
        try:
            result = await self._call(self._client.secrets.transit.decrypt_data, key_name(installation_id),
                                      ciphertext, mount_point=self._transit)
        except (InvalidPath, hvac.exceptions.InvalidRequest):
            raise CredentialUnreadable("key destroyed or ciphertext invalid") from None
        return orjson.loads(base64.b64decode(result["data"]["plaintext"]))

    async def rotate_key(self, *, installation_id, name: str) -> int:
        """New key version, and the stored ciphertext rewrapped to it (as a new KV version)."""
        key = key_name(installation_id)
        await self._call(self._client.secrets.transit.rotate_key, key, mount_point=self._transit)
        path = f"installations/{installation_id}/{name}"
        stored = await self._call(self._client.secrets.kv.v2.read_secret_version, path,
                                  mount_point=self._kv, raise_on_deleted_version=True)
        rewrapped = await self._call(self._client.secrets.transit.rewrap_data, key,
                                     stored["data"]["data"]["ciphertext"], mount_point=self._transit)
        written = await self._call(self._client.secrets.kv.v2.create_or_update_secret, path,
                                   secret={"ciphertext": rewrapped["data"]["ciphertext"]}, mount_point=self._kv)
        return int(written["data"]["version"])

    async def shred(self, *, installation_id, names: list[str]) -> None:
        """Destroy the installation's key (crypto-shred), then its KV data."""
        key = key_name(installation_id)

        def delete_key():
            try:
                self._client.secrets.transit.read_key(key, mount_point=self._transit)
            except InvalidPath:
                return  # already shredded: shredding is idempotent
            # deletion_allowed was set when the key was created; set again for keys made elsewhere.
            self._client.secrets.transit.update_key_configuration(key, deletion_allowed=True,
                                                                  mount_point=self._transit)
            self._client.secrets.transit.delete_key(key, mount_point=self._transit)

        await self._call(delete_key)
        for name in names:
            try:
                await self._call(self._client.secrets.kv.v2.delete_metadata_and_all_versions,
                                 f"installations/{installation_id}/{name}", mount_point=self._kv)
            except InvalidPath:
                pass
