"""One reviewer's extraction in the browser: the forms of ``fields.csv`` for one study, saved
into the reviewer's own sheets (``extracted/extraction/<reviewer>/<table>.csv``).

A row is checked as ``review extract`` checks it, by the stage's own reader run over the
reviewer's sheets with the row in place (in a scratch folder): a value refused there is
refused here with the same message, and the sheet is left as it was. Problems the sheets had
before the edit are not blamed on it.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlite_utils import Database

from review_pipeline import store
from review_pipeline.formats.sheets import SUFFIXES, read_sheet, write_sheet
from review_pipeline.model.errors import InputError, Problems
from review_pipeline.model.state import State
from review_pipeline.stages.extract import load_fields, write_sheets
from review_pipeline.stages.extract.fields import Form, Forms
from review_pipeline.stages.extract.links import read_links, study_ids
from review_pipeline.stages.extract.stage import FIELDS, STUDY_REPORTS, read_copies
from review_pipeline.stages.extract.worksheets import citation


@dataclass(frozen=True)
class Filled:
    """One row of a study in one of the reviewer's tables."""

    line: int
    """The row's line in the sheet (0 for a row not written yet)."""
    values: dict[str, str]


@dataclass(frozen=True)
class StudyForms:
    record_id: str
    citation: str
    tables: list[tuple[Form, list[Filled]]]


class Bench:
    """``reviewer``'s extraction sheets in ``folder``."""

    def __init__(self, db: Database, folder: Path, reviewer: str) -> None:
        self.folder, self.reviewer = folder, reviewer
        self.forms: Forms = load_fields(folder / FIELDS)
        fmt = "xlsx" if any((folder / reviewer).glob("*.xlsx")) else "csv"
        # the sheets are made or extended as `review extract sheet` would
        write_sheets(db, reviewer, folder, fmt)
        # what the checks need of the database, read once: the server's threads do not
        # share its connection
        included = store.records_at(db, State.INCLUDED, ("record_id", "authors", "year",
                                                         "title"))
        self.included = {r["record_id"] for r in included}
        self.citations = {r["record_id"]: citation(r) for r in included}
        self.known = store.record_ids(db)

    def path(self, table: str) -> Path:
        return next(p for p in (self.folder / self.reviewer / f"{table}{s}" for s in SUFFIXES)
                    if p.exists())

    def studies(self) -> list[tuple[str, str]]:
        """(record, citation) of every study in the reviewer's first table, in its order."""
        first = next(iter(self.forms))
        seen: dict[str, str] = {}
        for row in read_sheet(self.path(first.name)).rows:
            record_id = row.values["record_id"]
            seen.setdefault(record_id, self.citations.get(record_id) or record_id)
        return list(seen.items())

    def study(self, record_id: str) -> StudyForms:
        citation = dict(self.studies()).get(record_id)
        if citation is None:
            raise InputError(f"no study '{record_id}' in {self.reviewer}'s sheets",
                             fix="choose a study from the list")
        tables = []
        for form in self.forms:
            rows = [Filled(row.line, {f.name: row.values.get(f.name, "") for f in form.fields})
                    for row in read_sheet(self.path(form.name)).rows
                    if row.values["record_id"] == record_id]
            # a table with a row key (arms, outcomes) may take more rows: a blank one to add
            blank = [Filled(0, {f.name: "" for f in form.fields})] if form.keys or not rows \
                else []
            tables.append((form, [*rows, *blank]))
        return StudyForms(record_id, citation, tables)

    def save(self, table: str, record_id: str, before: dict[str, str] | None,
             values: dict[str, str]) -> tuple[list[str], dict[str, str]]:
        """Put ``values`` into ``record_id``'s row of ``table`` that holds ``before`` (a new
        row when None) if the extract stage would take it; return no problems and the row's
        values now. Otherwise return its problems and change nothing. A row is found by
        what it holds, not where: lines move when a sheet is written again."""
        form = self.forms.tables.get(table)
        if form is None:
            raise InputError(f"no table '{table}'", fix="reload the page")
        path = self.path(table)
        sheet = read_sheet(path)
        header = list(sheet.header)
        original = [[row.values.get(c, "") for c in header] for row in sheet.rows]
        rows = [list(row) for row in original]
        cells = {f.name: str(values.get(f.name, "")).strip() for f in form.fields}
        if before is not None:
            held = {f.name: str(before.get(f.name, "")).strip() for f in form.fields}
            at = next((i for i, row in enumerate(sheet.rows)
                       if row.values["record_id"] == record_id
                       and all(row.values.get(k, "") == v for k, v in held.items())), None)
            if at is None:
                raise InputError(f"{record_id}'s row of {table} is no longer as the page shows "
                                 "it", where=str(path), fix="reload the page: the sheet was "
                                                            "changed meanwhile")
            rows[at] = [cells.get(c, rows[at][i]) for i, c in enumerate(header)]
        else:
            rows.append([record_id if c == "record_id" else cells.get(c, "") for c in header])
        new = self._problems(path, header, rows) - self._problems(path, header, original)
        if new:
            return sorted(new), before or {}
        write_sheet(path, header, rows, {f.name: f.choices for f in form.fields if f.choices},
                    delimiter=sheet.delimiter)
        return [], cells

    def _problems(self, path: Path, header: list[str], rows: list[list[str]]) -> set[str]:
        """What the extract stage would say of the reviewer's sheets with ``path`` holding
        ``rows`` (written as a save writes them, so that lines compare), named as the real
        files."""
        included, known = self.included, self.known
        problems = Problems()
        studies = study_ids(included, read_links(self.folder / STUDY_REPORTS, included, known,
                                                 problems))
        mine = self.folder / self.reviewer
        with tempfile.TemporaryDirectory() as tmp:
            scratch = Path(tmp) / self.reviewer
            shutil.copytree(mine, scratch)
            write_sheet(scratch / path.name, header, rows)
            found: list[str] = []
            read_copies(Path(tmp), self.forms, studies, known, found)
        return {p.replace(str(scratch), str(mine)) for p in found}
