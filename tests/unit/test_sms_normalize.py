"""Inbound SMS text is made comparable before it is parsed: whatever a phone's keyboard typed,
the same command reads the same."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.services.sms.normalize import normalize, tidy


@pytest.mark.parametrize(
    ("typed", "read"),
    [
        ("ＤＯＮＥ　１２３", "DONE 123"),  # full-width letters, digits and ideographic space
        ("ｄｏｎｅ　ｋ９ｍｘ", "DONE K9MX"),
        ("done k9mx", "DONE K9MX"),
        ("  DONE \t K9MX \n 4  ", "DONE K9MX 4"),
        ("完成，K9MX。４！", "完成 K9MX 4"),
        ("完成：K9MX；心情4、很好", "完成 K9MX 心情4 很好"),
        ("“完成”（K9MX）【4】《好》", "完成 K9MX 4 好"),
        ("完成K9MX——挺好…", "完成K9MX 挺好"),
        ("‘完成’ K9MX ？", "完成 K9MX"),
        # what CHT accepts between a code and a value
        ("A7K3#4", "A7K3 4"),
        ("A7K3-4", "A7K3 4"),
        ("A7K3!4", "A7K3 4"),
        ("DONE:A7K3", "DONE A7K3"),
        ("done：a7k3＃4", "DONE A7K3 4"),
    ],
)
def test_what_phones_type_reads_the_same(typed: str, read: str) -> None:
    assert normalize(typed) == read


@pytest.mark.parametrize("invisible", ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"])
def test_zero_width_characters_vanish_without_splitting_a_word(invisible: str) -> None:
    assert normalize(f"{invisible}DO{invisible}NE K9{invisible}MX{invisible}") == "DONE K9MX"
    assert normalize(f"退{invisible}订") == "退订"


@pytest.mark.parametrize(
    "four", ["4", "４", "④", "٤", "۴", "४", "৪", "\U0001d7dc"]
)  # ASCII, full-width, circled, Arabic-Indic, Persian, Devanagari, Bengali, math double-struck
def test_any_script_digit_reads_as_ascii(four: str) -> None:
    assert normalize(f"DONE K9MX {four}") == "DONE K9MX 4"
    assert tidy(four) == "4"


def test_chinese_numerals_are_words_and_stay() -> None:
    # 一切 means "everything": turning 一 into 1 would make 一切都好 read as menu answer 1.
    assert normalize("一切都好") == "一切都好"
    assert normalize("四") == "四"


def test_latin_is_upper_cased_and_cjk_and_other_scripts_left_alone() -> None:
    assert normalize("ok 好的 straße") == "OK 好的 STRAßE"


def test_emoji_and_symbols_separate_like_punctuation() -> None:
    assert normalize("1👍") == "1"
    assert normalize("1️⃣") == "1"  # keycap emoji
    assert normalize("好的😊2") == "好的 2"


def test_tidy_keeps_what_the_person_wrote_for_the_record() -> None:
    # A note keeps its Chinese punctuation and case; only widths and invisibles change.
    assert (
        tidy("老人精神不错，\u200b血压正常。Ｍｒｓ Ｍａ ok！")
        == "老人精神不错，血压正常。Mrs Ma ok！"
    )
    assert tidy("  两个\n\n空格  ") == "两个 空格"


def test_an_empty_or_punctuation_only_text_is_empty() -> None:
    assert normalize("") == ""
    assert normalize("。。！！\u200b  ") == ""


_PHONE_TEXT = st.text(
    alphabet=st.sampled_from(
        list("DONEMISSLIST donemiss K9MXA7K3 012345 ０１２３ＤＯＮＥ　完成未见求助任务退订好的")
        + list("，。：；！？、“”‘’（）【】《》—…#-!:.")
        + ["\u200b", "\ufeff", "\u2060", "٣", "①", "😀", "\n", "\t"]
    ),
    max_size=40,
)


@given(_PHONE_TEXT)
def test_normalizing_twice_changes_nothing(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once
    assert "  " not in once and once == once.strip()
