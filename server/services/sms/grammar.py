"""What an inbound SMS says (SPEC section 8): opt-out and opt-in first, then the worker's
commands or the elder's menu reply. Pure: text in, a typed result out.

Chinese is written without spaces, so nothing here splits a message into words: commands and
keywords are matched at the start of the text or as whole runs of one script, menu answers as
a leading number. The meaning of an elder's number (fine / help / talk, or a rating) is the
caller's, from the last question that elder was sent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from server.services.codes import is_valid_code
from server.services.sms.normalize import (
    is_latin,
    is_separator,
    normalize,
    normalize_tidied,
    tidy,
    upper_latin,
)

# --- opting out and in ------------------------------------------------------------------

# Twilio's own opt-out words (a message that is exactly one of them makes Twilio refuse every
# later message to that phone, error 21610), so our state agrees with it; and TD and T, the
# Chinese carriers' convention.
LATIN_STOP = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE", "TD", "T"}
)
LATIN_START = frozenset({"START", "UNSTOP"})
# The Chinese convention (回复TD退订); 取消 and 退出 are how people say it unprompted.
CJK_STOP = ("取消订阅", "退订", "取消", "退出")
CJK_START = ("重新订阅", "恢复订阅", "订阅", "开通", "恢复")
# Polite words around a keyword that do not change it: 我要退订, 请退订谢谢, 回复TD退订.
CJK_FILLER = ("回复", "我要", "我想", "帮我", "麻烦", "请", "要", "谢谢", "了", "吧", "啊", "呀")
# Not here on purpose: N, NO and YES (answers, not requests: Twilio's YES opt-in would pull a
# conversation into a re-subscription), HELP/INFO (workers' command), 0000 (a China Mobile
# code for value-added services, not for a sender's own messages).

_MULTIWORD = {"STOP ALL": "STOPALL", "OPT OUT": "OPTOUT", "UN SUBSCRIBE": "UNSUBSCRIBE"}
_MULTIWORD_PATTERNS = tuple(
    (re.compile(rf"\b{spaced}\b"), word) for spaced, word in _MULTIWORD.items()
)
# A leading or trailing 【signature】 copied from our own message.
_BRACKETED = r"[【〖\[][^】〗\]\d]{1,16}[】〗\]]"
_SIGNATURE = re.compile(rf"^\s*{_BRACKETED}|{_BRACKETED}\s*$")


@dataclass(frozen=True)
class OptOut:
    """Stop automated messages to this phone (visits go on)."""

    keyword: str


@dataclass(frozen=True)
class OptIn:
    """Resume automated messages to this phone."""

    keyword: str


def strip_signature(text: str) -> str:
    """`text` without a 【signature】 at its start or end, as when someone replies by quoting;
    a message that is nothing but a bracketed word (【退订】) keeps it."""
    return _strip_signature(text)[0]


def _strip_signature(text: str) -> tuple[str, str, str]:
    """`strip_signature(text)`, its `tidy` and its `normalize` form, each computed once."""
    stripped = _SIGNATURE.sub(" ", _SIGNATURE.sub(" ", text)).strip()
    tidied = tidy(stripped)
    norm = normalize_tidied(tidied)
    if norm:
        return stripped, tidied, norm
    tidied = tidy(text)
    return text, tidied, normalize_tidied(tidied)


@dataclass(frozen=True)
class Prepared:
    """A message read once for every parser: without a quoted signature, tidied and
    normalised. The parsers take the text itself or this."""

    text: str  # as received
    tidied: str  # tidy(strip_signature(text))
    norm: str  # normalize(strip_signature(text))


def prepare(text: str | Prepared) -> Prepared:
    """`text` made ready for `parse_opt`, `parse_worker` and `parse_elder`."""
    if isinstance(text, Prepared):
        return text
    _, tidied, norm = _strip_signature(text)
    return Prepared(text, tidied, norm)


def _runs(token: str) -> list[str]:
    """A token cut where it changes between Latin (letters, digits) and other scripts."""
    return [m.group() for m in re.finditer(r"[A-Z0-9]+|[^A-Z0-9]+", token)]


def _cjk_words(run: str, keywords: tuple[str, ...]) -> list[str] | None:
    """The keywords a run is made of, fillers dropped; None when anything else is in it."""
    found: list[str] = []
    pos = 0
    while pos < len(run):
        word = next((w for w in keywords if run.startswith(w, pos)), None)
        if word is not None:
            found.append(word)
        else:
            word = next((w for w in CJK_FILLER if run.startswith(w, pos)), None)
            if word is None:
                return None
        pos += len(word)
    return found


def parse_opt(text: str | Prepared) -> OptOut | OptIn | None:
    """OptOut or OptIn when the whole message is such a keyword (TD, T, 退订, STOP, START,
    订阅, ...), allowing case, full-width forms, punctuation, a quoted signature and polite
    words; None for anything longer, such as a sentence that merely contains `T`."""
    norm = prepare(text).norm
    for pattern, word in _MULTIWORD_PATTERNS:
        norm = pattern.sub(word, norm)
    runs = [run for token in norm.split() for run in _runs(token)]
    for latin, cjk, result in ((LATIN_STOP, CJK_STOP, OptOut), (LATIN_START, CJK_START, OptIn)):
        keywords: list[str] = []
        for run in runs:
            if run[0].isascii():
                if run not in latin:
                    break
                keywords.append(run)
            else:
                words = _cjk_words(run, cjk)
                if words is None:
                    break
                keywords.extend(words)
        else:
            if keywords:
                return result(keywords[0])
    return None


# --- a scanner over tidied text -----------------------------------------------------------


class _Scanner:
    """A cursor over tidied text; matching is case-insensitive, the text is kept as typed."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.upper = upper_latin(text)
        self.pos = 0

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def peek(self, offset: int = 0) -> str:
        i = self.pos + offset
        return self.text[i] if i < len(self.text) else ""

    def skip_separators(self) -> bool:
        start = self.pos
        while not self.at_end() and is_separator(self.text[self.pos]):
            self.pos += 1
        return self.pos > start

    def take_word(self, words: tuple[str, ...]) -> str | None:
        """The first of `words` (longest first) that the text continues with. A Latin word
        must end there (DONE, not DONEX); a Chinese one may run into what follows (完成K9MX)."""
        for word in words:
            end = self.pos + len(word)
            if self.upper.startswith(word, self.pos):
                if word[-1].isascii() and end < len(self.text) and is_latin(self.text[end]):
                    continue
                self.pos = end
                return word
        return None

    def take_latin(self) -> str:
        """The run of ASCII letters and digits here (a code or a number)."""
        start = self.pos
        while not self.at_end() and is_latin(self.text[self.pos]):
            self.pos += 1
        return self.text[start : self.pos]

    def rest(self) -> str:
        """What is left, without the separators that lead into it."""
        self.skip_separators()
        return self.text[self.pos :].strip()


