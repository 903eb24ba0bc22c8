"""Reading import files and their values, without a database (SPEC section 4)."""

from __future__ import annotations

from datetime import date

import pytest

from server.services.imports import (
    COLUMNS,
    BadFile,
    BadValue,
    Problem,
    clean_cell,
    decode,
    parse_birth_date,
    parse_bool,
    parse_capacity,
    parse_code,
    parse_codes,
    parse_disability,
    parse_gender,
    parse_household,
    parse_lat,
    parse_locale,
    parse_lon,
    parse_phone,
    parse_role,
    read_table,
)

TODAY = date(2025, 6, 15)
AREAS = COLUMNS["areas"]


# --- decoding and reading -------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        "code,name\r\n640000,宁夏\r\n".encode("gb18030"),
        "code,name\n640000,宁夏\n".encode(),
        b"\xef\xbb\xbf" + "code,name\n640000,宁夏\n".encode(),
    ],
    ids=["gb18030-crlf", "utf8", "utf8-bom"],
)
def test_decode_reads_what_excel_and_editors_write(data: bytes) -> None:
    assert decode(data).replace("\r\n", "\n") == "code,name\n640000,宁夏\n"


def test_decode_refuses_utf16_with_a_hint() -> None:
    with pytest.raises(BadFile, match="UTF-16"):
        decode("code,name\n".encode("utf-16"))


def test_decode_names_the_line_of_undecodable_bytes() -> None:
    with pytest.raises(BadFile) as caught:
        decode(b"code,name\n1,a\n2,\xff\xff\xff\n")
    assert caught.value.line == 3


def test_read_table_counts_physical_lines_and_skips_blank_ones() -> None:
    text = (
        "code,name,parent_code,level\r\n"
        "\r\n"
        ",,,\r\n"
        '640000,"宁夏\r\n回族自治区",,region\r\n'
        "640100,银川市,640000,city\r\n"
    )
    table = read_table(text.encode("gb18030"), AREAS)
    assert table.problems == []
    assert [(row.line, row["code"], row["name"]) for row in table.rows] == [
        (4, "640000", "宁夏 回族自治区"),
        (6, "640100", "银川市"),
    ]


def test_read_table_matches_header_names_loosely() -> None:
    table = read_table("\ufeff CODE ,Name,Parent-Code,ＬＥＶＥＬ\n1,a,,region\n".encode(), AREAS)
    assert table.problems == []
    assert table.rows[0].cells == {"code": "1", "name": "a", "parent_code": "", "level": "region"}


def test_read_table_reports_missing_and_repeated_columns() -> None:
    table = read_table(b"code,name,name,levle\n1,a,b,region\n", AREAS)
    assert not table.header_ok
    assert table.problems == [
        Problem(1, "name", "this column appears twice"),
        Problem(1, "parent_code", "required column missing"),
        Problem(1, "level", "required column missing (is 'levle' a misspelling?)"),
    ]
    assert table.rows == []


def test_read_table_empty_file() -> None:
    table = read_table(b"", AREAS)
    assert [p.column for p in table.problems] == ["header"]


def test_read_table_tolerates_missing_trailing_cells() -> None:
    table = read_table(b"code,name,parent_code,level\n640000,NX\n", AREAS)
    assert table.problems == []
    assert table.rows[0]["level"] == ""


def test_read_table_refuses_control_characters() -> None:
    table = read_table(b"code,name,parent_code,level\n1,a\x07b,,region\n", AREAS)
    assert table.problems == [Problem(2, "name", "contains a control character")]


# --- cells and values ---------------------------------------------------------------------


def test_clean_cell_normalises_full_width_text_and_spaces() -> None:
    assert clean_cell("\u3000１３９\u3000１２３４\u200b ") == "139 1234"
    assert clean_cell("  兴庆区\n文化街  1号 ") == "兴庆区 文化街 1号"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("13912345678", "+8613912345678"),
        ("139 1234 5678", "+8613912345678"),
        ("+86-139-1234-5678", "+8613912345678"),
        ("0086 13912345678", "+8613912345678"),
        ("0951-5012345", "+869515012345"),
    ],
)
def test_phones_become_e164(text: str, expected: str) -> None:
    assert parse_phone(text) == expected


