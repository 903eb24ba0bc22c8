"""Crisis language: words of suicide, its methods, self-harm, despair, or of following the dead
child, in Chinese and English, in any message from an elder or a worker's note.

The words are data, `server/data/crisis_terms.toml`; this module normalises text, loads and
validates the terms, and matches them. Recall comes first: a false alarm sends a person to check
on the elder, a miss can cost a life. So negation does not silence a rule ("我不会想不开的" still
fires), and a benign entry (hyperbole such as 想死你了, idioms such as 跳楼价) silences a match only
when it covers the whole matched span, so "累死了，死了算了" still fires on 死了算了.

Chinese is matched on the text with every space and punctuation mark removed (Chinese has no
spaces, and 活着，没意思 is still 活着没意思); English on the text with separators as single
spaces and contractions spelled out (can't, cant and can not all read "cannot"). Dialect
forms and slips are respelled first for both layers (克 as 去, 莫 as 别, 安眠要 as 安眠药, pinyin
syllables between characters, "no want" as "do not want").

Two layers, either of which opens a case. The rules are precise phrases and patterns. The
concepts generalise: each cue belongs to a family (DEATH, FINALITY, REUNION, METHOD, BURDEN,
HOPELESS, NEAR_TIME, ...); a strong cue fires alone, weaker ones fire when the families of a
[[combine]] entry all occur in one message (a farewell and a near time, a method and an intent).
Benign entries silence cues exactly as they silence rules.
"""

from __future__ import annotations

import importlib
import os
import re
import tomllib
from bisect import bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from itertools import accumulate
from pathlib import Path
from typing import Any

from server.services.sms.normalize import normalize

DEFAULT_TERMS_PATH = Path(__file__).resolve().parent.parent / "data" / "crisis_terms.toml"

# In the order of the terms file's sections; the file's rule order is the match priority.
CATEGORIES = ("suicidal_intent", "method", "join_the_dead_child", "self_harm", "despair")
LANGUAGES = ("zh", "en")

_RULE_KEYS = frozenset({"id", "category", "language", "phrases", "patterns", "examples", "note"})
_BENIGN_KEYS = frozenset({"id", "language", "phrases", "patterns", "examples", "note"})
_TOP_KEYS = frozenset(
    {"version", "macros", "rule", "benign", "respell", "families", "cue", "combine"}
)
_RESPELL_KEYS = frozenset({"id", "language", "pattern", "to", "examples", "note"})
_CUE_KEYS = frozenset(
    {"id", "family", "language", "strong", "phrases", "patterns", "examples", "note"}
)
_COMBINE_KEYS = frozenset({"id", "category", "families", "examples", "note"})


class CrisisTermsError(ValueError):
    """The crisis terms file cannot be used; the message names the file, the entry and why."""


@dataclass(frozen=True)
class CrisisMatch:
    """A message that reads as a crisis: which kind, which rule, in which language."""

    category: str
    rule_id: str
    language: str
    # The normalised words that matched. Mental-health content: keep it out of logs and SMS.
    matched: str = field(default="", repr=False)


@dataclass(frozen=True)
class CrisisRule:
    """Words of one kind of crisis in one language, compiled."""

    id: str
    category: str
    language: str
    regexes: tuple[re.Pattern[str], ...]


@dataclass(frozen=True)
class BenignRule:
    """Everyday uses of crisis words (hyperbole, idioms, ordinary needs) that silence a match
    lying wholly inside them."""

    id: str
    language: str
    regexes: tuple[re.Pattern[str], ...]


@dataclass(frozen=True)
class Respelling:
    """A dialect form or a typing slip rewritten before matching (克 as 去, 安眠要 as 安眠药)."""

    id: str
    language: str
    regex: re.Pattern[str]
    to: str


@dataclass(frozen=True)
class ConceptCue:
    """Words that signal one concept family in one language; a strong cue is a crisis alone."""

    id: str
    family: str
    language: str
    strong: bool
    regexes: tuple[re.Pattern[str], ...]


@dataclass(frozen=True)
class Combination:
    """Concept families that together make a crisis (a family named twice needs two cues)."""

    id: str
    category: str
    families: tuple[str, ...]


