"""Domain errors: API errors map to the JD Cloud error envelope, task errors to errorCodes."""
from __future__ import annotations

from enum import IntEnum


class ApiError(Exception):
    """An error the API reports to the caller with an HTTP status."""

    status_code = 500
    canonical = "INTERNAL"

    def __init__(self, message: str, status_code: int | None = None, canonical: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code
        if canonical is not None:
            self.canonical = canonical


class InvalidArgument(ApiError):
    """The request names a field with a wrong type, range or combination."""

    status_code = 400
    canonical = "INVALID_ARGUMENT"


class Unauthenticated(ApiError):
    """The request is unsigned or its signature does not verify."""

    status_code = 401
    canonical = "UNAUTHENTICATED"


class NotFound(ApiError):
    """The named task or resource does not exist in this region."""

    status_code = 404
    canonical = "NOT_FOUND"


class Internal(ApiError):
    """An unexpected failure; the message never leaks internals."""

    status_code = 500
    canonical = "INTERNAL"


class ErrorCode(IntEnum):
    """The errorCode a task in ERROR carries; the README documents this table."""

    SOURCE_NOT_FOUND = 1001
    SOURCE_ACCESS_DENIED = 1002
    NO_VIDEO_STREAM = 1003
    UNDECODABLE = 1004
    TIME_OUT_OF_RANGE = 1005
    OUTPUT_WRITE_FAILED = 1006
    TIMED_OUT = 1007
    SOURCE_TOO_LARGE = 1008
    INTERNAL = 1099


class TaskFailed(Exception):
    """Ends a task in ERROR with the given code; the message is for logs only."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message
