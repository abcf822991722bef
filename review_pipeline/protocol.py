"""The review protocol (``queries/protocol.toml``) as typed, validated objects.

Relative paths in the protocol are resolved against the project root, which is the folder
that holds ``queries/``. Every problem is a :class:`ProtocolError` naming the file, the key
and what was expected.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from review_pipeline import layout
from review_pipeline.formats.registry import NAMES as FORMAT_NAMES
from review_pipeline.model.effects import MEASURES, METHODS
from review_pipeline.model.eligibility import (
    AUTOMATIC_BOXES,
    DEFAULT_FIELDS,
    DESIGNS,
    FIELDS,
    VERDICTS,
    MatchSyntaxError,
    Reason,
    Rule,
    parse_match,
    terms_pattern,
)
from review_pipeline.model.errors import ProtocolError
from review_pipeline.model.names import RULE, is_name
from review_pipeline.model.text import excerpt

DEFAULT_PROTOCOL = layout.PROTOCOL
PUBMED = "pubmed"
"""The source of the records the PubMed searches find."""

SOURCE_KINDS = ("database", "register", "citation_searching", "website", "organisation")
"""Where records come from, in PRISMA 2020's terms. The first two form the databases-and-
registers branch of the flow diagram; the others form the other-methods branch."""

DATABASE_BRANCH = frozenset({"database", "register"})

DATE_FIELDS = ("pdat", "edat", "mdat")
_DATE = re.compile(r"^\d{4}(/\d{2}(/\d{2})?)?$")
"""A source's name, a reason code."""
FILE_NAME = re.compile(r"^[A-Za-z0-9._/+=@,-]+$")
"""A path make can follow: no spaces, brackets or quotes."""


@dataclass(frozen=True)
class Review:
    title: str
    question: str
    population: str
    intervention: str
    comparator: str
    outcomes: tuple[str, ...]
    registration: str
    example: bool = False
    """The decisions and data are illustrative: the report and the diagram say so."""
    draft: bool = False
    """The review is unfinished: the report and the diagram say so."""

    @property
    def notice(self) -> str:
        """What every page of the report and the diagram say of an example or a draft ("" for
        a finished review)."""
        if self.example:
            return ("Illustrative example: the screening decisions, extracted data and "
                    "results of this review were made to show the tool at work. They are not "
                    "evidence and must not guide treatment.")
        if self.draft:
            return "Draft: this review is not finished; its numbers will change."
        return ""


@dataclass(frozen=True)
class Search:
    """One PubMed search exactly as it is run, with its offline snapshot if it has one."""

    query: str
    database: str = "PubMed"
    interface: str = "NCBI E-utilities (ESearch, EFetch)"
    date_field: str = "pdat"
    min_date: str = ""
    max_date: str = ""
    snapshot: Path | None = None
    snapshot_date: str = ""
    notes: str = ""


@dataclass(frozen=True)
class Source:
    """Another source of records, read from export files by ``review import``."""

    name: str
    label: str
    kind: str
    files: tuple[Path, ...]
    format: str
    notes: str

    @property
    def branch(self) -> str:
        return "databases" if self.kind in DATABASE_BRANCH else "other"


@dataclass(frozen=True)
class Eligibility:
    include: tuple[str, ...]
    exclude: tuple[str, ...]
    rules: tuple[Rule, ...]


STOP_RULES = ("hypergeometric", "consecutive")
MAX_SEED = 2**32 - 1
"""The largest seed the ranking's model takes."""


@dataclass(frozen=True)
class Stop:
    """When title/abstract screening in ranked order may stop (``[screening.stop]``)."""

    rule: str = "hypergeometric"
    """``hypergeometric``: the test of Callaghan and Müller-Hansen (2020) that ``recall`` has
    been reached with ``confidence``; ``consecutive``: the last ``consecutive`` records
    screened were all excluded (a heuristic, with no stated confidence)."""
    recall: float = 0.95
    confidence: float = 0.95
    consecutive: int = 100
    apply: bool = False
    """When true and the rule is met, the records nobody has screened are excluded by
    automation (PRISMA counts them so, naming the rule); when false the rule is only
    reported."""

    @property
    def described(self) -> str:
        """The rule in words, for a methods section."""
        if self.rule == "consecutive":
            return f"{self.consecutive} excluded records in a row, a heuristic"
        return (f"hypergeometric test (Callaghan & Müller-Hansen 2020): recall of at least "
                f"{self.recall:.0%} with {self.confidence:.0%} confidence")


