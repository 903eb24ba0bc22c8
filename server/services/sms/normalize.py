"""Text as phones send it, made comparable: full-width forms, invisible characters, Chinese
punctuation and case set aside before any SMS is parsed (SPEC section 8)."""

from __future__ import annotations

import unicodedata

# Invisible characters phones and copy-paste leave behind: every Unicode format character
# (zero-width space and joiners, word joiner, BOM, soft hyphen, bidi marks) plus the emoji
# variation selectors and the keycap mark, so "1️⃣" reads as "1".
_DROP = frozenset("\ufe0e\ufe0f\u20e3")
_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def _is_invisible(ch: str) -> bool:
    return ch in _DROP or unicodedata.category(ch) == "Cf"


def is_separator(ch: str) -> bool:
    """True for a character that only separates words: space, punctuation of any script
    (，。：；！？、“”（）【】《》—…), symbols and emoji, and the `#`, `-`, `!`, `:` that
    workers put between a code and a value."""
    if ch.isspace():
        return True
    category = unicodedata.category(ch)
    return category[0] in "PSZ" or category == "Cc"


def _ascii_digit(ch: str) -> str:
    # Arabic-Indic, Devanagari and other decimal digits; NFKC already folded the full-width
    # and circled ones. Chinese numerals are words (一切 = "everything") and stay as they are.
    if not ch.isascii() and unicodedata.category(ch) == "Nd":
        return str(unicodedata.decimal(ch))
    return ch


def tidy(text: str) -> str:
    """The text as the person meant it, for display and storage: NFKC on all but punctuation
    (full-width letters, digits and spaces to ASCII), invisible characters removed, any decimal
    digit as ASCII, whitespace collapsed, ends stripped. Case and punctuation are kept."""
    # Punctuation is kept as typed so a Chinese note keeps its ，。 rather than ASCII ,.
    parts: list[str] = []
    run: list[str] = []
    # Invisible characters go first: left in, they would keep NFKC from composing around them.
    for ch in (c for c in text if not _is_invisible(c)):
        if unicodedata.category(ch)[0] == "P":
            parts.append(unicodedata.normalize("NFKC", "".join(run)))
            parts.append(ch)
            run = []
        else:
            run.append(ch)
    parts.append(unicodedata.normalize("NFKC", "".join(run)))
    return " ".join("".join(_ascii_digit(ch) for ch in "".join(parts)).split())


def normalize(text: str) -> str:
    """The text reduced for matching: `tidy`, then every separator (punctuation, symbols,
    emoji) a single space, and Latin letters upper-cased; CJK is left alone.

    `ＤＯＮＥ　Ａ７Ｋ３，４。` and `done:a7k3#4` both become `DONE A7K3 4`.
    """
    return normalize_tidied(tidy(text))


def normalize_tidied(tidied: str) -> str:
    """`normalize` of a text that `tidy` has already been applied to:
    `normalize(text) == normalize_tidied(tidy(text))`."""
    spaced = "".join(" " if is_separator(ch) else ch for ch in tidied)
    return upper_latin(" ".join(spaced.split()))


def upper_latin(text: str) -> str:
    """`text` with ASCII letters upper-cased and nothing else touched (so offsets hold)."""
    return text.translate(_UPPER)


def is_latin(ch: str) -> bool:
    """True for an ASCII letter or digit: the characters of codes, moods and English words."""
    return ch.isascii() and ch.isalnum()
