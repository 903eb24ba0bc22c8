"""JSON API under /api/v1 (SPEC section 7). Bearer tokens only, so no CSRF."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from server.blueprints.api import (  # noqa: E402,F401  (route modules attach to bp)
    auth_routes,
    cases,
    checkins,
    elders,
    openapi,
    pwa_support,
    reports,
    visits,
    workers,
)