@dataclass(frozen=True)
class Screening:
    reviewers: int = 1
    """Independent decisions a record needs at each stage before its outcome counts."""
    seed: int = 0
    """Seed of the ranking that orders the title/abstract sheets."""
    stop: Stop | None = None


@dataclass(frozen=True)
class Extraction:
    reviewers: int = 1
    """Reviewers who extract each study independently before its rows count."""


@dataclass(frozen=True)
class Report:
    """Which extraction fields the report's per-treatment summary reads (``table.field``)."""

    treatment: str = "arms.treatment"
    """The group of a treatment arm (a choice field)."""
    patients: str = "arms.patients"
    """Patients in an arm; same table as ``treatment``."""
    outcome: str = "outcomes.outcome"
    """What a result measures; its table may name an arm (a field whose values are the arm
    table's key) and a time point (``months``)."""
    rate: str = "outcomes.percent"
    """The result as a percentage; same table as ``outcome``."""


@dataclass(frozen=True)
class Synthesis:
    """How the synthesis stage pools each outcome per treatment (``review synthesis``): the
    proportion of patients with the outcome among those evaluable, in each arm."""

    outcomes: tuple[str, ...] = ()
    """The outcomes to pool (values of ``[report] outcome``); none: every outcome."""
    events: str = "outcomes.events"
    """Patients with the outcome; same table as ``[report] outcome``."""
    total: str = "outcomes.total"
    """Patients evaluable for it; same table."""
    measure: str = "PLO"
    method: str = "REML"
    knha: bool = False
    """Hartung-Knapp confidence intervals instead of Wald intervals."""
    by: str = ""
    """A field (``table.field``) whose values form subgroups, tested for differences."""
    min_studies: int = 2
    """The fewest studies an analysis pools; fewer are listed, not pooled."""
    overlap: str = "largest"
    """Which of the studies sharing a cohort enters an analysis: the one with the most
    evaluable patients (largest) or the latest report (latest)."""


@dataclass(frozen=True)
class Update:
    previous_version: Path | None = None
    """The reports the previous version of the review included (an updated review)."""


@dataclass(frozen=True)
class Protocol:
    path: Path
    review: Review
    searches: tuple[Search, ...]
    """The PubMed searches, none or several; their records are the source ``pubmed``."""
    sources: tuple[Source, ...]
    eligibility: Eligibility
    reasons: tuple[Reason, ...]
    screening: Screening = Screening()
    extraction: Extraction = Extraction()
    update: Update = Update()
    report: Report = Report()
    synthesis: Synthesis = Synthesis()

    @property
    def reason_codes(self) -> frozenset[str]:
        return frozenset(r.code for r in self.reasons)

    def source(self, name: str) -> Source | None:
        return next((s for s in self.sources if s.name == name), None)

    def source_label_kind(self, name: str) -> tuple[str, str]:
        """How PRISMA names a source, and its kind; an undeclared source is a database."""
        found = self.source(name)
        if found:
            return found.label, found.kind
        if name == PUBMED:
            return (self.searches[0].database if self.searches else Search.database), "database"
        return name, "database"

    @property
    def root(self) -> Path:
        """The review's folder: the one that holds ``queries/``."""
        return self.path.resolve().parent.parent

    def reason_label(self, code: str) -> str:
        return next((r.label for r in self.reasons if r.code == code), code)


@dataclass(frozen=True)
class _Key:
    """The expected kind of one protocol key: str, int, float, bool, strings, table or
    tables."""

    kind: str
    required: bool = False


_KIND_NAMES = {
    "str": "a string",
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "strings": "a list of strings",
    "table": "a table",
    "tables": "a list of tables ([[...]])",
}

_TOP = {
    "review": _Key("table", True),
    "search": _Key("table"),
    "searches": _Key("tables"),
    "sources": _Key("tables"),
    "eligibility": _Key("table", True),
    "exclusion_reasons": _Key("tables", True),
    "screening": _Key("table"),
    "extraction": _Key("table"),
    "update": _Key("table"),
    "report": _Key("table"),
    "synthesis": _Key("table"),
}
_SYNTHESIS = {"outcomes": _Key("strings"), "events": _Key("str"), "total": _Key("str"),
              "measure": _Key("str"), "method": _Key("str"), "knha": _Key("bool"),
              "by": _Key("str"), "min_studies": _Key("int"), "overlap": _Key("str")}
