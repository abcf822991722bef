"""The dedup stage: link records that report the same publication; delete nothing.

Records are joined when they share an exact key, strongest first:

* ``pmid``: the same PubMed id;
* ``doi``: the same normalised DOI;
* ``citation``: the same journal, volume, first page and year;
* ``title_year``: the same folded title (of at least 20 characters) and year.

A shared key alone is not enough: two records sharing a DOI or a citation must also have
similar titles (whole supplements share one DOI, and abstracts share supplement pages), and
two records sharing a title must also share a journal or volume and first page (an article
and a meeting abstract often share their title). Two groups are never joined when that
would put two different PMIDs or DOIs together, or a conference abstract with a full
article (different reports of a study, not duplicates).
Each group keeps one record; the others get ``duplicate_of`` and the ``duplicate`` state.

A reviewer's decisions in ``extracted/dedup/decisions.csv`` (``record_id, other_record_id,
decision, note`` with decision ``same`` or ``different``) override the rules: ``same``
joins two records whatever their fields say, ``different`` keeps them apart.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz
from sqlite_utils import Database

from . import db as store
from .db import State
from .errors import InputError
from .progress import Progress, tracked
from .records import first_page, journal_key, title_key
from .sheets import read_sheet

RULES = ("pmid", "doi", "citation", "title_year")
DEFAULT_DECISIONS = Path("extracted/dedup/decisions.csv")
PAIR_COLUMNS = ("record_id", "other_record_id", "decision", "note")
MIN_TITLE = 20
"""Shorter folded titles ("POEMS syndrome") are shared by distinct papers."""
SAME_TITLE = 90
"""rapidfuzz token-set similarity (0-100) above which two titles are one title; token sets
let a title cut short by a database still match the full one."""

DEFAULT_PREFERENCE = ("pubmed",)


@dataclass
class Entry:
    """The fields of one record that dedup reads."""

    record_id: str
    source: str
    branch: str
    status: str
    kind: str
    pmid: str
    doi: str
    title: str
    year: int | None
    journals: tuple[str, ...]
    volume: str
    pages: str
    filled: int


@dataclass(frozen=True)
class PairDecision:
    """A reviewer's verdict on two records: the same publication or not."""

    record_id: str
    other_record_id: str
    same: bool
    where: str


@dataclass
class DedupResult:
    records: int
    clusters: int
    duplicates: int
    changed: int
    by_rule: dict[str, int] = field(default_factory=dict)


class _Groups:
    """Union-find whose groups remember their PMIDs, DOIs and kinds, to refuse conflicts."""

    def __init__(self, entries: list[Entry], apart: set[frozenset[str]]) -> None:
        self.parent = {e.record_id: e.record_id for e in entries}
        self.members = {e.record_id: [e.record_id] for e in entries}
        self.pmids = {e.record_id: {e.pmid} - {""} for e in entries}
        self.dois = {e.record_id: {e.doi} - {""} for e in entries}
        self.kinds = {e.record_id: {e.kind} for e in entries}
        self.apart = apart

    def find(self, rid: str) -> str:
        while self.parent[rid] != rid:
            self.parent[rid] = self.parent[self.parent[rid]]
            rid = self.parent[rid]
        return rid

    def kept_apart(self, ra: str, rb: str) -> bool:
        return any(frozenset((x, y)) in self.apart
                   for x in self.members[ra] for y in self.members[rb])

    def join(self, a: str, b: str, *, forced: bool = False) -> bool:
        """Join the groups of ``a`` and ``b`` unless that conflicts; ``forced`` (a reviewer's
        "same") overrides conflicting fields but never a reviewer's "different"."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb or (self.apart and self.kept_apart(ra, rb)):
            return False
        if not forced and (len(self.pmids[ra] | self.pmids[rb]) > 1
                           or len(self.dois[ra] | self.dois[rb]) > 1
                           or self.kinds[ra] != self.kinds[rb]):
            return False
        ra, rb = sorted((ra, rb))
        self.parent[rb] = ra
        self.members[ra] += self.members.pop(rb)
        self.pmids[ra] |= self.pmids.pop(rb)
        self.dois[ra] |= self.dois.pop(rb)
        self.kinds[ra] |= self.kinds.pop(rb)
        return True


def keys(entry: Entry) -> Iterable[tuple[str, tuple[Any, ...]]]:
    """The (rule, key) pairs of one record."""
    if entry.pmid:
        yield "pmid", (entry.pmid,)
    if entry.doi:
        yield "doi", (entry.doi,)
    page = first_page(entry.pages)
    if entry.volume and page and entry.year:
        for journal in entry.journals:
            yield "citation", (journal, entry.volume.strip().lower(), page.lower(), entry.year)
    title = title_key(entry.title)
    if len(title) >= MIN_TITLE and entry.year:
        yield "title_year", (title, entry.year)


def find_clusters(entries: list[Entry], decisions: Iterable[PairDecision] = (),
                  ) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Groups of duplicate records (root id → members) and the rule that joined each member.

    A pure function: the same entries and decisions always give the same groups.
    """
    decisions = list(decisions)
    groups = _Groups(entries, {frozenset((d.record_id, d.other_record_id))
                               for d in decisions if not d.same})
    rule_of: dict[str, str] = {}
    _join_reviewed(groups, decisions, rule_of)
    for rule in RULES:
        _join_by_rule(groups, entries, rule, rule_of)
    clusters: dict[str, list[str]] = defaultdict(list)
    for entry in entries:
        clusters[groups.find(entry.record_id)].append(entry.record_id)
    return dict(clusters), rule_of


