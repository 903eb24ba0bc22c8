"""The SMS texts people receive: every kind exists in both languages, fits the number of SMS
it declares with the longest realistic values, says nothing about anyone's health, and a
broken template set is refused when it is loaded rather than when a message goes out."""

from __future__ import annotations

import itertools
import json
import re
import shutil
from collections.abc import Iterator
from datetime import UTC, date, timedelta
from pathlib import Path
from typing import Any

import pytest

from server.services.codes import ALPHABET
from server.services.sms.grammar import UsageError, parse_worker
from server.services.sms.segments import is_gsm7, segments
from server.services.sms.templates import (
    DEFAULT_ROOT,
    ParamSpec,
    TemplateError,
    TemplateSet,
    load_templates,
)

KINDS = {
    "worker_monthly_plan",
    "worker_daily_digest",
    "worker_reminder",
    "worker_list_reply",
    "worker_usage_help",
    "worker_checkin_ack",
    "worker_help_ack",
    "otp_code",
    "elder_wellness_check",
    "elder_rating_request",
    "elder_ack",
    "elder_rating_thanks",
    "elder_help_ack",
    "elder_talk_ack",
    "elder_optout_confirm",
    "optout_confirm",
    "elder_optin_confirm",
    "elder_crisis_reply",
    "unknown_sender_reply",
    "case_notify_agency",
    "case_notify_contact",
    "case_notify_supervisor",
    "case_escalated",
    "contact_call_instead",
    "elder_message_forward",
}
LOCALES = ("zh_CN", "en")
# Six-symbol codes, all different, as a long digest or plan lists them.
LONG_CODES = ["WXYWX" + c for c in ALPHABET]
DAYS_OF_A_YEAR = [date(2025, 1, 1) + timedelta(days=n) for n in range(365)]
# Words that would tell a reader something about a person's health or state of mind.
HEALTH_WORDS = (
    "抑郁", "自杀", "自残", "轻生", "心理", "精神", "疾病", "病情", "健康", "血压", "诊断",
    "药", "危机", "PHQ", "depress", "suicid", "self-harm", "mental", "psych", "health",
    "illness", "disease", "crisis", "medic", "diagnos",
)  # fmt: skip


@pytest.fixture(scope="module")
def templates() -> TemplateSet:
    return load_templates()


def _longest(param: ParamSpec) -> list[Any]:
    """The realistic worst values of one parameter."""
    if param.kind == "text":
        return list(param.options["longest"])
    if param.kind == "int":
        return [param.options["min"], param.options["max"]]
    if param.kind == "code":
        return ["WXYWXY"]
    if param.kind == "codes":
        return [LONG_CODES[: param.options["max_items"] + 3]]
    if param.kind == "choice":
        return list(param.options["choices"])
    assert param.kind == "date"
    return DAYS_OF_A_YEAR


def _worst_cases(templates: TemplateSet, name: str) -> Iterator[dict[str, Any]]:
    params = templates.spec(name).params
    for combo in itertools.product(*(_longest(p) for p in params.values())):
        yield dict(zip(params, combo, strict=True))


def _every_render(templates: TemplateSet) -> Iterator[tuple[str, str, str]]:
    for name in templates.names():
        for locale in LOCALES:
            for params in _worst_cases(templates, name):
                yield name, locale, templates.render(name, locale, params)


def test_every_message_kind_exists_in_both_languages(templates: TemplateSet) -> None:
    assert set(templates.names()) == KINDS
    for name in KINDS:
        for locale in LOCALES:
            assert (DEFAULT_ROOT / locale / f"{name}.txt").is_file()


@pytest.mark.parametrize("name", sorted(KINDS))
@pytest.mark.parametrize("locale", LOCALES)
def test_longest_realistic_message_stays_within_its_segment_budget(
    templates: TemplateSet, name: str, locale: str
) -> None:
    budget = templates.spec(name).budget
    worst = max(
        (templates.render(name, locale, p) for p in _worst_cases(templates, name)),
        key=lambda body: (segments(body).parts, len(body)),
    )
    assert segments(worst).parts <= budget, f"{segments(worst)} > {budget}: {worst}"


