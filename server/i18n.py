"""Locale helpers and the masking of personal data for places that must not show it whole."""

from __future__ import annotations


def mask_phone(phone: str | None) -> str:
    """`+8613912345678` -> `+86139****5678`; shows only enough to recognise a number."""
    if not phone:
        return ""
    if len(phone) <= 7:
        return "*" * len(phone)
    return phone[:-8] + "****" + phone[-4:] if len(phone) >= 11 else phone[:3] + "****"


def mask_name(name: str | None) -> str:
    """`张秀英` -> `张**`, `Li Wei` -> `L*****`: the first character only."""
    if not name:
        return ""
    return name[0] + "*" * (len(name) - 1)
