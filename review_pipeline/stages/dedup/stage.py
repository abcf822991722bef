"""The dedup stage: link records that report the same publication; delete nothing.

Candidate pairs come from blocking keys and each gets a verdict from the rules of
:mod:`.matching` (same, not the same, or uncertain). Same pairs are joined,
strongest rule first, into clusters; a join that would put two PMIDs, two DOIs (Cochrane
updates aside), or a meeting abstract and an article in one cluster is refused. Each cluster
keeps one record; the others get ``duplicate_of`` and the ``duplicate`` state.

Uncertain pairs go to the review queue, ``extracted/dedup/queue.csv``: the pair side by
side, the scores and why. A reviewer writes ``same`` or ``different`` in its ``decision``
column, or in ``extracted/dedup/decisions.csv`` (``record_id, other_record_id, decision,
note``); those decisions override the rules and survive every re-run.
"""

from __future__ import annotations

import io
import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from review_pipeline import layout, store
from review_pipeline.files import write_atomic
from review_pipeline.formats.sheets import csv_dict_writer, csv_writer, read_sheet
from review_pipeline.model.bulk import collector_paused
from review_pipeline.model.errors import InputError, Problems, StateError
from review_pipeline.model.progress import Progress, tracked
from review_pipeline.model.record import fold
from review_pipeline.model.state import State
from review_pipeline.stages.dedup.fields import counter_sources
from review_pipeline.stages.dedup.matching import (
    MATCHER_VERSION,
    POLICY_JOINS,
    Cutoffs,
    Entry,
    Policy,
    Verdict,
    compare,
    embase_volume,
    journal_names,
    strength,
)
from review_pipeline.store import clusters

ABSTRACT_CHARS = 3_000
"""Of the abstract of a record with nothing but a title, the part dedup compares."""
DEFAULT_DECISIONS = layout.DEDUP_DECISIONS
DEFAULT_QUEUE = layout.DEDUP_QUEUE
PAIR_COLUMNS = ("record_id", "other_record_id", "decision", "note")

DEFAULT_PREFERENCE = ("pubmed",)


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
    queued: int = 0
    """Uncertain pairs waiting in the review queue."""
    compared: int = 0
    """Records whose pairs were compared: all on a first run, the new ones after."""


class _Groups:
    """Union-find whose groups remember their PMIDs, DOIs and whether they are meeting
    abstracts, to refuse conflicts."""

    def __init__(self, entries: list[Entry], apart: set[frozenset[str]]) -> None:
        self.parent = {e.record_id: e.record_id for e in entries}
        self.members = {e.record_id: [e.record_id] for e in entries}
        self.pmids = {e.record_id: {e.pmid} - {""} for e in entries}
        # A preprint's DOI is not its published version's: it never makes a conflict.
        self.dois = {e.record_id: set() if e.preprint else {e.doi_key} - {""}
                     for e in entries}
        self.kinds = {e.record_id: {e.conference} for e in entries}
        self.apart = apart

    def find(self, rid: str) -> str:
        while self.parent[rid] != rid:
            self.parent[rid] = self.parent[self.parent[rid]]
            rid = self.parent[rid]
        return rid

    def kept_apart(self, ra: str, rb: str) -> bool:
        return any(frozenset((x, y)) in self.apart
                   for x in self.members[ra] for y in self.members[rb])

    def join(self, a: str, b: str, *, forced: bool = False, rule: str = "") -> bool:
        """Join the groups of ``a`` and ``b`` unless that conflicts; ``forced`` (a reviewer's
        "same") overrides conflicting fields but never a reviewer's "different". The rule
        "doi_alias" allows the two DOIs of ``a`` and ``b`` (and no third);
        "abstract_listed_twice" joins an abstract to its listing as an article, which then
        counts as an abstract; a policy's join (:data:`POLICY_JOINS`) joins items that keep
        their own identifiers and kinds, and comes after every other join."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb or (self.apart and self.kept_apart(ra, rb)):
            return False
        listed_twice = rule == "abstract_listed_twice"
        dois = 2 if rule == "doi_alias" and len(self.dois[ra]) == len(self.dois[rb]) == 1 else 1
        # A group that holds an article's two DOIs takes a record with either, or none.
        dois = max(dois, len(self.dois[ra]), len(self.dois[rb]))
        if not forced and rule not in POLICY_JOINS and (
                len(self.pmids[ra] | self.pmids[rb]) > 1
                or len(self.dois[ra] | self.dois[rb]) > dois
                or (self.kinds[ra] != self.kinds[rb] and not listed_twice)):
            return False
        ra, rb = sorted((ra, rb))
        self.parent[rb] = ra
        self.members[ra] += self.members.pop(rb)
        self.pmids[ra] |= self.pmids.pop(rb)
        self.dois[ra] |= self.dois.pop(rb)
        kinds = self.kinds.pop(rb)
        self.kinds[ra] = {True} if listed_twice else self.kinds[ra] | kinds
        return True


@dataclass
class Clustering:
    clusters: dict[str, list[str]]
    """Root record id → the records of its cluster."""
    rule_of: dict[str, str]
    """The rule that first joined each linked record."""
    links: list[tuple[str, str, Verdict]]
    """Every pair judged, except plain non-matches: the same, uncertain, or kept apart by a
    veto although they look alike (:func:`~.matching.kept`)."""
    queue: list[tuple[str, str, Verdict]]
    """Uncertain pairs left in different clusters: the reviewer's queue."""


