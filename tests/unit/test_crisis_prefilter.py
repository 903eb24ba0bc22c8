"""The crisis matcher skips rules that cannot match a message: a rule whose every match must
start with a character the message does not contain. Skipping must never change a verdict."""

from __future__ import annotations

import re

import pytest

from server.services.crisis import (
    _matches,
    default_terms,
    first_chars,
    required_chars,
    start_strings,
)
from server.services.crisis_model import read_corpus


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("不想活", {"不"}),
        (r"\bdie\b", {"d"}),
        ("(^|我|俺)(就|也|只好)?先走一步", {"我", "俺", "就", "也", "只", "先"}),
        ("(?=.{0,2}[a-z])(bu|不)(xiang|想)", {"b", "不"}),
        ("(?:a|)b", {"a", "b"}),
        ("[跳跃]楼", {"跳", "跃"}),
        ("x{0,2}[yz]", {"x", "y", "z"}),
        ("(?!别)死", {"死"}),
    ],
)
def test_the_characters_a_match_can_start_with(pattern: str, expected: set[str]) -> None:
    assert first_chars(re.compile(pattern)) == frozenset(expected)


@pytest.mark.parametrize(
    "pattern", [".{0,3}死", "[^a]死", r"\w死", "[\u4e00-\u9fff]死", "a?", r"\d+"]
)
def test_a_pattern_that_may_start_anywhere_is_never_skipped(pattern: str) -> None:
    assert first_chars(re.compile(pattern)) is None


def test_skipping_rules_never_changes_what_a_message_matches() -> None:
    terms = default_terms()
    texts = [example.message for example in read_corpus()]
    # and the same messages cut short, where fewer characters are left to start a match
    texts += [text[len(text) // 2 :] for text in texts]
    differing = [
        text
        for text in texts
        if list(_matches(text, terms)) != list(_matches(text, terms, prefilter=False))
    ]
    assert differing == []
    fired = sum(1 for text in texts if next(_matches(text, terms), None) is not None)
    assert fired > 300  # the comparison covered messages that do match, not only benign ones


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("不想活", {"不", "想", "活"}),
        ("(^|我|俺)(就|也)?先走一步", {"先", "走", "一", "步"}),
        ("(bu|不)想.{0,2}活", {"想", "活"}),
        ("[跳跃]楼", {"楼"}),
        ("活(下去|不成)", {"活"}),
        ("(?:死){1,2}了", {"死", "了"}),
        ("x?y*z", {"z"}),
    ],
)
def test_the_characters_every_match_contains(pattern: str, expected: set[str]) -> None:
    assert required_chars(re.compile(pattern)) == frozenset(expected)


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("不想活", {"不想"}),
        ("谢幕|落幕|散场", {"谢幕", "落幕", "散场"}),
        ("(我|俺)(也)?走了", {"我也", "我走", "俺也", "俺走"}),
        ("药.{0,8}(都|全)", {"药"}),  # cut short where the pattern opens up
        ("死", {"死"}),
        (r"\bdie\b", {"di"}),
        ("(?:死){2}", {"死死"}),
        ("x{0,2}[yz]", {"xx", "xy", "xz", "y", "z"}),
    ],
)
def test_the_two_characters_a_match_can_start_with(pattern: str, expected: set[str]) -> None:
    assert start_strings(re.compile(pattern)) == frozenset(expected)
