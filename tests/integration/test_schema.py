"""The migrations build the whole schema, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from pathlib import Path

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


def test_a_database_at_the_first_revision_upgrades_and_downgrades(tmp_path: Path) -> None:
    """A deployment made before a later migration gets it with `tanfang db upgrade`, and the
    migration can be taken back."""
    from alembic import command

    from server.db import make_engine
    from server.migrate import alembic_config, current_revision, upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    try:
        upgrade(engine, "0001")
        assert "ix_sms_messages_phone" in _indexes(engine, "sms_messages")
        upgrade(engine)
        assert "ix_sms_messages_phone" not in _indexes(engine, "sms_messages")
        assert "ix_sms_phone_created" in _indexes(engine, "sms_messages")
        assert "ix_sms_questions" in _indexes(engine, "sms_messages")
        # keys set on some messages only are indexed where set
        partial = {
            index["name"]: index.get("dialect_options", {}).get("sqlite_where")
            for index in inspect(engine).get_indexes("sms_messages")
        }
        for column in ("worker_id", "elder_id", "in_reply_to_id"):
            assert f"{column} IS NOT NULL" in str(partial[f"ix_sms_messages_{column}"])
        cfg = alembic_config(engine.url.render_as_string(hide_password=False))
        with engine.begin() as connection:
            cfg.attributes["connection"] = connection
            command.downgrade(cfg, "0001")
        assert current_revision(engine) == "0001"
        assert "ix_sms_messages_phone" in _indexes(engine, "sms_messages")
        assert "ix_sms_questions" not in _indexes(engine, "sms_messages")
    finally:
        engine.dispose()


def _indexes(engine: Engine, table: str) -> set[str]:
    return {index["name"] for index in inspect(engine).get_indexes(table) if index["name"]}
