"""The migrations build the whole schema, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from server.db import Base
from server.models import Area, Elder
from tests.factories import build_region


def test_migrations_create_every_table(engine: Engine) -> None:
    tables = set(inspect(engine).get_table_names())
    assert set(Base.metadata.tables) <= tables


def test_models_and_migrations_agree(engine: Engine) -> None:
    with engine.connect() as conn:
        # APScheduler creates and owns its job store table
        context = MigrationContext.configure(
            conn,
            opts={"include_name": lambda name, type_, _parents: name != "scheduler_jobs"},
        )
        diff = compare_metadata(context, Base.metadata)
    assert diff == [], f"the models differ from the migrations: {diff}"


def test_region_paths_support_subtree_queries(session: Session) -> None:
    region = build_region(session)
    session.commit()
    xq = region.counties["xq"]
    grid = xq.grids[0]
    assert grid.path.startswith(xq.area.path)
    assert grid.path.startswith(region.root.path)
    assert not grid.path.startswith(region.counties["jf"].area.path)
    codes = {e.code for e in session.query(Elder)}
    assert len(codes) == session.query(Elder).count() == 8
    assert session.query(Area).count() == 2 + 2 * 5