def test_over_long_free_text_is_cut_so_the_message_keeps_its_budget(
    templates: TemplateSet,
) -> None:
    body = templates.render("worker_usage_help", "zh_CN", {"problem": "bad_code", "got": "K" * 40})
    assert "KKKKKKK…" in body and "K" * 9 not in body
    assert segments(body).parts <= templates.spec("worker_usage_help").budget
    english = templates.render("worker_usage_help", "en", {"problem": "bad_code", "got": "K" * 40})
    assert "Code KKKKK... is not valid" in english


def test_no_message_names_anything_about_health(templates: TemplateSet) -> None:
    for name, locale, body in _every_render(templates):
        lowered = body.lower()
        assert not [w for w in HEALTH_WORDS if w.lower() in lowered], (name, locale, body)


def test_no_message_says_family_where_it_means_the_community_contact(
    templates: TemplateSet,
) -> None:
    # Cases and opt-outs go to the elder's contact, a grid worker or volunteer, and most of
    # these elders lost their only child: "we told your family" is false and it hurts.
    for name, locale, body in _every_render(templates):
        assert "家人" not in body and "family" not in body.lower(), (name, locale, body)


def test_no_message_carries_an_elders_name_phone_or_address(templates: TemplateSet) -> None:
    # An SMS can be read by anyone holding the phone: an elder is named by their code.
    for name in templates.names():
        params = set(templates.spec(name).params)
        assert not params & {"elder_name", "name", "phone", "address", "elder_phone"}, name


def test_case_notifications_name_the_case_and_the_elder_code_only(
    templates: TemplateSet,
) -> None:
    for name in ("case_notify_agency", "case_notify_supervisor", "case_escalated"):
        assert set(templates.spec(name).params) <= {"case_id", "elder_code", "priority", "hours"}
        for locale, app in (("zh_CN", "登录探访平台"), ("en", "open the app")):
            params = {"case_id": 123456, "elder_code": "k9mx3", "priority": "urgent", "hours": 24}
            params = {k: v for k, v in params.items() if k in templates.spec(name).params}
            body = templates.render(name, locale, params)
            assert "123456" in body and "K9MX3" in body and app in body


def test_zh_cn_messages_start_with_the_signature_and_english_ones_do_not(
    templates: TemplateSet,
) -> None:
    assert templates.render("elder_ack", "zh_CN", {}).startswith("【暖心探访】")
    custom = templates.render("elder_ack", "zh_CN", {}, signature="【银川民政】")
    assert custom.startswith("【银川民政】") and "暖心探访" not in custom
    english = templates.render("elder_ack", "en", {})
    assert not english.startswith("【") and english.startswith("Tanfang:")


def test_english_texts_stay_in_the_cheap_gsm7_alphabet(templates: TemplateSet) -> None:
    # With Latin values an English message must not fall into UCS-2 (70 per SMS) because of a
    # curly quote or a Chinese comma in the template itself.
    for name in templates.names():
        params = next(_worst_cases(templates, name))
        params = {
            k: ("Wang Fang" if templates.spec(name).params[k].kind == "text" else v)
            for k, v in params.items()
        }
        body = templates.render(name, "en", params)
        assert is_gsm7(body), (name, [ch for ch in body if not is_gsm7(ch)])


def test_wellness_check_offers_the_menu_and_the_way_to_unsubscribe(
    templates: TemplateSet,
) -> None:
    zh = templates.render("elder_wellness_check", "zh_CN", {})
    assert all(n in zh for n in ("1", "2", "3")) and zh.endswith("回复TD退订")
    en = templates.render("elder_wellness_check", "en", {})
    assert "Reply 1" in en and "STOP" in en
    assert templates.spec("elder_wellness_check").question == "wellness"
    assert templates.spec("elder_rating_request").question == "rating"


@pytest.mark.parametrize("locale", LOCALES)
def test_crisis_reply_gives_the_hotline_and_the_emergency_numbers(
    templates: TemplateSet, locale: str
) -> None:
    body = templates.render("elder_crisis_reply", locale, {"hotline": "12356"})
    assert "12356" in body and "120" in body and "110" in body
    assert segments(body).parts == 1  # old phones show the parts of a long SMS out of order


