"""Twilio webhook authentication: `X-Twilio-Signature` over TANFANG_PUBLIC_URL + path.

The URL is rebuilt from the configured public URL, not from `request.url`: behind a
TLS-terminating proxy Flask sees http:// and a different host, and the check would fail.
The form itself (a MultiDict, repeated keys kept) is passed to the validator.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast
from urllib.parse import urlparse

from flask import Response, request
from twilio.request_validator import RequestValidator, add_port, compare, remove_port

from server.runtime import config

F = TypeVar("F", bound=Callable[..., Any])


def public_url_of_request() -> str:
    """The URL Twilio signed: the public base URL, this path, and any query string."""
    url = config().public_url + request.path
    if request.query_string:
        url += "?" + request.query_string.decode("latin-1")
    return url


@functools.lru_cache(maxsize=8)
def _validator(token: str) -> RequestValidator:
    return RequestValidator(token)


@functools.lru_cache(maxsize=256)
def _signed_forms(url: str) -> tuple[str, str]:
    """The URL as Twilio may have signed it: without, then with, its port."""
    parsed = urlparse(url)
    return remove_port(parsed), add_port(parsed)


def signature_matches(token: str, url: str, form: Any, signature: str) -> bool:
    """The SDK's `RequestValidator.validate` for a form-encoded webhook (`form` a MultiDict,
    repeated keys kept): the signature over `url` with or without its port. The same checks,
    in the same order, but the second HMAC is computed only when the first one fails and the
    URL is parsed once per URL rather than once per request."""
    if not token or not signature:
        return False
    validator = _validator(token)
    return any(
        compare(validator.compute_signature(signed, form), signature)
        for signed in _signed_forms(url)
    )


def signature_valid() -> bool:
    """True when the request carries a valid Twilio signature."""
    return signature_matches(
        config().twilio_auth_token or "",
        public_url_of_request(),
        request.form,
        request.headers.get("X-Twilio-Signature", ""),
    )


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