@dataclass(frozen=True)
class CrisisTerms:
    """A validated terms file."""

    path: Path
    rules: tuple[CrisisRule, ...]
    benign: tuple[BenignRule, ...]
    respellings: tuple[Respelling, ...] = ()
    # family -> the category a strong cue of that family reports
    families: tuple[tuple[str, str], ...] = ()
    cues: tuple[ConceptCue, ...] = ()
    combinations: tuple[Combination, ...] = ()

    @cached_property
    def _prefilter(self) -> _Prefilter:
        return _Prefilter((*self.rules, *self.cues))

    @cached_property
    def benign_prefilter(self) -> _Prefilter:
        """The benign entries that may match a message (see `possible_entries`)."""
        return _Prefilter(self.benign)

    def possible_entries(self, prepared: CrisisText) -> dict[int, tuple[re.Pattern[str], ...]]:
        """The positions (rules first, then cues) of the entries that may match `prepared`,
        each with those of its regexes that may. Every other regex cannot: its matches start
        with one or two characters the message does not have, or hold a character the message
        does not have at all."""
        return self._prefilter.possible(prepared)

    def category_of(self, family: str) -> str:
        """The category a strong cue of `family` reports."""
        return dict(self.families)[family]

    def prepare(self, text: str) -> CrisisText:
        """`crisis_text`, then this file's respellings of dialect forms and slips."""
        prepared = crisis_text(text)
        if not self.respellings:
            return prepared
        english, chinese = prepared.english, prepared.chinese
        for respelling in self.respellings:
            if respelling.language == "zh":
                chinese = respelling.regex.sub(respelling.to, chinese)
            else:
                english = respelling.regex.sub(respelling.to, english)
        return CrisisText(english=english, chinese=chinese)


# --- normalising -------------------------------------------------------------------------------
# On top of SPEC section 8's `normalize` (shared with the SMS parser): case-folding, the
# traditional characters of crisis words, spelled-out English contractions and the spaceless
# Chinese form.

# Traditional characters of the words in the terms file, so 自殺, 農藥 and 活著沒意思 match.
# Not a converter: only characters that crisis words use (著 becomes 着 everywhere, harmlessly).
_TRADITIONAL = str.maketrans(
    "殺藥農樓結輕頭沒著麼麽還讓個這說難過邊裡裏開無撐對與會見隨兒們覺絕斷橋車爺帶來後從於盡縊喪墳遺書"
    "準備點氣嗎獨條繩腦煩嚇熱餓凍機黨該夠膩閻給間陰脈劃傷殘錢動飯當樣種兩歲媽孫離陽臺頂塊層軌臥淚憂鬱"
    "喚託夢圖義絲鬆萬寫養醫願趕劑攢謝別靜淨乾幹脫勁壓敵滅強燒爐湯悶麵聽時為盤歡殼裝燈價賣減產樹鬧"
    "牽掛贅團閨輩囑棄堅誰東終應經門關緊進庫壩懸話勸樑擾寧閉嚴縫廢餘負擔連",
    "杀药农楼结轻头没着么么还让个这说难过边里里开无撑对与会见随儿们觉绝断桥车爷带来后从于尽缢丧坟遗书"
    "准备点气吗独条绳脑烦吓热饿冻机党该够腻阎给间阴脉划伤残钱动饭当样种两岁妈孙离阳台顶块层轨卧泪忧郁"
    "唤托梦图义丝松万写养医愿赶剂攒谢别静净干干脱劲压敌灭强烧炉汤闷面听时为盘欢壳装灯价卖减产树闹"
    "牵挂赘团闺辈嘱弃坚谁东终应经门关紧进库坝悬话劝梁扰宁闭严缝废余负担连",
)

# Contractions spelled out, whether typed with an apostrophe (a separator, so a space by now),
# without one, or apart: "can't", "cant" and "can not" all become "cannot".
_CONTRACTIONS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        (r"\bcan ?t\b|\bcan not\b", "cannot"),
        (r"\bwon ?t\b", "will not"),
        (
            r"\b(do|does|did|is|are|was|were|would|could|should|have|has|had|must|need|ai)n ?t\b",
            r"\1 not",
        ),
        (r"\bi ?m\b", "i am"),
        # spoken forms, so "i dont wanna be here" reads "i do not want to be here"
        (r"\bwanna\b", "want to"),
        (r"\bgonna\b", "going to"),
        (r"\bgotta\b", "got to"),
        (r"\b(i|you|we|they) ?ve\b", r"\1 have"),
        (r"\b(i|you|we|they|he|she|it|that|there) ll\b", r"\1 will"),
        (r"\b(i|you|we|they|he|she) d\b", r"\1 would"),
        (r"\b(you|we|they) re\b", r"\1 are"),
        (
            r"\b(what|that|it|there|he|she|who|where|life|everything) s\b|\b(what|that)s\b",
            r"\1\2 is",
        ),
    )
)


@dataclass(frozen=True)
class CrisisText:
    """A message in the two forms that rules are matched on."""

    english: str
    chinese: str

    def form(self, language: str) -> str:
        """The form a rule of `language` is matched on."""
        return self.chinese if language == "zh" else self.english


