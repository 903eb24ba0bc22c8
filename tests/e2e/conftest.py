"""A live server on the test database and a real headless Chromium (Debian's `chromium`,
driven by Playwright from PyPI; browsers are never downloaded)."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

CHROMIUM = Path(os.environ.get("TANFANG_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PHONE = {"width": 360, "height": 640}


@dataclass
class LiveServer:
    """The app served over HTTP on 127.0.0.1 (a secure context, so service workers run)."""

    url: str
    app: Flask


@pytest.fixture
def live_server(app: Flask) -> Iterator[LiveServer]:
    """The test app on a free port, in a thread, for the length of one test."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.server_port}", app)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Chromium, once per run; the tests skip when it is not installed."""
    if not CHROMIUM.exists():
        if os.environ.get("TANFANG_REQUIRE_BROWSER"):
            pytest.fail(f"Chromium not found at {CHROMIUM} and TANFANG_REQUIRE_BROWSER is set")
        pytest.skip(
            f"Chromium not found at {CHROMIUM}: `apt-get install chromium chromium-driver` "
            "(or set TANFANG_CHROMIUM) to run the browser tests"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def phone_context(browser: Any, live_server: LiveServer) -> Iterator[Any]:
    """A small phone (360 x 640, touch) that allows location, in Yinchuan's time zone."""
    context = browser.new_context(
        base_url=live_server.url,
        viewport=PHONE,
        screen=PHONE,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        permissions=["geolocation"],
        geolocation={"latitude": 38.47, "longitude": 106.29, "accuracy": 12},
        service_workers="allow",
    )
    context.set_default_timeout(15000)
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def artifacts() -> Path:
    """Where the browser tests write screenshots (git-ignored)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