def _longest_first(*groups: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(sorted({w for g in groups for w in g}, key=len, reverse=True))


# --- the worker's commands ----------------------------------------------------------------

Command = Literal["DONE", "MISS", "HELP", "LIST"]
COMMANDS: dict[Command, tuple[str, ...]] = {
    "DONE": ("DONE", "完成", "完成了", "已完成", "探访完成", "已探访", "已访", "已访视"),
    "MISS": ("MISS", "未见", "未见到", "没见", "没见到", "不在家"),
    "HELP": ("HELP", "求助", "帮助"),
    "LIST": ("LIST", "任务", "列表", "查询", "任务列表", "我的任务"),
}
_COMMAND_OF = {word: cmd for cmd, words in COMMANDS.items() for word in words}
_COMMAND_WORDS = _longest_first(*COMMANDS.values())
# Words some people put before the code: 完成 老人编号K9MX.
_CODE_LABELS = _longest_first(("老人编号", "编号", "老人", "CODE"))
_MOOD_LABELS = _longest_first(("心情", "MOOD"))
# A number followed by one of these is an amount (3点, 2次, 10分钟), so part of the note.
_UNITS = frozenset("点时号日月年天次岁个位人块元斤周")

UsageProblem = Literal[
    "unknown_command", "missing_code", "bad_code", "bad_mood", "unknown_code", "no_open_visit"
]


@dataclass(frozen=True)
class Done:
    """`DONE CODE [mood] [note]`: the visit to that elder happened."""

    code: str
    mood: int | None = None
    note: str = ""

    def alternative(self) -> Done | None:
        """The other reading of a code typed with its mood and no space (完成K9MX4 may be
        code K9MX, mood 4), for the caller to try when `code` names no elder."""
        head, last = self.code[:-1], self.code[-1]
        if self.mood is None and last in "12345" and is_valid_code(head):
            return Done(head, int(last), self.note)
        return None


@dataclass(frozen=True)
class Miss:
    """`MISS CODE [reason]`: attempted, the elder not seen; the visit stays open."""

    code: str
    reason: str = ""


@dataclass(frozen=True)
class Help:
    """`HELP CODE [text]`: the worker asks for help with that elder."""

    code: str
    text: str = ""


@dataclass(frozen=True)
class ListVisits:
    """`LIST`: the worker asks for their open visits this month."""


@dataclass(frozen=True)
class UsageError:
    """A worker's message that could not be read; `problem` says what to fix and `got` is
    the offending part (a code or a number), both for the `worker_usage_help` reply.

    Returned, not raised: a badly typed SMS is an ordinary input. `unknown_code` and
    `no_open_visit` are for the caller, which knows the worker's elders and visits."""

    problem: UsageProblem
    got: str = ""

    def params(self) -> dict[str, str]:
        """The parameters of the `worker_usage_help` template."""
        return {"problem": self.problem, "got": self.got}


WorkerMessage = Done | Miss | Help | ListVisits | UsageError | OptOut | OptIn


def _mood(scan: _Scanner) -> int | UsageError | None:
    """The optional mood after a code; the scanner is left at the note."""
    start = scan.pos
    scan.skip_separators()
    labelled = scan.take_word(_MOOD_LABELS) is not None
    if labelled:
        scan.skip_separators()
    digits_at = scan.pos
    digits = scan.take_latin()
    after = scan.peek()
    if not digits.isdigit():
        scan.pos = start  # 心情好, ALL GOOD: words, part of the note
        return None
    if not after or is_separator(after):
        if len(digits) == 1 and 1 <= int(digits) <= 5:
            return int(digits)
        return UsageError("bad_mood", digits)
    # 4分 is a score of 4; 3点, 10分钟, 2次 start the note.
    if len(digits) == 1 and 1 <= int(digits) <= 5:
        if after == "分" and scan.peek(1) != "钟":
            scan.pos += 1
            return int(digits)
        if after not in _UNITS:
            return int(digits)
    if labelled:
        return UsageError("bad_mood", digits)
    scan.pos = digits_at
    return None


def parse_worker(text: str | Prepared) -> WorkerMessage:
    """What a worker's SMS asks for: OptOut/OptIn, Done, Miss, Help, ListVisits, or a
    UsageError naming what was wrong (unknown command, missing or malformed code, mood not
    1-5). Accepts full-width text, Chinese punctuation, no spaces after a Chinese command
    (完成K9MX4), and `#`, `-`, `!`, `:` between the parts (DONE:K9MX#4)."""
    prepared = prepare(text)
    opt = parse_opt(prepared)
    if opt is not None:
        return opt
    scan = _Scanner(prepared.tidied)
    scan.skip_separators()
    word = scan.take_word(_COMMAND_WORDS)
    if word is None:
        return UsageError("unknown_command")
    command = _COMMAND_OF[word]
    if command == "LIST":
        return ListVisits()
    scan.skip_separators()
    if scan.take_word(_CODE_LABELS):
        scan.skip_separators()
    code = scan.take_latin().upper()
    if not code:
        return UsageError("missing_code")
    if not is_valid_code(code):
        return UsageError("bad_code", code)
    if command == "DONE":
        mood = _mood(scan)
        if isinstance(mood, UsageError):
            return mood
        return Done(code, mood, scan.rest())
    if command == "MISS":
        return Miss(code, scan.rest())
    return Help(code, scan.rest())


# --- the elder's replies ------------------------------------------------------------------

_NUMERALS = {
    **{str(n): n for n in range(10)},
    **dict(zip("〇一二三四五六七八九", range(10), strict=True)),
    **dict(zip("零壹贰叁肆伍陆柒捌玖", range(10), strict=True)),
}
# 选2, 我选2, 回复2, 选第2项, 答1: words before a menu number.
_CHOICE_PREFIXES = _longest_first(
    ("我选择", "我选", "选择", "选", "我回复", "回复", "答案", "答", "第", "OPTION", "NO")
)
# 2号, 5分, 5星, 第1项: words after it.
_CHOICE_SUFFIXES = _longest_first(("号", "分", "星", "项", "个星"))
# An answer that runs straight into words, as Chinese does: 1我很好, 2需要帮忙, 3想聊聊.
_REPLY_WORDS = _longest_first(
    ("我", "很好", "好", "挺好", "还好", "都好", "一切", "需要", "想", "谢谢", "没事", "不错"),
    ("满意", "非常", "感谢", "希望"),
)


@dataclass(frozen=True)
class DigitReply:
    """A menu answer `n` (0-9), with whatever the elder wrote beside it."""

    n: int
    text: str = ""


@dataclass(frozen=True)
class FreeText:
    """Anything else an elder writes: kept and forwarded to the primary contact."""

    text: str


ElderMessage = DigitReply | FreeText | OptOut | OptIn


def _leading_number(scan: _Scanner) -> DigitReply | None:
    for _ in range(3):
        if scan.take_word(_CHOICE_PREFIXES) is None:
            break
        scan.skip_separators()
    n = _NUMERALS.get(scan.peek())
    if n is None or scan.peek(1) in _NUMERALS:
        return None
    scan.pos += 1
    scan.take_word(_CHOICE_SUFFIXES)
    after = scan.peek()
    if after and not is_separator(after) and not scan.upper.startswith(_REPLY_WORDS, scan.pos):
        return None  # 2个孩子, 3天, 一切都好, 1ST: a number inside words, not an answer
    rest = scan.rest()
    if normalize(rest).split(" ")[0] in _NUMERALS:
        return None  # 1 2 3: several answers, none of them meant
    return DigitReply(n, rest)


def parse_elder(text: str | Prepared) -> ElderMessage:
    """What an elder's SMS says: OptOut/OptIn, a DigitReply for a menu answer (1, １, 1.,
    ①, 一, 1号, 选1, 我选2, 5分, 2需要帮助, 好的，1), or FreeText for anything else."""
    prepared = prepare(text)
    opt = parse_opt(prepared)
    if opt is not None:
        return opt
    tidied = prepared.tidied
    scan = _Scanner(tidied)
    scan.skip_separators()
    reply = _leading_number(scan)
    if reply is not None:
        return reply
    # 好的，1 / thanks 5: a lone number at the very end, after a separator.
    tokens = normalize(tidied).split()
    numbers = [t for t in tokens if any(ch.isdigit() for ch in t)]
    if len(tokens) >= 2 and numbers == tokens[-1:] and len(tokens[-1]) == 1:
        end = tidied.rstrip()
        while end and is_separator(end[-1]):
            end = end[:-1]
        comment = end[:-1].rstrip()
        while comment and is_separator(comment[-1]):
            comment = comment[:-1]
        return DigitReply(int(tokens[-1]), comment.strip())
    return FreeText(tidied)
