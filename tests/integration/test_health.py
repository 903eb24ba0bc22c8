"""/healthz tells a load balancer whether the database answers."""

from __future__ import annotations

from dataclasses import replace

import pytest

from server.app import create_app
from server.config import Config, ConfigError
from server.runtime import runtime


def test_healthz_is_503_when_the_database_is_down() -> None:
    config = replace(
        Config(),
        secret_key="k",
        database_url="postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=2",
    )
    app = create_app(config)
    try:
        response = app.test_client().get("/healthz")
    finally:
        runtime(app).dispose()
    assert response.status_code == 503
    assert response.get_json()["status"] == "unavailable"


def test_the_app_refuses_to_start_without_a_secret_key() -> None:
    with pytest.raises(ConfigError, match="TANFANG_SECRET_KEY"):
        create_app(replace(Config(), secret_key=None))


def test_bad_configuration_is_named() -> None:
    with pytest.raises(ConfigError, match="TANFANG_TIMEZONE"):
        Config.from_env({"TANFANG_TIMEZONE": "Mars/Olympus"})
    with pytest.raises(ConfigError, match="TANFANG_LOCALE"):
        Config.from_env({"TANFANG_LOCALE": "fr"})


def test_a_server_app_keeps_its_startup_objects_out_of_full_collections(
    monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    """`gunicorn 'server:create_app()'` builds the app from the environment; a full garbage
    collection then no longer walks the start-up objects (a pause of ~100 ms otherwise)."""
    import gc

    monkeypatch.setenv("TANFANG_SECRET_KEY", "k")
    monkeypatch.setenv("TANFANG_DATABASE_URL", database_url)
    try:
        app = create_app()
        assert gc.get_freeze_count() > 50_000
        runtime(app).dispose()
    finally:
        gc.unfreeze()