OVERLAP_RULES = ("largest", "latest")
_REPORT = {"treatment": _Key("str"), "patients": _Key("str"), "outcome": _Key("str"),
           "rate": _Key("str")}
_FIELD_REF = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
_UPDATE = {"previous_version": _Key("str")}
_REVIEWERS = {"reviewers": _Key("int")}
_SCREENING = {**_REVIEWERS, "seed": _Key("int"), "stop": _Key("table")}
_STOP = {"rule": _Key("str"), "recall": _Key("float"), "confidence": _Key("float"),
         "consecutive": _Key("int"), "apply": _Key("bool")}
_REVIEW = {
    "title": _Key("str", True),
    "question": _Key("str", True),
    "population": _Key("str"),
    "intervention": _Key("str"),
    "comparator": _Key("str"),
    "outcomes": _Key("strings"),
    "registration": _Key("str"),
    "example": _Key("bool"),
    "draft": _Key("bool"),
}
_SEARCH = {
    "database": _Key("str"),
    "interface": _Key("str"),
    "query": _Key("str", True),
    "date_field": _Key("str"),
    "min_date": _Key("str"),
    "max_date": _Key("str"),
    "snapshot": _Key("str"),
    "snapshot_date": _Key("str"),
    "notes": _Key("str"),
}
_SOURCE = {
    "name": _Key("str", True),
    "label": _Key("str", True),
    "kind": _Key("str", True),
    "files": _Key("strings"),
    "format": _Key("str"),
    "notes": _Key("str"),
}
_REASON = {"code": _Key("str", True), "label": _Key("str", True)}
_ELIGIBILITY = {"include": _Key("strings"), "exclude": _Key("strings"), "rules": _Key("tables")}
_RULE = {
    "id": _Key("str", True),
    "description": _Key("str", True),
    "verdict": _Key("str", True),
    "automatic": _Key("bool"),
    "reason": _Key("str"),
    "publication_types": _Key("strings"),
    "languages": _Key("strings"),
    "before_year": _Key("int"),
    "after_year": _Key("int"),
    "terms": _Key("strings"),
    "without_terms": _Key("strings"),
    "match": _Key("str"),
    "fields": _Key("strings"),
    "designs": _Key("strings"),
    "min_patients": _Key("int"),
    "max_patients": _Key("int"),
    "prisma": _Key("str"),
}
_CONDITIONS = ("publication_types", "languages", "before_year", "after_year", "terms",
               "without_terms", "match", "designs", "min_patients", "max_patients")


MAX_PROTOCOL = 1 << 20
"""The largest protocol file read: a long one is some tens of kilobytes."""


def load_protocol(path: Path | str = DEFAULT_PROTOCOL) -> Protocol:
    """Read and validate the protocol file."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_PROTOCOL:
            raise ProtocolError(f"the file is larger than {MAX_PROTOCOL // 1024:,} KB, far "
                                "more than a protocol", where=str(path),
                                fix="check that --protocol names the protocol file")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProtocolError(
            "the protocol file does not exist",
            where=str(path),
            fix="run from the project folder, or pass --protocol PATH (env REVIEW_PROTOCOL)",
        ) from None
    except IsADirectoryError:
        raise ProtocolError("is a folder, not the protocol file", where=str(path),
                            fix="name the protocol file itself, e.g. queries/protocol.toml"
                            ) from None
    except UnicodeDecodeError as exc:
        raise ProtocolError(
            f"the file is not UTF-8 text ({exc.reason} at byte {exc.start})",
            where=str(path),
            fix="save the protocol as UTF-8",
        ) from None
    return parse_protocol(text, path)


def parse_protocol(text: str, path: Path) -> Protocol:
    """Validate protocol TOML ``text``; ``path`` names it in errors and anchors its paths."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProtocolError(
            f"not valid TOML: {exc}", where=str(path), fix="correct the TOML syntax there"
        ) from None
    v = _Validator(path)
    top = v.table(data, _TOP, "")
    root = path.resolve().parent.parent
    reasons = tuple(_reason(v, t, i) for i, t in enumerate(v.tables(top, "exclusion_reasons")))
    codes = {r.code for r in reasons}
    v.check(len(codes) == len(reasons), "exclusion_reasons", "each code must appear once")
    eligibility = _eligibility(v, top["eligibility"], codes)
    sources = tuple(_source(v, t, i, root) for i, t in enumerate(v.tables(top, "sources")))
    names = [s.name for s in sources]
    v.check(len(set(names)) == len(names), "sources", "each source name must appear once")
    files = [f for s in sources for f in s.files]
    v.check(len(set(files)) == len(files), "sources",
            "a file is listed twice; each export is one source's records, listed once")
    v.check(not ("search" in top and "searches" in top), "search",
            "give the PubMed searches as [[searches]], or one search as [search]; not both")
    tables = [top["search"]] if "search" in top else v.tables(top, "searches")
    prefixes = ["search."] if "search" in top else [f"searches[{i}]." for i in range(len(tables))]
    searches = tuple(_search(v, t, root, prefix) for t, prefix in zip(tables, prefixes,
                                                                       strict=True))
    v.check(not (searches and PUBMED in names), "sources",
            f"'{PUBMED}' names the records of the protocol's PubMed searches; give the source "
            "another name")
    return Protocol(
        path=path,
        review=_review(v, top["review"]),
        searches=searches,
        sources=sources,
        eligibility=eligibility,
        reasons=reasons,
        screening=_screening(v, top.get("screening", {})),
        extraction=Extraction(_reviewers(v, top.get("extraction", {}), "extraction")),
        update=_update(v, top.get("update", {}), root),
        report=_report(v, top.get("report", {})),
        synthesis=_synthesis(v, top.get("synthesis", {})),
    )


