"""How many SMS a text costs: GSM-7 (160 per message, 153 per part) or UCS-2 (70, 67)."""

from __future__ import annotations

from typing import Literal, NamedTuple

Encoding = Literal["GSM-7", "UCS-2"]

# 3GPP TS 23.038: the default alphabet (without the escape code itself) ...
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# ... and its extension table, each character sent as escape + character: two septets.
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67


class Segments(NamedTuple):
    """The encoding a text is sent in and the number of SMS it is billed and split as."""

    encoding: Encoding
    parts: int


def _parts(sizes: list[int], single: int, part: int) -> int:
    # A multi-part message never splits an escape pair or a surrogate pair across parts,
    # so a part can hold one unit less than its room.
    if sum(sizes) <= single:
        return 1
    count, room = 1, part
    for size in sizes:
        if size > room:
            count, room = count + 1, part
        room -= size
    return count


def is_gsm7(text: str) -> bool:
    """True when every character of `text` is in the GSM-7 alphabet or its extension."""
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text)


def segments(text: str) -> Segments:
    """The encoding and SMS count of `text`; an empty text still costs one SMS."""
    if is_gsm7(text):
        septets = [2 if ch in GSM7_EXTENSION else 1 for ch in text]
        return Segments("GSM-7", _parts(septets, GSM7_SINGLE, GSM7_PART))
    # UCS-2 on the wire is UTF-16: a character beyond the BMP (most emoji) takes two units.
    units = [2 if ord(ch) > 0xFFFF else 1 for ch in text]
    return Segments("UCS-2", _parts(units, UCS2_SINGLE, UCS2_PART))
