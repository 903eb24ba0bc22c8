"""Crisis language in Chinese and English: the labelled corpus, everyday hyperbole, messy
phone input, and a terms file that is rejected with a clear message (SPEC sections 8 and 10)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from server.services.crisis import (
    CATEGORIES,
    DEFAULT_TERMS_PATH,
    CrisisMatch,
    CrisisTermsError,
    crisis_text,
    detect_crisis,
    find_crisis,
    load_terms,
)

ROOT = Path(__file__).resolve().parents[2]


def _bench() -> ModuleType:
    # The corpus reader and the recall / false-alarm arithmetic live in the bench script, so the
    # figures it prints are the ones asserted here.
    spec = importlib.util.spec_from_file_location("crisis_eval", ROOT / "bench" / "crisis_eval.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("crisis_eval", module)
    spec.loader.exec_module(module)
    return module


BENCH = _bench()
CORPUS = BENCH.read_corpus()


# --- the corpus --------------------------------------------------------------------------------


def test_corpus_is_large_and_balanced() -> None:
    crisis = sum(e.crisis for e in CORPUS)
    assert len(CORPUS) >= 150
    assert 0.4 <= crisis / len(CORPUS) <= 0.6
    for language in ("zh", "en"):
        subset = [e for e in CORPUS if e.language == language]
        assert any(e.crisis for e in subset) and any(not e.crisis for e in subset)


@pytest.mark.parametrize(
    "example",
    CORPUS,
    ids=[f"line{e.line}-{e.language}-{'crisis' if e.crisis else 'none'}" for e in CORPUS],
)
def test_corpus_message(example: Any) -> None:
    # The rules, message by message; the model is judged in aggregate below.
    found = detect_crisis(example.message, model=False)
    if example.crisis:
        assert found is not None, f"missed crisis message: {example.message}"
    else:
        assert found is None, (
            f"false alarm on {example.message!r}: rule {found.rule_id} matched {found.matched!r}"
        )


@pytest.mark.parametrize("language", ["zh", "en", None], ids=["zh", "en", "overall"])
def test_recall_is_complete_and_false_alarms_are_rare(language: str | None) -> None:
    examples = [e for e in CORPUS if language is None or e.language == language]
    scores = BENCH.score(examples)
    assert scores.recall == 1.0
    assert scores.false_alarm_rate < 0.05


def test_out_of_sample_the_model_keeps_false_alarms_under_five_percent() -> None:
    """5-fold cross-validation: each message judged by a model that never saw it."""
    fired = BENCH.cross_validated(CORPUS, load_terms())
    scores = BENCH._scores(CORPUS, fired)
    assert scores.recall == 1.0
    assert scores.false_alarm_rate < 0.05


def test_the_model_catches_phrasings_no_rule_names_and_equals_scikit_learn() -> None:
    from server.services.crisis_model import default_model

    model = default_model()
    for text in CORPUS[:200]:
        assert model.probability(text.message) == pytest.approx(
            model.sklearn_probability(text.message), abs=1e-9
        )
    # Written after the rules, matched by none of them (a blind batch's style).
    unseen = [
        "灯枯油尽，不如早些熄了",
        "这日子过到头了，往后不用再惦记我",
        "I am so tired of waking up every morning",
    ]
    for text in unseen:
        assert detect_crisis(text, model=False) is None
        assert detect_crisis(text) is not None, text
    assert detect_crisis("3") is None and detect_crisis("１２３") is None


# --- what must not fire ------------------------------------------------------------------------

HYPERBOLE = [
    "想死你了",
    "想死你们了，快来看我",
    "可把我想死了",
    "笑死",
    "笑死我了",
    "累死了",
    "今天累死了",
    "热死了",
    "热死人了",
    "冷死了",
    "饿死了",
    "吓死我了",
    "烦死了",
    "气死我了",
    "急死人了",
    "死党",
    "他是我的死党",
    "手机死机了",
    "要死啊你",
    "他这人死心眼",
    "他死活不肯去医院",
    "今天干活累得要死",
    "热死了，算了不出门了",
    "超市跳楼价",
    "跳进黄河也洗不清",
    "不要在一棵树上吊死",
    "I'm dying to see you",
    "dying to see you",
    "you're killing me",
    "this heat is killing me",
    "killing me (laughing)",
    "I'd kill for a coffee",
    "my phone died",
    "dead tired",
    "I'm going to die of boredom",
]


@pytest.mark.parametrize("text", HYPERBOLE)
def test_everyday_hyperbole_is_not_a_crisis(text: str) -> None:
    assert detect_crisis(text) is None


@pytest.mark.parametrize(
    "text",
    [
        "药吃完了，请帮我买药",
        "降压药快没了",
        "我每天按时吃药",
        "今天是孩子的忌日，很想他",
        "I ran out of my pills, please bring more",
        "I took all my pills today as prescribed",
        # a refill of sleeping pills is a need (a judgement call, see crisis_terms.toml)
        "安眠药吃完了，能不能再开点",
        "Can I get a refill of my sleeping pills?",
        "Today is my son's anniversary, I miss him",
    ],
)
def test_needs_and_grief_without_intent_are_not_a_crisis(text: str) -> None:
    assert detect_crisis(text) is None


# --- what must fire, however it is typed -------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "我不想活了",
        "我不想活了！！！",
        "我不想活了。",
        "我，不想，活了",
        "我 不 想 活 了",
        "我不\u200b想活了",  # a zero-width space from copy and paste
        "我不想活了😭",
        "ＷＯ　ＢＵ　ＸＩＡＮＧ　ＨＵＯ　ＬＥ",
        "活著沒意思",  # traditional characters
        "我想自殺",
        "想喝農藥",
        "沒什麼牽掛了",
        "ｂｕ想活了",  # pinyin and characters mixed
        "i dont wanna be here no more",  # spoken forms spelled out
        "I WANT TO DIE",
        "Ｉ　ｗａｎｔ　ｔｏ　ｄｉｅ",
        "i want to die!!!",
        "I CANT GO ON",
        "i cant go on",
        "I can’t go on",  # a typographic apostrophe
        "I can not go on",
    ],
)
def test_full_width_punctuated_and_traditional_variants_fire(text: str) -> None:
    assert detect_crisis(text) is not None


def test_hyperbole_next_to_a_real_crisis_still_fires() -> None:
    # A benign span silences only a match it wholly covers.
    assert detect_crisis("累死了，死了算了") is not None
    assert detect_crisis("想死你了。我真想死") is not None
    assert detect_crisis("I'm dying to see you. I want to die.") is not None


def test_negation_still_fires() -> None:
    # Recall first: people in crisis often deny it in the same breath; a call costs little.
    assert detect_crisis("我不会想不开的，放心") is not None
    assert detect_crisis("don't worry, I won't do anything stupid") is not None


# --- the API -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "category", "language"),
    [
        ("我想死", "suicidal_intent", "zh"),
        ("I want to kill myself", "suicidal_intent", "en"),
        ("攒了好多安眠药", "method", "zh"),
        ("I've been saving up my sleeping pills", "method", "en"),
        ("想去陪儿子", "join_the_dead_child", "zh"),
        ("I want to join my son", "join_the_dead_child", "en"),
        ("我控制不住伤害自己", "self_harm", "zh"),
        ("I keep hurting myself", "self_harm", "en"),
        ("活着没意思", "despair", "zh"),
        ("no reason to live", "despair", "en"),
    ],
)
def test_match_names_category_rule_and_language(text: str, category: str, language: str) -> None:
    found = detect_crisis(text)
    assert isinstance(found, CrisisMatch)
    assert (found.category, found.language) == (category, language)
    assert found.rule_id.startswith(f"{language}.")
    assert found.matched


def test_matched_words_stay_out_of_repr() -> None:
    # Mental-health content must not end up in a log line by accident.
    found = detect_crisis("我不想活了")
    assert found is not None
    assert "不想活" not in repr(found)


def test_find_crisis_lists_every_rule_that_matches() -> None:
    found = find_crisis("活着没意思，攒了好多安眠药")
    assert {m.category for m in found} >= {"method", "despair"}
    assert find_crisis("我很好，谢谢") == []


@pytest.mark.parametrize("text", ["", "   ", "1", "TD", "退订", "DONE A7K2 4"])
def test_empty_and_ordinary_replies_are_not_a_crisis(text: str) -> None:
    assert detect_crisis(text) is None


def test_normalised_forms() -> None:
    text = crisis_text("Ｉ　ｃａｎ’ｔ，ＧＯ　ｏｎ。活著，沒意思\u200b")
    assert text.english == "i cannot go on 活着 没意思"
    assert text.chinese == "icantgoon活着没意思"


def test_shipped_terms_cover_every_category_in_both_languages() -> None:
    terms = load_terms()
    assert terms.path == DEFAULT_TERMS_PATH
    for category in CATEGORIES:
        assert {r.language for r in terms.rules if r.category == category} == {"zh", "en"}


def test_detect_uses_the_terms_it_is_given(tmp_path: Path) -> None:
    path = tmp_path / "terms.toml"
    path.write_text(
        'version = 1\n[[rule]]\nid = "zh.test"\ncategory = "despair"\nlanguage = "zh"\n'
        'phrases = ["黄瓜"]\n',
        encoding="utf-8",
    )
    terms = load_terms(path)
    assert detect_crisis("我想死", terms, model=False) is None
    found = detect_crisis("买黄瓜", terms)
    assert found is not None and found.rule_id == "zh.test"


# --- a bad terms file is rejected with the file, the rule and the problem ----------------------

RULE = 'version = 1\n[[rule]]\nid = "zh.bad"\ncategory = "despair"\nlanguage = "zh"\n'


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("version = 1\n[[rule]\n", ["not valid TOML"]),
        ("version = 2\n", ["version must be 1"]),
        ("version = 1\n", ["no [[rule]] entries"]),
        ("version = 1\nrules = []\n", ["unknown key(s) rules"]),
        (RULE + "patterns = ['(不想活']\n", ["rule 'zh.bad'", "(不想活", "does not compile"]),
        (RULE + "patterns = ['不想.*活']\n", ["rule 'zh.bad'", "不想.*活", "without bound"]),
        (RULE + "patterns = ['x?']\n", ["rule 'zh.bad'", "matches the empty string"]),
        (RULE + "patterns = ['%nope%']\n", ["rule 'zh.bad'", "unknown macro %nope%"]),
        (RULE + "phrases = ['自殺']\n", ["rule 'zh.bad'", "not in normalised form", "自杀"]),
        (RULE + "phrases = ['不想 活']\n", ["rule 'zh.bad'", "not in normalised form"]),
        (RULE + "phrases = []\n", ["rule 'zh.bad'", "at least one phrase or pattern"]),
        (RULE + "phrases = [1]\n", ["rule 'zh.bad'", "phrases must be a list"]),
        (RULE + "pattern = ['想死']\n", ["rule 'zh.bad'", "unknown key(s) pattern"]),
        (
            RULE + "phrases = ['想死']\nexamples = ['我很好']\n",
            ["rule 'zh.bad'", "example '我很好' is not matched"],
        ),
        (
            RULE.replace('"despair"', '"sadness"') + "phrases = ['想死']\n",
            ["rule 'zh.bad'", "category must be one of", "sadness"],
        ),
        (
            RULE.replace('"zh"', '"fr"') + "phrases = ['想死']\n",
            ["rule 'zh.bad'", "language must be one of"],
        ),
        (
            RULE + "phrases = ['想死']\n" + RULE.split("\n", 1)[1] + "phrases = ['寻死']\n",
            ["rule 'zh.bad'", "duplicate id"],
        ),
        (
            RULE.replace('id = "zh.bad"', 'id = "Bad Id"') + "phrases = ['想死']\n",
            ["rule 'Bad Id'", "needs an id"],
        ),
        (
            RULE + 'phrases = [\'想死\']\n[[benign]]\nid = "zh.ok"\nlanguage = "zh"\n'
            "phrases = ['想死你']\nexamples = ['我想死']\n",
            ["benign 'zh.ok'", "example '我想死' is still matched by rule 'zh.bad'"],
        ),
    ],
)
def test_bad_terms_are_rejected_with_file_rule_and_problem(
    tmp_path: Path, text: str, fragments: list[str]
) -> None:
    path = tmp_path / "crisis_terms.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CrisisTermsError) as raised:
        load_terms(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: ")
    for fragment in fragments:
        assert fragment in message


def test_missing_terms_file_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(CrisisTermsError, match="cannot read the file"):
        load_terms(tmp_path / "absent.toml")


# --- the concept layer: families of words that fire alone (strong) or together -----------------

CONCEPTS = """version = 1
[[rule]]
id = "zh.rule"
category = "despair"
language = "zh"
phrases = ["黄瓜"]

