"""Every user-facing string has a zh_CN translation, and the compiled catalogs are current."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "server" / "translations"


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    pot = tmp_path_factory.mktemp("babel") / "messages.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            "server/babel.cfg",
            "-k",
            "_l",
            "-k",
            "lazy_gettext",
            "-o",
            str(pot),
            "--no-location",
            ".",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    with pot.open("rb") as f:
        return {str(m.id) for m in read_po(f) if m.id}


@pytest.mark.parametrize("locale", ["zh_Hans_CN", "en"])
def test_every_string_is_in_the_catalog(extracted: set[str], locale: str) -> None:
    with (TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalog = read_po(f)
    known = {str(m.id) for m in catalog if m.id}
    missing = sorted(extracted - known)
    assert not missing, f"run pybabel update (docs/translations.md); missing in {locale}: {missing}"
    if locale == "zh_Hans_CN":
        untranslated = sorted(str(m.id) for m in catalog if m.id and not m.string)
        assert not untranslated, f"untranslated in zh_CN (zh_Hans_CN): {untranslated}"


@pytest.mark.parametrize("locale", ["zh_Hans_CN", "en"])
def test_compiled_catalog_matches_the_source(locale: str) -> None:
    folder = TRANSLATIONS / locale / "LC_MESSAGES"
    with (folder / "messages.po").open("rb") as f:
        po = {str(m.id): m.string for m in read_po(f) if m.id and m.string}
    with (folder / "messages.mo").open("rb") as f:
        mo = {str(m.id): m.string for m in read_mo(f) if m.id and m.string}
    assert mo == po, "run pybabel compile -d server/translations"
