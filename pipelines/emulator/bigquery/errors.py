"""BigQuery's errors as the emulator answers them: ApiError, in BigQuery's JSON shape."""

from __future__ import annotations

from typing import ClassVar

SUPPORTED = (
    "The BigQuery emulator runs read-only GoogleSQL queries (one SELECT per job) on its "
    "DuckDB warehouse, through jobs.insert, jobs.query, jobs.get, jobs.cancel, "
    "jobs.getQueryResults, tables.get and tabledata.list"
)


class ApiError(Exception):
    """An error answered in BigQuery's JSON shape."""

    _STATUS_NAMES: ClassVar[dict[int, str]] = {
        400: "INVALID_ARGUMENT",
        404: "NOT_FOUND",
        409: "ALREADY_EXISTS",
    }

    def __init__(self, status: int, reason: str, message: str, location: str = ""):
        super().__init__(message)
        self.status, self.reason, self.message, self.location = status, reason, message, location

    def detail(self) -> dict:
        detail = {"reason": self.reason, "message": self.message}
        if self.location:
            detail["location"] = self.location
        return detail

    def payload(self) -> dict:
        return {
            "error": {
                "code": self.status,
                "message": self.message,
                "errors": [{**self.detail(), "domain": "global"}],
                "status": self._STATUS_NAMES.get(self.status, "UNKNOWN"),
            }
        }


def invalid_query(message: str) -> ApiError:
    return ApiError(400, "invalidQuery", message, "query")


def unsupported(what: str) -> ApiError:
    return ApiError(400, "invalid", f"{SUPPORTED}; {what} is not supported.")


def failed(exc: Exception) -> ApiError:
    """A bug of the emulator, as a 400 (BigQuery clients retry 5xx for minutes)."""
    return ApiError(400, "invalid", f"The BigQuery emulator failed: {type(exc).__name__}: {exc}")


def cancelled() -> ApiError:
    return ApiError(400, "stopped", "Job execution was cancelled: User requested cancellation")
