"""Service errors: ValueError subclasses that carry what is wrong and where.

``service/app.py`` maps them to HTTP status codes in one place.
"""

from __future__ import annotations

from typing import Any


class ServiceError(ValueError):
    status = 400

    def __init__(self, message: str, *, field: str | None = None,
                 details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details or {}


class NotFound(ServiceError):
    status = 404


class Conflict(ServiceError):
    status = 409


class Invalid(ServiceError):
    status = 422


class Unauthorized(ServiceError):
    status = 401


class Forbidden(ServiceError):
    status = 403