Judged = tuple[str, str, Verdict]


def find_clusters(entries: list[Entry], decisions: Iterable[PairDecision] = (), *,
                  judged: Iterable[Judged] = (), fresh: set[str] | None = None,
                  policy: Policy | None = None, cutoffs: Cutoffs | None = None
                  ) -> Clustering:
    """Clusters of duplicate records, the rule behind each link, and the uncertain pairs.

    With ``fresh``, only pairs involving those records are compared; ``judged`` holds the
    verdicts of an earlier run on the other pairs. A pure function: the same entries,
    verdicts and decisions always give the same clusters.
    """
    decisions = list(decisions)
    groups = _Groups(entries, {frozenset((d.record_id, d.other_record_id))
                               for d in decisions if not d.same})
    rule_of: dict[str, str] = {}
    _join_reviewed(groups, decisions, rule_of)
    pairs = [*judged, *((a.record_id, b.record_id, v)
                        for a, b, v in compare(entries, fresh, policy=policy, cutoffs=cutoffs))]
    same = sorted((p for p in pairs if p[2].same), key=lambda p: (
        strength(p[2].rule), p[0], p[1]))
    for a, b, verdict in same:
        if groups.find(a) == groups.find(b) or groups.join(a, b, rule=verdict.rule):
            rule_of.setdefault(a, verdict.rule)
            rule_of.setdefault(b, verdict.rule)
    members: dict[str, list[str]] = defaultdict(list)
    for entry in entries:
        members[groups.find(entry.record_id)].append(entry.record_id)
    decided = {frozenset((d.record_id, d.other_record_id)) for d in decisions}
    queue = sorted((p for p in pairs if p[2].same is None and groups.find(p[0]) != groups.find(
        p[1]) and frozenset(p[:2]) not in decided), key=lambda p: (p[0], p[1]))
    return Clustering(dict(members), rule_of, pairs, queue)


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


def choose_kept(members: list[Entry], preference: tuple[str, ...]) -> Entry:
    """The record a cluster keeps.

    A record already screened keeps its place (so no decision moves); then the databases
    branch; then a published version over its preprint; then the preferred sources in
    order; then the most complete; then the id.
    """
    def rank(e: Entry) -> tuple[int, int, bool, int, int, str]:
        started = e.status not in (State.IDENTIFIED, State.DUPLICATE)
        source_rank = preference.index(e.source) if e.source in preference else len(preference)
        return (0 if started else 1, 0 if e.branch == "databases" else 1, e.preprint,
                source_rank, -e.filled, e.record_id)
    return min(members, key=rank)


def read_pair_decisions(path: Path, known: set[str], *, undecided_ok: bool = False,
                        unknown_record: Callable[[str], str] = lambda rid: f"no record "
                        f"{rid!r} in the review") -> list[PairDecision]:
    """A reviewer's same/different rows; a missing file means no decisions. In the review
    queue (``undecided_ok``) a row with no decision yet is skipped. ``unknown_record`` says
    why a record is not in the review."""
    if not path.is_file():
        return []
    problems, out = Problems(), []
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
        if undecided_ok and not value:
            continue
        if unknown:
            problems.append(f"{where}: {unknown_record(unknown[0])}")
        elif a == b:
            problems.append(f"{where}: a record cannot be paired with itself")
        elif value not in ("same", "different"):
            problems.append(f"{where}: decision {value!r} is not 'same' or 'different'")
        else:
            out.append(PairDecision(a, b, value == "same", where))
    problems.fail("the dedup decisions", f"correct those rows in {path}")
    return out


