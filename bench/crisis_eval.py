"""Crisis detection against the labelled corpus: recall and false-alarm rate, overall and per
language; prints figures, asserts nothing (tests/unit/test_crisis.py asserts the targets).

    python bench/crisis_eval.py [--corpus server/data/crisis_corpus.tsv] [--terms FILE] [--show]

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
from server.services.crisis_model import (
    DEFAULT_CORPUS_PATH,
    THRESHOLD,
    CrisisModel,
    Example,
    read_corpus,
)

ROOT = Path(__file__).resolve().parents[1]
CORPUS = DEFAULT_CORPUS_PATH


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


def score(
    examples: list[Example], terms: CrisisTerms | None = None, *, model: bool = True
) -> Scores:
    """Recall and false alarms of `detect_crisis` over `examples`."""
    fired = [detect_crisis(e.message, terms, model=model) is not None for e in examples]
    return _scores(examples, fired)


def _scores(examples: list[Example], fired: list[bool]) -> Scores:
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
    parser.add_argument(
        "--cross-validate", action="store_true", help="also score the model out of sample"
    )
    args = parser.parse_args()

    started = time.perf_counter()
    terms = load_terms(args.terms)
    loaded = time.perf_counter() - started
    examples = read_corpus(args.corpus)

    for title, model in (("rules and model", True), ("rules alone", False)):
        print(f"{title}:")
        fired = [detect_crisis(e.message, terms, model=model) is not None for e in examples]
        table(examples, fired)
    if args.cross_validate and args.corpus == CORPUS:
        print("rules and model, 5-fold cross-validated (the model never saw what it judges):")
        table(examples, cross_validated(examples, terms))

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


def table(examples: list[Example], fired: list[bool]) -> None:
    """Recall and false alarms per language and overall."""
    print(f"{'':8} {'messages':>8} {'crisis':>7} {'recall':>8} {'other':>6} {'false alarms':>13}")
    for name, keep in (
        ("zh", lambda e: e.language == "zh"),
        ("en", lambda e: e.language == "en"),
        ("overall", lambda e: True),
    ):
        chosen = [(e, f) for e, f in zip(examples, fired, strict=True) if keep(e)]
        s = _scores([e for e, _ in chosen], [f for _, f in chosen])
        print(
            f"{name:8} {len(chosen):>8} {s.crisis:>7} {s.recall:>8.1%} {s.other:>6} "
            f"{s.false_alarm_rate:>6.1%} ({s.false_alarms})"
        )
    print()


def cross_validated(examples: list[Example], terms: CrisisTerms, folds: int = 5) -> list[bool]:
    """Rules, then a model trained without the fold that holds the message."""
    fired = [detect_crisis(e.message, terms, model=False) is not None for e in examples]
    for fold in range(folds):
        model = CrisisModel([e for i, e in enumerate(examples) if i % folds != fold], THRESHOLD)
        for i, e in enumerate(examples):
            if i % folds == fold and not fired[i]:
                fired[i] = model.fires(e.message)
    return fired


if __name__ == "__main__":
    main()
