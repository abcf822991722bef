"""The review as a Python object: open a review folder, run its stages, read where it stands.

This is what the ``review`` command calls, and what a notebook or script may call without
click::

    from review_pipeline.api import Review

    with Review("poems-review") as review:
        review.fetch(offline=True)
        review.import_()
        review.dedup()
        review.screen()
        review.extract()
        review.prisma()
        review.report()
        print(review.status()["states"])

Paths default to the review folder's layout (:mod:`review_pipeline.layout`), resolved
against ``folder``; any of them may be given. Stages load their libraries when they run, so
opening a review is quick. Errors are :class:`~review_pipeline.model.errors.ReviewError`\\s
that say what, where and what to do.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from review_pipeline import layout
from review_pipeline.model.errors import InputError
from review_pipeline.protocol import Protocol, Search, load_protocol

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlite_utils import Database

    from review_pipeline.init import AddedSource
    from review_pipeline.model.progress import Progress
    from review_pipeline.serve import App
    from review_pipeline.stages.dedup import DedupResult, Explanation, Overlap, Policy
    from review_pipeline.stages.extract import ExtractResult, Merged, SheetResult
    from review_pipeline.stages.fetch import FetchSummary, LiveSettings
    from review_pipeline.stages.import_ import ImportResult, ImportSummary
    from review_pipeline.stages.prisma import PrismaResult
    from review_pipeline.stages.screen import Agreement, Conflict, ScreenResult
    from review_pipeline.stages.screen import SheetResult as ScreeningSheet
    from review_pipeline.stages.screen.simulate import Replay
    from review_pipeline.stages.synthesis import Analysis, SynthesisResult


class Review:
    """One review: its folder, protocol and database (opened when first needed). Each
    method reads the protocol before it opens the database, so a missing protocol is the
    error a user sees, and no empty database is left behind."""

    def __init__(self, folder: Path | str = ".", *, protocol: Path | str | None = None,
                 db: Path | str | None = None,
                 on_wait: Callable[[str], None] | None = None) -> None:
        """``on_wait`` is told when another command holds the database and this one waits."""
        self.on_wait = on_wait
        self.folder = Path(folder)
        self.protocol_path = Path(protocol) if protocol else self.folder / layout.PROTOCOL
        self.db_path = Path(db) if db else self.folder / layout.DB
        self._db: Database | None = None

    def __enter__(self) -> Review:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    def path(self, relative: Path | str) -> Path:
        """A path of the review's layout, inside its folder."""
        return self.folder / relative

    def protocol(self) -> Protocol:
        """The protocol as it stands on disk (read again at each call)."""
        return load_protocol(self.protocol_path)

    def db(self, create: bool = False) -> Database:
        """The review database, opened once. Only the stages that bring records in make it
        (``create``), so a mistyped path is an error, not a new empty review."""
        from review_pipeline.store import open_db

        if self._db is None:
            self._db = open_db(self.db_path, create=create, on_wait=self.on_wait)
        return self._db

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    # fetch and import: records in

    def fetch(self, *, offline: bool = False, live_only: bool = False,
              live: LiveSettings | None = None, query: str | None = None,
              raw_dir: Path | None = None, on_progress: Progress | None = None
              ) -> FetchSummary:
        """Run the protocol's PubMed searches (live, else replayed, else the snapshot).
        ``query`` searches that instead of the protocol's one search, live only, and keeps
        the protocol's runs."""
        from review_pipeline.stages import fetch

        protocol = self._with_query(query)
        return fetch.run(self.db(create=True), protocol, offline=offline,
                         live_only=live_only, live=live,
                         raw_dir=raw_dir or self.path(layout.RAW), on_progress=on_progress,
                         forget=not query)

    def _with_query(self, query: str | None) -> Protocol:
        protocol = self.protocol()
        if not query:
            return protocol
        if len(protocol.searches) > 1:
            raise InputError("a query replaces the query of the protocol's one search; this "
                             "protocol has several", where=str(self.protocol_path),
                             fix="add the search to the protocol under [[searches]] instead")
        search = protocol.searches[0] if protocol.searches else Search(query)
        return dataclasses.replace(
            protocol, searches=(dataclasses.replace(search, query=query, snapshot=None),))

    def import_(self, *, skip_bad: bool = False,
                on_file: Callable[[ImportResult], None] | None = None) -> ImportSummary:
        """Hold exactly the export files the protocol lists under ``[[sources]]``."""
        from review_pipeline.stages import import_

        protocol = self.protocol()
        return import_.run(self.db(create=True), protocol, on_file, skip_bad=skip_bad)

    def import_file(self, file: Path, source: str, *, fmt: str = "auto",
                    skip_bad: bool = False) -> ImportResult:
        """Import one file as records of ``source`` (in the branch the protocol gives it)."""
        from review_pipeline.stages.import_ import import_file

        declared = self.protocol().source(source) if self.protocol_path.exists() else None
        return import_file(self.db(create=True), file, source=source,
                           branch=declared.branch if declared else "databases", fmt=fmt,
                           skip_bad=skip_bad)

    def listed(self, file: Path, source: str) -> bool:
        """Whether the protocol lists ``file`` under ``source`` (true without a protocol)."""
        if not self.protocol_path.exists():
            return True
        return file.resolve() in {f.resolve() for s in self.protocol().sources
                                  if s.name == source for f in s.files}

    def add_source(self, file: Path, source: str, *, kind: str | None = None,
                   label: str | None = None, fmt: str = "auto") -> AddedSource:
        """Copy ``file`` into the review's imports and list it in the protocol."""
        from review_pipeline.init import add_source

        return add_source(self.protocol_path, file, source, kind=kind, label=label, fmt=fmt)

    # dedup

    def dedup(self, *, preference: tuple[str, ...] | None = None,
              policy: Policy | None = None, decisions: Path | None = None,
              queue: Path | None = None, overlap: Path | None = None,
              on_progress: Progress | None = None) -> DedupResult:
        """Link the duplicate records (nothing is deleted) under the review's ``policy`` (by
        default :class:`~review_pipeline.stages.dedup.Policy`'s); write the review queue and
        the table of how the sources overlap."""
        from review_pipeline.stages import dedup

        return dedup.run(self.db(), preference=preference or dedup.DEFAULT_PREFERENCE,
                         policy=policy or dedup.Policy(),
                         decisions_file=decisions or self.path(layout.DEDUP_DECISIONS),
                         queue_file=queue or self.path(layout.DEDUP_QUEUE),
                         overlap_file=overlap or self.path(layout.OVERLAP),
                         on_progress=on_progress)

    def explain(self, record_id: str, *, decisions: Path | None = None,
                queue: Path | None = None) -> Explanation:
        """Which records ``record_id`` was merged with, or kept apart from, and why."""
        from review_pipeline.stages import dedup

        return dedup.explain(self.db(), record_id,
                             decisions_file=decisions or self.path(layout.DEDUP_DECISIONS),
                             queue_file=queue or self.path(layout.DEDUP_QUEUE))

    def split(self, record_id: str, *, decisions: Path | None = None) -> list[str]:
        """Take ``record_id`` out of its cluster (written to the decisions file)."""
        from review_pipeline.stages import dedup

        return dedup.split(self.db(), record_id,
                           decisions_file=decisions or self.path(layout.DEDUP_DECISIONS))

    def overlap(self) -> Overlap:
        """How the sources overlap, in publications."""
        from review_pipeline.stages import dedup

        return dedup.overlap(self.db())

    # screen

    def screen(self, *, folder: Path | None = None,
               on_progress: Progress | None = None) -> ScreenResult:
        """Apply the rules, the reviewers' sheets and the resolutions."""
        from review_pipeline.stages import screen

        protocol = self.protocol()
        return screen.run(self.db(), protocol, folder or self.path(layout.SCREENING),
                          on_progress=on_progress)

    def screening_sheet(self, stage: str, reviewer: str, *, folder: Path | None = None,
                        fmt: str = "csv") -> ScreeningSheet:
        """Write (or extend) ``reviewer``'s sheet of the records awaiting them at ``stage``."""
        from review_pipeline.stages import screen

        protocol = self.protocol()
        return screen.write_worksheet(self.db(), protocol, stage, reviewer,
                                      folder or self.path(layout.SCREENING), fmt)

    def conflicts(self, stage: str | None = None) -> list[Conflict]:
        from review_pipeline.stages import screen

        return screen.conflicts(self.db(), stage)

    def add_conflicts_to_resolutions(self, *, folder: Path | None = None) -> int:
        from review_pipeline.stages import screen

        return screen.add_conflicts_to_resolutions(self.db(),
                                                   folder or self.path(layout.SCREENING))

    def agreement(self) -> list[Agreement]:
        """Cohen's kappa for each pair of reviewers at each stage."""
        from review_pipeline.stages import screen

        return screen.agreement(self.db())

    # extract

    def extract(self, *, folder: Path | None = None) -> ExtractResult:
        """Validate the extraction sheets and load them (all or nothing)."""
        from review_pipeline.stages import extract

        reviewers = self.protocol().extraction.reviewers
        return extract.run(self.db(), folder or self.path(layout.EXTRACTION), reviewers)

    def extraction_sheets(self, reviewer: str, *, folder: Path | None = None,
                          fmt: str = "csv") -> list[SheetResult]:
        from review_pipeline.stages import extract

        return extract.write_sheets(self.db(), reviewer, folder or self.path(layout.EXTRACTION),
                                    fmt)

    def compare(self) -> Merged:
        """The reviewers' copies merged: agreed cells, disagreements, studies waiting."""
        from review_pipeline.stages import extract

        reviewers = self.protocol().extraction.reviewers
        return extract.compare(self.db(), reviewers)

    def add_to_consensus(self, *, folder: Path | None = None) -> int:
        from review_pipeline.stages import extract

        reviewers = self.protocol().extraction.reviewers
        return extract.add_to_consensus(self.db(), folder or self.path(layout.EXTRACTION),
                                        reviewers)

    def history(self, study: str) -> tuple[str, list[dict[str, Any]]]:
        """The audit trail of one study's extraction."""
        from review_pipeline.stages import extract

        return extract.history(self.db(), study)

    def synthesis(self, *, out: Path | None = None) -> SynthesisResult:
        """Pool each outcome per treatment; write synthesis.json and the forest plots."""
        from review_pipeline.stages import synthesis

        protocol = self.protocol()
        return synthesis.run(self.db(), protocol, out or self.path(layout.REPORTS))

    # prisma, report, and views

    def prisma(self, *, out: Path | None = None) -> PrismaResult:
        """Write the PRISMA 2020 flow (checked), its diagram and the search log."""
        from review_pipeline.stages import prisma

        protocol = self.protocol()
        return prisma.run(self.db(), protocol, out or self.path(layout.REPORTS))

    def report(self, *, out: Path | None = None, pdf: bool = False) -> Path:
        """Write the HTML report (and, with ``pdf``, ``index.pdf`` beside it, printed by a
        headless Chromium); return the page's path."""
        from review_pipeline.stages import report

        protocol = self.protocol()
        page = report.run(self.db(), protocol, out or self.path(layout.REPORTS),
                          self.path(layout.GRADE))
        if pdf:
            report.to_pdf(page, page.with_suffix(".pdf"))
        return page

    def serve(self, *, reviewer: str | None = None, stage: str = "ta",
              host: str = "127.0.0.1", port: int = 8770) -> App:
        """The browser app for ``reviewer`` at ``stage`` (the only reviewer with a sheet
        there, when not given), bound to ``host``:``port`` (0: any free port) and ready for
        ``serve_forever()``; it screens into the reviewer's sheet and extracts into their
        extraction sheets."""
        from review_pipeline.model.state import STAGES
        from review_pipeline.serve import Bench, Desk, Served, make_app
        from review_pipeline.store.screening import title_abstract_pool

        if stage not in STAGES:
            raise InputError(f"unknown stage '{stage}'", fix="use --stage ta or --stage ft")
        protocol = self.protocol()
        db = self.db()
        folder = self.path(layout.SCREENING)
        reviewer = reviewer or _only_reviewer(folder, stage)
        desk = Desk(db, protocol, folder, stage, reviewer)
        extraction = self.path(layout.EXTRACTION)
        bench = Bench(db, extraction, reviewer) if (extraction / layout.FIELDS).exists() \
            else None
        pool = [row["record_id"] for row in title_abstract_pool(db)]
        try:
            return make_app(Served(protocol, desk, bench, pool), host, port)
        except OSError as error:
            raise InputError(f"cannot listen on {host}:{port} ({error.strerror})",
                             fix="give another port with --port N (0 picks a free one)"
                             ) from None

    def status(self) -> dict[str, Any]:
        """Where the review stands: records, states, decisions pending, PRISMA counts."""
        from review_pipeline.views.status import status

        protocol = self.protocol()
        return status(self.db(), protocol)

    def export(self, fmt: str = "csv") -> tuple[str, int]:
        """Every record (duplicates included) as CSV or RIS text, and how many."""
        from review_pipeline.views import export

        if fmt == "ris":
            return export.export_records_ris(self.db())
        return export.export_records_csv(self.db())


