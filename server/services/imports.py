"""Bulk import of areas, agencies, workers and elders from CSV files (SPEC section 4).

How a file is read; these are decisions the people preparing files rely on:

- Bytes are decoded as UTF-8 (with or without a byte-order mark), else as GB18030, which is
  what Excel writes for "CSV" on a Chinese Windows. UTF-16 ("Unicode text") is refused with
  a hint. Lines may end in CRLF, LF or CR.
- The first non-blank line is the header. Its names are compared after NFKC, stripping
  whitespace and byte-order marks, ignoring case, with spaces and hyphens read as `_`.
  Every column the SPEC lists for the kind must be present, even where its values may be
  empty, so that a re-import never has to guess whether an absent column means "clear" or
  "keep". Other columns (a remarks column, say) are ignored and reported as notes, not
  problems; when a required column is missing, an unknown one that looks like its
  misspelling is named in the message.
- Lines that are empty or hold only empty cells are skipped. A row with more non-empty cells
  than the header has columns is a problem (usually a value with an unquoted comma).
- Every cell is NFKC-normalised (full-width digits, letters, spaces and punctuation become
  ASCII), line breaks and runs of whitespace inside it become one space, and it is stripped.
- A problem names the physical line of the file (the header is line 1; a quoted value that
  spans lines counts all of them) and the column, as `FILE:LINE: column: message`. A message
  may quote the cell, except a phone's: that may be a real person's number.

Rules beyond SPEC section 4, each because the alternative is almost always a mistake:

- Codes cannot contain spaces or `; | , 、`, the separators `area_codes` cells accept.
- An agency serves at least one area (else it is never sent a case); a grid worker and a
  supervisor serve at least one (a supervisor without one sees nothing).
- Areas, agencies, contacts and grids referred to must already be in the database, except
  an area's parent, which may also come anywhere in the same file.
- A birth date makes an elder 40 to 120 years old; 0, 0 is not a position; a capacity is at
  most 1000 visits a month; `secondary_contact` needs a `primary_contact`; a contact is an
  active worker.
- A worker's phone is used by no other worker and no elder, since an SMS is attributed by its
  number; elders may share one (a couple with one landline).
- Values Excel has turned into scientific notation (`1.39123E+10`) are refused with advice.

What an import does: the whole file is checked first, against itself and the database; on any
problem nothing is written. Otherwise rows are upserted by `code` (areas, agencies) or
`external_id` (workers, elders) with bulk statements in the caller's transaction (the caller
commits). Rows absent from the file are left alone: an import never deletes or deactivates
anything, and never touches what the file does not carry (an elder's short code, enrolment
date, status and SMS opt-out; a worker's active flag and login).
"""

from __future__ import annotations

import codecs
import csv
import difflib
import io
import logging
import re
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, NamedTuple, TypeVar, cast