def _join_reviewed(groups: _Groups, decisions: list[PairDecision],
                   rule_of: dict[str, str]) -> None:
    for d in decisions:
        if not d.same:
            continue
        if not groups.join(d.record_id, d.other_record_id, forced=True) and (
                groups.find(d.record_id) != groups.find(d.other_record_id)):
            raise InputError(f"'{d.record_id}' and '{d.other_record_id}' are marked the same, "
                             "but other rows mark members of their groups as different",
                             where=d.where, fix="make the same/different rows agree")
        rule_of.setdefault(d.record_id, "reviewer")
        rule_of.setdefault(d.other_record_id, "reviewer")


def compatible(rule: str, a: Entry, b: Entry) -> bool:
    """Whether two records that share ``rule``'s key are the same publication."""
    if rule == "pmid":
        return True
    if rule in ("doi", "citation"):
        ta, tb = title_key(a.title), title_key(b.title)
        return not (ta and tb) or fuzz.token_set_ratio(ta, tb) >= SAME_TITLE
    same_journal = not (a.journals and b.journals) or any(
        journals_match(x, y) for x in a.journals for y in b.journals)
    page = first_page(a.pages)
    return same_journal or bool(page and page == first_page(b.pages))


def journals_match(a: str, b: str) -> bool:
    """Whether two folded journal names can name one journal, the way ISO 4 abbreviates:
    every word of the shorter is the start of a word of the longer, in order
    ("behav brain res" and "behavioural brain research 173 1 pp 153")."""
    short, long = sorted((a.split(), b.split()), key=len)
    words = iter(long)
    return bool(short) and all(any(w.startswith(s) for w in words) for s in short)


def _join_by_rule(groups: _Groups, entries: list[Entry], rule: str,
                  rule_of: dict[str, str]) -> None:
    by_id = {e.record_id: e for e in entries}
    buckets: dict[tuple[Any, ...], list[str]] = defaultdict(list)
    for entry in entries:
        for key_rule, key in keys(entry):
            if key_rule == rule:
                buckets[key].append(entry.record_id)
    for members in buckets.values():
        for i, other in enumerate(members[1:], 1):
            # Join the first earlier member that is the same publication and no conflict.
            for earlier in members[:i]:
                if not compatible(rule, by_id[earlier], by_id[other]):
                    continue
                if groups.find(earlier) == groups.find(other) or groups.join(earlier, other):
                    rule_of.setdefault(other, rule)
                    rule_of.setdefault(earlier, rule)
                    break


def choose_kept(members: list[Entry], preference: tuple[str, ...]) -> Entry:
    """The record a cluster keeps.

    A record already screened keeps its place (so no decision moves); then the databases
    branch; then the preferred sources in order; then the most complete; then the id.
    """
    def rank(e: Entry) -> tuple[int, int, int, int, str]:
        started = e.status not in (State.IDENTIFIED, State.DUPLICATE)
        source_rank = preference.index(e.source) if e.source in preference else len(preference)
        return (0 if started else 1, 0 if e.branch == "databases" else 1, source_rank,
                -e.filled, e.record_id)
    return min(members, key=rank)


