"""ConnectorPlugin: what an entry point in the ``aria.connectors`` group resolves to."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import jsonschema

from .connector import DeclarativeConnector
from .manifest import Manifest, load_manifest
from .types import ConfigError, InstallationContext, RuntimeOptions

_FORMATS = jsonschema.FormatChecker()
# Longest URL a configuration may hold: browsers and servers commonly stop near 2,000-8,000, and
# no vendor endpoint comes close; longer ones were accepted and failed later, at the vendor call.
MAX_URL_LENGTH = 2048


@_FORMATS.checks("uri", raises=ValueError)
def _is_uri(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if len(value) > MAX_URL_LENGTH:
        raise ValueError(f"longer than {MAX_URL_LENGTH} characters")
    parsed = urlparse(value)
    if not parsed.scheme or not (parsed.netloc or parsed.scheme in ("urn", "mailto")):
        raise ValueError("not an absolute URI")
    if parsed.scheme in ("http", "https"):
        # What the HTTP client will refuse at the first call (an octal 0177.0.0.1, a bad port) is
        # refused here, with its reason, instead of failing every sync later.
        try:
            httpx.URL(value)
        except httpx.InvalidURL as exc:
            raise ValueError(str(exc).replace(value, "the URL")) from None
    return True


class ConnectorPlugin:
    """A connector: its manifest, its runtime class, and the package and folder it comes from."""

    def __init__(self, manifest: Manifest, *, instance_class: type[DeclarativeConnector] = DeclarativeConnector,
                 package: str | None = None, directory: Path | None = None) -> None:
        self.manifest = manifest
        self.instance_class = instance_class
        self.package = package
        self.directory = directory

    @classmethod
    def from_package(cls, package: str, *, instance_class: type[DeclarativeConnector] = DeclarativeConnector,
                     manifest_file: str = "manifest.yaml") -> "ConnectorPlugin":
        """Load ``manifest.yaml`` next to the package's ``__init__``."""
        module = importlib.import_module(package)
        directory = Path(module.__file__).parent  # type: ignore[arg-type]
        return cls(load_manifest(directory / manifest_file), instance_class=instance_class,
                   package=package, directory=directory)

    @property
    def key(self) -> str:
        return self.manifest.key

    def __repr__(self) -> str:
        return f"<ConnectorPlugin {self.manifest.key} {self.manifest.version}>"

    # -- config -------------------------------------------------------------------------------

    def split_config(self, config: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        secret = set(self.manifest.secret_fields())
        settings = {k: v for k, v in config.items() if k not in secret}
        secrets = {k: v for k, v in config.items() if k in secret}
        return settings, secrets

    def validate_config(self, config: dict[str, Any]) -> list[ConfigError]:
        """JSON Schema validation of settings+secrets together; messages never echo secret values."""
        if not isinstance(config, dict):
            return [ConfigError("", "configuration must be an object")]
        secret_names = set(self.manifest.secret_fields())
        secret_values = [str(v) for k, v in config.items() if k in secret_names and v not in (None, "")]
        validator = jsonschema.Draft202012Validator(self.manifest.config_schema, format_checker=_FORMATS)
        out: list[ConfigError] = []
        for err in sorted(validator.iter_errors(config), key=lambda e: [str(p) for p in e.absolute_path]):
            path = "/".join(str(p) for p in err.absolute_path)
            top = str(err.absolute_path[0]) if err.absolute_path else None
            if err.validator == "required":
                missing = err.message.split("'")[1] if "'" in err.message else ""
                out.append(ConfigError(missing or path, f"{missing or 'a field'} is required"))
                continue
            if err.validator == "additionalProperties":
                out.append(ConfigError(path, _scrub(err.message, secret_values)))
                continue
            if top is None or top in secret_names:
                message = f"does not satisfy '{err.validator}'"
                if err.validator in ("minLength", "maxLength", "pattern", "type", "format", "enum"):
                    message = f"invalid value ({err.validator} {err.validator_value!r})" \
                        if err.validator != "type" else f"must be of type {err.validator_value!r}"
                out.append(ConfigError(path, message))
                continue
            if err.validator == "format":
                # The checker's reason, not jsonschema's message, which quotes the whole value.
                reason = f": {err.cause}" if err.cause else ""
                out.append(ConfigError(path, f"not a valid {err.validator_value}{reason}"))
                continue
            out.append(ConfigError(path, _scrub(err.message, secret_values)))
        return out

    # -- instances ------------------------------------------------------------------------------

    def create(self, context: InstallationContext, settings: dict[str, Any], secrets: dict[str, Any],
               http: httpx.AsyncClient, *, options: RuntimeOptions | None = None) -> DeclarativeConnector:
        """A new instance per installation; it holds that installation's config and token only."""
        return self.instance_class(self.manifest, context, settings, secrets, http, options)


def _scrub(message: str, secret_values: list[str]) -> str:
    for value in secret_values:
        if value:
            message = message.replace(value, "***")
    return message