_VERDICTS = {"same": True, "different": False, "uncertain": None}
"""A stored pair verdict and its :attr:`Verdict.same`."""

QUEUE_FIELDS = ("title", "authors", "year", "journal", "volume", "issue", "pages", "doi",
                "source")
QUEUE_COLUMNS = (*PAIR_COLUMNS, "why", "title_score", "authors_score",
                 *(f"{f}_{side}" for f in QUEUE_FIELDS for side in ("a", "b")))


@collector_paused()
def run(db: Database, *, preference: tuple[str, ...] = DEFAULT_PREFERENCE,
        policy: Policy | None = None, decisions_file: Path = DEFAULT_DECISIONS,
        queue_file: Path = DEFAULT_QUEUE, overlap_file: Path | None = None,
        on_progress: Progress | None = None) -> DedupResult:
    """Bring every record's duplicate links and state in line with the rules and the
    reviewer's decisions, and rewrite the review queue (keeping every decision a reviewer
    wrote in it).

    Incremental: while the rules are those of the last run, only pairs that involve a
    record new since then are compared; the other verdicts are read back from the last run.
    ``policy`` says which kinds of related items count as one publication.
    With ``overlap_file``, how the sources overlap is written there too.
    """
    entries = load_entries(db)
    by_id = {e.record_id: e for e in entries}
    def unknown(record_id: str) -> str:
        return store.missing_record(db, record_id)

    decided = read_pair_decisions(queue_file, set(by_id), undecided_ok=True,
                                  unknown_record=unknown)
    decisions = read_pair_decisions(decisions_file, set(by_id), unknown_record=unknown) + (
        decided)
    policy = policy or Policy()
    rules = f"matcher {MATCHER_VERSION}; {policy.describe()}"
    last = clusters.last_run(db)
    fresh = clusters.unlinked(db) if last and last["rules"] == rules else None
    judged = [] if fresh is None else [
        (a, b, Verdict(_VERDICTS[verdict], rule, why, title, authors))
        for a, b, verdict, rule, why, title, authors in clusters.stored_pairs(db)]
    found = find_clusters(entries, decisions, judged=judged, fresh=fresh, policy=policy)
    duplicates, by_rule = 0, Counter[str]()
    cluster_rows: list[dict[str, Any]] = []
    moves: list[tuple[str, State, State, str]] = []
    relinks: list[tuple[str, str, str | None, str | None, bool]] = []
    trail: list[dict[str, Any]] = []
    links = clusters.all_links(db)
    with db.atomic():
        for members in tracked(found.clusters.values(), len(found.clusters), on_progress):
            kept = choose_kept([by_id[m] for m in members], preference)
            rules_used = sorted({found.rule_of[m] for m in members if m in found.rule_of})
            cluster_rows.append({"cluster_id": kept.record_id, "kept_record_id": kept.record_id,
                                 "size": len(members), "rules": json.dumps(rules_used)})
            for member in members:
                dup_of = None if member == kept.record_id else kept.record_id
                rule = found.rule_of.get(member) if dup_of else None
                _plan(by_id[member], kept.record_id, dup_of, rule, links[member], moves,
                      relinks, trail)
                if dup_of:
                    duplicates += 1
                    by_rule[rule or ""] += 1
        moved = store.move_many(db, moves)
        clusters.set_links(db, relinks)
        store.audit_many(db, trail)
        changed = len(moved | {r[0] for r in relinks})
        # find_clusters lists the stored verdicts first: only the pairs after them are new.
        clusters.save(db, cluster_rows, [
            {"record_id": a, "other_record_id": b, "rule": v.rule, "why": v.why,
             "verdict": next(k for k, same in _VERDICTS.items() if same is v.same),
             "title": round(v.title, 1), "authors": round(v.authors, 1)}
            for a, b, v in found.links[len(judged):]], replace_pairs=fresh is None)
        if fresh is None or fresh or changed:
            clusters.add_run(db, {
                "at": store.now(), "rules": rules, "records": len(entries),
                "compared": len(entries) if fresh is None else len(fresh),
                "reused": len(judged), "duplicates": duplicates})
    write_queue(db, queue_file, found.queue)
    if overlap_file:
        write_atomic(overlap_file, overlap_csv(overlap(db)).encode("utf-8"))
    return DedupResult(len(entries), len(found.clusters), duplicates, changed, dict(by_rule),
                       len(found.queue), len(entries) if fresh is None else len(fresh))


