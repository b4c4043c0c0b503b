"""Service errors: ValueError subclasses that carry what is wrong and where.

``service/app.py`` maps them to HTTP status codes in one place; :class:`ErrorBody` is the
JSON body every error response carries, as the OpenAPI page documents it.
"""

from __future__ import annotations

import json
import sys
from typing import Any, NotRequired

from pydantic import ConfigDict, TypeAdapter, with_config
from pydantic.json_schema import GenerateJsonSchema
from typing_extensions import TypedDict  # pydantic needs this one below Python 3.12


class ServiceError(ValueError):
    status = 400

    def __init__(
        self, message: str, *, field: str | None = None, details: dict[str, Any] | None = None
    ) -> None:
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


class TooMany(ServiceError):
    status = 429


class Unauthorized(ServiceError):
    status = 401


class Forbidden(ServiceError):
    status = 403


def json_problem(exc: BaseException | None) -> str | None:
    """Why a request body is not readable JSON, in words for the client; None when ``exc``
    is no JSON reading error. One wording for FastAPI's body parsing and the routes that
    read JSON themselves."""
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} (line {exc.lineno}, column {exc.colno})"
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8 text (bad byte at offset {exc.start})"
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    if isinstance(exc, ValueError) and "integer string conversion" in str(exc):
        # Python refuses to convert integers this long (quadratic time): keep the guard.
        return f"a number has more than {sys.get_int_max_str_digits()} digits"
    if isinstance(exc, ValueError):  # json's other refusals are ValueErrors too
        return str(exc).split(";")[0][:200]
    return None


class FieldProblem(TypedDict):
    """One problem of a request: where (``members[3].timezone``; empty: the whole body);
    in a CSV, the ``line`` and the column (``field``)."""

    field: str
    message: str
    line: NotRequired[int]


class Clash(TypedDict):
    """A wanted occurrence that overlaps something a member is already booked into."""

    member: str
    start: str
    session: str
    busy_start: NotRequired[str]
    busy_end: NotRequired[str]
    match: NotRequired[str]


@with_config(ConfigDict(extra="allow"))
class ErrorBody(TypedDict):
    """Every 4xx body: ``detail`` says what is wrong, ``field`` where; ``errors`` lists every
    problem of a refused document; ``clashes`` every collision of a refused booking."""

    detail: str
    field: NotRequired[str]
    errors: NotRequired[list[FieldProblem]]
    clashes: NotRequired[list[Clash]]
    problem: NotRequired[str]
    booked: NotRequired[list[dict[str, str]]]
    repeated: NotRequired[list[str]]


_MEANING = {
    400: "The request body could not be read",
    401: "No API token, or an unknown one",
    403: "The token may not do this",
    404: "Something named in the path does not exist",
    409: "Conflicts with the current state (already exists, already booked, cancelled)",
    413: "The request body is too large",
    422: "The request or document is invalid; the body names the field and the problem",
    429: "Too much of this is already waiting (e.g. plan jobs of the program)",
    503: "Busy (calendar URLs being fetched, or the database held by other writes); try "
    "again after Retry-After seconds",
}


ERROR_BODY_REF = "#/components/schemas/ErrorBody"


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for these error status codes, all with an :class:`ErrorBody`.

    A reference to the one schema component ``app.py`` adds (:func:`error_body_schemas`)
    rather than ``"model": ErrorBody``: with a model, FastAPI builds a pydantic TypeAdapter
    of it for every route and code, twice (~300 of them, over a second of every start)."""
    content = {"application/json": {"schema": {"$ref": ERROR_BODY_REF}}}
    return {code: {"description": _MEANING[code], "content": content} for code in codes}


def error_body_schemas() -> dict[str, Any]:
    """The OpenAPI schema components of :class:`ErrorBody` and of those it refers to."""
    # As FastAPI generates its components: unsorted keys, references into components.
    generator = GenerateJsonSchema(ref_template=ERROR_BODY_REF.replace("ErrorBody", "{model}"))
    inputs = [("ErrorBody", "serialization", TypeAdapter(ErrorBody).core_schema)]
    return dict(generator.generate_definitions(inputs)[1])  # type: ignore[arg-type]
