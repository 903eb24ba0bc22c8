"""Elders' short codes: 4-6 letters and digits that cannot be misread or mistyped."""

from __future__ import annotations

import secrets
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.models import Elder

# No 0/O, 1/I/L, 5/S, 2/Z, 8/B: each is easily confused with another on a phone keypad or
# in handwriting. 25 symbols give 390,625 four-letter and 9.8 million five-letter codes.
ALPHABET = "34679ACDEFGHJKMNPQRTUVWXY"
CODE_LENGTH = 5


def is_valid_code(code: str) -> bool:
    """True for a well-formed short code (4-6 symbols of the alphabet)."""
    return 4 <= len(code) <= 6 and all(c in ALPHABET for c in code.upper())


class CodeAllocator:
    """Hands out unique codes, remembering every code already in use."""

    def __init__(self, taken: Iterable[str] = (), length: int = CODE_LENGTH) -> None:
        self.taken = set(taken)
        self.length = length

    @classmethod
    def from_db(cls, session: Session) -> CodeAllocator:
        """An allocator aware of every code stored."""
        return cls(session.scalars(select(Elder.code)))

    def new(self) -> str:
        """A fresh code, never handed out before."""
        for _ in range(100):
            code = "".join(secrets.choice(ALPHABET) for _ in range(self.length))
            if code not in self.taken:
                self.taken.add(code)
                return code
        self.length = min(self.length + 1, 6)
        return self.new()