@lru_cache(maxsize=1024)  # the rules and the classifier both read the same message
def crisis_text(text: str) -> CrisisText:
    """Normalise a message for matching: NFKC (full-width to ASCII), invisible characters
    removed, punctuation of any script as separators, case-folded, traditional characters of
    crisis words simplified; English with contractions spelled out, Chinese without spaces."""
    spaced = normalize(text).casefold().translate(_TRADITIONAL)
    english = spaced
    for pattern, replacement in _CONTRACTIONS:
        english = pattern.sub(replacement, english)
    return CrisisText(english=english, chinese=spaced.replace(" ", ""))


# --- matching ----------------------------------------------------------------------------------


class _BenignSpans:
    """Where the benign entries matched in one form of a message, sorted so that "does a
    benign span cover this match?" costs a bisection, however long the message."""

    def __init__(
        self, terms: CrisisTerms, form: str, language: str, *, prefilter: bool = True
    ) -> None:
        regexes = (
            [
                regex
                for found in terms.benign_prefilter.possible_in(form, language).values()
                for regex in found
            ]
            if prefilter
            else [regex for entry in terms.benign if entry.language == language
                  for regex in entry.regexes]
        )  # fmt: skip
        spans = sorted(match.span() for regex in regexes for match in regex.finditer(form))
        self.starts = [start for start, _ in spans]
        # reach[i]: the furthest end among the first i + 1 spans
        self.reach = list(accumulate((end for _, end in spans), max))

    def cover(self, start: int, end: int) -> bool:
        """True when some benign span starts at or before `start` and ends at or after `end`."""
        i = bisect_right(self.starts, start)
        return i > 0 and self.reach[i - 1] >= end


def _first_match(
    rule: CrisisRule | ConceptCue,
    form: str,
    benign: _BenignSpans,
    regexes: tuple[re.Pattern[str], ...] | None = None,
) -> re.Match[str] | None:
    """The first match of the rule's regexes (or of `regexes`, those of them that may match)
    that no benign span covers."""
    for regex in rule.regexes if regexes is None else regexes:
        pos = 0
        while (match := regex.search(form, pos)) is not None:
            start, end = match.span()
            if end > start and not benign.cover(start, end):
                return match
            # Silenced (or empty): look again from the next character, so an overlapping or
            # later occurrence still counts ("想死你了。我真想死").
            pos = start + 1
    return None


class _Prefilter:
    """Which rules and cues a message can match, and with which of their regexes, told from
    its characters alone.

    Per language, a bit mask of entries per one or two characters a match can start with (and
    of entries that may start anywhere); per regex, its start strings and the characters every
    match of it contains. A message of 15 characters then costs a few dictionary look-ups and
    set tests instead of ~700 regex searches (most messages match nothing)."""

    def __init__(self, entries: tuple[CrisisRule | ConceptCue | BenignRule, ...]) -> None:
        # one- and two-character start strings -> entries
        self.by_start: dict[str, dict[str, int]] = {language: {} for language in LANGUAGES}
        self.anywhere: dict[str, int] = dict.fromkeys(LANGUAGES, 0)
        # per entry, per regex: (regex, its start strings or None, its required characters)
        self.checks: list[tuple[tuple[re.Pattern[str], frozenset[str] | None, frozenset[str]], ...]]
        self.checks = []
        for position, entry in enumerate(entries):
            bit = 1 << position
            starts = [start_strings(regex) for regex in entry.regexes]
            self.checks.append(
                tuple(
                    (regex, found, required_chars(regex))
                    for regex, found in zip(entry.regexes, starts, strict=True)
                )
            )
            if any(found is None for found in starts):
                self.anywhere[entry.language] |= bit
                continue
            index = self.by_start[entry.language]
            for found in starts:
                for start in found or ():
                    index[start] = index.get(start, 0) | bit

    def possible(self, prepared: CrisisText) -> dict[int, tuple[re.Pattern[str], ...]]:
        found: dict[int, tuple[re.Pattern[str], ...]] = {}
        for language in LANGUAGES:
            found.update(self.possible_in(prepared.form(language), language))
        return found

    def possible_in(self, form: str, language: str) -> dict[int, tuple[re.Pattern[str], ...]]:
        """The entries of `language` that may match `form`, in order, each with the regexes
        of it that may."""
        found: dict[int, tuple[re.Pattern[str], ...]] = {}
        present = frozenset(form)
        starts_here = present | {form[i : i + 2] for i in range(len(form) - 1)}
        index = self.by_start[language]
        mask = self.anywhere[language]
        for start in starts_here:
            mask |= index.get(start, 0)
        while mask:
            low = mask & -mask
            position = low.bit_length() - 1
            mask ^= low
            regexes = tuple(
                regex
                for regex, starts, needed in self.checks[position]
                if needed <= present and (starts is None or not starts.isdisjoint(starts_here))
            )
            if regexes:
                found[position] = regexes
        return found


