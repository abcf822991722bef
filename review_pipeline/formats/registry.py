"""Which format a file is in, and its records read with final ids and checked counts.

Every format is listed here once; the protocol and `review import --format` take their names
from this table."""

from __future__ import annotations

import codecs
import importlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from review_pipeline.formats.base import Reading, encoding_warning, open_binary
from review_pipeline.model.errors import CountMismatchError, InputError
from review_pipeline.model.record import Record, content_digest, identity_key


@dataclass(frozen=True)
class Format:
    name: str
    description: str
    module: str
    """The module of :mod:`review_pipeline.formats` that reads it, imported when first used:
    the protocol and the CLI need the names, not the parsers."""
    reader: str = "read"
    sniffer: str = "sniff"
    """The function that tells the format from a file's head; empty for formats recognised
    by other means (XLSX by its zip signature) or only by name."""
    text: bool = True
    """Read as text (so its encoding is checked); XML and XLSX carry their own."""

    def read(self, path: Path) -> Reading:
        reader: Callable[[Path], Reading] = getattr(self._module(), self.reader)
        return reader(path)

    def sniff(self, head: str) -> bool:
        if not self.sniffer:
            return False
        sniffer: Callable[[str], bool] = getattr(self._module(), self.sniffer)
        return sniffer(head)

    def _module(self) -> ModuleType:
        return importlib.import_module(f"review_pipeline.formats.{self.module}")


FORMATS = (  # in the order formats are tried on a file's head
    Format("pubmed-xml", "PubMed XML (efetch, or 'PubMed XML' export)", "pubmed_xml",
           text=False),
    Format("endnote-xml", "EndNote XML (File > Export > XML)", "endnote_xml", text=False),
    Format("medline", "PubMed/MEDLINE text (.nbib, .txt)", "medline"),
    Format("wos", "Web of Science tagged text (.ciw, 'Plain text file')", "wos"),
    Format("ovid", "Ovid tagged text (Embase, MEDLINE, PsycINFO via Ovid)", "ovid"),
    Format("ris", "RIS (Embase, Scopus, Web of Science, Ovid, EndNote, Zotero)", "ris"),
    Format("snapshot", "review_pipeline snapshot (JSON lines)", "snapshot"),
    Format("csv", "CSV or TSV with a header row (delimiter read from the file)", "tabular"),
    Format("tsv", "tab-separated values with a header row", "tabular", "read_tsv", ""),
    Format("xlsx", "Excel workbook (.xlsx), first sheet, header row", "tabular", "read_xlsx",
           "", text=False),
)
NAMES = ("auto", *(f.name for f in FORMATS))
"""What a source's ``format`` or ``review import --format`` may say: ``auto`` (read from
the content) or a reader's name."""


def formats() -> dict[str, Format]:
    return {f.name: f for f in FORMATS}


def detect_format(path: Path) -> str:
    """The format of ``path``, judged from its content rather than its name."""
    with open_binary(path) as stream:
        data = stream.read(1 << 16)
    if not data.strip():
        raise InputError("the file is empty", where=str(path),
                         fix="export the records again; the download may have failed")
    if data.startswith(b"PK\x03\x04"):  # a zip: XLSX is the only zipped export read here
        return "xlsx"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        head = data.decode("utf-16", errors="ignore")
    elif b"\x00" in data[:4096]:
        raise InputError("this is a binary file, not a text export", where=str(path),
                         fix="export the records as RIS, MEDLINE (.nbib), CSV or PubMed XML")
    else:
        head = data.decode("utf-8", errors="replace").lstrip("\ufeff")
    head = head.replace("\r\n", "\n").replace("\r", "\n")
    for fmt in FORMATS:
        if fmt.sniff(head):
            return fmt.name
    known = ", ".join(formats())
    raise InputError(
        "cannot tell the format of this file from its content", where=str(path),
        fix=f"pass --format with one of: {known}; or export again as RIS or MEDLINE",
    )


