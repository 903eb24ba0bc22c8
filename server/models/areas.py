"""The administrative area tree and the agencies that serve its areas."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.db import Base, UTCDateTime, utcnow
from server.models._types import choice
from server.vocab import AREA_LEVELS


class Area(Base):
    """One node of region > city > county > street > community > grid.

    `path` is the chain of ids from the root, `/1/7/42/`, so that "this area and everything
    under it" is one indexed prefix match (the basis of area scoping).
    """

    __tablename__ = "areas"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(choice(AREA_LEVELS, "area_level"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"), index=True)
    path: Mapped[str] = mapped_column(String(400), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    parent: Mapped[Area | None] = relationship(remote_side=[id])

    __table_args__ = (Index("ix_areas_path", "path"),)

    def __repr__(self) -> str:
        return f"<Area {self.code} {self.level}>"


class Agency(Base):
    """A social-work agency or Warm Heart Home (暖心家园) that takes referred cases."""

    __tablename__ = "agencies"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    areas: Mapped[list[Area]] = relationship(secondary="agency_areas", order_by="Area.code")


class AgencyArea(Base):
    """An area an agency serves (its service area covers this node and all below it)."""

    __tablename__ = "agency_areas"

    agency_id: Mapped[int] = mapped_column(
        ForeignKey("agencies.id", ondelete="CASCADE"), primary_key=True
    )
    area_id: Mapped[int] = mapped_column(
        ForeignKey("areas.id", ondelete="CASCADE"), primary_key=True, index=True
    )
