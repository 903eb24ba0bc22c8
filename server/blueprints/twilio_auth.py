"""Twilio webhook authentication: `X-Twilio-Signature` over TANFANG_PUBLIC_URL + path.

The URL is rebuilt from the configured public URL, not from `request.url`: behind a
TLS-terminating proxy Flask sees http:// and a different host, and the check would fail.
The form itself (a MultiDict, repeated keys kept) is passed to the validator.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import Response, request
from twilio.request_validator import RequestValidator

from server.runtime import config

F = TypeVar("F", bound=Callable[..., Any])


def public_url_of_request() -> str:
    """The URL Twilio signed: the public base URL, this path, and any query string."""
    url = config().public_url + request.path
    if request.query_string:
        url += "?" + request.query_string.decode("latin-1")
    return url


def signature_valid() -> bool:
    """True when the request carries a valid Twilio signature."""
    token = config().twilio_auth_token
    signature = request.headers.get("X-Twilio-Signature", "")
    if not token or not signature:
        return False
    return bool(RequestValidator(token).validate(public_url_of_request(), request.form, signature))


def twilio_signed(view: F) -> F:
    """403 unless the request is signed with TWILIO_AUTH_TOKEN, whatever the backend (without
    a token nothing can be verified, so every webhook is refused). The phone simulator and
    `tanfang sms inbound` call the same handling code directly, not through the webhook."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not signature_valid():
            return Response("invalid signature", status=403, mimetype="text/plain")
        return view(*args, **kwargs)

    return cast(F, wrapped)
