"""The only code that talks to OpenBao/Vault (hvac). Knows nothing about HTTP or Postgres.

Design: each installation has its own transit key `aria-inst-<installation id>`. A credential
version is the transit ciphertext of the secret fields, kept as a KV v2 version under
`installations/<installation id>/<credential name>`. KV v2 gives versions and metadata; transit
gives the crypto-shred: deleting the installation's key makes every stored version (and any
copy of its ciphertext anywhere) unreadable.

Store, lease and rotate each run their Vault calls in one worker thread (hvac is blocking), so a
request crosses threads once. hvac talks through `vault_http.Urllib3Adapter` (a pool of kept-alive
connections to Vault, without requests' per-call overhead).
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

from .vault_http import Urllib3Adapter

log = structlog.get_logger(__name__)


class VaultUnavailable(Exception):
    """Vault is down, sealed or refusing us; the caller answers 503 and writes nothing."""


class CredentialUnreadable(Exception):
    """The credential's key is gone (shredded) or the ciphertext does not decrypt."""


KEY_TYPE = "aes256-gcm96"


def key_name(installation_id) -> str:
    return f"aria-inst-{installation_id}"


def kv_path(installation_id, name: str) -> str:
    return f"installations/{installation_id}/{name}"


class CiphertextCache:
    """Ciphertext of the KV versions this process wrote or read, keyed by (path, version).

    A KV version never changes, so an entry is never stale and needs no invalidation across
    replicas; it is only ever decrypted by Vault, with the installation's key, so once that key
    is shredded an entry is as unreadable as every other copy. Bounded: the oldest entry goes.
    """

    def __init__(self, size: int):
        self._size = size
        self._items: dict[tuple[str, int], str] = {}

    def get(self, key: tuple[str, int]) -> str | None:
        return self._items.get(key)

    def put(self, key: tuple[str, int], ciphertext: str) -> None:
        if self._size <= 0:
            return
        self._items.pop(key, None)
        self._items[key] = ciphertext
        while len(self._items) > self._size:
            del self._items[next(iter(self._items))]

    def forget(self, prefix: str) -> None:
        for key in [key for key in self._items if key[0].startswith(prefix)]:
            del self._items[key]


class Vault:
    def __init__(self, *, addr: str, role_id: str, secret_id: str, transit_mount: str, kv_mount: str,
                 ciphertext_cache_size: int = 10_000):
        self._client = hvac.Client(url=addr, timeout=5, adapter=Urllib3Adapter)
        self._ciphertexts = CiphertextCache(ciphertext_cache_size)
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
        path = kv_path(installation_id, name)
        plaintext = base64.b64encode(orjson.dumps(secrets)).decode()

        def encrypt_and_write() -> tuple[int, str]:
            # Transit creates the installation's key on its first encryption (upsert with the
            # key type given), so a store is two calls whether or not the key exists yet.
            enc = self._client.secrets.transit.encrypt_data(key_name(installation_id), plaintext, type=KEY_TYPE,
                                                            mount_point=self._transit)
            ciphertext = enc["data"]["ciphertext"]
            written = self._client.secrets.kv.v2.create_or_update_secret(
                path, secret={"ciphertext": ciphertext}, mount_point=self._kv)
            return int(written["data"]["version"]), ciphertext

        version, ciphertext = await self._call(encrypt_and_write)
        self._ciphertexts.put((path, version), ciphertext)
        return version

    async def read(self, *, installation_id, name: str, version: int) -> dict:
        """Decrypt one KV version. Versions never change, so their ciphertext is cached: a lease
        is one transit call; only a version this process has not seen is read from KV first."""
        path = kv_path(installation_id, name)
        key = key_name(installation_id)
        ciphertext = self._ciphertexts.get((path, version))

        def read_and_decrypt() -> tuple[str, str]:
            found = ciphertext
            if found is None:
                stored = self._client.secrets.kv.v2.read_secret_version(path, version=version, mount_point=self._kv,
                                                                        raise_on_deleted_version=True)
                found = stored["data"]["data"]["ciphertext"]
            return found, self._client.secrets.transit.decrypt_data(key, found, mount_point=self._transit)

        try:
            found, result = await self._call(read_and_decrypt)
        except (InvalidPath, hvac.exceptions.InvalidRequest):
            raise CredentialUnreadable("key destroyed, version deleted or ciphertext invalid") from None
        self._ciphertexts.put((path, version), found)
        return orjson.loads(base64.b64decode(result["data"]["plaintext"]))

    async def rotate_key(self, *, installation_id, name: str) -> int:
        """New key version, and the stored ciphertext rewrapped to it (as a new KV version)."""
        key = key_name(installation_id)
        path = kv_path(installation_id, name)

        def rotate_and_rewrap() -> tuple[int, str]:
            self._client.secrets.transit.rotate_key(key, mount_point=self._transit)
            stored = self._client.secrets.kv.v2.read_secret_version(path, mount_point=self._kv,
                                                                    raise_on_deleted_version=True)
            rewrapped = self._client.secrets.transit.rewrap_data(key, stored["data"]["data"]["ciphertext"],
                                                                 mount_point=self._transit)
            ciphertext = rewrapped["data"]["ciphertext"]
            written = self._client.secrets.kv.v2.create_or_update_secret(path, secret={"ciphertext": ciphertext},
                                                                         mount_point=self._kv)
            return int(written["data"]["version"]), ciphertext

        version, ciphertext = await self._call(rotate_and_rewrap)
        self._ciphertexts.put((path, version), ciphertext)
        return version

    async def shred(self, *, installation_id, names: list[str]) -> None:
        """Destroy the installation's key (crypto-shred), then its KV data."""
        key = key_name(installation_id)

        def delete_key():
            try:
                self._client.secrets.transit.read_key(key, mount_point=self._transit)
            except InvalidPath:
                return  # already shredded: shredding is idempotent
            # Keys are created by transit's upsert on first encryption, which cannot allow deletion.
            self._client.secrets.transit.update_key_configuration(key, deletion_allowed=True,
                                                                  mount_point=self._transit)
            self._client.secrets.transit.delete_key(key, mount_point=self._transit)

        await self._call(delete_key)
        self._ciphertexts.forget(kv_path(installation_id, ""))
        for name in names:
            try:
                await self._call(self._client.secrets.kv.v2.delete_metadata_and_all_versions,
                                 kv_path(installation_id, name), mount_point=self._kv)
            except InvalidPath:
                pass