from sqlalchemy import Table as SqlTable
from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from server.db import utcnow
from server.models import Agency, AgencyArea, Area, Elder, Worker, WorkerArea
from server.services.areas import child_level_ok, rebuild_paths
from server.services.codes import CodeAllocator
from server.services.phones import PhoneError, normalize_phone
from server.vocab import (
    AREA_LEVELS,
    DISABILITIES,
    HOUSEHOLDS,
    LOCALES,
    RISK_TIERS,
    ROLES,
    VISITING_ROLES,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

KINDS = ("areas", "agencies", "workers", "elders")

COLUMNS: dict[str, tuple[str, ...]] = {
    "areas": ("code", "name", "parent_code", "level"),
    "agencies": ("code", "name", "phone", "area_codes"),
    "workers": (
        "external_id",
        "name",
        "phone",
        "role",
        "area_codes",
        "lat",
        "lon",
        "monthly_capacity",
        "locale",
        "agency_code",
    ),
    "elders": (
        "external_id",
        "name",
        "phone",
        "birth_date",
        "gender",
        "address",
        "lat",
        "lon",
        "grid_code",
        "household",
        "disability",
        "lives_alone",
        "risk_tier",
        "locale",
        "primary_contact",
        "secondary_contact",
    ),
}

# Special assistance starts at 40 (DOMAIN.md); a younger or 120+ "elder" is a typing error
# (2015 for 1951, 1905 for 1950) far more often than a real person.
MIN_AGE = 40
MAX_AGE = 120
# No one visits more than this many elders a month; a bigger number is a typo.
MAX_CAPACITY = 1000
# Roles that must serve at least one area: a supervisor with none sees nothing, and a grid
# worker is by definition the worker of a grid.
ROLES_NEEDING_AREAS = ("grid_worker", "supervisor")


# --- problems and results ------------------------------------------------------------------


class Problem(NamedTuple):
    """One thing wrong with a file, at a physical line (the header is line 1) and column."""

    line: int
    column: str
    message: str

    def format(self, filename: str) -> str:
        """`FILE:LINE: column: message`, the form every problem is printed in."""
        return f"{filename}:{self.line}: {self.column}: {self.message}"


@dataclass
class ImportResult:
    """What an import found and did (or, on a dry run or with problems, would have done)."""

    kind: str
    dry_run: bool = False
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    problems: list[Problem] = field(default_factory=list)
    notes: list[Problem] = field(default_factory=list)


class BadValue(ValueError):
    """A cell that cannot be read; the message says why, for the person who wrote the file."""


# --- cells ----------------------------------------------------------------------------------

_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"), None)
_WHITESPACE = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# What Excel shows and saves for a long number in a cell formatted as "General".
_EXCEL_SCIENTIFIC = re.compile(r"\d(\.\d+)?E\+\d+", re.IGNORECASE)
_LIST_SEPARATORS = re.compile(r"[;|、,\s]+")
_DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")
_INTEGER = re.compile(r"\+?\d+(\.0*)?")
_DATE = re.compile(
    r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
    # Excel appends a midnight time when the cell holds a date-time
    r"(?:\s+0?0:00(?::00)?)?"
)


def clean_cell(raw: str) -> str:
    """A cell as compared and stored: NFKC, no invisible characters, whitespace collapsed."""
    # Most cells are plain ASCII with nothing to fix; 1.6 million of them in 100k elders.
    if raw.isascii() and raw.isprintable() and "  " not in raw:
        return raw.strip()
    text = raw if raw.isascii() else unicodedata.normalize("NFKC", raw).translate(_INVISIBLE)
    text = _WHITESPACE.sub(" ", text).strip()
    if _CONTROL.search(text):
        raise BadValue("contains a control character")
    return text


def _header_name(raw: str) -> str:
    try:
        text = clean_cell(raw)
    except BadValue:
        return raw
    return re.sub(r"[\s-]+", "_", text.lower())


_EXCEL_ADVICE = "format the column as Text and type the values again"


def _excel_hint(text: str) -> None:
    if _EXCEL_SCIENTIFIC.fullmatch(text):
        raise BadValue(
            f"{text!r} is a number in Excel's scientific notation, its digits are lost; "
            + _EXCEL_ADVICE
        )


# --- value parsers (each takes a cleaned, non-empty cell) ----------------------------------


def parse_text(max_length: int) -> Callable[[str], str]:
    """A parser for free text of at most `max_length` characters."""

    def parse(text: str) -> str:
        if len(text) > max_length:
            raise BadValue(f"longer than {max_length} characters")
        return text

    return parse


def parse_identifier(text: str) -> str:
    """An external id: at most 64 characters, not mangled by Excel."""
    _excel_hint(text)
    if len(text) > 64:
        raise BadValue("longer than 64 characters")
    return text


def parse_code(text: str) -> str:
    """An area or agency code: like an id, but without spaces or list separators, since
    codes are listed in `area_codes` cells."""
    parse_identifier(text)
    if _LIST_SEPARATORS.search(text):
        raise BadValue(f"{text!r}: a code cannot contain spaces or any of ; | , 、")
    return text


def parse_codes(text: str) -> list[str]:
    """`A;B`, `A；B`, `A|B`, `A、B`, `A,B` (in a quoted cell) or `A B` -> codes, deduplicated."""
    codes: list[str] = []
    for part in _LIST_SEPARATORS.split(text):
        if part and part not in codes:
            _excel_hint(part)
            codes.append(part)
    return codes


def parse_phone(text: str) -> str:
    """Any common Chinese way of writing a number -> E.164.

    The message never repeats the number: it may be someone's real phone.
    """
    if _EXCEL_SCIENTIFIC.fullmatch(text):
        raise BadValue(
            "not a valid phone number: Excel saved it in scientific notation and its digits "
            "are lost; " + _EXCEL_ADVICE
        )
    try:
        return normalize_phone(text)
    except PhoneError as exc:
        raise BadValue("not a valid phone number") from exc


def _choice(values: Sequence[str], aliases: dict[str, str] | None = None) -> Callable[[str], str]:
    lookup = {v.lower(): v for v in values} | (aliases or {})

    def parse(text: str) -> str:
        key = re.sub(r"[\s-]+", "_", text.lower())
        if key in lookup:
            return lookup[key]
        raise BadValue(f"{text!r} is not one of {', '.join(values)}")

    return parse


parse_level = _choice(AREA_LEVELS)
parse_role = _choice(ROLES)
parse_household = _choice(
    HOUSEHOLDS,
    {
        "失独": "shidu",
        "伤残": "shangcan",
        "独居": "living_alone",
        "留守": "left_behind",
        "其他": "other",
    },
)
parse_disability = _choice(
    DISABILITIES,
    {"无": "none", "部分失能": "partial", "半失能": "partial", "失能": "full", "完全失能": "full"},
)
parse_risk_tier = _choice(RISK_TIERS)

_LOCALE_ALIASES = {
    "zh_cn": "zh_CN",
    "zh": "zh_CN",
    "zh_hans": "zh_CN",
    "zh_hans_cn": "zh_CN",
    "中文": "zh_CN",
    "简体中文": "zh_CN",
    "en": "en",
    "en_us": "en",
    "en_gb": "en",
    "english": "en",
    "英文": "en",
    "英语": "en",
}


def parse_locale(text: str) -> str:
    """`zh_CN` or `en`, also written `zh-CN`, `zh`, `中文`, `en-US`, `English`, `英文`."""
    key = re.sub(r"[\s-]+", "_", text.lower())
    if key in _LOCALE_ALIASES:
        locale = _LOCALE_ALIASES[key]
        assert locale in LOCALES
        return locale
    raise BadValue(f"{text!r} is not one of {', '.join(LOCALES)}")


_GENDERS = {"m": "M", "male": "M", "男": "M", "f": "F", "female": "F", "女": "F"}


def parse_gender(text: str) -> str:
    """`M`/`F`, also `男`/`女` and `male`/`female`."""
    try:
        return _GENDERS[text.lower()]
    except KeyError:
        raise BadValue(f"{text!r} is not M, F, 男 or 女") from None


_BOOLEANS = {
    "yes": True, "y": True, "true": True, "1": True, "是": True,
    "no": False, "n": False, "false": False, "0": False, "否": False,
}  # fmt: skip


def parse_bool(text: str) -> bool:
    """`yes`/`no`, also `是`/`否`, `true`/`false` and `1`/`0`."""
    try:
        return _BOOLEANS[text.lower()]
    except KeyError:
        raise BadValue(f"{text!r} is not yes or no (是/否)") from None


def parse_birth_date(text: str, today: date) -> date:
    """`YYYY-MM-DD` or `YYYY/M/D` (as Excel writes it), aged MIN_AGE to MAX_AGE on `today`."""
    match = _DATE.fullmatch(text)
    if match is None:
        if text.isdigit() and 4 <= len(text) <= 5:
            raise BadValue(
                f"{text!r} looks like an Excel date serial number; format the column as a date "
                "(YYYY-MM-DD)"
            )
        raise BadValue(f"{text!r} is not a date in the form YYYY-MM-DD")
    try:
        born = date(*(int(part) for part in match.groups()))
    except ValueError:
        raise BadValue(f"{text!r} is not a real date") from None
    if born > today:
        raise BadValue(f"{text!r} is in the future")
    age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    if age > MAX_AGE:
        raise BadValue(f"{text!r} would make this person {age} years old")
    if age < MIN_AGE:
        raise BadValue(f"{text!r} would make this person {age}; the service starts at {MIN_AGE}")
    return born


def _coordinate(name: str, limit: int, other: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        if not _DECIMAL.fullmatch(text):
            raise BadValue(f"{text!r} is not a number of degrees")
        value = float(text)
        if not -limit <= value <= limit:
            hint = f" ({name} and {other} swapped?)" if abs(value) <= 180 else ""
            raise BadValue(f"{text} is outside -{limit}..{limit}{hint}")
        return value

    return parse


parse_lat = _coordinate("lat", 90, "lon")
parse_lon = _coordinate("lon", 180, "lat")


def parse_capacity(text: str) -> int:
    """A whole number of visits a month, 0 to MAX_CAPACITY (`40.0` from Excel is 40)."""
    if text.startswith("-") and _INTEGER.fullmatch(text[1:]):
        raise BadValue(f"{text} is negative; use 0 for someone who makes no routine visits")
    if not _INTEGER.fullmatch(text):
        raise BadValue(f"{text!r} is not a whole number")
    value = int(float(text))
    if value > MAX_CAPACITY:
        raise BadValue(f"{value} visits a month is more than anyone can make ({MAX_CAPACITY})")
    return value


# --- reading a file ---------------------------------------------------------------------------


class BadFile(Exception):
    """The file cannot be read as text at all."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def decode(data: bytes) -> str:
    """The file's text: UTF-8 with or without a BOM, else GB18030. Raises BadFile."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise BadFile(
            1, 'the file is UTF-16 (Excel\'s "Unicode text"); save it as "CSV UTF-8" or "CSV"'
        )
    if data.startswith(codecs.BOM_UTF8):
        encodings: tuple[str, ...] = ("utf-8-sig",)
    else:
        encodings = ("utf-8", "gb18030")
    for encoding in encodings:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError as exc:
            error = exc
    line = data[: error.start].count(b"\n") + 1
    raise BadFile(line, 'not UTF-8 or GB18030 text; save the file as "CSV UTF-8"')


@dataclass
class Row:
    """One data row: its first physical line and its cleaned cells by column name."""

    line: int
    cells: dict[str, str]
    unreadable: set[str] = field(default_factory=set)

    def __getitem__(self, column: str) -> str:
        return self.cells.get(column, "")


@dataclass
class Table:
    """A file read against the columns of its kind."""

    rows: list[Row] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    notes: list[Problem] = field(default_factory=list)
    header_ok: bool = True


def _records(text: str, problems: list[Problem]) -> Iterator[tuple[int, list[str]]]:
    """(first physical line, cells) of every record; bad quoting becomes a problem."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    while True:
        start = reader.line_num + 1
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            if "end of data" in str(exc):
                message = "a quote opened in this row is never closed"
            elif "field larger" in str(exc):
                message = "a value is far too long (a quote that is never closed?)"
            else:
                message = f"bad quoting ({exc})"
            problems.append(Problem(start, "row", message))
            continue
        yield start, record


def _blank(record: list[str]) -> bool:
    joined = "".join(record)
    if joined.isascii():
        return not joined.strip()
    return not joined.translate(_INVISIBLE).strip()


def read_table(data: bytes, columns: Sequence[str]) -> Table:
    """Decode, split and clean a file; header problems leave `header_ok` false."""
    table = Table()
    try:
        text = decode(data)
    except BadFile as exc:
        table.problems.append(Problem(exc.line, "file", exc.message))
        table.header_ok = False
        return table
    records = _records(text, table.problems)
    header: tuple[int, list[str]] | None = None
    for line, record in records:
        if not _blank(record):
            header = (line, record)
            break
    if header is None:
        table.problems.append(
            Problem(1, "header", f"the file is empty; its first line must be: {','.join(columns)}")
        )
        table.header_ok = False
        return table
    header_line, names = header[0], [_header_name(cell) for cell in header[1]]
    index: dict[str, int] = {}
    unknown: list[str] = []
    for position, name in enumerate(names):
        if not name:
            continue
        if name in index or name in unknown:
            table.problems.append(Problem(header_line, name, "this column appears twice"))
        elif name in columns:
            index[name] = position
        else:
            unknown.append(name)
    misspelt: set[str] = set()
    for column in columns:
        if column not in index:
            guess = difflib.get_close_matches(column, unknown, n=1, cutoff=0.75)
            hint = f" (is {guess[0]!r} a misspelling?)" if guess else ""
            misspelt.update(guess)
            table.problems.append(Problem(header_line, column, f"required column missing{hint}"))
    table.notes.extend(
        Problem(header_line, name, "unknown column, ignored")
        for name in unknown
        if name not in misspelt
    )
    if table.problems:
        table.header_ok = False
        return table

    width = len(names)
    for line, record in records:
        if _blank(record):
            continue
        if any(cell.strip() for cell in record[width:]):
            # Its values are shifted: checking them one by one would only add noise.
            table.problems.append(
                Problem(
                    line,
                    "row",
                    f"{len(record)} cells but the header has {width} columns "
                    "(a value with a comma that is not in quotes?)",
                )
            )
            continue
        row = Row(line, {})
        for column, position in index.items():
            try:
                row.cells[column] = clean_cell(record[position]) if position < len(record) else ""
            except BadValue as exc:
                table.problems.append(Problem(line, column, str(exc)))
                row.unreadable.add(column)
        table.rows.append(row)
    return table


# --- checking rows ----------------------------------------------------------------------------


class _Checker:
    """Collects the problems of one file while its rows are read."""

    def __init__(self, problems: list[Problem], notes: list[Problem]) -> None:
        self.problems = problems
        self.notes = notes

    def add(self, row: Row, column: str, message: str) -> None:
        self.problems.append(Problem(row.line, column, message))

    def value(
        self, row: Row, column: str, parse: Callable[[str], T], *, required: bool = False
    ) -> T | None:
        """The parsed cell; None when empty or bad (a bad or missing required cell is a
        problem)."""
        if column in row.unreadable:
            return None
        text = row[column]
        if not text:
            if required:
                self.add(row, column, "required, but empty")
            return None
        try:
            return parse(text)
        except BadValue as exc:
            self.add(row, column, str(exc))
            return None

    def blank(self, row: Row, column: str) -> bool:
        """True when the cell is empty (not merely unreadable)."""
        return column not in row.unreadable and not row[column]

    def first_seen(self, seen: dict[str, int], key: str, row: Row, column: str) -> bool:
        """Record `key` as seen on this row; a repeat is a problem naming the first line."""
        if key in seen:
            self.add(row, column, f"{key!r} is already on line {seen[key]}")
            return False
        seen[key] = row.line
        return True


def _missing(kind: str, codes: Sequence[str]) -> str:
    listed = ", ".join(repr(c) for c in codes)
    return f"no {kind} with code {listed}" if len(codes) == 1 else f"no {kind}s with codes {listed}"


def _area_ids(
    check: _Checker, row: Row, column: str, areas: dict[str, int], *, required: str | None
) -> tuple[int, ...] | None:
    """The ids of the areas a cell lists; `required` is the message when it is empty."""
    if required and check.blank(row, column):
        check.add(row, column, required)
        return None
    codes = check.value(row, column, parse_codes)
    if codes is None:
        return None
    unknown = [c for c in codes if c not in areas]
    if unknown:
        check.add(row, column, _missing("area", unknown))
        return None
    return tuple(sorted({areas[c] for c in codes}))


def _position(
    check: _Checker, row: Row, *, required_for: str | None
) -> tuple[float | None, float | None]:
    """lat and lon: both or neither (both when `required_for` names the role needing them)."""
    lat = check.value(row, "lat", parse_lat)
    lon = check.value(row, "lon", parse_lon)
    for column in ("lat", "lon"):
        if check.blank(row, column):
            if required_for:
                check.add(row, column, f"required for a {required_for}")
            elif not (check.blank(row, "lat") and check.blank(row, "lon")):
                other = "lon" if column == "lat" else "lat"
                check.add(row, column, f"required when {other} is given")
    if lat == 0 and lon == 0:
        check.add(row, "lat", "0, 0 is not a real place (an empty cell saved as 0?)")
    return lat, lon


# --- plans ------------------------------------------------------------------------------------


@dataclass
class _Plan:
    """What an import will change, and how to write it."""

    created: int
    updated: int
    unchanged: int
    apply: Callable[[Session], None]


@dataclass(frozen=True)
class _Context:
    today: date
    default_locale: str


def _insert_returning_ids(
    session: Session, model: Any, key: str, rows: list[dict[str, Any]]
) -> dict[str, int]:
    """Bulk-insert `rows` and return the new ids by key (codes or external ids)."""
    if not rows:
        return {}
    key_column = getattr(model, key)
    result = session.execute(insert(model).returning(model.id, key_column), rows)
    return {row_key: row_id for row_id, row_key in result.tuples()}


def _changes(
    row_id: int, values: dict[str, Any], fields: Sequence[str], old: Sequence[Any]
) -> dict[str, Any] | None:
    """`{"id": row_id, column: new value...}` for the columns that differ, or None."""
    changed = {f: values[f] for f, before in zip(fields, old, strict=True) if values[f] != before}
    return {"id": row_id, **changed} if changed else None


def _update_by_id(session: Session, model: Any, rows: list[dict[str, Any]]) -> None:
    """Update rows by primary key: one executemany per set of columns changed.

    Only changed columns are set, so the database maintains only the indexes they touch
    (on SQLite, setting every column of 100k elders took ten times as long). A Core
    statement, not the ORM's bulk update, whose bookkeeping costs more than the work.
    """
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(sorted(k for k in row if k != "id")), []).append(row)
    table = model.__table__
    for columns, group in groups.items():
        statement = (
            update(table)
            .where(table.c.id == bindparam("row_id"))
            .values({column: bindparam(f"new_{column}") for column in columns})
        )
        session.execute(
            statement,
            [{"row_id": row["id"], **{f"new_{c}": row[c] for c in columns}} for row in group],
        )


def _replace_links(
    session: Session,
    link_model: Any,
    owner_column: str,
    replaced_owner_ids: list[int],
    links: dict[int, tuple[int, ...]],
) -> None:
    """Make `links` (owner id -> area ids) the areas of those owners, replacing old sets."""
    owner = getattr(link_model, owner_column)
    for start in range(0, len(replaced_owner_ids), 500):
        chunk = replaced_owner_ids[start : start + 500]
        session.execute(delete(link_model).where(owner.in_(chunk)))
    rows = [
        {owner_column: owner_id, "area_id": area_id}
        for owner_id, area_ids in links.items()
        for area_id in area_ids
    ]
    if rows:
        session.execute(insert(link_model), rows)


def _links_by_owner(session: Session, link_model: Any, owner_column: str) -> dict[int, set[int]]:
    owner = getattr(link_model, owner_column)
    links: dict[int, set[int]] = {}
    for owner_id, area_id in session.execute(select(owner, link_model.area_id)).tuples():
        links.setdefault(owner_id, set()).add(area_id)
    return links


def _area_codes(session: Session) -> dict[str, int]:
    return dict(session.execute(select(Area.code, Area.id)).tuples().all())


# --- areas ------------------------------------------------------------------------------------


@dataclass
class _AreaRow:
    row: Row
    code: str
    name: str | None
    level: str | None
    parent: str | None


def _plan_areas(session: Session, rows: list[Row], check: _Checker, ctx: _Context) -> _Plan:
    db: dict[str, tuple[int, str, str, int | None]] = {
        code: (area_id, name, level, parent_id)
        for area_id, code, name, level, parent_id in session.execute(
            select(Area.id, Area.code, Area.name, Area.level, Area.parent_id)
        ).tuples()
    }
    code_of = {values[0]: code for code, values in db.items()}
    db_parent = {
        code: code_of[parent_id] if parent_id is not None else None
        for code, (_, _, _, parent_id) in db.items()
    }

    seen: dict[str, int] = {}
    parsed: dict[str, _AreaRow] = {}
    for row in rows:
        code = check.value(row, "code", parse_code, required=True)
        name = check.value(row, "name", parse_text(200), required=True)
        level = check.value(row, "level", parse_level, required=True)
        parent = check.value(row, "parent_code", parse_code)
        if code is not None and check.first_seen(seen, code, row, "code"):
            parsed[code] = _AreaRow(row, code, name, level, parent)

    # The tree as it will be: the database overlaid with the file (parents may come later in
    # the file than their children).
    level_of: dict[str, str | None] = {code: values[2] for code, values in db.items()}
    parent_of: dict[str, str | None] = dict(db_parent)
    for code, r in parsed.items():
        level_of[code], parent_of[code] = r.level, r.parent

    # Strict level order alone rules out loops, but "A > B > A" says more than two
    # complaints about levels do.
    in_loop: set[str] = set()
    for code, r in parsed.items():
        if r.parent is None or code in in_loop:
            continue
        chain = [code]
        current: str | None = r.parent
        while current is not None and current in level_of:
            if current in chain:
                loop = chain[chain.index(current) :]
                message = (
                    "an area cannot be its own parent"
                    if len(loop) == 1
                    else f"areas would form a loop: {' > '.join([*loop, current])}"
                )
                for member in loop:
                    if member in parsed and member not in in_loop:
                        in_loop.add(member)
                        check.add(parsed[member].row, "parent_code", message)
                break
            chain.append(current)
            current = parent_of[current]

    for code, r in parsed.items():
        if r.parent is None or code in in_loop:
            continue
        if r.parent not in level_of:
            check.add(
                r.row, "parent_code", f"no area with code {r.parent!r} in this file or the database"
            )
            continue
        parent_level = level_of[r.parent]
        if r.level and parent_level and not child_level_ok(parent_level, r.level):
            check.add(
                r.row,
                "parent_code",
                f"{r.parent!r} is a {parent_level}; a {r.level} must sit under a higher level",
            )

    # An area whose level changes must still sit above the children it has in the database.
    db_children: dict[str, list[str]] = {}
    for code, parent_code in db_parent.items():
        if parent_code is not None and code not in parsed:
            db_children.setdefault(parent_code, []).append(code)
    for code, r in parsed.items():
        if code in db and r.level and r.level != db[code][2]:
            for child in db_children.get(code, []):
                child_level = db[child][2]
                if not child_level_ok(r.level, child_level):
                    check.add(
                        r.row,
                        "level",
                        f"{child!r}, a {child_level} in the database, sits under this area; "
                        f"a {r.level} cannot hold it",
                    )

    creates = [r for r in parsed.values() if r.code not in db]
    updates = [
        r
        for r in parsed.values()
        if r.code in db
        and (r.name, r.level, r.parent) != (db[r.code][1], db[r.code][2], db_parent[r.code])
    ]

    def apply(session: Session) -> None:
        ids = {code: values[0] for code, values in db.items()}
        # A parent sits at a higher level, so inserting level by level gives every new area
        # its parent's id; the paths are rebuilt once everything is linked.
        for level in AREA_LEVELS:
            batch = [
                {
                    "code": r.code,
                    "name": r.name,
                    "level": r.level,
                    "parent_id": ids[r.parent] if r.parent else None,
                    "path": "",
                }
                for r in creates
                if r.level == level
            ]
            ids.update(_insert_returning_ids(session, Area, "code", batch))
        _update_by_id(
            session,
            Area,
            [
                {
                    "id": ids[r.code],
                    "name": r.name,
                    "level": r.level,
                    "parent_id": ids[r.parent] if r.parent else None,
                }
                for r in updates
            ],
        )
        if creates or updates:
            rebuild_paths(session)

    return _Plan(len(creates), len(updates), len(parsed) - len(creates) - len(updates), apply)


# --- agencies ---------------------------------------------------------------------------------

_AGENCY_FIELDS = ("name", "phone")


def _plan_agencies(session: Session, rows: list[Row], check: _Checker, ctx: _Context) -> _Plan:
    db = {
        code: (agency_id, name, phone)
        for agency_id, code, name, phone in session.execute(
            select(Agency.id, Agency.code, Agency.name, Agency.phone)
        ).tuples()
    }
    db_links = _links_by_owner(session, AgencyArea, "agency_id")
    areas = _area_codes(session)

    seen: dict[str, int] = {}
    parsed: list[tuple[str, dict[str, Any], tuple[int, ...]]] = []
    for row in rows:
        code = check.value(row, "code", parse_code, required=True)
        name = check.value(row, "name", parse_text(200), required=True)
        phone = check.value(row, "phone", parse_phone)
        # An agency that serves no area would never be sent a case.
        area_ids = _area_ids(
            check, row, "area_codes", areas, required="required: an agency serves at least one area"
        )
        if code is not None and check.first_seen(seen, code, row, "code"):
            parsed.append((code, {"name": name, "phone": phone}, area_ids or ()))

    creates: list[dict[str, Any]] = []
    create_links: dict[str, tuple[int, ...]] = {}
    updates: list[dict[str, Any]] = []
    relinks: dict[int, tuple[int, ...]] = {}
    for code, values, area_ids in parsed:
        if code not in db:
            creates.append({"code": code, **values})
            create_links[code] = area_ids
            continue
        agency_id, *old = db[code]
        if change := _changes(agency_id, values, _AGENCY_FIELDS, old):
            updates.append(change)
        if set(area_ids) != db_links.get(agency_id, set()):
            relinks[agency_id] = area_ids
    changed = {u["id"] for u in updates} | set(relinks)

    def apply(session: Session) -> None:
        _update_by_id(session, Agency, updates)
        new_ids = _insert_returning_ids(session, Agency, "code", creates)
        links = dict(relinks) | {new_ids[code]: ids for code, ids in create_links.items()}
        _replace_links(session, AgencyArea, "agency_id", list(relinks), links)

    return _Plan(len(creates), len(changed), len(parsed) - len(creates) - len(changed), apply)


# --- workers ----------------------------------------------------------------------------------

_WORKER_FIELDS = (
    "name",
    "phone",
    "role",
    "lat",
    "lon",
    "monthly_capacity",
    "locale",
    "agency_id",
)


def _plan_workers(session: Session, rows: list[Row], check: _Checker, ctx: _Context) -> _Plan:
    db = {
        external_id: (worker_id, *values)
        for worker_id, external_id, *values in session.execute(
            select(Worker.id, Worker.external_id, *(getattr(Worker, f) for f in _WORKER_FIELDS))
        ).tuples()
    }
    db_links = _links_by_owner(session, WorkerArea, "worker_id")
    areas = _area_codes(session)
    agencies = dict(session.execute(select(Agency.code, Agency.id)).tuples().all())
    phone_holder = {values[2]: external_id for external_id, values in db.items()}
    elder_phones = dict(
        session.execute(select(Elder.phone, Elder.external_id).where(Elder.phone.is_not(None)))
        .tuples()
        .all()
    )

    seen: dict[str, int] = {}
    seen_phones: dict[str, int] = {}
    parsed: list[tuple[Row, str, dict[str, Any], tuple[int, ...]]] = []
    for row in rows:
        external_id = check.value(row, "external_id", parse_identifier, required=True)
        name = check.value(row, "name", parse_text(100), required=True)
        phone = check.value(row, "phone", parse_phone, required=True)
        role = check.value(row, "role", parse_role, required=True)
        area_ids = _area_ids(
            check,
            row,
            "area_codes",
            areas,
            required=f"required for a {role}" if role in ROLES_NEEDING_AREAS else None,
        )
        visiting = role in VISITING_ROLES
        lat, lon = _position(check, row, required_for=role if visiting else None)
        capacity = check.value(row, "monthly_capacity", parse_capacity)
        if visiting and check.blank(row, "monthly_capacity"):
            check.add(row, "monthly_capacity", f"required for a {role}")
        locale = check.value(row, "locale", parse_locale)
        agency_id = None
        agency_code = check.value(row, "agency_code", parse_code)
        if agency_code is not None:
            agency_id = agencies.get(agency_code)
            if agency_id is None:
                check.add(row, "agency_code", _missing("agency", [agency_code]))
        elif role == "social_worker" and check.blank(row, "agency_code"):
            check.add(row, "agency_code", "required for a social_worker")

        if phone is not None:
            if phone in seen_phones:
                check.add(row, "phone", f"the same number as line {seen_phones[phone]}")
            else:
                seen_phones[phone] = row.line
        if external_id is None or not check.first_seen(seen, external_id, row, "external_id"):
            continue
        values: dict[str, Any] = {
            "name": name,
            "phone": phone,
            "role": role,
            "lat": lat,
            "lon": lon,
            "monthly_capacity": capacity or 0,
            "locale": locale or ctx.default_locale,
            "agency_id": agency_id,
        }
        parsed.append((row, external_id, values, area_ids or ()))

    for row, external_id, values, _ in parsed:
        number = values["phone"]
        holder = phone_holder.get(number)
        # A number held by a worker the file also carries is free if that row changes it.
        if holder is not None and holder != external_id and holder not in seen:
            check.add(row, "phone", f"the same number as worker {holder!r} in the database")
        if number in elder_phones:
            check.add(
                row,
                "phone",
                f"the number of elder {elder_phones[number]!r}; an SMS from it could not be "
                "told apart",
            )

    creates: list[dict[str, Any]] = []
    create_links: dict[str, tuple[int, ...]] = {}
    updates: list[dict[str, Any]] = []
    relinks: dict[int, tuple[int, ...]] = {}
    for _, external_id, values, area_ids in parsed:
        if external_id not in db:
            creates.append({"external_id": external_id, **values})
            create_links[external_id] = area_ids
            continue
        worker_id, *old = db[external_id]
        if change := _changes(worker_id, values, _WORKER_FIELDS, old):
            updates.append(change)
        if set(area_ids) != db_links.get(worker_id, set()):
            relinks[worker_id] = area_ids
    changed = {u["id"] for u in updates} | set(relinks)

    def apply(session: Session) -> None:
        now = utcnow()
        old_phone = {values[0]: values[2] for values in db.values()}
        wanted = {u["phone"] for u in updates if "phone" in u} | {c["phone"] for c in creates}
        # Phones are unique: a worker giving up a number another row takes lets go of it
        # first, so that swapping two workers' phones works.
        freed = [
            {"id": u["id"], "phone": f"~{u['id']}"}
            for u in updates
            if "phone" in u and old_phone[u["id"]] in wanted
        ]
        _update_by_id(session, Worker, freed)
        _update_by_id(session, Worker, [{**u, "updated_at": now} for u in updates])
        new_ids = _insert_returning_ids(session, Worker, "external_id", creates)
        links = dict(relinks) | {new_ids[key]: ids for key, ids in create_links.items() if ids}
        _replace_links(session, WorkerArea, "worker_id", list(relinks), links)

    return _Plan(len(creates), len(changed), len(parsed) - len(creates) - len(changed), apply)


# --- elders -----------------------------------------------------------------------------------

_ELDER_FIELDS = (
    "name",
    "phone",
    "birth_date",
    "gender",
    "address",
    "lat",
    "lon",
    "grid_id",
    "household",
    "disability",
    "lives_alone",
    "risk_tier",
    "locale",
    "primary_contact_id",
    "secondary_contact_id",
)


def _plan_elders(session: Session, rows: list[Row], check: _Checker, ctx: _Context) -> _Plan:
    db = {
        external_id: (elder_id, *values)
        for elder_id, external_id, *values in session.execute(
            select(Elder.id, Elder.external_id, *(getattr(Elder, f) for f in _ELDER_FIELDS))
        ).tuples()
    }
    areas = {
        code: (area_id, level)
        for code, area_id, level in session.execute(select(Area.code, Area.id, Area.level)).tuples()
    }
    workers = {
        external_id: (worker_id, active)
        for external_id, worker_id, active in session.execute(
            select(Worker.external_id, Worker.id, Worker.active)
        ).tuples()
    }
    worker_phones = dict(session.execute(select(Worker.phone, Worker.external_id)).tuples().all())

    def contact(row: Row, column: str) -> int | None:
        external_id = check.value(row, column, parse_identifier)
        if external_id is None:
            return None
        if external_id not in workers:
            check.add(row, column, f"no worker with external_id {external_id!r}")
            return None
        worker_id, active = workers[external_id]
        if not active:
            check.add(row, column, f"worker {external_id!r} is deactivated")
            return None
        return worker_id

    def birth_date(text: str) -> date:
        return parse_birth_date(text, ctx.today)

    seen: dict[str, int] = {}
    parsed: list[tuple[str, dict[str, Any]]] = []
    for row in rows:
        external_id = check.value(row, "external_id", parse_identifier, required=True)
        name = check.value(row, "name", parse_text(100), required=True)
        phone = check.value(row, "phone", parse_phone)
        if phone is not None and phone in worker_phones:
            check.add(
                row,
                "phone",
                f"the number of worker {worker_phones[phone]!r}; an SMS from it could not be "
                "told apart",
            )
        born = check.value(row, "birth_date", birth_date)
        gender = check.value(row, "gender", parse_gender)
        address = check.value(row, "address", parse_text(300))
        lat, lon = _position(check, row, required_for=None)
        grid_id = None
        grid_code = check.value(row, "grid_code", parse_code, required=True)
        if grid_code is not None:
            if grid_code not in areas:
                check.add(row, "grid_code", _missing("area", [grid_code]))
            elif areas[grid_code][1] != "grid":
                check.add(row, "grid_code", f"{grid_code!r} is a {areas[grid_code][1]}, not a grid")
            else:
                grid_id = areas[grid_code][0]
        household = check.value(row, "household", parse_household, required=True)
        disability = check.value(row, "disability", parse_disability, required=True)
        lives_alone = check.value(row, "lives_alone", parse_bool)
        risk_tier = check.value(row, "risk_tier", parse_risk_tier, required=True)
        locale = check.value(row, "locale", parse_locale)
        primary = contact(row, "primary_contact")
        secondary = contact(row, "secondary_contact")
        if primary is not None and primary == secondary:
            check.add(row, "secondary_contact", "the same worker as primary_contact")
        elif check.blank(row, "primary_contact") and not check.blank(row, "secondary_contact"):
            check.add(row, "primary_contact", "empty, but secondary_contact is given")

        if external_id is None or not check.first_seen(seen, external_id, row, "external_id"):
            continue
        parsed.append(
            (
                external_id,
                {
                    "name": name,
                    "phone": phone,
                    "birth_date": born,
                    "gender": gender,
                    "address": address,
                    "lat": lat,
                    "lon": lon,
                    "grid_id": grid_id,
                    "household": household,
                    "disability": disability,
                    "lives_alone": bool(lives_alone),
                    "risk_tier": risk_tier,
                    "locale": locale or ctx.default_locale,
                    "primary_contact_id": primary,
                    "secondary_contact_id": secondary,
                },
            )
        )

    # LESSONS: warn before an elder is left with no contact. Not a problem: a new enrolment
    # may not have its contacts yet.
    without_contact = [row.line for row in rows if check.blank(row, "primary_contact")]
    if without_contact:
        count = len(without_contact)
        check.notes.append(
            Problem(
                without_contact[0],
                "primary_contact",
                f"{count} elder{'s have' if count > 1 else ' has'} no contact worker (the first "
                "on this line); planning can only go by distance",
            )
        )

    creates: list[tuple[str, dict[str, Any]]] = []
    updates: list[dict[str, Any]] = []
    for external_id, values in parsed:
        if external_id not in db:
            creates.append((external_id, values))
            continue
        elder_id, *old = db[external_id]
        if change := _changes(elder_id, values, _ELDER_FIELDS, old):
            updates.append(change)

    def apply(session: Session) -> None:
        now = utcnow()
        _update_by_id(session, Elder, [{**u, "updated_at": now} for u in updates])
        if creates:
            codes = CodeAllocator.from_db(session)
            # Core, for speed (see _update_by_id); so every default is given here.
            session.execute(
                insert(cast(SqlTable, Elder.__table__)),
                [
                    {
                        "external_id": external_id,
                        "code": codes.new(),
                        "enrolled_on": ctx.today,
                        "status": "active",
                        "sms_opted_out": False,
                        "phone_flagged": False,
                        "created_at": now,
                        "updated_at": now,
                        **values,
                    }
                    for external_id, values in creates
                ],
            )

    return _Plan(len(creates), len(updates), len(parsed) - len(creates) - len(updates), apply)


# --- the import -------------------------------------------------------------------------------

_Planner = Callable[[Session, list[Row], _Checker, _Context], _Plan]
_PLANNERS: dict[str, _Planner] = {
    "areas": _plan_areas,
    "agencies": _plan_agencies,
    "workers": _plan_workers,
    "elders": _plan_elders,
}


def import_csv(
    session: Session,
    kind: str,
    data: bytes,
    *,
    today: date,
    default_locale: str = "zh_CN",
    dry_run: bool = False,
) -> ImportResult:
    """Check a whole CSV file of `kind` and, if it has no problem, upsert it (not on a dry run).

    `today` is the local date (TANFANG_TIMEZONE): new elders are enrolled on it and birth
    dates are checked against it. Nothing is committed; the caller owns the transaction.
    """
    if kind not in _PLANNERS:
        raise ValueError(f"unknown import kind {kind!r}")
    table = read_table(data, COLUMNS[kind])
    result = ImportResult(kind, dry_run=dry_run, notes=table.notes)
    if not table.header_ok:
        result.problems = sorted(table.problems, key=lambda p: p.line)
        return result
    check = _Checker(table.problems, table.notes)
    plan = _PLANNERS[kind](session, table.rows, check, _Context(today, default_locale))
    # Sorted by line only: within a line, problems stay in the order of the columns.
    result.problems = sorted(check.problems, key=lambda p: p.line)
    result.created, result.updated, result.unchanged = plan.created, plan.updated, plan.unchanged
    if result.problems or dry_run:
        return result
    plan.apply(session)
    session.flush()
    log.debug(
        "imported %s: %d created, %d updated, %d unchanged",
        kind,
        result.created,
        result.updated,
        result.unchanged,
    )
    return result
