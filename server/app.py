"""The one app factory."""

from __future__ import annotations

import gc
import logging
from typing import Any

from flask import Flask, request
from flask_babel import Babel
from flask_wtf.csrf import CSRFProtect

from server.config import SUPPORTED_LOCALES, Config, ConfigError
from server.runtime import Runtime, close_db_session

log = logging.getLogger(__name__)

csrf = CSRFProtect()
babel = Babel()


def create_app(config: Config | None = None, *, require_secret: bool = True) -> Flask:
    """Build the web app for `config` (default: from the environment).

    `require_secret=False` is for `demo`, which supplies a generated key itself.
    """
    from_environment = config is None
    config = config or Config.from_env()
    if require_secret and not config.secret_key:
        raise ConfigError("TANFANG_SECRET_KEY is required (only `tanfang demo` makes one up)")
    app = Flask(__name__, instance_relative_config=False)
    app.config.update(
        SECRET_KEY=config.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=config.public_url.startswith("https://"),
        SESSION_COOKIE_NAME="tanfang_session",
        PERMANENT_SESSION_LIFETIME=config.session_ttl_hours * 3600,
        BABEL_DEFAULT_LOCALE=config.locale,
        BABEL_DEFAULT_TIMEZONE=config.timezone,
        BABEL_TRANSLATION_DIRECTORIES=str(app.root_path + "/translations"),
        WTF_CSRF_TIME_LIMIT=None,
        JSON_SORT_KEYS=False,
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
    )
    app.extensions["tanfang"] = rt = Runtime.build(config)
    _check_rules(rt)
    app.teardown_appcontext(close_db_session)

    babel.init_app(app, locale_selector=select_locale, timezone_selector=lambda: config.timezone)
    csrf.init_app(app)

    from server.blueprints import register_blueprints
    from server.security import init_security

    init_security(app)
    register_blueprints(app)
    _register_template_helpers(app)
    if from_environment:  # `gunicorn 'server:create_app()'`: a server process
        freeze_startup_objects()
    return app


def freeze_startup_objects() -> None:
    """Keep what start-up built (the app, models, crisis terms and classifier: ~200k objects
    that live as long as the process) out of the cyclic garbage collector's full passes. One
    such pass over them takes ~100 ms with every request thread of the worker stopped; a
    server calls this once its app is built (`gc.freeze`, as the Python docs advise for
    long-lived servers)."""
    gc.collect()
    gc.freeze()


def _check_rules(rt: Runtime) -> None:
    """A bad rules or crisis-terms file stops start-up, naming the file, rule and problem."""
    from server.services.crisis import CrisisTermsError, default_terms
    from server.services.crisis_model import default_model
    from server.services.rules import RulesError

    try:
        rt.rules  # noqa: B018  (loads and validates)
    except RulesError as exc:
        raise ConfigError(f"TANFANG_RULES: {exc}") from exc
    try:
        default_terms()
    except CrisisTermsError as exc:
        raise ConfigError(str(exc)) from exc
    try:
        default_model()  # trained once per process, here rather than on the first message
    except (OSError, ValueError) as exc:
        raise ConfigError(f"crisis corpus: {exc}") from exc


def select_locale() -> str:
    """The logged-in person's locale, then Accept-Language, then TANFANG_LOCALE."""
    from flask import g

    from server.runtime import config

    user = g.get("user")
    if user is not None and user.locale in SUPPORTED_LOCALES:
        return str(user.locale)
    if request:
        asked = request.args.get("lang")
        if asked in SUPPORTED_LOCALES:
            return str(asked)
        best = request.accept_languages.best_match(["zh_CN", "zh", "en"])
        if best is not None:
            return "zh_CN" if best.startswith("zh") else "en"
    return config().locale


def _register_template_helpers(app: Flask) -> None:
    from flask_babel import format_date, format_datetime, format_decimal, format_percent

    from server.i18n import mask_name, mask_phone
    from server.labels import label

    @app.context_processor
    def _helpers() -> dict[str, Any]:
        from flask_babel import get_locale

        return {
            "format_date": format_date,
            "format_datetime": format_datetime,
            "format_decimal": format_decimal,
            "format_percent": format_percent,
            "mask_phone": mask_phone,
            "mask_name": mask_name,
            "label": label,
            "current_locale": str(get_locale()),
        }