def read_file(path: Path, fmt: str = "auto", *, skip_bad: bool = False
              ) -> tuple[str, Reading]:
    """The :class:`Reading` of ``path``, its records in a list, and the format it was read as.

    A record that cannot be read is an error naming the file, line and field, unless
    ``skip_bad``: then the reading keeps it under ``bad`` and the rest is read.
    """
    repeated: frozenset[str] = frozenset()
    while True:
        name, reading = stream_file(path, fmt, skip_bad=skip_bad, repeated=repeated)
        reading.records = list(reading.records)
        if not reading.repeated:
            return name, reading
        repeated = reading.repeated


def stream_file(path: Path, fmt: str = "auto", *, skip_bad: bool = False,
                repeated: frozenset[str] = frozenset()) -> tuple[str, Reading]:
    """As :func:`read_file`, but the records come one by one as the file is read, and the
    checks run when they are exhausted: whoever stores them must be able to undo that.

    Ids that turn out to repeat in the file (``Reading.repeated``) are known only at its
    end; the file must then be read again, with ``repeated`` naming them (see
    :class:`Identities`).
    """
    name = detect_format(path) if fmt == "auto" else fmt
    registry = formats()
    if name not in registry:
        raise InputError(f"unknown format '{name}'", where=str(path),
                         fix=f"use one of: auto, {', '.join(registry)}")
    reading = registry[name].read(path)
    reading.records = _checked(path, registry[name], reading.records, reading, skip_bad,
                               Identities(repeated))
    return name, reading


def _checked(path: Path, fmt: Format, records: Iterable[Record], reading: Reading,
             skip_bad: bool, ids: Identities) -> Iterator[Record]:
    """``records`` with their final ids, then the file's count and bad records checked
    against ``reading``, then its encoding."""
    read = 0
    for record in records:
        read += 1
        if not record.source_record_id:
            record.source_record_id = identity_key(record)
        yield ids(record)
    reading.repeated = frozenset(ids.found)
    refused = sum(b.records for b in reading.bad)
    if read + refused != reading.expected:
        raise CountMismatchError(
            f"the file holds {reading.expected} records but {read} were read and {refused} "
            "refused", where=str(path), fix="report this as a bug, with the file attached")
    if reading.bad and not skip_bad:
        first = reading.bad[0]
        more = f" ({refused - first.records} more records cannot be read)" if (
            refused > first.records) else ""
        where = f"{path}, line {first.line}" if first.line else str(path)
        raise InputError(
            first.problem + (f" [field {first.field}]" if first.field else "") + more,
            where=where, fix="correct the record in the file, or import the rest with "
                             "--skip-bad (the refused records go to a quarantine report)")
    if fmt.text:
        reading.warnings[:0] = encoding_warning(path)


def read_records(path: Path, fmt: str = "auto") -> tuple[str, list[Record]]:
    """The records of ``path`` and the format they were read as; any bad record is an error."""
    name, reading = read_file(path, fmt)
    return name, list(reading.records)


class Identities:
    """Gives each record of one file its final id, whatever the order of the file.

    A record's id is its source's own id, or else what the record is
    (:func:`~review_pipeline.model.record.identity_key`). An id that several records of one file
    share is told apart by each record's content: ``<id>~<digest>``, and ``~2``, ``~3``
    after that for records identical in every field. So the ids depend only on which
    records the file holds. A stream meets a repeat only once the first record is gone;
    the keys found so (``found``) must then be given as ``repeated`` to a second reading.
    """

    def __init__(self, repeated: Iterable[str] = ()) -> None:
        self.repeated = frozenset(repeated)
        self.found: set[str] = set()
        self._seen: set[str] = set()
        self._taken: dict[str, int] = {}

    def __call__(self, record: Record) -> Record:
        key = record.source_record_id
        if key in self.repeated:
            base = f"{key}~{content_digest(record)}"
            count = self._taken[base] = self._taken.get(base, 0) + 1
            record.source_record_id = base if count == 1 else f"{base}~{count}"
        elif key in self._seen:
            self.found.add(key)
        else:
            self._seen.add(key)
        return record


def unique_ids(records: list[Record]) -> list[Record]:
    """``records`` with their final ids (see :class:`Identities`), in one pass since all are
    at hand."""
    for record in records:
        record.source_record_id = record.source_record_id or identity_key(record)
    counts = Counter(r.source_record_id for r in records)
    ids = Identities(key for key, n in counts.items() if n > 1)
    return [ids(record) for record in records]
