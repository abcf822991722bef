"""Ways records come in: one module per format, and a registry that picks one.

Every reader takes a path and returns the file's records, having counted the file's own
record markers independently of the parser; a mismatch is an error, never a silent loss.
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, cast

from ..errors import InputError
from ..records import Record


@dataclass(frozen=True)
class Format:
    name: str
    description: str
    read: Callable[[Path], list[Record]]
    sniff: Callable[[str], bool]


def display_path(path: Path) -> str:
    """A path as people read it: relative to the working folder when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def open_binary(path: Path) -> BinaryIO:
    """``path`` opened for streaming bytes, gunzipped on the fly when it is gzip."""
    try:
        with path.open("rb") as probe:
            gzipped = probe.read(2) == b"\x1f\x8b"
    except FileNotFoundError:
        raise InputError("file not found", where=str(path),
                         fix="check the path (in the protocol, paths are relative to the "
                             "project folder)") from None
    except IsADirectoryError:
        raise InputError("is a folder, not a file", where=str(path),
                         fix="name the export file itself") from None
    return cast(BinaryIO, gzip.open(path, "rb") if gzipped else path.open("rb"))


def read_text(path: Path) -> str:
    """A text file's content: UTF-8 (with or without BOM) or UTF-16 with a BOM, gzipped or not.

    Anything else is an error naming the byte and line, since guessing an encoding
    silently garbles names and titles.
    """
    with open_binary(path) as stream:
        try:
            data = stream.read()
        except (OSError, EOFError) as exc:
            raise InputError(f"a damaged gzip file ({exc})", where=str(path),
                             fix="download or export the file again") from None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _decode(data, "utf-16", path)
    if b"\x00" in data[:4096]:
        raise InputError("this is a binary file, not a text export", where=str(path),
                         fix="export the records as RIS, MEDLINE (.nbib) or PubMed XML")
    return _decode(data, "utf-8-sig", path)


def _decode(data: bytes, encoding: str, path: Path) -> str:
    try:
        return data.decode(encoding).replace("\r\n", "\n").replace("\r", "\n")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(
            f"not {encoding.split('-sig')[0].upper()} text: byte 0x{data[exc.start]:02x} at "
            f"offset {exc.start} cannot be decoded",
            where=f"{path}, line {line}",
            fix="export the file again as UTF-8 (most databases offer it), or convert it "
                "with `iconv -f latin1 -t utf-8`",
        ) from None


def _registry() -> dict[str, Format]:
    from . import medline, pubmed_xml, ris, snapshot

    formats = [
        Format("pubmed-xml", "PubMed XML (efetch, or 'PubMed XML' export)", pubmed_xml.read,
               pubmed_xml.sniff),
        Format("medline", "PubMed/MEDLINE text (.nbib, .txt)", medline.read, medline.sniff),
        Format("ris", "RIS (Embase, Scopus, Web of Science, Ovid, EndNote, Zotero)", ris.read,
               ris.sniff),
        Format("snapshot", "review_pipeline snapshot (JSON lines)", snapshot.read,
               snapshot.sniff),
    ]
    return {f.name: f for f in formats}


def formats() -> dict[str, Format]:
    return _registry()


def detect_format(path: Path) -> str:
    """The format of ``path``, judged from its content rather than its name."""
    head = read_text(path)[:8192]
    for fmt in _registry().values():
        if fmt.sniff(head):
            return fmt.name
    known = ", ".join(_registry())
    raise InputError(
        "cannot tell the format of this file from its content", where=str(path),
        fix=f"pass --format with one of: {known}; or export again as RIS or MEDLINE",
    )


def read_records(path: Path, fmt: str = "auto") -> tuple[str, list[Record]]:
    """The records of ``path`` and the format they were read as."""
    name = detect_format(path) if fmt == "auto" else fmt
    registry = _registry()
    if name not in registry:
        raise InputError(f"unknown format '{name}'", where=str(path),
                         fix=f"use one of: auto, {', '.join(registry)}")
    records = registry[name].read(path)
    unique_ids(records)
    return name, records


def unique_ids(records: list[Record]) -> list[Record]:
    """Give a repeated source id within one file a suffix, so both records are kept."""
    seen: dict[str, int] = {}
    for record in records:
        count = seen.get(record.source_record_id, 0) + 1
        seen[record.source_record_id] = count
        if count > 1:
            record.source_record_id = f"{record.source_record_id}~{count}"
    return records


def file_tag(path: Path) -> str:
    """A short content hash; ``f"{tag}#{n}"`` ids a record whose export gives it no id,
    stable for as long as the file is unchanged."""
    return sha256_file(path)[:10]