def required_chars(regex: re.Pattern[str]) -> frozenset[str]:
    """Characters every match of `regex` contains (a safe under-estimate: empty when that
    cannot be told)."""
    try:
        parser = importlib.import_module("re._parser")
        return frozenset(_sequence_required(list(parser.parse(regex.pattern, regex.flags))))
    except Exception:  # an unexpected construct, another Python: require nothing
        return frozenset()


def _sequence_required(items: list[tuple[Any, Any]]) -> set[str]:
    sre = importlib.import_module("re._constants")
    required: set[str] = set()
    for op, arg in items:
        if op is sre.LITERAL:
            required.add(chr(arg))
        elif op is sre.IN and len(arg) == 1 and arg[0][0] is sre.LITERAL:
            required.add(chr(arg[0][1]))
        elif op is sre.SUBPATTERN:
            required |= _sequence_required(list(arg[3]))
        elif op is sre.BRANCH:
            branches = [_sequence_required(list(branch)) for branch in arg[1]]
            required |= set.intersection(*branches) if branches else set()
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT) and arg[0] >= 1:
            required |= _sequence_required(list(arg[2]))
        # anything else (classes, anchors, look-arounds, optional parts) requires nothing
    return required


def start_strings(regex: re.Pattern[str], length: int = 2) -> frozenset[str] | None:
    """What a non-empty match of `regex` can start with: strings of `length` characters, or
    shorter ones (a match that short, or a start after which the pattern is too open to
    follow, such as .{0,6}); read off the parsed pattern. None when not even the first
    character can be told (a dot, a negated or wide class, \\w, a pattern that may match
    nothing)."""
    try:
        parser = importlib.import_module("re._parser")  # what `re` itself parses with
        items = list(parser.parse(regex.pattern, regex.flags))
        starts = _prefixes(items, length, importlib.import_module("re._constants"))
    except Exception:  # an unexpected construct, another Python: never skip the regex
        return None
    if starts is None or "" in starts:
        return None
    return frozenset(starts)


def first_chars(regex: re.Pattern[str]) -> frozenset[str] | None:
    """The characters a non-empty match of `regex` can start with (None: any)."""
    starts = start_strings(regex, 1)
    return None if starts is None else frozenset(start[0] for start in starts)


# Ranges wider than this are "anything" (a whole script), not worth a set; past this many
# start strings a pattern is treated as open.
_NARROW_RANGE = 256
_MAX_STARTS = 4096


def _prefixes(items: list[tuple[Any, Any]], length: int, sre: Any) -> set[str] | None:
    """The start strings of a parsed sequence (see `start_strings`); "" when it may match
    nothing at all; None when even its first character is open."""
    done: set[str] = set()  # complete to `length`, or cut short where the pattern opens up
    open_: set[str] = {""}  # shorter than `length` and still going
    for op, arg in items:
        if not open_:
            break
        parts = _item_prefixes(op, arg, length, sre)
        if parts is None:  # from here on anything may follow: keep what is known so far
            done |= open_
            open_ = set()
            break
        grown = {(start + part)[:length] for start in open_ for part in parts}
        if len(grown) > _MAX_STARTS:
            return None
        done |= {start for start in grown if len(start) == length}
        open_ = {start for start in grown if len(start) < length}
    result = done | open_
    return None if "" in done else result


def _item_prefixes(op: Any, arg: Any, length: int, sre: Any) -> set[str] | None:
    if op is sre.LITERAL:
        return {chr(arg)}
    if op is sre.IN:
        chars: set[str] = set()
        for kind, value in arg:
            if kind is sre.LITERAL:
                chars.add(chr(value))
            elif kind is sre.RANGE and value[1] - value[0] < _NARROW_RANGE:
                chars.update(map(chr, range(value[0], value[1] + 1)))
            else:  # NEGATE, CATEGORY (\\w, \\d), a wide range
                return None
        return chars
    if op in (sre.AT, sre.ASSERT, sre.ASSERT_NOT):
        return {""}  # zero-width: the match goes on with what follows
    if op is sre.SUBPATTERN:
        return _prefixes(list(arg[3]), length, sre)
    if op is sre.BRANCH:
        union: set[str] = set()
        for branch in arg[1]:
            part = _prefixes(list(branch), length, sre)
            if part is None:
                return None
            union |= part
        return union
    if op in (sre.MAX_REPEAT, sre.MIN_REPEAT, getattr(sre, "POSSESSIVE_REPEAT", None)):
        low, high, item = arg
        part = _prefixes(list(item), length, sre)
        if part is None:
            return None
        found: set[str] = {""} if low == 0 else set()
        current = {""}
        for count in range(1, min(high, length) + 1):
            current = {(start + more)[:length] for start in current for more in part}
            if count >= low:
                found |= current
        if low > length:
            found = current
        return found
    return None