@pytest.mark.parametrize("text", ["12345", "139123456789999", "phone"])
def test_bad_phones_are_not_echoed(text: str) -> None:
    with pytest.raises(BadValue) as caught:
        parse_phone(text)
    assert str(caught.value) == "not a valid phone number"


def test_phone_mangled_by_excel_gets_a_hint() -> None:
    with pytest.raises(BadValue, match="scientific notation"):
        parse_phone("1.39123E+10")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1950-03-01", date(1950, 3, 1)),
        ("1950/3/1", date(1950, 3, 1)),
        ("1950/3/1 0:00", date(1950, 3, 1)),
        ("1950年3月1日", date(1950, 3, 1)),
        ("1950.03.01", date(1950, 3, 1)),
    ],
)
def test_birth_dates(text: str, expected: date) -> None:
    assert parse_birth_date(text, TODAY) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1950-02-30", "not a real date"),
        ("3/1/1950", "not a date in the form YYYY-MM-DD"),
        ("18323", "Excel date serial"),
        ("2026-01-01", "in the future"),
        ("1900-01-01", "125 years old"),
        ("2015-05-01", "would make this person 10"),
    ],
)
def test_implausible_birth_dates(text: str, message: str) -> None:
    with pytest.raises(BadValue, match=message):
        parse_birth_date(text, TODAY)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("M", "M"), ("f", "F"), ("男", "M"), ("女", "F"), ("Female", "F")],
)
def test_genders(text: str, expected: str) -> None:
    assert parse_gender(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("yes", True), ("是", True), ("TRUE", True), ("1", True), ("no", False), ("否", False),
     ("false", False), ("0", False)],
)  # fmt: skip
def test_yes_no(text: str, expected: bool) -> None:
    assert parse_bool(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("zh_CN", "zh_CN"), ("zh-CN", "zh_CN"), ("zh", "zh_CN"), ("中文", "zh_CN"), ("en", "en"),
     ("en-US", "en"), ("English", "en")],
)  # fmt: skip
def test_locales(text: str, expected: str) -> None:
    assert parse_locale(text) == expected


def test_vocabulary_is_case_insensitive_and_knows_the_chinese_terms() -> None:
    assert parse_role("Grid Worker") == "grid_worker"
    assert parse_household("SHIDU") == "shidu"
    assert parse_household("失独") == "shidu"
    assert parse_disability("部分失能") == "partial"
    with pytest.raises(BadValue, match="'boss' is not one of grid_worker"):
        parse_role("boss")


def test_coordinates() -> None:
    assert parse_lat("38.47") == 38.47
    assert parse_lon("-106.5") == -106.5
    with pytest.raises(BadValue, match="swapped"):
        parse_lat("106.27")
    with pytest.raises(BadValue, match="not a number of degrees"):
        parse_lon("nan")
    with pytest.raises(BadValue, match=r"outside -180\.\.180"):
        parse_lon("200")


def test_capacity() -> None:
    assert parse_capacity("40") == 40
    assert parse_capacity("40.0") == 40
    assert parse_capacity("0") == 0
    for text, message in (("-1", "negative"), ("4.5", "whole number"), ("5000", "more than")):
        with pytest.raises(BadValue, match=message):
            parse_capacity(text)


def test_code_lists_take_every_usual_separator() -> None:
    assert parse_codes("A;B") == ["A", "B"]
    assert parse_codes(clean_cell("A；B")) == ["A", "B"]
    assert parse_codes("A|B、C,A") == ["A", "B", "C"]
    assert parse_codes("A B") == ["A", "B"]


def test_codes_cannot_hold_separators() -> None:
    assert parse_code("640104001") == "640104001"
    with pytest.raises(BadValue, match="cannot contain"):
        parse_code("A;B")
    with pytest.raises(BadValue, match="scientific notation"):
        parse_code("6.40104E+14")