def test_dates_are_written_the_way_each_reader_writes_them(templates: TemplateSet) -> None:
    due = {"elder_code": "K9MX3", "due": date(2025, 3, 31)}
    assert "3月31日前" in templates.render("worker_reminder", "zh_CN", due)
    assert "by Mar 31," in templates.render("worker_reminder", "en", due)
    plan = {"month": "2025-03", "count": 2, "codes": ["K9MX3", "A7K3D"]}
    assert templates.render("worker_monthly_plan", "zh_CN", plan).startswith(
        "【暖心探访】2025年3月"
    )
    assert "for March 2025:" in templates.render("worker_monthly_plan", "en", plan)
    digest = {"day": "2025-03-05", "count": 1, "codes": ["K9MX3"]}
    assert "3月5日周三" in templates.render("worker_daily_digest", "zh_CN", digest)
    assert "Wed, Mar 5" in templates.render("worker_daily_digest", "en", digest)


def test_a_utc_timestamp_is_dated_in_the_readers_time_zone(templates: TemplateSet) -> None:
    # 18:00 UTC on 31 March is already 1 April in Ningxia.
    late = {"elder_code": "K9MX3", "due": "2025-03-31T18:00:00+00:00"}
    assert "4月1日前" in templates.render("worker_reminder", "zh_CN", late, tz="Asia/Shanghai")
    assert "3月31日前" in templates.render("worker_reminder", "zh_CN", late, tz=UTC)


def test_params_survive_the_json_of_the_outbox(templates: TemplateSet) -> None:
    params = {"day": date(2025, 3, 5), "count": 3, "codes": ["K9MX3", "A7K3D", "HJ4MQ"]}
    stored = json.loads(json.dumps(params, default=str))
    for locale in LOCALES:
        assert templates.render("worker_daily_digest", locale, params) == templates.render(
            "worker_daily_digest", locale, stored
        )


def test_lists_are_joined_per_language_and_long_ones_say_there_are_more(
    templates: TemplateSet,
) -> None:
    ten = {"day": "2025-03-05", "count": 10, "codes": LONG_CODES[:10]}
    zh = templates.render("worker_daily_digest", "zh_CN", ten)
    assert "WXYWX3、WXYWX4" in zh and f"{LONG_CODES[7]}等" in zh and LONG_CODES[8] not in zh
    en = templates.render("worker_daily_digest", "en", ten)
    assert "WXYWX3, WXYWX4" in en and f"{LONG_CODES[7]} and more" in en
    none = {"count": 0, "codes": []}
    assert "（0户）：无" in templates.render("worker_list_reply", "zh_CN", none)
    assert "(0): none" in templates.render("worker_list_reply", "en", none)


def test_codes_are_shown_in_capitals(templates: TemplateSet) -> None:
    body = templates.render("worker_help_ack", "en", {"elder_code": "k9mx3", "case_id": 7})
    assert "elder K9MX3" in body


@pytest.mark.parametrize(
    ("text", "zh", "en"),
    [
        ("DONE K9MX 7", "心情7不对", "Mood 7 is not valid"),
        ("DONE A7K2", "老人编号A7K2不对", "Code A7K2 is not valid"),
        ("完成", "缺少老人编号", "code is missing"),
        ("hello", "没看懂", "could not read"),
    ],
)
def test_usage_reply_names_what_was_wrong(
    templates: TemplateSet, text: str, zh: str, en: str
) -> None:
    error = parse_worker(text)
    assert isinstance(error, UsageError)
    assert zh in templates.render("worker_usage_help", "zh_CN", error.params())
    assert en in templates.render("worker_usage_help", "en", error.params())


def test_a_value_is_shown_as_is_never_read_as_template_syntax(templates: TemplateSet) -> None:
    body = templates.render("otp_code", "en", {"otp": "{otp}", "minutes": 10})
    assert "code is {otp}. It expires in 10 minutes" in body


