"""Twilio webhook authentication: `X-Twilio-Signature` over TANFANG_PUBLIC_URL + path.

The URL is rebuilt from the configured public URL, not from `request.url`: behind a
TLS-terminating proxy Flask sees http:// and a different host, and the check would fail.
The form itself (a MultiDict, repeated keys kept) is passed to the validator.

By default Twilio signs with the account's Auth Token and HMAC-SHA1. When a Twilio Webhook
Setting signs with a SharedKey instead, the request says so in
`X-Twilio-Webhooks-Signature-Settings` (`key=..,algorithm=HMAC_SHA256`): the signature is then
checked with TWILIO_WEBHOOK_SHARED_KEY and that algorithm, as the SDK's helpers do.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar, cast
from urllib.parse import urlparse

from flask import Response, request
from twilio.request_validator import (
    HMAC_SHA1,
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
    add_port,
    compare,
    get_signature_algorithm,
    remove_port,
)

from server.runtime import config

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger(__name__)


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


def signature_matches(
    token: str, url: str, form: Any, signature: str, algorithm: str = HMAC_SHA1
) -> bool:
    """The SDK's `RequestValidator.validate` for a form-encoded webhook (`form` a MultiDict,
    repeated keys kept): the signature over `url` with or without its port, with `algorithm`
    (HMAC_SHA1 or HMAC_SHA256; any other fails). The same checks, in the same order, but the
    second HMAC is computed only when the first one fails and the URL is parsed once per URL
    rather than once per request."""
    if not token or not signature:
        return False
    validator = _validator(token)
    try:
        return any(
            compare(validator.compute_signature(signed, form, algorithm), signature)
            for signed in _signed_forms(url)
        )
    except ValueError:  # an algorithm this SDK does not compute
        log.warning("webhook signed with an unsupported algorithm; refused")
        return False


def signing_key() -> tuple[str | None, str]:
    """The secret and algorithm this request should be signed with: the SharedKey secret and
    the algorithm named in `X-Twilio-Webhooks-Signature-Settings` when the request carries
    that header, else the Auth Token and HMAC-SHA1."""
    settings = request.headers.get(SIGNATURE_SETTINGS_HEADER)
    if settings:
        return config().twilio_webhook_shared_key, get_signature_algorithm(settings)
    return config().twilio_auth_token, HMAC_SHA1


def signature_valid() -> bool:
    """True when the request carries a valid Twilio signature."""
    secret, algorithm = signing_key()
    return signature_matches(
        secret or "",
        public_url_of_request(),
        request.form,
        request.headers.get("X-Twilio-Signature", ""),
        algorithm,
    )


def twilio_signed(view: F) -> F:
    """403 unless the request is signed with TWILIO_AUTH_TOKEN (or, when a Webhook Setting
    signs with a SharedKey, with TWILIO_WEBHOOK_SHARED_KEY), whatever the backend: without the
    secret nothing can be verified, so every webhook is refused. The phone simulator and
    `tanfang sms inbound` call the same handling code directly, not through the webhook."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if request.headers.get(SIGNATURE_SETTINGS_HEADER) and not (
            config().twilio_webhook_shared_key
        ):
            # Our configuration is missing, not the request wrong: a 500 (as the SDK's own
            # middleware answers) makes Twilio retry once it is set, and the log says why.
            log.error(
                "webhook signed with a Twilio SharedKey, and TWILIO_WEBHOOK_SHARED_KEY is not set"
            )
            return Response("signing key not configured", status=500, mimetype="text/plain")
        if not signature_valid():
            return Response("invalid signature", status=403, mimetype="text/plain")
        return view(*args, **kwargs)

    return cast(F, wrapped)