[[respell]]
id = "zh.ke"
language = "zh"
pattern = '克(?!服)'
to = "去"
examples = ["我克了 -> 我去了"]

[families]
farewell = "suicidal_intent"
near_time = "suicidal_intent"
method = "method"

[[cue]]
id = "zh.farewell.last"
family = "farewell"
language = "zh"
phrases = ["最后一次"]

[[cue]]
id = "zh.farewell.words"
family = "farewell"
language = "zh"
phrases = ["保重"]

[[cue]]
id = "zh.near"
family = "near_time"
language = "zh"
phrases = ["今晚"]

[[cue]]
id = "zh.method.rope"
family = "method"
language = "zh"
strong = true
patterns = ['绳子.{0,4}挂好']

[[combine]]
id = "farewell_time"
category = "suicidal_intent"
families = ["farewell", "near_time"]
examples = ["今晚最后一次"]

[[combine]]
id = "farewell_twice"
category = "suicidal_intent"
families = ["farewell", "farewell"]
"""


def _concept_terms(tmp_path: Path, text: str = CONCEPTS) -> Any:
    path = tmp_path / "terms.toml"
    path.write_text(text, encoding="utf-8")
    return load_terms(path)


def test_a_strong_cue_fires_alone_and_weak_cues_only_together(tmp_path: Path) -> None:
    terms = _concept_terms(tmp_path)
    strong = detect_crisis("绳子都挂好了", terms)
    assert strong is not None and (strong.category, strong.rule_id) == ("method", "zh.method.rope")
    assert detect_crisis("今晚吃饺子", terms) is None
    assert detect_crisis("最后一次复查", terms) is None
    together = detect_crisis("今晚是最后一次", terms)
    assert together is not None and together.rule_id == "zh.farewell_time"
    twice = detect_crisis("最后一次了 保重", terms)
    assert twice is not None and twice.rule_id == "zh.farewell_twice"


def test_one_phrase_never_counts_as_two_concepts(tmp_path: Path) -> None:
    text = CONCEPTS.replace('phrases = ["保重"]', 'phrases = ["最后一次"]', 1)
    assert detect_crisis("最后一次", _concept_terms(tmp_path, text)) is None


def test_dialect_is_respelled_before_matching(tmp_path: Path) -> None:
    terms = _concept_terms(tmp_path)
    assert terms.prepare("我克了，克服").chinese == "我去了克服"
    # the shipped respellings: 克 for 去, 莫 for 别, 要 typed for 药, pinyin between characters
    for text in ["我想克找我娃", "活着真莫意思", "wo 想 qu 找 wa 了", "i no want live more"]:
        assert detect_crisis(text) is not None, text


@pytest.mark.parametrize(
    "text",
    [
        "今晚村里唱大戏 我克看",  # a near time with no other concept
        "谢谢你们这些年照顾 你们保重身体",  # thanks and care, one cue of parting words
        "老伴入土三年了 我想他",  # someone else's death in the euphemisms of one's own
        "I bought rope for the goats today",
    ],
)
def test_concepts_alone_or_about_others_do_not_fire(text: str) -> None:
    assert detect_crisis(text) is None


@pytest.mark.parametrize(
    ("extra", "fragments"),
    [
        (
            '[[cue]]\nid = "zh.x"\nfamily = "grief"\nlanguage = "zh"\nphrases = ["想"]\n',
            ["cue 'zh.x'", "family must be one of"],
        ),
        (
            '[[combine]]\nid = "x"\ncategory = "despair"\nfamilies = ["farewell"]\n',
            ["combine 'x'", "two or more"],
        ),
        (
            '[[combine]]\nid = "y"\ncategory = "despair"\nfamilies = ["farewell", "near_time"]\n'
            'examples = ["保重"]\n',
            ["combine 'y'", "does not bring these together"],
        ),
        (
            '[[respell]]\nid = "zh.r"\nlanguage = "zh"\npattern = "莫"\nto = "别"\n'
            'examples = ["莫找我 -> 莫找我"]\n',
            ["respell 'zh.r'", "not respelled that way"],
        ),
    ],
)
def test_bad_concept_entries_are_rejected(tmp_path: Path, extra: str, fragments: list[str]) -> None:
    with pytest.raises(CrisisTermsError) as raised:
        _concept_terms(tmp_path, CONCEPTS + extra)
    for fragment in fragments:
        assert fragment in str(raised.value)
