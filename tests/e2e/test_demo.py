"""The README's quick start: `tanfang demo` on an empty folder serves a seeded, planned region."""

from __future__ import annotations

import json
import os
import re
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


def _get(url: str, data: bytes | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:  # not listening yet: the demo prints its logins before it binds
        return 0, b""


def test_demo_seeds_plans_and_serves(tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TANFANG_")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from server.cli import main; main()",
            "demo",
            "--port",
            str(port),
            "--elders",
            "120",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "grid_worker" in line:
                break
        output = "".join(lines)
        assert f"http://127.0.0.1:{port}" in output, output
        for _ in range(150):
            status, body = _get(f"http://127.0.0.1:{port}/healthz")
            if status == 200:
                break
            time.sleep(0.2)
        assert status == 200 and json.loads(body) == {"status": "ok"}
        assert (tmp_path / "instance" / "tanfang.db").exists()

        match = re.search(r"grid_worker\s+(\+\d+)", output)
        pin = re.search(r"PIN (\d+)", output)
        assert match and pin, output
        status, body = _get(
            f"http://127.0.0.1:{port}/api/v1/auth/token",
            json.dumps({"phone": match.group(1), "pin": pin.group(1)}).encode(),
        )
        assert status == 200, body
        token = json.loads(body)["token"]
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/v1/visits?status=all",
            headers={"Authorization": f"Bearer {token}"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            visits = json.loads(response.read())["visits"]
        assert visits, "the demo worker has no visits this month"
        # The printed addresses answer: the worker app and the phone simulator.
        for path in ("/app/", "/phone"):
            assert path in output, output
            status, _ = _get(f"http://127.0.0.1:{port}{path}")
            assert status == 200, (path, status)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        if proc.stdout is not None:
            proc.stdout.close()