@pytest.mark.parametrize(
    ("name", "locale", "params", "complaint"),
    [
        ("elder_rating_thanks", "zh_CN", {}, "missing parameter(s) rating"),
        ("elder_ack", "zh_CN", {"rating": 4}, "unknown parameter(s) rating"),
        ("elder_rating_thanks", "zh_CN", {"rating": 6}, "outside 1-5"),
        ("elder_rating_thanks", "zh_CN", {"rating": "4"}, "whole number"),
        ("worker_help_ack", "en", {"elder_code": "A7K2", "case_id": 1}, "not an elder's code"),
        ("case_notify_agency", "en", {"case_id": 1, "elder_code": "K9MX", "priority": "p1"}, "p1"),
        ("worker_reminder", "en", {"elder_code": "K9MX", "due": "31/03/2025"}, "ISO date"),
        ("no_such_message", "en", {}, "unknown SMS template"),
        ("elder_ack", "fr", {}, "unsupported SMS locale"),
    ],
)
def test_a_message_that_does_not_fit_its_template_is_refused(
    templates: TemplateSet, name: str, locale: str, params: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(TemplateError, match=re.escape(complaint)):
        templates.render(name, locale, params)


# --- a broken set is refused at load time -----------------------------------------------------


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    root = tmp_path / "sms_templates"
    shutil.copytree(DEFAULT_ROOT, root)
    return root


def _append(path: Path, text: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")


def test_a_copy_of_the_shipped_set_loads(copy: Path) -> None:
    assert set(load_templates(copy).names()) == KINDS


def test_a_template_missing_in_one_language_is_refused(copy: Path) -> None:
    (copy / "en" / "elder_ack.txt").unlink()
    with pytest.raises(TemplateError, match="no text for elder_ack"):
        load_templates(copy)


def test_a_text_nobody_declared_is_refused(copy: Path) -> None:
    (copy / "zh_CN" / "elder_goodbye.txt").write_text("再见", encoding="utf-8")
    with pytest.raises(TemplateError, match="elder_goodbye not declared"):
        load_templates(copy)


def test_a_field_nobody_declared_is_refused(copy: Path) -> None:
    _append(copy / "zh_CN" / "elder_ack.txt", "{elder_name}")
    with pytest.raises(TemplateError, match=r"undeclared field.*elder_name"):
        load_templates(copy)


def test_a_declared_parameter_a_text_never_shows_is_refused(copy: Path) -> None:
    (copy / "en" / "elder_rating_thanks.txt").write_text("Thank you!", encoding="utf-8")
    with pytest.raises(TemplateError, match="never shown: rating"):
        load_templates(copy)


@pytest.mark.parametrize(
    "field", ["{rating.real}", "{rating[0]}", "{rating!r}", "{rating:>9}", "{}"]
)
def test_anything_but_a_plain_named_field_is_refused(copy: Path, field: str) -> None:
    (copy / "en" / "elder_rating_thanks.txt").write_text(f"Thanks {field}", encoding="utf-8")
    with pytest.raises(TemplateError, match="elder_rating_thanks"):
        load_templates(copy)


def test_a_choice_without_a_phrase_in_one_language_is_refused(copy: Path) -> None:
    phrases = copy / "en" / "phrases.toml"
    phrases.write_text(
        phrases.read_text(encoding="utf-8").replace('missed = "{elder_code} not seen', 'x = "'),
        encoding="utf-8",
    )
    with pytest.raises(
        TemplateError, match=re.escape("worker_checkin_ack.outcome: needs exactly done, missed")
    ):
        load_templates(copy)


def test_an_unknown_parameter_kind_is_refused(copy: Path) -> None:
    _append(copy / "templates.toml", '\n[elder_extra]\naudience = "elder"\nbudget = 1\n'
            'params.when = { kind = "datetime" }\n')  # fmt: skip
    with pytest.raises(TemplateError, match="unknown kind 'datetime'"):
        load_templates(copy)


def test_a_template_without_a_budget_is_refused(copy: Path) -> None:
    _append(copy / "templates.toml", '\n[elder_extra]\naudience = "elder"\n')
    with pytest.raises(TemplateError, match="elder_extra: budget"):
        load_templates(copy)
