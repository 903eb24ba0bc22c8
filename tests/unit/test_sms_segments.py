"""What a message costs: the number of SMS a phone receives (and the account is billed for)."""

from __future__ import annotations

import pytest

from server.services.sms.segments import segments


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("", 1),
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),  # 2 x 153
        ("a" * 307, 3),
        ("a" * 459, 3),
        ("a" * 460, 4),
    ],
)
def test_gsm7_is_160_alone_and_153_per_part(text: str, parts: int) -> None:
    assert segments(text) == ("GSM-7", parts)


def test_gsm7_covers_its_own_letters_not_only_ascii() -> None:
    assert segments("Müller: 5€ @ £3, ¿Qué? ΔΩ é è à Ñ ß").encoding == "GSM-7"


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("{" * 80, 1),  # 160 septets: extension characters take two each
        ("{" * 80 + "a", 2),
        ("a" * 159 + "€", 2),  # 161 septets although 160 characters
        ("a" * 158 + "€", 1),
        ("[]^~|\\" + "a" * 148, 1),  # every extension character, 160 septets
        ("[]^~|\\" + "a" * 149, 2),
    ],
)
def test_gsm7_extension_characters_count_twice(text: str, parts: int) -> None:
    assert segments(text) == ("GSM-7", parts)


def test_an_escape_pair_is_never_split_across_parts() -> None:
    # 306 septets fit two parts on paper, but the € at septets 153-154 moves to part two.
    text = "a" * 152 + "€" + "a" * 152
    assert segments(text) == ("GSM-7", 3)


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("中" * 70, 1),
        ("中" * 71, 2),
        ("中" * 134, 2),  # 2 x 67
        ("中" * 135, 3),
        ("【暖心探访】" + "好" * 64, 1),
        ("【暖心探访】" + "好" * 65, 2),
    ],
)
def test_ucs2_is_70_alone_and_67_per_part(text: str, parts: int) -> None:
    assert segments(text) == ("UCS-2", parts)


def test_one_character_outside_gsm7_makes_the_whole_message_ucs2() -> None:
    assert segments("a" * 69 + "中") == ("UCS-2", 1)
    assert segments("a" * 70 + "中") == ("UCS-2", 2)
    assert segments("Visit done, thanks，").encoding == "UCS-2"  # a full-width comma
    assert segments("Tanfang: 王芳 visited you today.").encoding == "UCS-2"


def test_emoji_beyond_the_bmp_count_two_units() -> None:
    assert segments("😀" * 35) == ("UCS-2", 1)  # 70 UTF-16 units
    assert segments("😀" * 35 + "a") == ("UCS-2", 2)
    assert segments("好" * 69 + "😀") == ("UCS-2", 2)


def test_a_surrogate_pair_is_never_split_across_parts() -> None:
    text = "好" * 66 + "😀" + "好" * 66  # 134 units, but the pair straddles the first boundary
    assert segments(text) == ("UCS-2", 3)


def test_result_unpacks_as_encoding_and_count() -> None:
    encoding, count = segments("你好")
    assert (encoding, count) == ("UCS-2", 1)
