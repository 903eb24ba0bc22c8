"""Column helpers shared by the model modules."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Enum


def choice(values: Sequence[str], name: str) -> Enum:
    """A portable string enum: VARCHAR plus a CHECK constraint on every database."""
    return Enum(
        *values,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=max(len(v) for v in values),
        validate_strings=True,
    )
