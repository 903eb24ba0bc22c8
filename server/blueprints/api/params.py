"""Reading request parameters and bodies, with 422 errors that name the field."""

from __future__ import annotations

from typing import Any

from flask import request

from server.blueprints.api.errors import ApiError
from server.runtime import config
from server.services.months import current_month, parse_month


def json_body() -> dict[str, Any]:
    """The request's JSON object, or 400."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiError(400, "bad_request", "the body must be a JSON object")
    return data


def month_arg() -> str:
    """`?month=YYYY-MM`, defaulting to the current local month."""
    raw = request.args.get("month")
    if raw is None or raw == "":
        return current_month(config().tz)
    try:
        return parse_month(raw)
    except ValueError as exc:
        raise ApiError(422, "invalid", "invalid query", {"month": str(exc)}) from exc


def choice_arg(name: str, choices: tuple[str, ...], default: str | None) -> str | None:
    """A query argument restricted to `choices`."""
    raw = request.args.get(name, default)
    if raw is None:
        return None
    if raw not in choices:
        raise ApiError(422, "invalid", "invalid query", {name: f"one of {', '.join(choices)}"})
    return raw


def page_args(default_size: int = 100, max_size: int = 500) -> tuple[int, int]:
    """`?limit=&offset=` with sane bounds."""
    try:
        limit = int(request.args.get("limit", default_size))
        offset = int(request.args.get("offset", 0))
    except ValueError as exc:
        raise ApiError(422, "invalid", "invalid query", {"limit": "a whole number"}) from exc
    if not 1 <= limit <= max_size or offset < 0:
        raise ApiError(
            422, "invalid", "invalid query", {"limit": f"1 to {max_size}", "offset": ">= 0"}
        )
    return limit, offset
