"""`tanfang serve`: gunicorn with the app factory; refuses to start without a secret key."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(tmp_path: Path, database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TANFANG_")}
    env.update({"TANFANG_DATABASE_URL": database_url, **extra})
    return env


def test_serve_refuses_to_start_without_a_secret_key(tmp_path: Path, database_url: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", "from server.cli import main; main()", "serve"],
        cwd=tmp_path,
        env=_env(tmp_path, database_url),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "TANFANG_SECRET_KEY" in done.stderr


def test_serve_answers_health_checks(tmp_path: Path, database_url: str, engine: object) -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from server.cli import main; main()",
            "serve",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        cwd=tmp_path,
        env=_env(tmp_path, database_url, TANFANG_SECRET_KEY="serve-test"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        body = b""
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    body = r.read()
                    break
            except OSError:
                time.sleep(0.2)
        assert body == b'{"status":"ok"}\n'
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
