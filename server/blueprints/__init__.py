"""Blueprints, one per feature."""

from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    """Attach every blueprint to `app`."""
    from server.app import csrf
    from server.blueprints import cases_pages, health, pwa, sms_inbound, sms_status, web
    from server.blueprints.api import bp as api_bp
    from server.blueprints.api.errors import register_error_handlers

    app.register_blueprint(health.bp)
    app.register_blueprint(web.bp)
    app.register_blueprint(cases_pages.bp)
    app.register_blueprint(pwa.bp)
    # The API authenticates with bearer tokens, which a browser never attaches on its own,
    # so cross-site request forgery does not apply there.
    csrf.exempt(api_bp)
    app.register_blueprint(api_bp)
    # Twilio's webhooks are authenticated by their signature and cannot carry a CSRF token.
    csrf.exempt(sms_status.bp)
    app.register_blueprint(sms_status.bp)
    csrf.exempt(sms_inbound.bp)
    app.register_blueprint(sms_inbound.bp)
    from server.runtime import runtime

    if runtime(app).config.sms_backend == "console":
        from server.blueprints import phone

        app.register_blueprint(phone.bp)
    register_error_handlers(app)
    _no_store_for_personal_data(app)


def _no_store_for_personal_data(app: Flask) -> None:
    """Responses carrying personal data must not sit in shared or browser caches."""
    from flask import Response, request

    @app.after_request
    def _headers(response: Response) -> Response:
        if request.path.startswith(("/api/", "/dashboard", "/elders", "/workers", "/cases")):
            response.headers.setdefault("Cache-Control", "no-store")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        return response
