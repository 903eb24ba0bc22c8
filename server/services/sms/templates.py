"""SMS templates: one text file per message kind and locale under `sms_templates/`, declared
with their parameters and segment budget in `sms_templates/templates.toml`.

A message stays a template name plus parameters until the moment it is sent (a mainland
provider sends only pre-approved templates, so the pair is what it needs); `render` makes the
text for a backend that wants one. Every inconsistency between the declaration, the texts and
the phrase files is an error when the set is loaded, not when a message goes out.

The syntax is str.format's named fields and nothing more: `{name}`, and `{{`/`}}` for braces.
No attribute or index access, conversion or format spec is accepted, and values are substituted
by this module, never by `str.format`, so a template cannot reach into an object.
"""

from __future__ import annotations

import string
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from pathlib import Path
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_skeleton

from server.services.codes import is_valid_code
from server.vocab import LOCALES

DEFAULT_ROOT = Path(__file__).resolve().parents[3] / "sms_templates"
DEFAULT_SIGNATURE = "【暖心探访】"
# Where the signature goes: SPEC section 8, zh_CN replies start with TANFANG_SMS_SIGNATURE.
SIGNED_LOCALES = frozenset({"zh_CN"})

AUDIENCES = frozenset({"worker", "elder", "contact", "agency", "supervisor", "anyone"})
QUESTIONS = frozenset({"wellness", "rating"})
# Each kind of parameter and the options its declaration takes (required, optional).
KINDS: Mapping[str, tuple[frozenset[str], frozenset[str]]] = MappingProxyType(
    {
        "text": (frozenset({"max", "longest"}), frozenset()),
        "int": (frozenset({"min", "max"}), frozenset()),
        "date": (frozenset({"format"}), frozenset()),
        "code": (frozenset(), frozenset()),
        "codes": (frozenset({"max_items"}), frozenset()),
        "choice": (frozenset({"choices"}), frozenset()),
    }
)
FORMAT_PHRASES = frozenset({"ellipsis", "list_separator", "list_empty", "list_more"})


class TemplateError(ValueError):
    """A template set that does not hold together, or a message that does not fit its
    template (unknown name or locale, a missing, extra or out-of-range parameter)."""


@dataclass(frozen=True)
class ParamSpec:
    """One declared parameter: its kind and the options of that kind."""

    name: str
    kind: str
    options: Mapping[str, Any]

    @property
    def max(self) -> int:
        """The longest text, the largest number."""
        return int(self.options["max"])


@dataclass(frozen=True)
class TemplateSpec:
    """What templates.toml says about one message kind."""

    name: str
    audience: str
    budget: int
    params: Mapping[str, ParamSpec]
    question: str | None = None
    description: str = ""


@dataclass(frozen=True)
class _Text:
    """One locale's text of a template, split into literals and field names."""

    pieces: tuple[tuple[str, str | None], ...]

    @property
    def fields(self) -> frozenset[str]:
        return frozenset(f for _, f in self.pieces if f is not None)

    def fill(self, values: Mapping[str, str]) -> str:
        return "".join(lit + (values[f] if f is not None else "") for lit, f in self.pieces)


def _parse_text(source: str, where: str) -> _Text:
    pieces: list[tuple[str, str | None]] = []
    try:
        parsed = list(string.Formatter().parse(source))
    except ValueError as exc:
        raise TemplateError(f"{where}: {exc}") from exc
    for literal, name, spec, conversion in parsed:
        if name is None:
            pieces.append((literal, None))
            continue
        if not name.isidentifier() or spec or conversion:
            raise TemplateError(
                f"{where}: only plain named fields like {{name}} are allowed, not {name!r} "
                f"with conversion {conversion!r} and format {spec!r}"
            )
        pieces.append((literal, name))
    return _Text(tuple(pieces))


@dataclass(frozen=True)
class _Locale:
    texts: Mapping[str, _Text]
    formats: Mapping[str, str]
    # template -> param -> choice -> phrase
    choices: Mapping[str, Mapping[str, Mapping[str, _Text]]]


