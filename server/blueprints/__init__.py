"""Blueprints, one per feature."""

from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    """Attach every blueprint to `app`."""
    from server.blueprints import health

    app.register_blueprint(health.bp)
