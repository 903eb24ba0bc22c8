"""Who is asking: bearer tokens for the API, server-side sessions for pages.

`g.user` is the signed-in Worker (or None) and `g.scope` their area scope. Page sessions
keep only a random session token in the signed cookie; the token row is revoked at logout,
so a copied cookie stops working too.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar, cast

from flask import Flask, Request, abort, g, redirect, request, session, url_for
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from werkzeug.wrappers import Response

from server.models import Worker
from server.runtime import config, db_session
from server.services import auth
from server.services.scope import Scope, scope_for

F = TypeVar("F", bound=Callable[..., Any])

SESSION_KEY = "sid"


class _CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, without building the signer for the many requests
    that carry no cookie (webhooks, the API, the worker app's assets)."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)


def init_security(app: Flask) -> None:
    """Load the signed-in person before each request."""
    app.session_interface = _CookieSessions()
    app.before_request(load_user)


def load_user() -> None:
    """Set `g.user` and `g.scope` from a bearer token (API) or the session cookie (pages)."""
    g.user = None
    g.scope = None
    header = request.headers.get("Authorization", "")
    if request.path.startswith("/api/"):
        if header.lower().startswith("bearer "):
            token = header[7:].strip()
            if token:
                g.auth_token = token
                _set_user(auth.resolve_token(db_session(), token, "api"))
        return
    sid = session.get(SESSION_KEY)
    if isinstance(sid, str) and sid:
        worker = auth.resolve_token(db_session(), sid, "web")
        if worker is None:
            session.pop(SESSION_KEY, None)
        _set_user(worker)


def _set_user(worker: Worker | None) -> None:
    if worker is None:
        return
    g.user = worker
    g.scope = scope_for(db_session(), worker)


def start_page_session(worker: Worker) -> None:
    """Sign `worker` in to the pages: a fresh server-side session token in the cookie."""
    session.clear()  # a new session id at every login (no fixation)
    token, _row = auth.issue_token(
        db_session(), worker, "web", timedelta(hours=config().session_ttl_hours)
    )
    session[SESSION_KEY] = token
    session.permanent = True


def end_page_session() -> None:
    """Sign out of the pages: revoke the token and clear the cookie."""
    sid = session.get(SESSION_KEY)
    if isinstance(sid, str) and sid:
        auth.revoke_token(db_session(), sid)
    session.clear()


def current_scope() -> Scope:
    """The signed-in person's scope (only inside a login-required view)."""
    scope = g.get("scope")
    if scope is None:
        abort(401)
    return cast(Scope, scope)


def current_user() -> Worker:
    """The signed-in person (only inside a login-required view)."""
    user = g.get("user")
    if user is None:
        abort(401)
    return cast(Worker, user)


def page_login_required(*roles: str) -> Callable[[F], F]:
    """Pages: redirect to /login when signed out; 403 when the role is not allowed."""

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if g.get("user") is None:
                return redirect(url_for("web.login", next=request.full_path.rstrip("?")))
            if roles and g.user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return cast(F, wrapped)

    return decorator


def api_login_required(*roles: str) -> Callable[[F], F]:
    """API: 401 without a valid token; 403 when the role is not allowed."""
    from server.blueprints.api.errors import ApiError

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if g.get("user") is None:
                raise ApiError(401, "unauthorized", "a valid bearer token is required")
            if roles and g.user.role not in roles:
                raise ApiError(403, "forbidden", "your role may not do this")
            return view(*args, **kwargs)

        return cast(F, wrapped)

    return decorator


def safe_next(target: str | None) -> str | None:
    """`target` when it is a path on this site (no open redirects), else None."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


def redirect_to(endpoint: str) -> Response:
    """A redirect to an endpoint of this app."""
    return redirect(url_for(endpoint))