class _Validator:
    """Checks tables against key specs; every failure names the file and the key."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, key: str, expected: str) -> ProtocolError:
        return ProtocolError(
            f"key '{key}': {expected}", where=str(self.path), fix="edit that key in the protocol"
        )

    def check(self, ok: bool, key: str, expected: str) -> None:
        if not ok:
            raise self.fail(key, expected)

    def table(self, data: Any, spec: dict[str, _Key], prefix: str) -> dict[str, Any]:
        name = prefix.rstrip(".") or "top level"
        if not isinstance(data, dict):
            raise self.fail(name, f"expected a table, got {_describe(data)}")
        for key in data:
            if key not in spec:
                known = ", ".join(spec)
                raise self.fail(f"{prefix}{key}", f"unknown key; expected one of: {known}")
        for key, want in spec.items():
            if key not in data:
                if want.required:
                    expected = _KIND_NAMES[want.kind]
                    raise self.fail(f"{prefix}{key}", f"missing; expected {expected}")
                continue
            self._type(data[key], want, f"{prefix}{key}")
        return data

    def _type(self, value: Any, want: _Key, key: str) -> None:
        self.check(_is_kind(value, want.kind), key,
                   f"expected {_KIND_NAMES[want.kind]}, got {_describe(value)}")

    def tables(self, data: dict[str, Any], key: str) -> list[dict[str, Any]]:
        value: list[dict[str, Any]] = data.get(key, [])
        return value

    def choice(self, value: str, options: tuple[str, ...], key: str) -> str:
        self.check(value in options, key,
                   f"expected one of {', '.join(options)}; got '{excerpt(value)}'")
        return value


def _review(v: _Validator, data: Any) -> Review:
    t = v.table(data, _REVIEW, "review.")
    return Review(
        title=t["title"],
        question=t["question"],
        population=t.get("population", ""),
        intervention=t.get("intervention", ""),
        comparator=t.get("comparator", ""),
        outcomes=tuple(t.get("outcomes", [])),
        registration=t.get("registration", ""),
        example=t.get("example", False),
        draft=t.get("draft", False),
    )


def _search(v: _Validator, data: Any, root: Path, prefix: str) -> Search:
    t = v.table(data, _SEARCH, prefix)
    v.check(bool(t["query"].strip()), f"{prefix}query",
            "expected the search string, got nothing")
    for key in ("min_date", "max_date"):
        if key in t:
            v.check(bool(_DATE.match(t[key])), f"{prefix}{key}", "expected YYYY, YYYY/MM or "
                    f"YYYY/MM/DD; got '{excerpt(t[key])}'")
    v.check(("min_date" in t) == ("max_date" in t), f"{prefix}min_date",
            "PubMed needs min_date and max_date together; give both or neither")
    snapshot = t.get("snapshot")
    return Search(
        database=t.get("database", Search.database),
        interface=t.get("interface", Search.interface),
        query=t["query"].strip(),
        date_field=v.choice(t.get("date_field", Search.date_field), DATE_FIELDS,
                            f"{prefix}date_field"),
        min_date=t.get("min_date", ""),
        max_date=t.get("max_date", ""),
        snapshot=root / snapshot if snapshot else None,
        snapshot_date=t.get("snapshot_date", ""),
        notes=t.get("notes", ""),
    )


def _source(v: _Validator, data: Any, index: int, root: Path) -> Source:
    prefix = f"sources[{index}]."
    t = v.table(data, _SOURCE, prefix)
    v.check(is_name(t["name"]), f"{prefix}name", f"expected a lower-case name ({RULE}); got "
            f"'{excerpt(t['name'])}'")
    for name in t.get("files", []):
        v.check(bool(FILE_NAME.match(name)), f"{prefix}files",
                f"make cannot follow '{excerpt(name)}' (a space, a bracket or a quote in the "
                "path); rename the file, as `review import FILE --source NAME --add` does")
    return Source(
        name=t["name"],
        label=t["label"],
        kind=v.choice(t["kind"], SOURCE_KINDS, f"{prefix}kind"),
        files=tuple(root / f for f in t.get("files", [])),
        format=v.choice(t.get("format", "auto"), FORMAT_NAMES, f"{prefix}format"),
        notes=t.get("notes", ""),
    )


def _reviewers(v: _Validator, data: Any, section: str) -> int:
    t = v.table(data, _REVIEWERS, f"{section}.")
    reviewers: int = t.get("reviewers", 1)
    v.check(reviewers >= 1, f"{section}.reviewers", f"expected 1 or more; got {reviewers}")
    return reviewers


def _screening(v: _Validator, data: Any) -> Screening:
    t = v.table(data, _SCREENING, "screening.")
    reviewers = _reviewers(v, {k: t[k] for k in _REVIEWERS if k in t}, "screening")
    v.check(0 <= t.get("seed", 0) <= MAX_SEED, "screening.seed",
            f"expected a whole number from 0 to {MAX_SEED}; got {t.get('seed')}")
    if "stop" not in t:
        return Screening(reviewers, t.get("seed", 0))
    s = v.table(t["stop"], _STOP, "screening.stop.")
    stop = Stop(**s)
    v.choice(stop.rule, STOP_RULES, "screening.stop.rule")
    for key in ("recall", "confidence"):
        value = getattr(stop, key)
        v.check(0 < value < 1, f"screening.stop.{key}",
                f"expected a share between 0 and 1 (e.g. 0.95); got {value}")
    v.check(stop.consecutive >= 1, "screening.stop.consecutive",
            f"expected 1 or more; got {stop.consecutive}")
    return Screening(reviewers, t.get("seed", 0), stop)


def _report(v: _Validator, data: Any) -> Report:
    t = v.table(data, _REPORT, "report.")
    for key, value in t.items():
        v.check(bool(_FIELD_REF.match(value)), f"report.{key}",
                f"expected table.field of the extraction forms; got '{excerpt(value)}'")
    report = Report(**t)
    for first, second in (("treatment", "patients"), ("outcome", "rate")):
        v.check(getattr(report, first).split(".")[0] == getattr(report, second).split(".")[0],
                f"report.{second}", f"expected a field of the same table as report.{first}")
    return report


def _synthesis(v: _Validator, data: Any) -> Synthesis:
    t = v.table(data, _SYNTHESIS, "synthesis.")
    for key in ("events", "total", "by"):
        if t.get(key):
            v.check(bool(_FIELD_REF.match(t[key])), f"synthesis.{key}",
                    f"expected table.field of the extraction forms; got '{excerpt(t[key])}'")
    measures = tuple(m for m, d in MEASURES.items() if d.kind == "proportion")
    methods = tuple(METHODS)
    v.choice(t.get("measure", Synthesis.measure), measures, "synthesis.measure")
    v.choice(t.get("method", Synthesis.method), methods, "synthesis.method")
    v.check(t.get("method") != "GLMM" or t.get("measure", "PLO") == "PLO", "synthesis.method",
            "the binomial-normal model (GLMM) pools on the logit scale: set measure = \"PLO\"")
    v.choice(t.get("overlap", Synthesis.overlap), OVERLAP_RULES, "synthesis.overlap")
    v.check(t.get("min_studies", 2) >= 1, "synthesis.min_studies",
            f"expected 1 or more; got {t.get('min_studies')}")
    values: dict[str, Any] = {k: tuple(x) if k == "outcomes" else x for k, x in t.items()}
    return Synthesis(**values)


def _update(v: _Validator, data: Any, root: Path) -> Update:
    t = v.table(data, _UPDATE, "update.")
    previous = t.get("previous_version")
    return Update(previous_version=root / previous if previous else None)


def _reason(v: _Validator, data: Any, index: int) -> Reason:
    prefix = f"exclusion_reasons[{index}]."
    t = v.table(data, _REASON, prefix)
    v.check(is_name(t["code"]), f"{prefix}code", f"expected a lower-case code ({RULE}); got "
            f"'{t['code'][:60]}'")
    return Reason(code=t["code"], label=t["label"])


def _eligibility(v: _Validator, data: Any, codes: set[str]) -> Eligibility:
    t = v.table(data, _ELIGIBILITY, "eligibility.")
    rules = tuple(_rule(v, r, i, codes) for i, r in enumerate(v.tables(t, "rules")))
    ids = [r.id for r in rules]
    v.check(len(set(ids)) == len(ids), "eligibility.rules", "each rule id must appear once")
    return Eligibility(
        include=tuple(t.get("include", [])), exclude=tuple(t.get("exclude", [])), rules=rules
    )


def _rule(v: _Validator, data: Any, index: int, codes: set[str]) -> Rule:
    prefix = f"eligibility.rules[{index}]."
    t = v.table(data, _RULE, prefix)
    verdict = v.choice(t["verdict"], VERDICTS, f"{prefix}verdict")
    reason = t.get("reason", "")
    if verdict == "exclude":
        v.check(reason in codes, f"{prefix}reason",
                f"an exclude rule needs a reason code from [[exclusion_reasons]] "
                f"({', '.join(sorted(codes))}); got '{excerpt(reason)}'")
    v.check(any(k in t for k in _CONDITIONS), prefix.rstrip("."),
            f"a rule needs at least one condition ({', '.join(_CONDITIONS)})")
    v.check(not (t.get("automatic", False) and verdict == "include"), f"{prefix}automatic",
            "only exclude rules can act without a human look; set automatic = false")
    v.check("prisma" not in t or t.get("automatic", False), f"{prefix}prisma",
            "only an automatic rule's exclusions are counted apart; remove the key or set "
            "automatic = true")
    box = v.choice(t.get("prisma", AUTOMATIC_BOXES[0]), AUTOMATIC_BOXES, f"{prefix}prisma")
    for key, known in (("fields", FIELDS), ("designs", DESIGNS)):
        for value in t.get(key, []):
            v.choice(value, known, f"{prefix}{key}")
    for key in ("min_patients", "max_patients"):
        v.check(t.get(key, 0) >= 0, f"{prefix}{key}", f"expected 0 or more; got {t.get(key)}")
    for key in ("terms", "without_terms"):
        try:
            terms_pattern(tuple(t.get(key, [])))
        except MatchSyntaxError as exc:
            raise v.fail(f"{prefix}{key}", str(exc)) from None
    if "match" in t:
        try:
            parse_match(t["match"])
        except MatchSyntaxError as exc:
            raise v.fail(f"{prefix}match", f"{exc}; in: {excerpt(t['match'])}") from None
    return Rule(
        id=t["id"],
        description=t["description"],
        verdict=verdict,
        automatic=t.get("automatic", False),
        reason=reason,
        publication_types=tuple(t.get("publication_types", [])),
        languages=tuple(t.get("languages", [])),
        before_year=t.get("before_year"),
        after_year=t.get("after_year"),
        terms=tuple(t.get("terms", [])),
        without_terms=tuple(t.get("without_terms", [])),
        match=t.get("match", ""),
        fields=tuple(t.get("fields", DEFAULT_FIELDS)),
        designs=tuple(t.get("designs", [])),
        min_patients=t.get("min_patients"),
        max_patients=t.get("max_patients"),
        prisma=box,
    )


def _is_kind(value: Any, kind: str) -> bool:
    if kind == "strings":
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if kind == "tables":
        return isinstance(value, list) and all(isinstance(v, dict) for v in value)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "float":
        return isinstance(value, int | float) and not isinstance(value, bool)
    types: dict[str, type] = {"str": str, "bool": bool, "table": dict}
    return isinstance(value, types[kind])


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"{str(value).lower()} (true/false)"
    if isinstance(value, int):
        return f"{value} (an integer)"
    if isinstance(value, str):
        return f"'{excerpt(value)}' (a string)"
    if isinstance(value, list):
        return "a list" if all(isinstance(x, str) for x in value) else "a list of mixed values"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__
