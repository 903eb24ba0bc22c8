"""The escalation rules file (SPEC section 10): TOML, validated when loaded, conditions as
data. A bad rule raises RulesError naming the file, the rule and the problem."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from server.services.escalation import Route
from server.vocab import (
    CASE_KINDS,
    CASE_PRIORITIES,
    CASE_TRIGGERS,
    NEEDS,
    OUTCOMES,
    ROUTE_TARGETS,
)

DEFAULT_RULES_PATH = Path(__file__).resolve().parents[1] / "data" / "rules.toml"
_DURATION = re.compile(r"^(\d+)\s*(m|h|d)$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}
RULE_KEYS = {
    "name", "trigger", "when", "action", "kind", "priority", "route_to", "ack_within",
    "escalate_to", "visit_within",
}  # fmt: skip


class RulesError(ValueError):
    """A rules file that cannot be used."""


def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _list_of(allowed: tuple[Any, ...]) -> Any:
    def check(v: Any) -> str | None:
        if not isinstance(v, list) or not v:
            return "must be a non-empty list"
        bad = [x for x in v if x not in allowed]
        return f"unknown values {bad}; allowed: {list(allowed)}" if bad else None

    return check


def _range(lo: int, hi: int) -> Any:
    def check(v: Any) -> str | None:
        return None if _int(v) and lo <= v <= hi else f"must be a whole number {lo}-{hi}"

    return check


# Each condition: its validator, and the test it makes on a signal's facts.
CONDITIONS: dict[str, tuple[Any, Any]] = {
    "crisis_words": (
        lambda v: None if isinstance(v, bool) else "must be true or false",
        lambda v, f: bool(f.get("crisis_words")) == v,
    ),
    "mood_at_most": (
        _range(1, 5),
        lambda v, f: f.get("mood") is not None and f["mood"] <= v,
    ),
    "phq2_at_least": (
        _range(0, 6),
        lambda v, f: f.get("phq2") is not None and f["phq2"] >= v,
    ),
    "needs_any": (_list_of(NEEDS), lambda v, f: bool(set(v) & set(f.get("needs") or ()))),
    "outcome_in": (_list_of(OUTCOMES), lambda v, f: f.get("outcome") in v),
    "question": (
        lambda v: None if v in ("wellness", "rating") else "must be wellness or rating",
        lambda v, f: f.get("question") == v,
    ),
    "answer_in": (_list_of((1, 2, 3, 4, 5)), lambda v, f: f.get("answer") in v),
    "missed_in_a_row_at_least": (
        _range(1, 12),
        lambda v, f: (f.get("missed_in_a_row") or 0) >= v,
    ),
    "unanswered_in_a_row_at_least": (
        _range(1, 12),
        lambda v, f: (f.get("unanswered_in_a_row") or 0) >= v,
    ),
    "recipient": (
        lambda v: None if v in ("elder", "worker") else "must be elder or worker",
        lambda v, f: f.get("recipient") == v,
    ),
}


@dataclass(frozen=True)
class Rule:
    """One validated rule."""

    name: str
    triggers: tuple[str, ...]
    when: Mapping[str, Any]
    action: str
    route: Route | None = None
    visit_within: timedelta | None = None

    def matches(self, trigger: str, facts: Mapping[str, Any]) -> bool:
        """True when this rule applies to a signal of `trigger` with these facts."""
        if trigger not in self.triggers:
            return False
        return all(CONDITIONS[key][1](value, facts) for key, value in self.when.items())


@dataclass(frozen=True)
class RuleSet:
    """The rules in file order."""

    rules: tuple[Rule, ...]
    source: str = ""
    by_kind: dict[str, Route] = field(default_factory=dict)

    def matching(self, trigger: str, facts: Mapping[str, Any]) -> list[Rule]:
        """Every rule that applies, in file order."""
        return [rule for rule in self.rules if rule.matches(trigger, facts)]

    def route_for_kind(self, kind: str) -> Route | None:
        """The first case rule of `kind` (its escalation settings apply to such a case)."""
        return self.by_kind.get(kind)


def parse_duration(text: Any) -> timedelta:
    """`30m`, `1h`, `48h`, `3d`."""
    match = _DURATION.match(str(text).strip()) if isinstance(text, str) else None
    if not match or int(match.group(1)) <= 0:
        raise ValueError(f"{text!r} is not a duration like 30m, 1h, 48h or 3d")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def load_rules(path: str | Path | None = None) -> RuleSet:
    """Read and validate a rules file (the shipped one by default)."""
    source = Path(path) if path else DEFAULT_RULES_PATH
    try:
        data = tomllib.loads(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RulesError(f"{source}: cannot read the rules file: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"{source}: not valid TOML: {exc}") from exc
    raw_rules = data.get("rule")
    if not isinstance(raw_rules, list) or not raw_rules:
        raise RulesError(f"{source}: no [[rule]] entries")
    unknown_top = set(data) - {"rule"}
    if unknown_top:
        raise RulesError(f"{source}: unknown top-level keys {sorted(unknown_top)}")
    rules: list[Rule] = []
    names: set[str] = set()
    for index, raw in enumerate(raw_rules, start=1):
        name = raw.get("name") if isinstance(raw, dict) else None
        label = f"{source}: rule {name or f'#{index}'}"
        if not isinstance(raw, dict):
            raise RulesError(f"{label}: must be a table")
        try:
            rule = _rule(raw)
        except ValueError as exc:
            raise RulesError(f"{label}: {exc}") from exc
        if rule.name in names:
            raise RulesError(f"{label}: the name is used twice")
        names.add(rule.name)
        rules.append(rule)
    by_kind: dict[str, Route] = {}
    for rule in rules:
        if rule.route is not None:
            by_kind.setdefault(rule.route.kind, rule.route)
    return RuleSet(tuple(rules), str(source), by_kind)


def _rule(raw: dict[str, Any]) -> Rule:
    unknown = set(raw) - RULE_KEYS
    if unknown:
        raise ValueError(f"unknown keys {sorted(unknown)}")
    name = raw.get("name")
    if not isinstance(name, str) or not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", name):
        raise ValueError("name must be lower_case_words")
    trigger = raw.get("trigger")
    triggers = tuple(trigger) if isinstance(trigger, list) else (trigger,)
    if not triggers or any(t not in CASE_TRIGGERS for t in triggers):
        raise ValueError(f"trigger must be one or more of {list(CASE_TRIGGERS)}")
    when = raw.get("when", {})
    if not isinstance(when, dict):
        raise ValueError("when must be a table of conditions")
    for key, value in when.items():
        if key not in CONDITIONS:
            raise ValueError(f"unknown condition {key!r}; known: {sorted(CONDITIONS)}")
        problem = CONDITIONS[key][0](value)
        if problem:
            raise ValueError(f"condition {key}: {problem}")
    action = raw.get("action", "case")
    if action == "extra_visit":
        extra = set(raw) & {"kind", "priority", "route_to", "ack_within", "escalate_to"}
        if extra:
            raise ValueError(f"an extra_visit rule takes no {sorted(extra)}")
        try:
            within = parse_duration(raw.get("visit_within", "3d"))
        except ValueError as exc:
            raise ValueError(f"visit_within: {exc}") from exc
        return Rule(name, triggers, dict(when), action, visit_within=within)
    if action != "case":
        raise ValueError("action must be case or extra_visit")
    kind = raw.get("kind")
    if kind not in CASE_KINDS:
        raise ValueError(f"kind must be one of {list(CASE_KINDS)}")
    priority = raw.get("priority", "normal")
    if priority not in CASE_PRIORITIES:
        raise ValueError(f"priority must be one of {list(CASE_PRIORITIES)}")
    route_to = raw.get("route_to")
    problem = _list_of(ROUTE_TARGETS)(route_to)
    if problem:
        raise ValueError(f"route_to {problem}")
    try:
        ack_within = parse_duration(raw.get("ack_within"))
    except ValueError as exc:
        raise ValueError(f"ack_within: {exc}") from exc
    escalate_to = raw.get("escalate_to", "supervisor")
    if escalate_to not in ("supervisor", "none"):
        raise ValueError("escalate_to must be supervisor or none")
    route = Route(
        rule=name,
        kind=kind,
        priority=priority,
        notify=tuple(route_to or ()),
        ack_within=ack_within,
        escalate_to=None if escalate_to == "none" else escalate_to,
    )
    return Rule(name, triggers, dict(when), action, route=route)