def read_pair_decisions(path: Path, known: set[str]) -> list[PairDecision]:
    """A reviewer's same/different rows; a missing file means no decisions."""
    if not path.is_file():
        return []
    problems, out = [], []
    sheet = read_sheet(path)
    missing = [c for c in PAIR_COLUMNS if c not in sheet.header]
    if missing:
        raise InputError(f"columns {missing} are missing", where=f"{path}, line 1",
                         fix=f"the columns are {', '.join(PAIR_COLUMNS)}")
    for row in sheet.rows:
        where = f"{path}, line {row.line}"
        a, b = row.values["record_id"], row.values["other_record_id"]
        value = row.values["decision"].lower()
        unknown = [r for r in (a, b) if r not in known]
        if unknown:
            problems.append(f"{where}: no record {unknown[0]!r} in the review")
        elif a == b:
            problems.append(f"{where}: a record cannot be paired with itself")
        elif value not in ("same", "different"):
            problems.append(f"{where}: decision {value!r} is not 'same' or 'different'")
        else:
            out.append(PairDecision(a, b, value == "same", where))
    if problems:
        raise InputError("the dedup decisions cannot be used; nothing was changed:\n  "
                         + "\n  ".join(problems), fix=f"correct those rows in {path}")
    return out


def dedup(db: Database, *, preference: tuple[str, ...] = DEFAULT_PREFERENCE,
          decisions_file: Path = DEFAULT_DECISIONS,
          on_progress: Progress | None = None) -> DedupResult:
    """Recompute duplicate clusters and bring every record's links and state in line."""
    entries = load_entries(db)
    by_id = {e.record_id: e for e in entries}
    pairs = read_pair_decisions(decisions_file, set(by_id))
    clusters, rule_of = find_clusters(entries, pairs)
    changed, duplicates, by_rule = 0, 0, Counter[str]()
    cluster_rows = []
    with db.atomic():
        for members in tracked(clusters.values(), len(clusters), on_progress):
            kept = choose_kept([by_id[m] for m in members], preference)
            rules = sorted({rule_of[m] for m in members if m in rule_of})
            cluster_rows.append({"cluster_id": kept.record_id, "kept_record_id": kept.record_id,
                                 "size": len(members), "rules": json.dumps(rules)})
            for member in members:
                dup_of = None if member == kept.record_id else kept.record_id
                rule = rule_of.get(member) if dup_of else None
                changed += _apply(db, by_id[member], kept.record_id, dup_of, rule)
                if dup_of:
                    duplicates += 1
                    by_rule[rule or ""] += 1
        db.execute("DELETE FROM clusters")
        db.table("clusters").insert_all(cluster_rows)
    return DedupResult(len(entries), len(clusters), duplicates, changed, dict(by_rule))


def _apply(db: Database, entry: Entry, cluster_id: str, dup_of: str | None,
           rule: str | None) -> int:
    row = db.execute("SELECT cluster_id, duplicate_of FROM records WHERE record_id = ?",
                     [entry.record_id]).fetchone()
    current = State(entry.status)
    if dup_of:
        target = State.DUPLICATE
    else:
        target = State.IDENTIFIED if current == State.DUPLICATE else current
    moved = store.move_to(db, entry.record_id, target, current,
                          reason=f"{rule}: same as {dup_of}" if dup_of else "unique")
    if tuple(row) == (cluster_id, dup_of) and not moved:
        return 0
    db.execute("UPDATE records SET cluster_id = ?, duplicate_of = ?, dedup_rule = ? "
               "WHERE record_id = ?", [cluster_id, dup_of, rule, entry.record_id])
    if row[1] != dup_of:
        store.audit(db, actor=store.ACTOR_SYSTEM, action="dedup", entity="record",
                    entity_id=entry.record_id, field="duplicate_of", old=row[1], new=dup_of,
                    detail=rule)
    return 1


def load_entries(db: Database) -> list[Entry]:
    sql = ("SELECT record_id, source, branch, status, kind, pmid, doi, title, year, journal, "
           "journal_full, volume, pages, authors, abstract, issue FROM records "
           "ORDER BY record_id")
    entries = []
    for row in db.query(sql):
        journals = tuple(dict.fromkeys(j for j in (journal_key(row["journal"] or ""),
                                                   journal_key(row["journal_full"] or ""))
                                       if j))
        filled = sum(1 for k in ("pmid", "doi", "title", "year", "journal", "volume", "pages",
                                 "abstract", "issue") if row[k])
        filled += row["authors"] not in (None, "[]")
        entries.append(Entry(
            record_id=row["record_id"], source=row["source"], branch=row["branch"],
            status=row["status"], kind=row["kind"] or "", pmid=row["pmid"] or "",
            doi=row["doi"] or "", title=row["title"] or "", year=row["year"],
            journals=journals, volume=row["volume"] or "", pages=row["pages"] or "",
            filled=filled,
        ))
    return entries
