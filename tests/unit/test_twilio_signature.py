"""The webhook signature check against Twilio's documented test vector, the port variants
Twilio's signing is inconsistent about, repeated parameters, and tampering."""

from __future__ import annotations

import pytest
from twilio.request_validator import RequestValidator
from werkzeug.datastructures import MultiDict

from server.blueprints.twilio_auth import signature_matches

# Twilio's documented example (its security docs and every helper library's tests).
TOKEN = "12345"
URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+14158675309",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
}
SIGNATURE = "RSOYDt4T1cUTdK1PDd93/VVr8B8="


def test_the_documented_vector_is_accepted() -> None:
    assert signature_matches(TOKEN, URL, MultiDict(PARAMS), SIGNATURE)


def test_repeated_parameters_are_all_signed() -> None:
    form = MultiDict(
        [("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678"), ("Digits", "1234"),
         ("Digits", "1234")]
    )
    assert signature_matches(TOKEN, URL, form, "IK+Dwps556ElfBT0I3Rgjkr1wJU=")


@pytest.mark.parametrize(
    ("url", "form", "token", "signature"),
    [
        (URL, {**PARAMS, "Digits": "9999"}, TOKEN, SIGNATURE),  # a tampered value
        (URL + "&extra=1", PARAMS, TOKEN, SIGNATURE),  # another URL
        (URL, PARAMS, "54321", SIGNATURE),  # another account's token
        (URL, PARAMS, TOKEN, "invalid 王"),
        (URL, PARAMS, TOKEN, ""),
    ],
)
def test_anything_changed_is_refused(url: str, form: dict[str, str], token: str,
                                     signature: str) -> None:
    assert not signature_matches(token, url, MultiDict(form), signature)


@pytest.mark.parametrize(
    ("public", "signed_over"),
    [
        ("https://tanfang.example.org/sms/inbound", "https://tanfang.example.org:443/sms/inbound"),
        ("https://tanfang.example.org:443/sms/inbound", "https://tanfang.example.org/sms/inbound"),
        ("http://tanfang.example.org:8080/sms/inbound", "http://tanfang.example.org:8080/sms/inbound"),
    ],
)
def test_a_signature_over_the_url_with_or_without_its_default_port_is_accepted(
    public: str, signed_over: str
) -> None:
    form = MultiDict({"MessageSid": "SM1", "From": "+8613912345678", "Body": "任务"})
    signature = RequestValidator("tok").compute_signature(signed_over, form)
    assert signature_matches("tok", public, form, signature)
    # exactly what the SDK's own validate() decides
    assert RequestValidator("tok").validate(public, form, signature)
    assert not signature_matches("tok", public.replace("inbound", "status"), form, signature)


def test_a_shared_key_signature_is_checked_with_its_own_algorithm() -> None:
    # A Twilio Webhook Setting may sign with a SharedKey and HMAC-SHA256: only the hash
    # changes, the signed string is the same.
    form = MultiDict({"MessageSid": "SM1", "From": "+8613912345678", "Body": "任务"})
    url = "https://tanfang.example.org/sms/inbound"
    sha256 = RequestValidator("shared").compute_signature(url, form, "HMAC_SHA256")
    sha1 = RequestValidator("shared").compute_signature(url, form)
    assert sha256 != sha1
    assert signature_matches("shared", url, form, sha256, "HMAC_SHA256")
    assert RequestValidator("shared").validate(url, form, sha256, "HMAC_SHA256")
    assert not signature_matches("shared", url, form, sha256)  # read as SHA-1
    assert not signature_matches("shared", url, form, sha1, "HMAC_SHA256")
    assert not signature_matches("other", url, form, sha256, "HMAC_SHA256")
    assert not signature_matches("shared", url, form, sha256, "HMAC_MD5")  # not one Twilio uses
