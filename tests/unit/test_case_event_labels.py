"""Every kind of case event the code writes has a label on the case page's timeline (a raw
key such as `follow_up` must never reach a supervisor's screen)."""

from __future__ import annotations

import re
from pathlib import Path

from server.blueprints.cases_pages import EVENT_LABELS

ROOT = Path(__file__).resolve().parents[2]


def test_every_case_event_kind_written_has_a_timeline_label() -> None:
    written: set[str] = set()
    for source in [*(ROOT / "server").rglob("*.py"), *(ROOT / "scheduler").rglob("*.py")]:
        text = source.read_text(encoding="utf-8")
        for call in re.finditer(r"CaseEvent\((.{0,300}?)\)", text, flags=re.S):
            written |= set(re.findall(r'kind="([a-z_]+)"', call.group(1)))
    assert {"opened", "resolved", "follow_up"} <= written  # the scan finds what it should
    assert written <= set(EVENT_LABELS), sorted(written - set(EVENT_LABELS))
