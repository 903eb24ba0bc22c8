"""Phone numbers in their common Chinese written forms, normalised to E.164."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import TypeGuard

import phonenumbers
from sqlalchemy import ColumnElement
from sqlalchemy.orm import InstrumentedAttribute

_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212\u3000().（）·]+")


class PhoneError(ValueError):
    """Not a phone number we can reach."""


@lru_cache(maxsize=8192)
def normalize_phone(raw: str, region: str = "CN") -> str:
    """`139 1234 5678`, `+86-139-1234-5678`, `0086 13912345678`, full-width digits, or a
    landline such as `0951-1234567` -> E.164 (`+8613912345678`). Raises PhoneError.

    Cached: the same senders write again and again, and libphonenumber's parse is the costly
    part of reading an inbound SMS (errors are not cached, they are raised afresh)."""
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


# Chinese mobile numbers in E.164: the numbers that take SMS. Landlines (+86 951 ..., the area
# code first) are kept for calling but are never sent automated messages.
MOBILE_PREFIX = "+861"
_MOBILE = re.compile(r"\+861[3-9]\d{9}")


def can_text(phone: str | None) -> TypeGuard[str]:
    """True when `phone` (E.164) is a mobile number that can receive SMS."""
    return bool(phone) and _MOBILE.fullmatch(phone or "") is not None


def textable(column: InstrumentedAttribute[str | None]) -> ColumnElement[bool]:
    """SQL: `column` holds a mobile number (`can_text`)."""
    return column.startswith(MOBILE_PREFIX, autoescape=True)


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
