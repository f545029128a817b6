"""The one error the voice service answers with: a status and a one-line message, as JSON."""

from __future__ import annotations


class ServiceError(ValueError):
    """A request or a setting the service refuses: `status` is the HTTP status, the message one line."""

    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.headers = status, headers or {}


def error_content(status: int, message: str) -> dict:
    """The one shape of every refusal the service sends."""
    return {"error": {"message": message, "code": status}}


def validation_message(error) -> str:
    """A pydantic or FastAPI validation error in one line, naming the fields and what is wrong with
    them, never echoing the input (which may be megabytes)."""
    problems = []
    for problem in error.errors()[:5]:
        where = ".".join(str(part) for part in problem.get("loc", ()) if part != "body") or "the body"
        problems.append(f"{where}: {problem.get('msg', 'invalid')}")
    return "; ".join(problems)