@dataclass(frozen=True)
class TemplateSet:
    """Every template in every supported locale, checked against its declaration."""

    specs: Mapping[str, TemplateSpec]
    locales: Mapping[str, _Locale] = field(repr=False)

    def names(self) -> list[str]:
        """The message kinds, sorted."""
        return sorted(self.specs)

    def spec(self, name: str) -> TemplateSpec:
        """The declaration of `name`: audience, segment budget, parameters, question asked."""
        try:
            return self.specs[name]
        except KeyError:
            raise TemplateError(f"unknown SMS template {name!r}") from None

    def render(
        self,
        name: str,
        locale: str,
        params: Mapping[str, Any],
        *,
        signature: str = DEFAULT_SIGNATURE,
        tz: tzinfo | str | None = None,
    ) -> str:
        """The text of message `name` in `locale` with `params` (JSON values are fine: dates
        as ISO strings). zh_CN texts start with `signature`; dates are formatted by Babel for
        the reader's locale, a timestamp first converted to `tz`; a text longer than declared is
        cut with an ellipsis, and a list longer than declared shows its first items and says
        there are more."""
        spec = self.spec(name)
        loc = self.locales.get(locale)
        if loc is None:
            raise TemplateError(f"unsupported SMS locale {locale!r}; one of {', '.join(LOCALES)}")
        missing = sorted(set(spec.params) - set(params))
        extra = sorted(set(params) - set(spec.params))
        if missing or extra:
            raise TemplateError(
                f"{name}: "
                + "; ".join(
                    part
                    for part in (
                        f"missing parameter(s) {', '.join(missing)}" if missing else "",
                        f"unknown parameter(s) {', '.join(extra)}" if extra else "",
                    )
                    if part
                )
            )
        zone = ZoneInfo(tz) if isinstance(tz, str) else tz
        values = {
            p.name: _format_value(p, params[p.name], locale, loc, zone, name)
            for p in spec.params.values()
            if p.kind != "choice"
        }
        for p in spec.params.values():
            if p.kind == "choice":
                phrase = loc.choices[name][p.name].get(str(params[p.name]))
                if phrase is None:
                    raise TemplateError(
                        f"{name}: {p.name}={params[p.name]!r} is not one of "
                        f"{', '.join(p.options['choices'])}"
                    )
                values[p.name] = phrase.fill(values)
        body = loc.texts[name].fill(values)
        return signature + body if locale in SIGNED_LOCALES else body


def _format_value(
    p: ParamSpec, value: Any, locale: str, loc: _Locale, tz: tzinfo | None, name: str
) -> str:
    where = f"{name}: {p.name}"
    if p.kind == "text":
        if not isinstance(value, str):
            raise TemplateError(f"{where} must be text, not {type(value).__name__}")
        return _clip(" ".join(value.split()), p.max, loc.formats["ellipsis"])
    if p.kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise TemplateError(f"{where} must be a whole number, not {value!r}")
        if not p.options["min"] <= value <= p.options["max"]:
            raise TemplateError(f"{where}={value} is outside {p.options['min']}-{p.options['max']}")
        return str(value)
    if p.kind == "date":
        return format_skeleton(p.options["format"], _as_date(value, tz, where), locale=locale)
    if p.kind == "code":
        return _code(value, where)
    if p.kind == "codes":
        if isinstance(value, str) or not isinstance(value, Iterable):
            raise TemplateError(f"{where} must be a list of codes, not {value!r}")
        codes = [_code(v, where) for v in value]
        if not codes:
            return loc.formats["list_empty"]
        shown = loc.formats["list_separator"].join(codes[: p.options["max_items"]])
        return shown + loc.formats["list_more"] if len(codes) > p.options["max_items"] else shown
    raise TemplateError(f"{where}: unknown kind {p.kind!r}")  # pragma: no cover - checked at load


def _clip(text: str, limit: int, ellipsis: str) -> str:
    if len(text) <= limit:
        return text
    return text[: max(limit - len(ellipsis), 0)] + ellipsis


def _code(value: Any, where: str) -> str:
    if not isinstance(value, str) or not is_valid_code(value):
        raise TemplateError(f"{where}: {value!r} is not an elder's code")
    return value.upper()


