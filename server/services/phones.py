"""Phone numbers in their common Chinese written forms, normalised to E.164."""

from __future__ import annotations

import re
import unicodedata

import phonenumbers

_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212\u3000().（）·]+")


class PhoneError(ValueError):
    """Not a phone number we can reach."""


def normalize_phone(raw: str, region: str = "CN") -> str:
    """`139 1234 5678`, `+86-139-1234-5678`, `0086 13912345678`, full-width digits, or a
    landline such as `0951-1234567` -> E.164 (`+8613912345678`). Raises PhoneError."""
    text = unicodedata.normalize("NFKC", raw or "").strip()
    text = text.replace("\u200b", "").replace("\ufeff", "")
    if not text:
        raise PhoneError("phone is empty")
    compact = _SEPARATORS.sub("", text)
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    # 8613912345678 written without a plus (Excel drops it)
    if re.fullmatch(r"861[3-9]\d{9}", compact):
        compact = "+" + compact
    if not re.fullmatch(r"\+?\d{5,16}", compact):
        raise PhoneError(f"{raw.strip()!r} is not a phone number")
    try:
        number = phonenumbers.parse(compact, region)
    except phonenumbers.NumberParseException as exc:
        raise PhoneError(f"{raw.strip()!r} is not a phone number") from exc
    if not phonenumbers.is_valid_number(number):
        raise PhoneError(f"{raw.strip()!r} is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def is_short_code(sender: str) -> bool:
    """True for automated senders (short codes, alphanumeric ids): never answer those."""
    text = sender.strip()
    if not text:
        return True
    if not text.lstrip("+").isdigit():
        return True  # alphanumeric sender id
    digits = text.lstrip("+")
    # Chinese service numbers (95xxx, 106xxxx...) and short codes have no subscriber form.
    if len(digits) <= 8:
        return True
    return bool(re.match(r"^(86)?(95|96|106|100|12)\d*$", digits)) and not re.match(
        r"^(86)?1[3-9]\d{9}$", digits
    )
