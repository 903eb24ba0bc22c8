"""Crisis detection against the labelled corpus: recall and false-alarm rate, overall and per
language; prints figures, asserts nothing (tests/unit/test_crisis.py asserts the targets).

    python bench/crisis_eval.py [--corpus tests/unit/crisis_corpus.tsv] [--terms FILE] [--show]

Recall is the share of crisis messages detected; the false-alarm rate is the share of other
messages detected. --show lists every miss and false alarm (the messages are sensitive in real
life; the corpus is made up).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

from server.services.crisis import CrisisTerms, detect_crisis, load_terms

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "unit" / "crisis_corpus.tsv"
LABELS = ("crisis", "none")


@dataclass(frozen=True)
class Example:
    """One labelled message of the corpus."""

    line: int
    crisis: bool
    language: str
    message: str


@dataclass(frozen=True)
class Scores:
    """Detection figures for a set of examples."""

    crisis: int
    detected: int
    other: int
    false_alarms: int

    @property
    def recall(self) -> float:
        return self.detected / self.crisis if self.crisis else 1.0

    @property
    def false_alarm_rate(self) -> float:
        return self.false_alarms / self.other if self.other else 0.0


def read_corpus(path: Path = CORPUS) -> list[Example]:
    """The corpus's examples; a malformed line raises ValueError naming it."""
    examples = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not raw.strip() or raw.startswith("#"):
            continue
        parts = raw.split("\t")
        if len(parts) != 3 or parts[0] not in LABELS or parts[1] not in ("zh", "en"):
            raise ValueError(f"{path}:{number}: expected label<TAB>zh|en<TAB>message")
        examples.append(Example(number, parts[0] == "crisis", parts[1], parts[2]))
    return examples


def score(examples: list[Example], terms: CrisisTerms | None = None) -> Scores:
    """Recall and false alarms of `detect_crisis` over `examples`."""
    fired = [detect_crisis(e.message, terms) is not None for e in examples]
    return Scores(
        crisis=sum(e.crisis for e in examples),
        detected=sum(f for e, f in zip(examples, fired, strict=True) if e.crisis),
        other=sum(not e.crisis for e in examples),
        false_alarms=sum(f for e, f in zip(examples, fired, strict=True) if not e.crisis),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--terms", type=Path, default=None)
    parser.add_argument("--show", action="store_true", help="list misses and false alarms")
    args = parser.parse_args()

    started = time.perf_counter()
    terms = load_terms(args.terms)
    loaded = time.perf_counter() - started
    examples = read_corpus(args.corpus)

    print(f"{'':8} {'messages':>8} {'crisis':>7} {'recall':>8} {'other':>6} {'false alarms':>13}")
    for name, subset in (
        ("zh", [e for e in examples if e.language == "zh"]),
        ("en", [e for e in examples if e.language == "en"]),
        ("overall", examples),
    ):
        s = score(subset, terms)
        print(
            f"{name:8} {len(subset):>8} {s.crisis:>7} {s.recall:>8.1%} {s.other:>6} "
            f"{s.false_alarm_rate:>6.1%} ({s.false_alarms})"
        )

    started = time.perf_counter()
    rounds = 20
    for _ in range(rounds):
        for e in examples:
            detect_crisis(e.message, terms)
    per_message = (time.perf_counter() - started) / (rounds * len(examples))
    print(
        f"\n{len(terms.rules)} rules, {len(terms.cues)} concept cues, "
        f"{len(terms.combinations)} combinations, {len(terms.benign)} benign entries; "
        f"loaded and checked in {loaded * 1000:.0f} ms; {per_message * 1e6:.0f} µs per message"
    )

    if args.show:
        for e in examples:
            found = detect_crisis(e.message, terms)
            if e.crisis and found is None:
                print(f"MISS        line {e.line} [{e.language}] {e.message}")
            elif not e.crisis and found is not None:
                print(
                    f"FALSE ALARM line {e.line} [{e.language}] {e.message}  ({found.rule_id}: "
                    f"{found.matched})"
                )


if __name__ == "__main__":
    main()