def _as_date(value: Any, tz: tzinfo | None, where: str) -> date:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value) if "T" in value or " " in value else value
            if isinstance(value, str):
                value = date.fromisoformat(value if len(value) > 7 else value + "-01")
        except ValueError:
            raise TemplateError(f"{where}: {value!r} is not an ISO date") from None
    if isinstance(value, datetime):
        if value.tzinfo is not None and tz is not None:
            value = value.astimezone(tz)
        return value.date()
    if isinstance(value, date):
        return value
    raise TemplateError(f"{where} must be a date, not {value!r}")


# --- loading ------------------------------------------------------------------------------


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise TemplateError(f"{path}: missing") from None
    except tomllib.TOMLDecodeError as exc:
        raise TemplateError(f"{path}: {exc}") from exc


def _param(template: str, name: str, decl: Any) -> ParamSpec:
    where = f"templates.toml: {template}.params.{name}"
    if not isinstance(decl, dict) or "kind" not in decl:
        raise TemplateError(f"{where}: needs a kind ({', '.join(KINDS)})")
    options = {k: v for k, v in decl.items() if k != "kind"}
    kind = decl["kind"]
    if kind not in KINDS:
        raise TemplateError(f"{where}: unknown kind {kind!r}; one of {', '.join(KINDS)}")
    required, optional = KINDS[kind]
    if missing := sorted(required - set(options)):
        raise TemplateError(f"{where}: {kind} needs {', '.join(missing)}")
    if unknown := sorted(set(options) - required - optional):
        raise TemplateError(f"{where}: unknown option(s) {', '.join(unknown)}")
    if kind == "text":
        longest = options["longest"]
        if not isinstance(longest, list) or not all(isinstance(s, str) for s in longest):
            raise TemplateError(f"{where}: longest must be a list of realistic longest values")
    numbers = [k for k in ("max", "min", "max_items") if k in options]
    if not all(isinstance(options[k], int) and not isinstance(options[k], bool) for k in numbers):
        raise TemplateError(f"{where}: {', '.join(numbers)} must be whole numbers")
    if kind == "int" and options["min"] > options["max"]:
        raise TemplateError(f"{where}: min is above max")
    if any(options[k] < 1 for k in ("max", "max_items") if k in options and kind != "int"):
        raise TemplateError(f"{where}: the limit must be at least 1")
    if kind == "date":
        try:
            format_skeleton(str(options["format"]), date(2000, 1, 1), locale="en")
        except Exception as exc:  # Babel raises several kinds for a bad skeleton
            raise TemplateError(f"{where}: bad date format {options['format']!r}") from exc
    if kind == "choice" and not (
        isinstance(options["choices"], list) and all(isinstance(c, str) for c in options["choices"])
    ):
        raise TemplateError(f"{where}: choices must be a list of names")
    return ParamSpec(name, kind, MappingProxyType(options))


def _spec(name: str, decl: Any) -> TemplateSpec:
    where = f"templates.toml: {name}"
    if not isinstance(decl, dict):
        raise TemplateError(f"{where}: must be a table")
    if unknown := sorted(set(decl) - {"audience", "budget", "question", "params", "description"}):
        raise TemplateError(f"{where}: unknown key(s) {', '.join(unknown)}")
    audience, budget, question = decl.get("audience"), decl.get("budget"), decl.get("question")
    if audience not in AUDIENCES:
        raise TemplateError(f"{where}: audience must be one of {', '.join(sorted(AUDIENCES))}")
    if not isinstance(budget, int) or not 1 <= budget <= 10:
        raise TemplateError(f"{where}: budget must be a number of SMS segments, 1-10")
    if question is not None and question not in QUESTIONS:
        raise TemplateError(f"{where}: question must be one of {', '.join(sorted(QUESTIONS))}")
    params = decl.get("params", {})
    if not isinstance(params, dict):
        raise TemplateError(f"{where}.params: must be a table")
    return TemplateSpec(
        name=name,
        audience=audience,
        budget=budget,
        params=MappingProxyType({p: _param(name, p, d) for p, d in params.items()}),
        question=question,
        description=str(decl.get("description", "")),
    )


