"""The one error the voice service answers with: a status and a one-line message, as JSON."""

from __future__ import annotations


class ServiceError(ValueError):
    """A request or a setting the service refuses: `status` is the HTTP status, the message one line."""

    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.headers = status, headers or {}