def write_queue(db: Database, path: Path, queue: list[tuple[str, str, Verdict]]) -> None:
    """The uncertain pairs, fields side by side, after the rows a reviewer already decided
    (kept as they are). No file is written while there is nothing to review."""
    kept = [row.values for row in read_sheet(path).rows if row.values.get("decision")] if (
        path.is_file()) else []
    if not (queue or kept):
        if path.is_file():
            path.unlink()
        return
    ids = sorted({r for a, b, _ in queue for r in (a, b)})
    fields = clusters.fields_of(db, ids, QUEUE_FIELDS)
    rows = []
    for a, b, verdict in queue:
        row: dict[str, Any] = {"record_id": a, "other_record_id": b, "decision": "",
                               "note": "", "why": verdict.why,
                               "title_score": f"{verdict.title:.0f}",
                               "authors_score": f"{verdict.authors:.0f}"}
        for name in QUEUE_FIELDS:
            for side, rid in (("a", a), ("b", b)):
                value = fields[rid][name]
                row[f"{name}_{side}"] = "; ".join(json.loads(value)) if (
                    name == "authors" and value) else value if value is not None else ""
        rows.append(row)
    out = io.StringIO()
    writer = csv_dict_writer(out, QUEUE_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows([*kept, *rows])
    write_atomic(path, out.getvalue().encode("utf-8"))  # it holds the reviewer's decisions


def _plan(entry: Entry, cluster_id: str, dup_of: str | None, rule: str | None,
          link: tuple[str | None, str | None], moves: list[tuple[str, State, State, str]],
          relinks: list[tuple[str, str, str | None, str | None, bool]],
          trail: list[dict[str, Any]]) -> None:
    """What one record needs: a move to or from duplicate, a new link, an audit row."""
    current = State(entry.status)
    if dup_of:
        target = State.DUPLICATE
    else:
        target = State.IDENTIFIED if current == State.DUPLICATE else current
    moves.append((entry.record_id, current, target,
                  f"{rule}: same as {dup_of}" if dup_of else "unique"))
    if link == (cluster_id, dup_of) and current == target:
        return
    relinks.append((entry.record_id, cluster_id, dup_of, rule, link[1] != dup_of))
    if link[1] != dup_of:
        trail.append({"actor": store.ACTOR_SYSTEM, "action": "dedup", "entity": "record",
                      "entity_id": entry.record_id, "field": "duplicate_of", "old": link[1],
                      "new": dup_of, "detail": rule})


def load_entries(db: Database) -> list[Entry]:
    entries = []
    for (record_id, source, branch, status, kind, pmid, doi, title, year, journal,
         journal_full, volume, pages, authors_json, abstract, issue, types
         ) in clusters.entry_rows(db):
        journal = journal or ""
        authors = json.loads(authors_json or "[]")
        filled = sum(1 for value in (pmid, doi, title, year, journal, volume, pages, abstract,
                                     issue, authors) if value)
        entries.append(Entry(
            record_id=record_id, source=source, branch=branch, status=status, kind=kind or "",
            pmid=pmid or "", doi=doi or "", title=title or "", year=year,
            journals=journal_names(journal, journal_full or ""),
            volume=volume or embase_volume(journal), pages=pages or "", filled=filled,
            authors=" ".join(names := tuple(fold(a) for a in authors)),
            author_list=names, issue=issue or "",
            abstract=fold(abstract or "")[:ABSTRACT_CHARS] if not (
                authors or year or journal or journal_full or volume or pages or doi or pmid)
            else "",
            preprint="preprint" in (types or "").lower(),
        ))
    counting = counter_sources((e.source, e.issue) for e in entries)
    for entry in entries:
        if entry.source in counting:
            entry.issue_n = ""
    return entries


@dataclass
class Link:
    other: str
    verdict: str
    """same, uncertain or different."""
    rule: str
    why: str
    title: float
    authors: float


@dataclass
class Explanation:
    record_id: str
    cluster_id: str
    kept: str
    members: list[str]
    links: list[Link]
    """Every pair with this record that dedup judged, strongest verdict first."""
    decisions: list[str]
    """The reviewer's rows that name this record."""


def explain(db: Database, record_id: str, *, decisions_file: Path = DEFAULT_DECISIONS,
            queue_file: Path = DEFAULT_QUEUE) -> Explanation:
    """Which records ``record_id`` was merged with, or kept apart from, and why."""
    row = clusters.link_of(db, record_id)
    if row is None:
        raise InputError(f"no record {record_id!r} in the review",
                         fix="use an id from `review export records` (source:id)")
    cluster = row[0]
    if cluster is None:
        raise StateError(f"record {record_id!r} has not been through dedup yet",
                         fix="run `review dedup` first")
    order = {"same": 0, "uncertain": 1, "different": 2}
    judged = sorted((Link(r["other_record_id"] if r["record_id"] == record_id
                         else r["record_id"], r["verdict"], r["rule"], r["why"], r["title"],
                         r["authors"])
                    for r in clusters.pairs_with(db, record_id)),
                   key=lambda link: (order[link.verdict], link.other))
    ids = store.record_ids(db)
    rows = read_pair_decisions(decisions_file, ids) + read_pair_decisions(
        queue_file, ids, undecided_ok=True)
    decisions = [f"{d.where}: {d.record_id} {'same as' if d.same else 'different from'} "
                 f"{d.other_record_id}" for d in rows
                 if record_id in (d.record_id, d.other_record_id)]
    return Explanation(record_id, cluster, clusters.kept_in(db, cluster) or cluster,
                       clusters.members(db, cluster), judged, decisions)


def split(db: Database, record_id: str, *, decisions_file: Path = DEFAULT_DECISIONS,
          note: str = "split by a reviewer") -> list[str]:
    """Take ``record_id`` out of its cluster: a ``different`` row against every other
    member goes into the decisions file, so the split survives every re-run. Returns the
    records it was split from; run dedup to apply it."""
    row = clusters.link_of(db, record_id)
    if row is None or row[0] is None:
        raise InputError(f"no deduplicated record {record_id!r} in the review",
                         fix="use an id from `review export records`, after `review dedup`")
    others = [r for r in clusters.members(db, row[0]) if r != record_id]
    if not others:
        return []
    held = decisions_file.read_bytes() if decisions_file.is_file() else b""
    out = io.StringIO()
    writer = csv_writer(out)
    if not held:
        writer.writerow(PAIR_COLUMNS)
    writer.writerows([record_id, other, "different", note] for other in others)
    # the reviewer's file, replaced whole: its rows, then these
    lead = held if not held or held.endswith(b"\n") else held + b"\n"
    write_atomic(decisions_file, lead + out.getvalue().encode("utf-8"))
    return others


@dataclass
class Overlap:
    sources: list[str]
    records: dict[str, int]
    """Records each source brought."""
    unique: dict[str, int]
    """Publications found only in that source."""
    shared: dict[tuple[str, str], int]
    """Publications found in both sources of the pair."""


def overlap(db: Database) -> Overlap:
    """How the sources overlap, counted in publications (clusters), not records."""
    by_cluster: dict[str, set[str]] = defaultdict(set)
    records: Counter[str] = Counter()
    for source, cluster in clusters.sources_and_clusters(db):
        records[source] += 1
        by_cluster[cluster or ""].add(source)
    sources = sorted(records)
    unique = {s: sum(found == {s} for found in by_cluster.values()) for s in sources}
    shared = {(a, b): sum(a in found and b in found for found in by_cluster.values())
              for i, a in enumerate(sources) for b in sources[i + 1:]}
    return Overlap(sources, dict(records), unique, shared)


def overlap_csv(table: Overlap) -> str:
    """The overlap as a square table: each source's records and unique publications, and
    the publications it shares with each other source."""
    out = io.StringIO()
    writer = csv_writer(out)
    writer.writerow(["source", "records", "unique", *(f"shared with {s}" for s in table.sources)])
    for a in table.sources:
        writer.writerow([a, table.records[a], table.unique[a], *(
            "" if a == b else table.shared.get((a, b), table.shared.get((b, a), 0))
            for b in table.sources)])
    return out.getvalue()