def _rule_match(
    rule: CrisisRule | ConceptCue,
    form: str,
    benign: _BenignSpans,
    regexes: tuple[re.Pattern[str], ...] | None = None,
) -> str | None:
    match = _first_match(rule, form, benign, regexes)
    return None if match is None else match.group()


def _matches(text: str, terms: CrisisTerms, *, prefilter: bool = True) -> Iterator[CrisisMatch]:
    """Every rule match, then every concept match, in the terms file's order. With `prefilter`,
    rules that cannot match (by the characters their matches start with) are not tried: most
    messages hold none of the words, and trying ~700 regexes one by one is most of the cost."""
    prepared = terms.prepare(text)
    spans: dict[str, _BenignSpans] = {}
    possible = terms.possible_entries(prepared) if prefilter else None

    def benign(language: str) -> _BenignSpans:
        if language not in spans:
            spans[language] = _BenignSpans(
                terms, prepared.form(language), language, prefilter=prefilter
            )
        return spans[language]

    for position, rule in enumerate(terms.rules):
        regexes = None if possible is None else possible.get(position)
        if possible is not None and regexes is None:
            continue
        form = prepared.form(rule.language)
        matched = _rule_match(rule, form, benign(rule.language), regexes)
        if matched is not None:
            yield CrisisMatch(rule.category, rule.id, rule.language, matched)
    first_cue = len(terms.rules)
    yield from _concept_matches(
        prepared,
        terms,
        benign,
        None
        if possible is None
        else {p - first_cue: regexes for p, regexes in possible.items() if p >= first_cue},
    )


def _concept_matches(
    prepared: CrisisText,
    terms: CrisisTerms,
    benign: Callable[[str], _BenignSpans],
    possible: dict[int, tuple[re.Pattern[str], ...]] | None,
) -> Iterator[CrisisMatch]:
    # per language, family -> the matches of its cues, one per cue; a cue whose words overlap
    # those of an earlier cue of the same family adds nothing (寿衣 is one cue, not two)
    found: dict[str, dict[str, list[re.Match[str]]]] = {language: {} for language in LANGUAGES}
    for position, cue in enumerate(terms.cues):
        regexes = None if possible is None else possible.get(position)
        if possible is not None and regexes is None:
            continue
        match = _first_match(cue, prepared.form(cue.language), benign(cue.language), regexes)
        if match is None:
            continue
        if cue.strong:
            yield CrisisMatch(terms.category_of(cue.family), cue.id, cue.language, match.group())
        earlier = found[cue.language].setdefault(cue.family, [])
        if all(match.end() <= m.start() or m.end() <= match.start() for m in earlier):
            earlier.append(match)
    for language, families in found.items():
        if not families:
            continue
        for combination in terms.combinations:
            chosen = _together(combination.families, families)
            if chosen is not None:
                words = " + ".join(match.group() for match in chosen)
                yield CrisisMatch(
                    combination.category, f"{language}.{combination.id}", language, words
                )


def _together(
    wanted: tuple[str, ...], families: dict[str, list[re.Match[str]]]
) -> list[re.Match[str]] | None:
    """One match per family named (twice named, two), none overlapping another, so that one
    phrase never counts as two concepts (河边 as a place and a scouted place); None if none."""
    chosen: list[re.Match[str]] = []
    for family in wanted:
        for match in families.get(family, ()):
            if all(match.end() <= c.start() or c.end() <= match.start() for c in chosen):
                chosen.append(match)
                break
        else:
            return None
    return chosen


def detect_crisis(
    text: str, terms: CrisisTerms | None = None, *, model: bool = True
) -> CrisisMatch | None:
    """The first crisis rule, in the terms file's order, that `text` matches; else, with
    `model`, the classifier's verdict (`crisis_model`); None if neither fires."""
    if not text or not text.strip():
        return None
    found = next(_matches(text, terms or default_terms()), None)
    if found is None and model:
        found = _model_match(text)
    return found


