"""The SMS grammar of SPEC section 8, as real phones send it: a table of messages from workers
and elders in both languages, full-width, with Chinese punctuation and without spaces, and
what each one must mean.

Elder codes here are real ones from the code alphabet (no 0/O, 1/I/L, 2/Z, 5/S, 8/B); the
SPEC's example `A7K2` is not, so it reads as a malformed code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from server.services.sms.grammar import (
    DigitReply,
    Done,
    FreeText,
    Help,
    ListVisits,
    Miss,
    OptIn,
    OptOut,
    UsageError,
    parse_elder,
    parse_opt,
    parse_worker,
)

W, E = parse_worker, parse_elder

TABLE: list[tuple[Callable[[str], Any], str, Any]] = [
    # --- workers: DONE / 完成 ---------------------------------------------------------------
    (W, "DONE K9MX 4 all good, she was cheerful", Done("K9MX", 4, "all good, she was cheerful")),
    (W, "done k9mx", Done("K9MX")),
    (W, "Done K9MX 5", Done("K9MX", 5)),
    (W, "ＤＯＮＥ　Ｋ９ＭＸ　５", Done("K9MX", 5)),
    (W, "DONE:K9MX#4", Done("K9MX", 4)),
    (W, "DONE K9MX-4", Done("K9MX", 4)),
    (W, "DONE K9MX!4 fine", Done("K9MX", 4, "fine")),
    (W, "DONE K9MX 4pm visit, son was there", Done("K9MX", None, "4pm visit, son was there")),
    (
        W,
        "DONE WX7TRE 2 son moved away, she is lonely",
        Done("WX7TRE", 2, "son moved away, she is lonely"),
    ),
    (W, "完成 A7K3 4 老人精神很好", Done("A7K3", 4, "老人精神很好")),
    (W, "完成A7K3", Done("A7K3")),
    (W, "完成A7K3，4，聊了半小时。", Done("A7K3", 4, "聊了半小时。")),
    (W, "完成：ａ７ｋ３　心情４。儿子下周回来", Done("A7K3", 4, "儿子下周回来")),
    (W, "已完成 HJ4MQ 5分 老人很开心", Done("HJ4MQ", 5, "老人很开心")),
    (W, "已探访HJ4MQ 3点到的，老人在午睡", Done("HJ4MQ", None, "3点到的，老人在午睡")),
    (W, "完成 HJ4MQ 5很好", Done("HJ4MQ", 5, "很好")),
    (W, "完成 K9MX 心情好", Done("K9MX", None, "心情好")),
    (W, "完成 老人编号K9MX 3", Done("K9MX", 3)),
    (W, "【暖心探访】完成 K9MX 4", Done("K9MX", 4)),
    (W, "\u200b完成\u200bK9MX 4\ufeff", Done("K9MX", 4)),
    # --- workers: MISS / 未见 ---------------------------------------------------------------
    (
        W,
        "MISS K9MX not home, neighbour says at daughter's",
        Miss("K9MX", "not home, neighbour says at daughter's"),
    ),
    (W, "miss k9mx", Miss("K9MX")),
    (W, "未见 A7K3 不在家，邻居说去女儿家了", Miss("A7K3", "不在家，邻居说去女儿家了")),
    (W, "未见A7K3", Miss("A7K3")),
    (W, "没见到 HJ4MQ 敲门没人应", Miss("HJ4MQ", "敲门没人应")),
    (W, "不在家 K9MX", Miss("K9MX")),
    (W, "ＭＩＳＳ：Ｋ９ＭＸ，外出", Miss("K9MX", "外出")),
    # --- workers: HELP / 求助 ---------------------------------------------------------------
    (W, "HELP K9MX roof leaking, needs repair", Help("K9MX", "roof leaking, needs repair")),
    (W, "求助 A7K3 老人家里没有暖气", Help("A7K3", "老人家里没有暖气")),
    (W, "求助A7K3老人摔倒了需要送医", Help("A7K3", "老人摔倒了需要送医")),
    (W, "help:k9mx", Help("K9MX")),
    # --- workers: LIST / 任务 ---------------------------------------------------------------
    (W, "LIST", ListVisits()),
    (W, "ｌｉｓｔ", ListVisits()),
    (W, "任务", ListVisits()),
    (W, "任务。", ListVisits()),
    (W, "查询", ListVisits()),
    (W, "我的任务", ListVisits()),
    # --- workers: what could not be read, and why -------------------------------------------
    (W, "hello", UsageError("unknown_command")),
    (W, "K9MX 4", UsageError("unknown_command")),
    (W, "我今天去看了王大爷", UsageError("unknown_command")),
    (W, "DONEK9MX", UsageError("unknown_command")),
    (W, "DONE", UsageError("missing_code")),
    (W, "完成 王大爷 4", UsageError("missing_code")),
    (W, "求助，", UsageError("missing_code")),
    (W, "DONE A7K2 4", UsageError("bad_code", "A7K2")),
    (W, "DONE K9 4", UsageError("bad_code", "K9")),
    (W, "完成K9MXABCD", UsageError("bad_code", "K9MXABCD")),
    (W, "MISS K9M0", UsageError("bad_code", "K9M0")),
    (W, "DONE K9MX 7", UsageError("bad_mood", "7")),
    (W, "完成 K9MX 0", UsageError("bad_mood", "0")),
    (W, "完成 K9MX 心情6 还行", UsageError("bad_mood", "6")),
    (W, "DONE K9MX 10", UsageError("bad_mood", "10")),
    # --- workers: opting out comes before everything ----------------------------------------
    (W, "T", OptOut("T")),
    (W, "STOP", OptOut("STOP")),
    (W, "退订", OptOut("退订")),
    (W, "start", OptIn("START")),
    # --- elders: a menu answer --------------------------------------------------------------
    (E, "1", DigitReply(1)),
    (E, "１", DigitReply(1)),
    (E, "1。", DigitReply(1)),
    (E, "1.", DigitReply(1)),
    (E, "①", DigitReply(1)),
    (E, "1️⃣", DigitReply(1)),
    (E, "（3）", DigitReply(3)),
    (E, "一", DigitReply(1)),
    (E, "二", DigitReply(2)),
    (E, "三号", DigitReply(3)),
    (E, "2号", DigitReply(2)),
    (E, "选1", DigitReply(1)),
    (E, "我选2", DigitReply(2)),
    (E, "回复3", DigitReply(3)),
    (E, "选第2项", DigitReply(2)),
    (E, "5分", DigitReply(5)),
    (E, "五星", DigitReply(5)),
    (E, "5个星", DigitReply(5)),
    (E, "No.2", DigitReply(2)),
    (E, "【暖心探访】2", DigitReply(2)),
    (E, "1，我很好，谢谢", DigitReply(1, "我很好，谢谢")),
    (E, "1我很好", DigitReply(1, "我很好")),
    (E, "2需要帮助", DigitReply(2, "需要帮助")),
    (E, "三想找人聊聊", DigitReply(3, "想找人聊聊")),
    (E, "好的，1", DigitReply(1, "好的")),
    (E, "4 thanks, she was very kind", DigitReply(4, "thanks, she was very kind")),
    (E, "ok 1", DigitReply(1, "ok")),
    # --- elders: words, kept and forwarded --------------------------------------------------
    (E, "一切都好", FreeText("一切都好")),
    (E, "我很好，谢谢关心", FreeText("我很好，谢谢关心")),
    (E, "2个孩子都不在身边", FreeText("2个孩子都不在身边")),
    (E, "3天没出门了", FreeText("3天没出门了")),
    (E, "我今年80岁了", FreeText("我今年80岁了")),
    (E, "10", FreeText("10")),
    (E, "1 2 3", FreeText("1 2 3")),
    (E, "I'm fine, thank you", FreeText("I'm fine, thank you")),
    (E, "Please don't stop coming", FreeText("Please don't stop coming")),
    (E, "T恤收到了，谢谢", FreeText("T恤收到了，谢谢")),
    (E, "不要退订", FreeText("不要退订")),
    (E, "N", FreeText("N")),
    (E, "YES", FreeText("YES")),
    # --- elders: opting out and in ----------------------------------------------------------
    (E, "TD", OptOut("TD")),
    (E, "td", OptOut("TD")),
    (E, "ＴＤ", OptOut("TD")),
    (E, "T", OptOut("T")),
    (E, "退订", OptOut("退订")),
    (E, "退订！", OptOut("退订")),
    (E, "【暖心探访】退订", OptOut("退订")),
    (E, "回复TD退订", OptOut("TD")),
    (E, "我要退订，谢谢", OptOut("退订")),
    (E, "取消", OptOut("取消")),
    (E, "Stop", OptOut("STOP")),
    (E, "STOP ALL", OptOut("STOPALL")),
    (E, "unsubscribe", OptOut("UNSUBSCRIBE")),
    (E, "opt-out", OptOut("OPTOUT")),
    (E, "END", OptOut("END")),
    (E, "quit.", OptOut("QUIT")),
    (E, "订阅", OptIn("订阅")),
    (E, "恢复订阅", OptIn("恢复订阅")),
    (E, "START", OptIn("START")),
    (E, "ｕｎｓｔｏｐ", OptIn("UNSTOP")),
]


@pytest.mark.parametrize(
    ("parse", "text", "meaning"),
    TABLE,
    ids=[f"{'worker' if p is W else 'elder'}:{t}" for p, t, _ in TABLE],
)
def test_every_message_of_the_table_means_what_its_sender_meant(
    parse: Callable[[str], Any], text: str, meaning: Any
) -> None:
    assert parse(text) == meaning


def test_opting_out_is_decided_before_any_other_reading() -> None:
    # "T" is not a command and would be a usage error; it must stop the messages instead.
    assert isinstance(parse_worker("t"), OptOut)
    assert isinstance(parse_elder("Ｔ"), OptOut)
    assert parse_opt("完成 K9MX 4") is None


@pytest.mark.parametrize(
    "sentence",
    [
        "T 4",
        "Tell my son to call",
        "stop by tomorrow?",
        "STOP K9MX",  # a worker's malformed command, not a request to stop every message
        "我不想退订",
        "退订是什么意思",
        "don't stop",
        "退订 订阅",  # both at once: neither is meant
    ],
)
def test_a_message_that_merely_contains_a_keyword_is_no_opt_out(sentence: str) -> None:
    assert parse_opt(sentence) is None


def test_a_number_typed_into_the_code_is_offered_as_the_mood_instead() -> None:
    # 完成K9MX4: code K9MX4 if such an elder exists, otherwise code K9MX with mood 4.
    done = parse_worker("完成K9MX4 很好")
    assert done == Done("K9MX4", None, "很好")
    assert isinstance(done, Done)
    assert done.alternative() == Done("K9MX", 4, "很好")
    assert Done("K9MX").alternative() is None  # no fifth symbol to split off
    assert Done("K9MX7").alternative() is None  # 7 is no mood


def test_a_note_keeps_the_words_and_punctuation_the_worker_typed() -> None:
    done = parse_worker("ＤＯＮＥ  k9mx  3  Mrs Ma: knee pain again；son visits Sundays")
    assert done == Done("K9MX", 3, "Mrs Ma: knee pain again；son visits Sundays")


def test_a_usage_error_carries_what_the_reply_template_needs() -> None:
    error = parse_worker("DONE K9MX 9")
    assert isinstance(error, UsageError)
    assert error.params() == {"problem": "bad_mood", "got": "9"}
