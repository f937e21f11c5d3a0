"""Errors raised by the connector SDK.

Every error carries an ``error_class`` the platform uses to decide what to do next
(retry later, ask the user for new credentials, give up). Messages never contain secret
values: the SDK builds them from status codes, field names and vendor error messages only.
"""

from __future__ import annotations

from typing import Literal

ErrorClass = Literal["authentication", "permission", "transient", "permanent", "configuration"]
ERROR_CLASSES: tuple[str, ...] = ("authentication", "permission", "transient", "permanent", "configuration")


class ConnectorError(Exception):
    """A classified failure talking to a vendor or running a connector."""

    error_class: ErrorClass = "permanent"

    def __init__(
        self,
        error_class: ErrorClass | str,
        message: str,
        *,
        status_code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        if error_class not in ERROR_CLASSES:
            raise ValueError(f"unknown error class {error_class!r}")
        super().__init__(message)
        self.error_class = error_class  # type: ignore[assignment]
        self.message = message
        self.status_code = status_code
        self.retry_after = retry_after

    def __str__(self) -> str:
        return f"[{self.error_class}] {self.message}"


class AuthenticationError(ConnectorError):
    def __init__(self, message: str, **kw) -> None:
        super().__init__("authentication", message, **kw)


class PermissionDenied(ConnectorError):
    def __init__(self, message: str, **kw) -> None:
        super().__init__("permission", message, **kw)


class TransientError(ConnectorError):
    def __init__(self, message: str, **kw) -> None:
        super().__init__("transient", message, **kw)


class PermanentError(ConnectorError):
    def __init__(self, message: str, **kw) -> None:
        super().__init__("permanent", message, **kw)


class ConfigurationError(ConnectorError):
    def __init__(self, message: str, **kw) -> None:
        super().__init__("configuration", message, **kw)


class BadWebhookPayload(ConnectorError):
    """The webhook body is not what the connector's payload spec expects."""

    def __init__(self, message: str, **kw) -> None:
        super().__init__("permanent", message, **kw)


class ManifestError(Exception):
    """A connector manifest is invalid (raised at load time, never at runtime)."""


class MappingError(Exception):
    """One vendor record could not be mapped to a contract event."""