def _load_locale(root: Path, locale: str, specs: Mapping[str, TemplateSpec]) -> _Locale:
    folder = root / locale
    if not folder.is_dir():
        raise TemplateError(f"{folder}: missing; every template needs a text in {locale}")
    present = {p.stem for p in folder.glob("*.txt")}
    if missing := sorted(set(specs) - present):
        raise TemplateError(f"{folder}: no text for {', '.join(missing)}")
    if undeclared := sorted(present - set(specs)):
        raise TemplateError(f"{folder}: {', '.join(undeclared)} not declared in templates.toml")

    phrases = _read_toml(folder / "phrases.toml")
    formats = phrases.get("format", {})
    if set(formats) != FORMAT_PHRASES or not all(isinstance(v, str) for v in formats.values()):
        raise TemplateError(
            f"{folder / 'phrases.toml'}: [format] needs exactly {', '.join(sorted(FORMAT_PHRASES))}"
        )
    declared_choices = {
        (t.name, p.name): p for t in specs.values() for p in t.params.values() if p.kind == "choice"
    }
    given = phrases.get("choices", {})
    choices: dict[str, dict[str, dict[str, _Text]]] = {}
    for (template, param), p in declared_choices.items():
        where = f"{folder / 'phrases.toml'}: choices.{template}.{param}"
        table = given.get(template, {}).get(param)
        if not isinstance(table, dict) or set(table) != set(p.options["choices"]):
            raise TemplateError(f"{where}: needs exactly {', '.join(p.options['choices'])}")
        phrases_of = {c: _parse_text(str(v), f"{where}.{c}") for c, v in table.items()}
        allowed = {q for q, qp in specs[template].params.items() if qp.kind != "choice"}
        for c, phrase in phrases_of.items():
            if bad := sorted(phrase.fields - allowed):
                raise TemplateError(f"{where}.{c}: unknown field(s) {', '.join(bad)}")
        choices.setdefault(template, {})[param] = phrases_of
    for template, table in given.items():
        for param in table if isinstance(table, dict) else ():
            if (template, param) not in declared_choices:
                raise TemplateError(
                    f"{folder / 'phrases.toml'}: choices.{template}.{param} is not a declared "
                    "choice parameter"
                )

    texts: dict[str, _Text] = {}
    for name, spec in specs.items():
        path = folder / f"{name}.txt"
        source = path.read_text(encoding="utf-8-sig").rstrip("\r\n")
        if not source.strip():
            raise TemplateError(f"{path}: empty")
        text = _parse_text(source, str(path))
        if unknown := sorted(text.fields - set(spec.params)):
            raise TemplateError(f"{path}: undeclared field(s) {', '.join(unknown)}")
        used = set(text.fields)
        for param in text.fields & set(choices.get(name, {})):
            for phrase in choices[name][param].values():
                used |= phrase.fields
        if unused := sorted(set(spec.params) - used):
            raise TemplateError(f"{path}: declared parameter(s) never shown: {', '.join(unused)}")
        texts[name] = text
    return _Locale(
        texts=MappingProxyType(texts),
        formats=MappingProxyType(dict(formats)),
        choices=MappingProxyType(
            {
                t: MappingProxyType({p: MappingProxyType(c) for p, c in ps.items()})
                for t, ps in choices.items()
            }
        ),
    )


def load_templates(root: Path | str | None = None) -> TemplateSet:
    """Read and check `root` (default: the repository's sms_templates/): every template
    declared in templates.toml has a text in every locale and nothing else is there, each text
    uses exactly its declared parameters, and every choice has a phrase in every locale."""
    base = Path(root) if root is not None else DEFAULT_ROOT
    declared = _read_toml(base / "templates.toml")
    specs = {name: _spec(name, decl) for name, decl in declared.items()}
    if not specs:
        raise TemplateError(f"{base / 'templates.toml'}: declares no templates")
    return TemplateSet(
        specs=MappingProxyType(specs),
        locales=MappingProxyType({loc: _load_locale(base, loc, specs) for loc in LOCALES}),
    )
