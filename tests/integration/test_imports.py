"""`tanfang import KIND FILE [--dry-run]` as the people preparing the files meet it (SPEC 4).

The sample files under tests/data/imports are UTF-8 text for reading; the tests write them the
way Excel on a Chinese Windows saves "CSV": GB18030 with CRLF line ends.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import Result
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.models import Agency, AgencyArea, Area, Elder, Worker, WorkerArea
from server.services.codes import is_valid_code
from tests.conftest import Cli

DATA = Path(__file__).resolve().parent.parent / "data" / "imports"
KINDS = ("areas", "agencies", "workers", "elders")
ELDERS_HEADER = (
    "external_id,name,phone,birth_date,gender,address,lat,lon,grid_code,household,disability,"
    "lives_alone,risk_tier,locale,primary_contact,secondary_contact"
)
WORKERS_HEADER = (
    "external_id,name,phone,role,area_codes,lat,lon,monthly_capacity,locale,agency_code"
)
GRID_1 = "640104001001001"


def sample(kind: str) -> str:
    """The clean sample file of `kind`, as text."""
    return (DATA / f"{kind}.csv").read_text("utf-8")


def excel_file(folder: Path, kind: str, text: str | None = None, encoding: str = "gb18030") -> Path:
    """Write `text` (default: the sample) as Excel does in China: GB18030, CRLF."""
    path = folder / f"{kind}.csv"
    content = sample(kind) if text is None else text
    path.write_bytes(content.replace("\n", "\r\n").encode(encoding))
    return path


def run(cli: Cli, kind: str, path: Path, *options: str) -> Result:
    """`tanfang import KIND FILE [options]`."""
    return cli("import", kind, str(path), *options)


def problems(result: Result, path: Path) -> set[str]:
    """The `FILE:LINE: column: message` lines the command printed."""
    return {line for line in result.stderr.splitlines() if line.startswith(f"{path}:")}


def counts(session: Session) -> dict[str, int]:
    """Rows per table, as committed (the CLI commits in its own session)."""
    session.rollback()  # a new snapshot: SQLite in WAL mode would keep showing the old one
    return {
        model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
        for model in (Area, Agency, AgencyArea, Worker, WorkerArea, Elder)
    }


def worker(session: Session, external_id: str) -> Worker:
    """A worker as committed."""
    session.rollback()
    found = session.scalar(select(Worker).where(Worker.external_id == external_id))
    assert found is not None
    return found


def elder(session: Session, external_id: str) -> Elder:
    """An elder as committed."""
    session.rollback()
    found = session.scalar(select(Elder).where(Elder.external_id == external_id))
    assert found is not None
    return found


def import_samples(cli: Cli, folder: Path, kinds: tuple[str, ...] = KINDS) -> None:
    """Import the clean sample files of `kinds`, in order."""
    for kind in kinds:
        result = run(cli, kind, excel_file(folder, kind))
        assert result.exit_code == 0, result.stderr


# --- a clean region -------------------------------------------------------------------------


def test_excel_files_import_in_order(cli: Cli, session: Session, tmp_path: Path) -> None:
    expected = {"areas": 11, "agencies": 3, "workers": 6, "elders": 4}
    for kind in KINDS:
        path = excel_file(tmp_path, kind)
        result = run(cli, kind, path)
        assert result.exit_code == 0, result.stderr
        assert result.stdout.strip() == (
            f"imported {kind} from {path}: {expected[kind]} created, 0 updated, 0 unchanged"
        )
        assert result.stderr == ""

    assert counts(session) == {
        "areas": 11,
        "agencies": 3,
        "agency_areas": 5,
        "workers": 6,
        "worker_areas": 7,
        "elders": 4,
    }
    # The tree: grids listed before their community still hang under it, paths are right.
    areas = {a.code: a for a in session.scalars(select(Area))}
    grid = areas[GRID_1]
    assert grid.parent_id == areas["640104001001"].id
    assert (
        grid.path
        == "/"
        + "/".join(
            str(areas[c].id) for c in ("640000", "640100", "640104", "640104001", "640104001001")
        )
        + f"/{grid.id}/"
    )
    assert areas["640106"].level == "county"  # `County` in the file
    assert areas["640000"].parent_id is None

    agencies = {a.code: a for a in session.scalars(select(Agency))}
    assert [a.code for a in agencies["HOME-XQ"].areas] == ["640104001", "640104001001"]
    assert [a.code for a in agencies["AG-JF"].areas] == ["640106", "640106001"]
    assert agencies["AG-JF"].phone is None
    assert agencies["AG-XQ"].phone == "+869515012345"

    gw2 = worker(session, "GW-002")
    assert (gw2.role, gw2.monthly_capacity, gw2.locale) == ("grid_worker", 40, "zh_CN")
    assert [a.code for a in gw2.areas] == ["640104001001002"]
    social = worker(session, "SW-001")
    assert social.agency is not None and social.agency.code == "HOME-XQ"
    assert (social.lat, social.lon, social.monthly_capacity, social.locale) == (None, None, 0, "en")
    assert worker(session, "GW-003").role == "grid_worker"  # `Grid_Worker` in the file
    assert [a.code for a in worker(session, "SUP-001").areas] == ["640104", "640106"]

    first = elder(session, "E-0001")
    assert first.name == "张秀英"
    assert (first.gender, first.lives_alone, first.risk_tier) == ("F", True, "high")
    assert first.birth_date == date(1950, 3, 1)
    assert first.grid.code == GRID_1
    assert first.primary_contact is not None and first.primary_contact.external_id == "GW-001"
    assert first.secondary_contact is not None
    assert first.secondary_contact.external_id == "GW-002"
    assert first.enrolled_on == datetime.now(ZoneInfo("Asia/Shanghai")).date()
    second = elder(session, "E-0002")
    assert (second.phone, second.birth_date, second.gender) == (None, date(1948, 7, 9), "M")
    assert second.lives_alone is False
    third = elder(session, "E-0003")
    assert third.address == "兴庆区文化街5号 2单元"  # a line break typed in the cell
    assert third.phone == "+869515012399"
    fourth = elder(session, "E-0004")
    assert (fourth.household, fourth.disability, fourth.risk_tier) == ("other", "none", "standard")
    assert (fourth.locale, fourth.secondary_contact_id) == ("en", None)
    codes = list(session.scalars(select(Elder.code)))
    assert len(set(codes)) == 4 and all(is_valid_code(c) for c in codes)


def test_phones_in_every_common_form_are_stored_in_e164(
    cli: Cli, session: Session, tmp_path: Path
) -> None:
    import_samples(cli, tmp_path, ("areas", "agencies", "workers"))
    phones = {w.external_id: w.phone for w in session.scalars(select(Worker))}
    assert phones == {
        "GW-001": "+8613912345678",  # 13912345678
        "GW-002": "+8613912345679",  # 139 1234 5679
        "VOL-001": "+8613912345680",  # +86-139-1234-5680
        "GW-003": "+8613912345681",  # 0086 13912345681
        "SW-001": "+8613912345682",  # full-width digits
        "SUP-001": "+869515012346",  # landline 0951-5012346
    }


def test_new_elders_are_enrolled_on_the_local_day(
    cli: Cli, session: Session, tmp_path: Path
) -> None:
    import_samples(cli, tmp_path, ("areas", "agencies", "workers"))
    # UTC+14: a different calendar day from UTC for most of the day.
    zone = "Pacific/Kiritimati"
    result = cli(
        "import", "elders", str(excel_file(tmp_path, "elders")), env={"TANFANG_TIMEZONE": zone}
    )
    assert result.exit_code == 0, result.stderr
    assert elder(session, "E-0001").enrolled_on == datetime.now(ZoneInfo(zone)).date()


def test_utf8_file_with_bom_and_padded_header(cli: Cli, session: Session, tmp_path: Path) -> None:
    path = tmp_path / "areas.csv"
    text = (
        " Code , NAME,parent_code ,\u3000level\n"
        "640000,宁夏回族自治区,,region\n"
        "640100,银川市,640000,city\n"
    )
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    result = run(cli, "areas", path)
    assert result.exit_code == 0, result.stderr
    assert "2 created" in result.stdout
    assert {a.name for a in session.scalars(select(Area))} == {"宁夏回族自治区", "银川市"}


def test_plain_utf8_with_lf_and_blank_lines(cli: Cli, session: Session, tmp_path: Path) -> None:
    path = tmp_path / "areas.csv"
    path.write_text("code,name,parent_code,level\n\n640000,宁夏回族自治区,,region\n,,,\n", "utf-8")
    result = run(cli, "areas", path)
    assert result.exit_code == 0, result.stderr
    assert counts(session)["areas"] == 1


def test_unknown_columns_are_ignored_with_a_note(
    cli: Cli, session: Session, tmp_path: Path
) -> None:
    text = "code,name,parent_code,level,备注\n640000,宁夏回族自治区,,region,自治区\n"
    path = excel_file(tmp_path, "areas", text)
    result = run(cli, "areas", path)
    assert result.exit_code == 0
    assert problems(result, path) == {f"{path}:1: 备注: unknown column, ignored"}
    assert counts(session)["areas"] == 1


def test_header_only_file_imports_nothing(cli: Cli, tmp_path: Path) -> None:
    path = excel_file(tmp_path, "areas", "code,name,parent_code,level\n")
    result = run(cli, "areas", path)
    assert result.exit_code == 0
    assert "0 created, 0 updated, 0 unchanged" in result.stdout


def test_elders_without_a_contact_are_imported_with_a_warning(
    cli: Cli, session: Session, tmp_path: Path
) -> None:
    import_samples(cli, tmp_path, ("areas", "agencies", "workers"))
    text = sample("elders").replace(",GW-001,GW-002", ",,").replace(",GW-003,", ",,")
    path = excel_file(tmp_path, "elders", text)
    result = run(cli, "elders", path)
    assert result.exit_code == 0, result.stderr
    assert problems(result, path) == {
        f"{path}:2: primary_contact: 2 elders have no contact worker (the first on this line); "
        "planning can only go by distance"
    }
    assert elder(session, "E-0001").primary_contact_id is None


# --- bad files ------------------------------------------------------------------------------


def test_bad_elder_rows_are_all_listed_and_nothing_is_imported(
    cli: Cli, session: Session, tmp_path: Path
) -> None:
    import_samples(cli, tmp_path, ("areas", "agencies", "workers"))
    before = counts(session)
    rows = [
        ELDERS_HEADER,
        # 2: fine
        "E-0001,张秀英,13812340001,1950-03-01,女,文化街1号,38.47,106.29,640104001001001,"
        "shidu,none,是,high,zh_CN,GW-001,GW-002",
        # 3: phone, birth date, gender, a community as grid, unknown contact
        "E-0002,马福,12345,2099-01-01,X,文化街3号,38.47,106.29,640104001001,"
        "shangcan,partial,否,standard,,NOBODY,GW-001",
        "",  # 4: blank, skipped but counted
        # 5: the id of line 2 again, both contacts the same worker
        "E-0001,李桂兰,,1952/12/25,F,文化街5号,38.47,106.29,640104001001002,"
        "living_alone,full,yes,elevated,,GW-002,GW-002",
        # 6: vocabulary, coordinates, missing grid, yes/no and locale
        "E-0006,Wang Li,,1955-1-31,M,康居路8号,106.2,38.48,,orphan,some,maybe,urgent,fr,GW-003,",
    ]
    path = excel_file(tmp_path, "elders", "\n".join(rows) + "\n")
    result = run(cli, "elders", path)

    assert result.exit_code == 1
    assert problems(result, path) == {
        f"{path}:3: phone: not a valid phone number",
        f"{path}:3: birth_date: '2099-01-01' is in the future",
        f"{path}:3: gender: 'X' is not M, F, 男 or 女",
        f"{path}:3: grid_code: '640104001001' is a community, not a grid",
        f"{path}:3: primary_contact: no worker with external_id 'NOBODY'",
        f"{path}:5: secondary_contact: the same worker as primary_contact",
        f"{path}:5: external_id: 'E-0001' is already on line 2",
        f"{path}:6: lat: 106.2 is outside -90..90 (lat and lon swapped?)",
        f"{path}:6: grid_code: required, but empty",
        f"{path}:6: household: 'orphan' is not one of shidu, shangcan, living_alone, "
        "left_behind, other",
        f"{path}:6: disability: 'some' is not one of none, partial, full",
        f"{path}:6: lives_alone: 'maybe' is not yes or no (是/否)",
        f"{path}:6: risk_tier: 'urgent' is not one of standard, elevated, high",
        f"{path}:6: locale: 'fr' is not one of zh_CN, en",
    }
    assert "12345" not in result.stderr  # a phone number is never echoed
    assert result.stderr.rstrip().endswith("14 problems; nothing was imported")
    assert result.stdout == ""
    assert counts(session) == before


def test_bad_worker_file_changes_nothing_already_imported(
    cli: Cli, session: Session, tmp_path: Path
) -> None:
    import_samples(cli, tmp_path)
    before = counts(session)
    text = sample("workers").replace("马建国", "马建军")  # a valid edit that must not land
    text += (
        "VOL-002,周丽,13912345678,volunteer,640104001001,,,,,\n"  # 8: GW-001's phone, no base
        "SW-002,孙强,13912345690,social_worker,640104,,,,,\n"  # 9: no agency
        "GW-009,赵刚,13912345691,grid_worker,640199,38.47,106.29,-1,,NOPE\n"  # 10
        "SUP-002,钱进,1.39123E+10,chief,,,,,,\n"  # 11
    )
    path = excel_file(tmp_path, "workers", text)
    result = run(cli, "workers", path)

    assert result.exit_code == 1
    assert problems(result, path) == {
        f"{path}:8: lat: required for a volunteer",
        f"{path}:8: lon: required for a volunteer",
        f"{path}:8: monthly_capacity: required for a volunteer",
        f"{path}:8: phone: the same number as line 2",
        f"{path}:9: agency_code: required for a social_worker",
        f"{path}:10: area_codes: no area with code '640199'",
        f"{path}:10: monthly_capacity: -1 is negative; use 0 for someone who makes no routine "
        "visits",
        f"{path}:10: agency_code: no agency with code 'NOPE'",
        f"{path}:11: phone: not a valid phone number: Excel saved it in scientific notation and "
        "its digits are lost; format the column as Text and type the values again",
        f"{path}:11: role: 'chief' is not one of grid_worker, volunteer, social_worker, "
        "supervisor, admin",
    }
    assert "1.39123" not in result.stderr
    assert counts(session) == before
    assert worker(session, "GW-001").name == "马建国"


def test_missing_column_is_named_with_a_likely_misspelling(cli: Cli, tmp_path: Path) -> None:
    text = sample("elders").replace("secondary_contact", "secondary_contcat")
    path = excel_file(tmp_path, "elders", text)
    result = run(cli, "elders", path)
    assert result.exit_code == 1
    assert problems(result, path) == {
        f"{path}:1: secondary_contact: required column missing "
        "(is 'secondary_contcat' a misspelling?)"
    }


def test_file_that_is_not_text(cli: Cli, session: Session, tmp_path: Path) -> None:
    path = tmp_path / "areas.csv"
    path.write_bytes(b"code,name,parent_code,level\r\n640000,\xff\xfe\xff,,region\r\n")
    result = run(cli, "areas", path)
    assert result.exit_code == 1
    assert problems(result, path) == {
        f'{path}:2: file: not UTF-8 or GB18030 text; save the file as "CSV UTF-8"'
    }
    assert counts(session)["areas"] == 0


def test_unquoted_comma_and_unclosed_quote(cli: Cli, tmp_path: Path) -> None:
    text = (
        "code,name,parent_code,level\n"
        "640000,宁夏,回族自治区,,region\n"  # 2: a comma in the name, not quoted
        '640100,"银川市,640000,city\n'  # 3: the quote swallows the rest of the file
        "640104,兴庆区,640100,county\n"
    )
    path = excel_file(tmp_path, "areas", text)
    result = run(cli, "areas", path)
    assert result.exit_code == 1
    assert problems(result, path) == {
        f"{path}:2: row: 5 cells but the header has 4 columns (a value with a comma that is "
        "not in quotes?)",
        f"{path}:3: row: a quote opened in this row is never closed",
    }


def test_line_numbers_count_every_physical_line(cli: Cli, tmp_path: Path) -> None:
    import_samples(cli, tmp_path, ("areas", "agencies", "workers"))
    # The sample's third elder has a two-line address (lines 4 and 5); break the fourth.
    text = sample("elders").replace("Standard,en", "Standard,xx")
    path = excel_file(tmp_path, "elders", text)
    result = run(cli, "elders", path)
    assert problems(result, path) == {f"{path}:6: locale: 'xx' is not one of zh_CN, en"}


# --- duplicates and references ------------------------------------------------------------


def test_duplicate_codes_and_ids(cli: Cli, session: Session, tmp_path: Path) -> None:
    areas = sample("areas") + "640000,宁夏,,region\n"
    areas_path = excel_file(tmp_path, "areas", areas)
    result = run(cli, "areas", areas_path)
    assert result.exit_code == 1
    assert problems(result, areas_path) == {f"{areas_path}:13: code: '640000' is already on line 4"}

    import_samples(cli, tmp_path, ("areas", "agencies"))
    workers = (
        sample("workers")
        + "GW-001,马建国,13912345699,grid_worker,640104001001001,38.47,106.29,40,,\n"
    )
    workers_path = excel_file(tmp_path, "workers", workers)
    result = run(cli, "workers", workers_path)
    assert result.exit_code == 1
    assert problems(result, workers_path) == {
        f"{workers_path}:8: external_id: 'GW-001' is already on line 2"
    }
    assert counts(session)["workers"] == 0


def test_worker_phone_already_used_by_another_worker(
    cli: Cli, session: Session, tmp_path: Path
) -> None:
    import_samples(cli, tmp_path, ("areas", "agencies", "workers"))
    # A second file with a new worker on GW-001's number, written another way.
    text = (
        WORKERS_HEADER
        + "\nGW-010,周丽,139-1234-5678,grid_worker,640104001001001,38.47,106.29,30,,\n"
    )
    path = excel_file(tmp_path, "workers", text)
    result = run(cli, "workers", path)
    assert result.exit_code == 1
    assert problems(result, path) == {
        f"{path}:2: phone: the same number as worker 'GW-001' in the database"
    }
    assert counts(session)["workers"] == 6


def test_two_workers_may_swap_phones(cli: Cli, session: Session, tmp_path: Path) -> None:
    import_samples(cli, tmp_path, ("areas", "agencies", "workers"))
    text = (
        sample("workers")
        .replace("13912345678", "TMP")
        .replace("139 1234 5679", "13912345678")
        .replace("TMP", "13912345679")
    )
    result = run(cli, "workers", excel_file(tmp_path, "workers", text))
    assert result.exit_code == 0, result.stderr
    assert "0 created, 2 updated, 4 unchanged" in result.stdout
    assert worker(session, "GW-001").phone == "+8613912345679"
    assert worker(session, "GW-002").phone == "+8613912345678"


def test_unknown_area_agency_and_contact(cli: Cli, session: Session, tmp_path: Path) -> None:
    import_samples(cli, tmp_path, ("areas",))
    agencies = excel_file(
        tmp_path,
        "agencies",
        sample("agencies").replace("640104001；640104001001", "640104001|X1|X2"),
    )
    result = run(cli, "agencies", agencies)
    assert problems(result, agencies) == {
        f"{agencies}:3: area_codes: no areas with codes 'X1', 'X2'"
    }

    import_samples(cli, tmp_path, ("agencies",))
    workers = excel_file(tmp_path, "workers", sample("workers").replace("HOME-XQ", "HOME-YY"))
    result = run(cli, "workers", workers)
    assert problems(result, workers) == {f"{workers}:6: agency_code: no agency with code 'HOME-YY'"}

    import_samples(cli, tmp_path, ("workers",))
    elders = excel_file(tmp_path, "elders", sample("elders").replace("GW-003,", "GW-033,"))
    result = run(cli, "elders", elders)
    assert problems(result, elders) == {
        f"{elders}:6: primary_contact: no worker with external_id 'GW-033'"
    }
    assert result.exit_code == 1
    assert counts(session)["elders"] == 0


# --- the area tree --------------------------------------------------------------------------


def test_area_tree_problems(cli: Cli, session: Session, tmp_path: Path) -> None:
    text = (
        "code,name,parent_code,level\n"
        "640000,宁夏,,region\n"
        "A,甲,B,city\n"  # 3: a loop A > B > A
        "B,乙,A,county\n"  # 4
        "C,丙,C,street\n"  # 5: its own parent
        "D,丁,640000,region\n"  # 6: a region under a region
        "E,戊,MISSING,grid\n"  # 7
        "F,己,640000,village\n"  # 8
    )
    path = excel_file(tmp_path, "areas", text)
    result = run(cli, "areas", path)
    assert result.exit_code == 1
    assert problems(result, path) == {
        f"{path}:3: parent_code: areas would form a loop: A > B > A",
        f"{path}:4: parent_code: areas would form a loop: A > B > A",
        f"{path}:5: parent_code: an area cannot be its own parent",
        f"{path}:6: parent_code: '640000' is a region; a region must sit under a higher level",
        f"{path}:7: parent_code: no area with code 'MISSING' in this file or the database",
        f"{path}:8: level: 'village' is not one of region, city, county, street, community, grid",
    }
    assert counts(session)["areas"] == 0


def test_moving_an_area_rewrites_the_paths_below_it(
    cli: Cli, session: Session, tmp_path: Path
) -> None:
    import_samples(cli, tmp_path)
    # The community 康居社区 moves from 金凤区's street to 兴庆区's.
    text = "code,name,parent_code,level\n640106001001,康居社区,640104001,community\n"
    result = run(cli, "areas", excel_file(tmp_path, "areas", text))
    assert result.exit_code == 0, result.stderr
    assert "0 created, 1 updated, 0 unchanged" in result.stdout
    session.rollback()
    areas = {a.code: a for a in session.scalars(select(Area))}
    assert areas["640106001001001"].path.startswith(areas["640104001"].path)
    assert not areas["640106001001001"].path.startswith(areas["640106"].path)


def test_changing_a_level_above_existing_children_is_refused(cli: Cli, tmp_path: Path) -> None:
    import_samples(cli, tmp_path, ("areas",))
    text = "code,name,parent_code,level\n640104001001,幸福社区,640104001,grid\n"
    path = excel_file(tmp_path, "areas", text)
    result = run(cli, "areas", path)
    assert result.exit_code == 1
    assert (
        f"{path}:2: level: '640104001001001', a grid in the database, sits under this area; "
        "a grid cannot hold it" in problems(result, path)
    )


# --- upsert and dry run ---------------------------------------------------------------------


def test_reimporting_an_edited_file_updates_only_what_changed(
    cli: Cli, session: Session, tmp_path: Path
) -> None:
    import_samples(cli, tmp_path)
    before = elder(session, "E-0001")
    code, enrolled = before.code, before.enrolled_on

    for kind in ("areas", "agencies", "workers", "elders"):
        path = excel_file(tmp_path, kind)
        result = run(cli, kind, path)
        assert result.exit_code == 0, result.stderr
        assert "0 created, 0 updated" in result.stdout

    text = (
        sample("elders").replace(",high,", ",elevated,").replace("Wang Li", "Wang Lei")
        + "E-0005,刘玉珍,13812340005,1949-05-05,女,文化街7号,38.47,106.29,640104001001002,"
        "shidu,none,是,high,,GW-002,GW-001\n"
    )
    path = excel_file(tmp_path, "elders", text)
    result = run(cli, "elders", path)
    assert result.exit_code == 0, result.stderr
    assert (
        result.stdout.strip() == f"imported elders from {path}: 1 created, 2 updated, 2 unchanged"
    )
    after = elder(session, "E-0001")
    assert (after.risk_tier, after.code, after.enrolled_on) == ("elevated", code, enrolled)
    assert elder(session, "E-0004").name == "Wang Lei"
    assert counts(session)["elders"] == 5

    workers = sample("workers").replace("640104;640106", "640106")
    result = run(cli, "workers", excel_file(tmp_path, "workers", workers))
    assert "0 created, 1 updated, 5 unchanged" in result.stdout
    assert [a.code for a in worker(session, "SUP-001").areas] == ["640106"]

    agencies = sample("agencies").replace("文化街暖心家园", "文化街暖心家园（新）")
    result = run(cli, "agencies", excel_file(tmp_path, "agencies", agencies))
    assert "0 created, 1 updated, 2 unchanged" in result.stdout


def test_dry_run_writes_nothing(cli: Cli, session: Session, tmp_path: Path) -> None:
    path = excel_file(tmp_path, "areas")
    result = run(cli, "areas", path, "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == (
        f"dry run, nothing written: areas from {path} would be 11 created, 0 updated, 0 unchanged"
    )
    assert counts(session)["areas"] == 0

    import_samples(cli, tmp_path)
    before = counts(session)
    text = sample("elders").replace("张秀英", "张秀芳") + (
        "E-0005,刘玉珍,,1949-05-05,女,文化街7号,38.47,106.29,640104001001002,"
        "shidu,none,是,high,,GW-002,GW-001\n"
    )
    result = run(cli, "elders", excel_file(tmp_path, "elders", text), "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert "would be 1 created, 1 updated, 3 unchanged" in result.stdout
    assert counts(session) == before
    assert elder(session, "E-0001").name == "张秀英"


def test_dry_run_of_a_bad_file_lists_its_problems(cli: Cli, tmp_path: Path) -> None:
    path = excel_file(tmp_path, "areas", "code,name,parent_code,level\n640100,银川市,640000,city\n")
    result = run(cli, "areas", path, "--dry-run")
    assert result.exit_code == 1
    assert problems(result, path) == {
        f"{path}:2: parent_code: no area with code '640000' in this file or the database"
    }


def test_misuse_exits_2(cli: Cli, tmp_path: Path) -> None:
    assert cli("import", "visits", str(excel_file(tmp_path, "areas"))).exit_code == 2
    assert cli("import", "areas", str(tmp_path / "missing.csv")).exit_code == 2


@pytest.mark.parametrize("encoding", ["gb18030", "utf-8", "utf-8-sig"])
def test_every_supported_encoding_reads_the_same(
    cli: Cli, session: Session, tmp_path: Path, encoding: str
) -> None:
    result = run(cli, "areas", excel_file(tmp_path, "areas", encoding=encoding))
    assert result.exit_code == 0, result.stderr
    session.rollback()
    assert session.scalar(select(Area.name).where(Area.code == GRID_1)) == "幸福社区第1网格"