def find_crisis(
    text: str, terms: CrisisTerms | None = None, *, model: bool = True
) -> list[CrisisMatch]:
    """Every crisis rule that `text` matches, in the terms file's order; the classifier's
    verdict when no rule fires and `model`."""
    if not text or not text.strip():
        return []
    found = list(_matches(text, terms or default_terms()))
    if not found and model:
        verdict = _model_match(text)
        found = [verdict] if verdict is not None else []
    return found


MODEL_RULE_ID = "model.char_ngrams"
_WORDS = re.compile(r"[A-Za-z\u3400-\u9fff\uff21-\uff3a\uff41-\uff5a]")


def _model_match(text: str) -> CrisisMatch | None:
    from server.services.crisis_model import default_model

    if not _WORDS.search(text):  # digits and punctuation only: a menu answer, nothing to read
        return None
    if not default_model().fires(text):
        return None
    language = "zh" if re.search(r"[\u3400-\u9fff]", text) else "en"
    return CrisisMatch("despair", MODEL_RULE_ID, language)


# --- loading -----------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def default_terms() -> CrisisTerms:
    """The shipped terms, loaded and validated once."""
    return load_terms()


def load_terms(path: str | os.PathLike[str] | None = None) -> CrisisTerms:
    """Read and validate a terms file (the shipped one by default).

    Raises CrisisTermsError naming the file, the rule and the problem: bad TOML, an unknown key,
    category or language, a duplicate id, a pattern that does not compile, matches the empty
    string or repeats without bound, a phrase that normalisation would never produce, or an
    example that its rule does not match (or, for a benign entry, that some rule still matches).
    """
    source = Path(path) if path is not None else DEFAULT_TERMS_PATH
    try:
        raw = tomllib.loads(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CrisisTermsError(f"{source}: cannot read the file: {exc.strerror}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CrisisTermsError(f"{source}: not valid TOML: {exc}") from exc
    return _Loader(source).build(raw)


class _Loader:
    def __init__(self, source: Path) -> None:
        self.source = source
        self.macros: dict[str, str] = {}
        self.respellings: tuple[Respelling, ...] = ()

    def fail(self, where: str, problem: str) -> CrisisTermsError:
        return CrisisTermsError(f"{self.source}: {where}: {problem}")

    def build(self, raw: dict[str, Any]) -> CrisisTerms:
        unknown = sorted(set(raw) - _TOP_KEYS)
        if unknown:
            raise self.fail("top level", f"unknown key(s) {', '.join(unknown)}")
        if raw.get("version") != 1:
            raise self.fail("top level", f"version must be 1, not {raw.get('version')!r}")
        self.macros = self.read_macros(raw.get("macros", {}))
        rule_tables = self.tables(raw, "rule")
        benign_tables = self.tables(raw, "benign")
        cue_tables = self.tables(raw, "cue")
        combine_tables = self.tables(raw, "combine")
        if not rule_tables:
            raise self.fail("top level", "no [[rule]] entries")
        seen: set[str] = set()
        self.respellings = tuple(
            self.respelling(table, n, seen)
            for n, table in enumerate(self.tables(raw, "respell"), 1)
        )
        families = self.read_families(raw.get("families", {}))
        rules = [self.rule(table, n, seen) for n, table in enumerate(rule_tables, 1)]
        benign = [self.benign(table, n, seen) for n, table in enumerate(benign_tables, 1)]
        cues = [self.cue(table, n, seen, families) for n, table in enumerate(cue_tables, 1)]
        combinations = [
            self.combination(table, n, seen, families) for n, table in enumerate(combine_tables, 1)
        ]
        terms = CrisisTerms(
            self.source,
            tuple(rules),
            tuple(benign),
            self.respellings,
            tuple(families.items()),
            tuple(cues),
            tuple(combinations),
        )
        self.check_examples(terms, rule_tables, benign_tables)
        self.check_concept_examples(terms, cue_tables, combine_tables)
        return terms

    def read_families(self, families: Any) -> dict[str, str]:
        if not isinstance(families, dict):
            raise self.fail("families", "must be a table of family = category")
        for name, category in families.items():
            if not re.fullmatch(r"[a-z_]+", name) or category not in CATEGORIES:
                raise self.fail(
                    f"family {name!r}",
                    f"needs a lower-case name and a category ({', '.join(CATEGORIES)})",
                )
        return dict(families)

    def respelling(self, table: dict[str, Any], n: int, seen: set[str]) -> Respelling:
        rule_id, language = self.header(table, n, "respell", _RESPELL_KEYS, seen)
        where = f"respell {rule_id!r}"
        pattern, to = table.get("pattern"), table.get("to")
        if not isinstance(pattern, str) or not pattern or not isinstance(to, str):
            raise self.fail(where, "needs a pattern (regex) and a replacement `to`")
        regex = self.pattern(pattern, where)
        for example in self.strings(table, "examples", where):
            before, _, after = example.partition(" -> ")
            if regex.sub(to, crisis_text(before).form(language)) != after:
                raise self.fail(where, f"example {example!r} is not respelled that way")
        return Respelling(rule_id, language, regex, to)

    def cue(
        self, table: dict[str, Any], n: int, seen: set[str], families: dict[str, str]
    ) -> ConceptCue:
        rule_id, language = self.header(table, n, "cue", _CUE_KEYS, seen)
        where = f"cue {rule_id!r}"
        family = table.get("family")
        if family not in families:
            raise self.fail(where, f"family must be one of [families], not {family!r}")
        strong = table.get("strong", False)
        if not isinstance(strong, bool):
            raise self.fail(where, "strong must be true or false")
        return ConceptCue(rule_id, family, language, strong, self.regexes(table, where, language))

    def combination(
        self, table: dict[str, Any], n: int, seen: set[str], families: dict[str, str]
    ) -> Combination:
        rule_id = table.get("id")
        where = f"combine {rule_id!r}" if isinstance(rule_id, str) and rule_id else f"combine #{n}"
        if not isinstance(rule_id, str) or not re.fullmatch(r"[a-z0-9_.]+", rule_id):
            raise self.fail(where, "needs an id of lower-case letters, digits, '.' and '_'")
        unknown = sorted(set(table) - _COMBINE_KEYS)
        if unknown:
            raise self.fail(where, f"unknown key(s) {', '.join(unknown)}")
        if rule_id in seen:
            raise self.fail(where, "duplicate id")
        seen.add(rule_id)
        category = table.get("category")
        if category not in CATEGORIES:
            raise self.fail(where, f"category must be one of {', '.join(CATEGORIES)}")
        named = self.strings(table, "families", where)
        if len(named) < 2 or any(family not in families for family in named):
            raise self.fail(where, "families must name two or more of [families]")
        return Combination(rule_id, category, tuple(named))

    def check_concept_examples(
        self,
        terms: CrisisTerms,
        cue_tables: list[dict[str, Any]],
        combine_tables: list[dict[str, Any]],
    ) -> None:
        for cue, table in zip(terms.cues, cue_tables, strict=True):
            where = f"cue {cue.id!r}"
            for example in self.strings(table, "examples", where):
                prepared = terms.prepare(example).form(cue.language)
                spans = _BenignSpans(terms, prepared, cue.language)
                if _rule_match(cue, prepared, spans) is None:
                    raise self.fail(where, f"example {example!r} is not matched by the cue")
        for combination, table in zip(terms.combinations, combine_tables, strict=True):
            where = f"combine {combination.id!r}"
            for example in self.strings(table, "examples", where):
                ids = {m.rule_id.split(".", 1)[1] for m in _matches(example, terms)}
                if combination.id not in ids:
                    raise self.fail(where, f"example {example!r} does not bring these together")

    def tables(self, raw: dict[str, Any], key: str) -> list[dict[str, Any]]:
        tables = raw.get(key, [])
        if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
            raise self.fail("top level", f"{key} must be an array of tables ([[{key}]])")
        return tables

    def read_macros(self, macros: Any) -> dict[str, str]:
        if not isinstance(macros, dict):
            raise self.fail("macros", "must be a table of name = regex")
        for name, value in macros.items():
            if not re.fullmatch(r"[a-z_]+", name) or not isinstance(value, str) or not value:
                raise self.fail(f"macro {name!r}", "needs a lower-case name and a regex string")
        return dict(macros)

    def header(
        self, table: dict[str, Any], n: int, kind: str, keys: frozenset[str], seen: set[str]
    ) -> tuple[str, str]:
        rule_id = table.get("id")
        where = f"{kind} {rule_id!r}" if isinstance(rule_id, str) and rule_id else f"{kind} #{n}"
        if not isinstance(rule_id, str) or not re.fullmatch(r"[a-z0-9_.]+", rule_id):
            raise self.fail(where, "needs an id of lower-case letters, digits, '.' and '_'")
        unknown = sorted(set(table) - keys)
        if unknown:
            raise self.fail(where, f"unknown key(s) {', '.join(unknown)}")
        if rule_id in seen:
            raise self.fail(where, "duplicate id")
        seen.add(rule_id)
        language = table.get("language")
        if language not in LANGUAGES:
            raise self.fail(
                where, f"language must be one of {', '.join(LANGUAGES)}, not {language!r}"
            )
        return rule_id, language

    def rule(self, table: dict[str, Any], n: int, seen: set[str]) -> CrisisRule:
        rule_id, language = self.header(table, n, "rule", _RULE_KEYS, seen)
        category = table.get("category")
        if category not in CATEGORIES:
            raise self.fail(
                f"rule {rule_id!r}",
                f"category must be one of {', '.join(CATEGORIES)}, not {category!r}",
            )
        return CrisisRule(
            rule_id, category, language, self.regexes(table, f"rule {rule_id!r}", language)
        )

    def benign(self, table: dict[str, Any], n: int, seen: set[str]) -> BenignRule:
        rule_id, language = self.header(table, n, "benign", _BENIGN_KEYS, seen)
        return BenignRule(rule_id, language, self.regexes(table, f"benign {rule_id!r}", language))

    def strings(self, table: dict[str, Any], key: str, where: str) -> list[str]:
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.fail(where, f"{key} must be a list of non-empty strings")
        return value

    def regexes(
        self, table: dict[str, Any], where: str, language: str
    ) -> tuple[re.Pattern[str], ...]:
        phrases = self.strings(table, "phrases", where)
        patterns = self.strings(table, "patterns", where)
        if not phrases and not patterns:
            raise self.fail(where, "needs at least one phrase or pattern")
        compiled = [self.phrase(phrase, where, language) for phrase in phrases]
        compiled += [self.pattern(pattern, where) for pattern in patterns]
        return tuple(compiled)

    def phrase(self, phrase: str, where: str, language: str) -> re.Pattern[str]:
        normal = crisis_text(phrase).form(language)
        for respelling in self.respellings:
            if respelling.language == language:
                normal = respelling.regex.sub(respelling.to, normal)
        if normal != phrase:
            raise self.fail(
                where,
                f"phrase {phrase!r} is not in normalised form and would "
                f"never match; write {normal!r}",
            )
        body = re.escape(phrase)
        if language == "en":
            # Whole words: "die" must not fire inside "diet".
            body = (r"\b" if phrase[0].isalnum() else "") + body
            body += r"\b" if phrase[-1].isalnum() else ""
        return re.compile(body)

    def pattern(self, pattern: str, where: str) -> re.Pattern[str]:
        def expand(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in self.macros:
                raise self.fail(where, f"pattern '{pattern}' uses unknown macro %{name}%")
            return f"(?:{self.macros[name]})"

        expanded = pattern
        for _ in range(4):  # macros may use macros, a few levels deep
            expanded = re.sub(r"%([a-z_]+)%", expand, expanded)
        if "%" in expanded and re.search(r"%[a-z_]+%", expanded):
            raise self.fail(where, f"pattern '{pattern}' nests macros too deeply")
        if _unbounded(expanded):
            raise self.fail(
                where,
                f"pattern '{pattern}' repeats without bound (*, + or {{n,}}); "
                "use a bounded gap such as .{0,6}",
            )
        try:
            regex = re.compile(expanded)
        except re.error as exc:
            raise self.fail(where, f"pattern '{pattern}' does not compile: {exc}") from exc
        if regex.search("") is not None:
            raise self.fail(where, f"pattern '{pattern}' matches the empty string")
        return regex

    def check_examples(
        self,
        terms: CrisisTerms,
        rule_tables: list[dict[str, Any]],
        benign_tables: list[dict[str, Any]],
    ) -> None:
        for rule, table in zip(terms.rules, rule_tables, strict=True):
            where = f"rule {rule.id!r}"
            for example in self.strings(table, "examples", where):
                prepared = terms.prepare(example).form(rule.language)
                spans = _BenignSpans(terms, prepared, rule.language)
                if _rule_match(rule, prepared, spans) is None:
                    raise self.fail(where, f"example {example!r} is not matched by the rule")
        for entry, table in zip(terms.benign, benign_tables, strict=True):
            where = f"benign {entry.id!r}"
            for example in self.strings(table, "examples", where):
                found = next(_matches(example, terms), None)
                if found is not None:
                    raise self.fail(
                        where, f"example {example!r} is still matched by rule {found.rule_id!r}"
                    )


_ESCAPED = re.compile(r"\\.")
_CLASS = re.compile(r"\[\^?\]?[^\]]*\]")
_UNBOUNDED = re.compile(r"[*+]|\{\d*,\}")


def _unbounded(pattern: str) -> bool:
    """True when a pattern repeats without bound: gaps must be bounded so that a match stays
    local to a phrase (and no message can make matching slow)."""
    plain = _CLASS.sub("c", _ESCAPED.sub("e", pattern))
    return _UNBOUNDED.search(plain) is not None
