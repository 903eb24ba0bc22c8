"""The worker PWA at /app/: its shell, service worker, manifest, icons and strings.

Everything here is static and holds no one's data; personal data reaches the app only
through the bearer-token API, whose responses are `no-store`. The offline copy the app
keeps is made deliberately in IndexedDB, not by HTTP caching.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from flask import Blueprint, Response, abort, redirect, request
from werkzeug.wrappers import Response as BaseResponse

bp = Blueprint("pwa", __name__)

# The app's files live beside the Python packages (the project tree's `pwa/`).
PWA_DIR = Path(__file__).resolve().parents[2] / "pwa"
SCOPE = "/app/"
SERVICE_WORKER = "sw.js"
# The service worker is served with this placeholder replaced by the shell's version and
# file list, so that a change to any file makes the browser install a new service worker.
SHELL_PLACEHOLDER = '{"version": "dev", "files": []}'

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json; charset=utf-8",
    ".webmanifest": "application/manifest+json; charset=utf-8",
    ".png": "image/png",
    ".svg": "image/svg+xml",
}

# No inline script or style, nothing from another origin; the API is same-origin.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "font-src 'self'",
        "connect-src 'self'",
        "manifest-src 'self'",
        "worker-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
    )
)


def shell_files() -> list[Path]:
    """Every file of the app shell that is served (the service worker itself excepted)."""
    return sorted(
        path
        for path in PWA_DIR.rglob("*")
        if path.is_file()
        and path.suffix in CONTENT_TYPES
        and path.name != SERVICE_WORKER
        and not any(part.startswith(".") for part in path.relative_to(PWA_DIR).parts)
    )


def shell_manifest() -> dict[str, object]:
    """The shell's version (a hash of its files) and the URLs the service worker caches."""
    digest = hashlib.sha256()
    urls = [SCOPE]
    for path in [*shell_files(), PWA_DIR / SERVICE_WORKER]:
        relative = path.relative_to(PWA_DIR).as_posix()
        digest.update(relative.encode() + b"\0" + path.read_bytes() + b"\0")
        if path.name != SERVICE_WORKER and relative != "index.html":
            urls.append(SCOPE + relative)
    return {"version": digest.hexdigest()[:16], "files": urls}


def _harden(response: BaseResponse) -> BaseResponse:
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["Permissions-Policy"] = "geolocation=(self), camera=(), microphone=()"
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    # The shell holds no personal data; revalidate so updates arrive, and let the service
    # worker keep the offline copy.
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/app")
def app_redirect() -> BaseResponse:
    """The app lives under its scope with a trailing slash."""
    return redirect(SCOPE, code=308)


@bp.get("/app/")
def app_index() -> BaseResponse:
    """The app shell's page."""
    index = PWA_DIR / "index.html"
    if not index.is_file():  # an install without the project tree's pwa/
        abort(404)
    return _serve(index)


@bp.get("/app/<path:filename>")
def app_file(filename: str) -> BaseResponse:
    """One file of the app, with its content type; the service worker gets its scope."""
    if filename == SERVICE_WORKER:
        return _service_worker()
    path = (PWA_DIR / filename).resolve()
    if (
        not path.is_relative_to(PWA_DIR)
        or not path.is_file()
        or path.suffix not in CONTENT_TYPES
        or any(part.startswith(".") for part in path.relative_to(PWA_DIR).parts)
    ):
        abort(404)
    return _serve(path)


def _serve(path: Path) -> BaseResponse:
    # Small files, read whole: no file handle outlives a request the browser dropped.
    body = path.read_bytes()
    response = Response(body, content_type=CONTENT_TYPES[path.suffix])
    response.set_etag(hashlib.sha256(body).hexdigest()[:32])
    return _harden(response.make_conditional(request))


def _service_worker() -> BaseResponse:
    source = (PWA_DIR / SERVICE_WORKER).read_text(encoding="utf-8")
    if SHELL_PLACEHOLDER not in source:
        raise RuntimeError(f"{SERVICE_WORKER} lacks its shell placeholder")
    body = source.replace(SHELL_PLACEHOLDER, json.dumps(shell_manifest()), 1)
    response = Response(body, content_type=CONTENT_TYPES[".js"])
    response.headers["Service-Worker-Allowed"] = SCOPE
    response.set_etag(hashlib.sha256(body.encode()).hexdigest()[:32])
    return _harden(response.make_conditional(request))