def _only_reviewer(folder: Path, stage: str) -> str:
    names = sorted({p.stem.split("-", 1)[1] for p in folder.glob(f"{stage}-*.*")
                    if p.suffix in (".csv", ".xlsx")}) if folder.is_dir() else []
    if len(names) != 1:
        raise InputError(f"{'several reviewers' if names else 'no reviewer'} at {stage}"
                         + (f" ({', '.join(names)})" if names else ""),
                         where=str(folder), fix="say who screens with --reviewer NAME")
    return names[0]


def meta(path: Path | str, *, measure: str | None = None, method: str = "REML",
         knha: bool = False, by: str | None = None, ratio: bool = False,
         forest: Path | str | None = None, funnel: Path | str | None = None) -> Analysis:
    """Pool the studies of a plain CSV (no review needed): ``study,events,total``,
    ``study,events_1,total_1,events_2,total_2``, or ``study,estimate,se``. See
    :func:`review_pipeline.stages.synthesis.meta.meta`."""
    from review_pipeline.stages.synthesis.meta import meta as run

    return run(Path(path), measure=measure, method=method, knha=knha, by=by, ratio=ratio,
               forest_out=Path(forest) if forest else None,
               funnel_out=Path(funnel) if funnel else None)


def simulate(path: Path | str, *, priors: tuple[str, ...] = (), seed: int = 0,
             order_out: Path | str | None = None, curve: Path | str | None = None,
             on_progress: Progress | None = None) -> Replay:
    """Replay a fully labelled set in ranked order (no review needed) and measure it. See
    :func:`review_pipeline.stages.screen.simulate.replay`."""
    from review_pipeline.stages.screen.simulate import replay

    return replay(Path(path), priors=priors, seed=seed,
                  order_out=Path(order_out) if order_out else None,
                  curve_out=Path(curve) if curve else None, on_progress=on_progress)
