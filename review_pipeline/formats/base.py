"""Ways records come in: one module per format, and a registry that picks one.

Every reader takes a path and returns a :class:`Reading`: the records it read, the records
it could not read (each with its line, field and raw text), and the number of records the
file holds, counted from its own record markers independently of the parser. Records read
plus records refused must equal that count, so nothing is ever lost without a word.
"""

from __future__ import annotations

import codecs
import gzip
import re
import stat
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, cast

from review_pipeline.files import stamp
from review_pipeline.model.errors import InputError
from review_pipeline.model.record import Record

MB = 1 << 20
MAX_WHOLE = 1024 * MB
"""The most text a reader holds whole (MEDLINE, Ovid, snapshots; a gzip's output too)."""
MAX_LINE = 64 * MB
"""The longest line a streamed file may have: a record is far shorter."""
MAX_FIELD = 8 * MB
"""The largest cell of a table: an abstract is some kilobytes."""
MAX_UNPACKED = 512 * MB
"""The most an XLSX workbook's parts may unpack to (a zip bomb declares far more)."""


def check_workbook(path: Path) -> None:
    """Refuse a workbook whose parts would unpack to more than :data:`MAX_UNPACKED`, before
    any of it is read. The sizes are those the zip declares,
    which is also as far as Python's zipfile will unpack."""
    try:
        with zipfile.ZipFile(path) as book:
            unpacked = sum(part.file_size for part in book.infolist())
    except (zipfile.BadZipFile, OSError):
        return  # not a workbook at all: its reader says so in its own words
    if unpacked > MAX_UNPACKED:
        raise InputError(f"the workbook unpacks to {unpacked // MB:,} MB, more than the "
                         f"{MAX_UNPACKED // MB} MB a sheet of records needs", where=str(path),
                         fix="split it, or export the records as CSV")


@dataclass
class Bad:
    """A record that could not be read as it stands."""

    line: int
    """Where it starts in the file (1-based; 0 when the format cannot say)."""
    problem: str
    field: str = ""
    raw: str = ""
    """The record's own text, for the quarantine report."""
    records: int = 1
    """How many of the file's records this covers (a damaged tail may hold several)."""


@dataclass
class Reading:
    records: Iterable[Record]
    """A list, or a one-pass iterator (large text formats, read as a stream); ``expected``,
    ``bad`` and ``warnings`` are complete once it is exhausted."""
    expected: int
    """Records in the file, counted from its markers, not by the parser."""
    bad: list[Bad] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    repeated: frozenset[str] = frozenset()
    """Ids that several records of the file share and that were not known to repeat when
    the reading began: its ids are final only once it is read again knowing them."""


def open_binary(path: Path) -> BinaryIO:
    """``path`` opened for streaming bytes, gunzipped on the fly when it is gzip (its output
    bounded by :data:`MAX_WHOLE`)."""
    return _open(path, gap=None)


def open_xml(path: Path) -> BinaryIO:
    """``path`` opened as :func:`open_binary` does, for an XML parser: refused as soon as a
    stretch of text without markup exceeds :data:`MAX_FIELD`, since the parser would hold
    it whole as one element's text."""
    return _open(path, gap=MAX_FIELD)


def _open(path: Path, gap: int | None) -> BinaryIO:
    try:
        if path.is_dir():
            raise InputError("is a folder, not a file", where=str(path),
                             fix="name the export file itself")
        if not stat.S_ISREG(path.stat().st_mode):  # a pipe would wait for a writer for ever
            raise InputError("not a regular file (a pipe, a device or a socket)",
                             where=str(path), fix="name the export file itself")
        with path.open("rb") as probe:
            gzipped = probe.read(2) == b"\x1f\x8b"
    except FileNotFoundError:
        raise InputError("file not found", where=str(path),
                         fix="check the path (in the protocol, paths are relative to the "
                             "project folder)") from None
    except OSError as exc:  # a symbolic link that loops, no permission, ...
        raise InputError(f"cannot open the file ({exc.strerror})", where=str(path),
                         fix="check the path and its permissions") from None
    if not gzipped and gap is None:
        return path.open("rb")
    raw = cast(BinaryIO, gzip.open(path, "rb")) if gzipped else path.open("rb")  # noqa: SIM115 (caller closes)
    return cast(BinaryIO, Guarded(raw, str(path), whole=MAX_WHOLE if gzipped else None,
                                  gap=gap))


def count_markers(stream: BinaryIO, marker: re.Pattern[bytes]) -> int:
    """How often ``marker`` (which holds one ``<``, where it starts) occurs in ``stream``,
    read in blocks: the count of records an XML file holds, without its parser. A block
    carries over from its last ``<``, so ``stream`` must be guarded (:func:`open_xml`)
    for that carry to stay small."""
    count, carry = 0, b""
    for block in iter(lambda: stream.read(1 << 20), b""):
        data = carry + block
        # No marker straddles the cut at the last "<".
        cut = data.rfind(b"<")
        cut = len(data) if cut < 0 else cut
        count += len(marker.findall(data, 0, cut))
        carry = data[cut:]
    return count + len(marker.findall(carry))


class Guarded:
    """A byte stream read through limits checked as the bytes arrive, before anything holds
    them: at most ``whole`` bytes in all (what a gzip may unpack to) and at most ``gap``
    bytes between two ``<``. That bounds a run of XML text, not an element's whole text:
    comments or CDATA sections may join runs, up to the file's size."""

    def __init__(self, raw: BinaryIO, where: str, whole: int | None = None,
                 gap: int | None = None) -> None:
        self.raw, self.where, self.whole, self.gap = raw, where, whole, gap
        self.seen = self.run = 0

    def read(self, size: int = -1) -> bytes:
        if size < 0 and self.whole is not None:
            size = self.whole - self.seen + 1
        data = self.raw.read(size)
        self.seen += len(data)
        if self.whole is not None and self.seen > self.whole:
            raise _too_big(self.where, self.whole)
        if self.gap is not None:
            self._check_gap(data, self.gap)
        return data

    def _check_gap(self, data: bytes, gap: int) -> None:
        first, last = data.find(b"<"), data.rfind(b"<")
        if first < 0:
            longest = self.run = self.run + len(data)
        else:
            longest = self.run + first
            if len(data) > gap:  # else no stretch inside the block can be too long
                longest = max(longest, *map(len, data[first:last].split(b"<")))
            self.run = len(data) - last - 1
        if longest > gap:
            raise InputError(f"an element holds more than {gap // MB} MB of text, far "
                             "more than any record", where=self.where,
                             fix="the file is damaged or not an export; export it again")

    def seek(self, offset: int, whence: int = 0) -> int:
        if (offset, whence) != (0, 0):
            raise ValueError("a guarded stream only goes back to its start")
        self.seen = self.run = 0
        return self.raw.seek(0)

    def close(self) -> None:
        self.raw.close()

    def __enter__(self) -> Guarded:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_text(path: Path) -> str:
    """A text file's content, gzipped or not: UTF-8 (with or without BOM), UTF-16 with a BOM,
    or else Windows-1252/Latin-1, which old exports use (:func:`encoding_warning` says so).

    A binary file is an error, since no export is one.
    """
    text, encoding = _decode(_read_bytes(path), path)
    _ENCODINGS[stamp(path)] = encoding
    return text


def iter_lines(path: Path, keepends: bool = False) -> Iterator[str]:
    """The lines of a text file, decoded as :func:`read_text` does, each with its ``\\n``
    when ``keepends`` (the csv module needs them for line breaks inside quoted cells)."""
    decode = Decoder(path)
    for block in iter_blocks(path):
        yield from _split(decode(block), keepends)
    decode.finish()


def iter_blocks(path: Path, size: int = 1 << 20) -> Iterator[bytes]:
    """The bytes of a text file in blocks of about ``size`` that end at a line break (the
    last may not), with line breaks made ``\\n`` and a UTF-8 byte order mark removed; a
    UTF-16 file comes as UTF-8. A :class:`Decoder` makes text of them, or of pieces cut
    from them in order.

    A large export is streamed, never held whole, and a reader can cut it into records
    before decoding: most records are ASCII, which decodes fastest.
    """
    try:
        with open_binary(path) as probe:
            head = probe.read(4096)
    except (OSError, EOFError) as exc:
        raise _damaged(path, exc) from None
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or b"\x00" in head:
        yield read_text(path).encode("utf-8")
        return
    try:
        with open_binary(path) as stream:
            rest = stream.read(len(codecs.BOM_UTF8)).removeprefix(codecs.BOM_UTF8)
            lines = 0
            while data := stream.read(size):
                cut = data.rfind(b"\n") + 1
                if not cut:  # a line longer than a block, or only CR line breaks
                    rest += data
                    if len(rest) > MAX_LINE:
                        raise InputError(f"line {lines + 1} is longer than {MAX_LINE // MB} MB",
                                         where=str(path), fix="the file is damaged, or its "
                                         "line breaks are lost; export it again")
                    continue
                block, rest = _newlines(rest + data[:cut]), data[cut:]
                _no_nul(block, path, lines)
                lines += block.count(b"\n")
                yield block
            if rest:
                yield _no_nul(_newlines(rest), path, lines)
    except (OSError, EOFError) as exc:
        raise _damaged(path, exc) from None


def _no_nul(block: bytes, path: Path, lines_before: int) -> bytes:
    """``block``, unless it holds a NUL byte: no text export does, and a database stores
    one silently."""
    at = block.find(b"\x00")
    if at >= 0:
        line = lines_before + block.count(b"\n", 0, at) + 1
        raise InputError("a NUL byte, which no text export holds", where=f"{path}, line {line}",
                         fix="the file is damaged or not a text export; export it again")
    return block


def _newlines(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n").replace(b"\r", b"\n") if b"\r" in data else data


class Decoder:
    """Text of the blocks of :func:`iter_blocks` (or of pieces cut from them, in order) as
    :func:`read_text` would give it: UTF-8 until a piece is not, then, from that piece on,
    Windows-1252 or Latin-1, as the whole file reads. The pieces before were ASCII or
    well-formed UTF-8, which a file in those encodings almost never holds, so they read
    the same either way. :meth:`finish`, once every piece is decoded, notes the encoding
    for :func:`encoding_warning`.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.encoding = "utf-8"

    def __call__(self, data: bytes) -> str:
        if self.encoding == "utf-8":
            try:
                return data.decode("utf-8")
            except UnicodeDecodeError:
                self.encoding = _decode_8bit(_read_bytes(self.path))[1]
        return data.decode(self.encoding)

    def finish(self) -> None:
        _ENCODINGS.setdefault(stamp(self.path),
                              "utf-8-sig" if self.encoding == "utf-8" else self.encoding)


def _split(text: str, keepends: bool) -> Iterator[str]:
    """Lines as a text stream gives them: split at ``\\n`` only, the last without one (or
    none when the text ends with a line break)."""
    lines = text.split("\n")
    last = lines.pop()
    yield from (line + "\n" for line in lines) if keepends else lines
    if last:
        yield last


_ENCODINGS: dict[tuple[str, int, int], str] = {}
"""Encodings :func:`read_text` and :func:`iter_lines` found, by file and version, so the
check is not redone."""


def _read_bytes(path: Path) -> bytes:
    with open_binary(path) as stream:
        try:
            data = stream.read(MAX_WHOLE + 1)
        except (OSError, EOFError) as exc:
            raise _damaged(path, exc) from None
    if len(data) > MAX_WHOLE:
        raise _too_big(str(path), MAX_WHOLE)
    return data


def _too_big(where: str, limit: int) -> InputError:
    return InputError(f"the file holds more than {limit // MB:,} MB of text (unpacked)",
                      where=where, fix="split the export into smaller files, or export "
                      "it as RIS or CSV, which are read a record at a time")


def _damaged(path: Path, exc: Exception) -> InputError:
    return InputError(f"a damaged gzip file ({exc})", where=str(path),
                      fix="download or export the file again")


def _decode(data: bytes, path: Path) -> tuple[str, str]:
    """(text with newlines made ``\\n``, the encoding it was read with)."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text, encoding = data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as exc:
            raise InputError(f"a damaged UTF-16 file ({exc.reason} at byte {exc.start})",
                             where=str(path), fix="export the file again as UTF-8") from None
    elif b"\x00" in data[:4096]:
        raise InputError("this is a binary file, not a text export", where=str(path),
                         fix="export the records as RIS, MEDLINE (.nbib), CSV or PubMed XML")
    else:
        text, encoding = _decode_8bit(data)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    _no_nul(text.encode("utf-8") if "\x00" in text else b"", path, 0)
    return text, encoding


def _decode_8bit(data: bytes) -> tuple[str, str]:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1"), "latin-1"


def encoding_warning(path: Path) -> list[str]:
    """A warning when ``path`` is not Unicode, naming the line of its first such byte."""
    if _ENCODINGS.get(stamp(path)) in ("utf-8-sig", "utf-16"):
        return []
    data = _read_bytes(path)
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or data.isascii():
        return []
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        encoding = _decode_8bit(data)[1]
        line = data[: exc.start].count(b"\n") + 1
        return [f"{path}: not UTF-8 (byte 0x{data[exc.start]:02x} on line {line}); read as "
                f"{'Windows-1252' if encoding == 'cp1252' else 'Latin-1'}. Check accented "
                "names; export as UTF-8 if your database offers it"]
    return []




def cut_short(lines: Sequence[str], starts: Sequence[int], tag: re.Pattern[str]) -> str:
    """Why the last record of a tagged export looks cut off, or "": every other record ends
    with one tag (MEDLINE's ``SO``, Ovid's last field) and the last record never reaches it.
    ``starts`` are the records' first lines; ``tag`` matches a field line, the tag its group
    1. A last record with no field at all is left to its reader, which refuses it in its own
    words."""
    ends = [*starts[1:], len(lines)]
    last_tags = [next((m.group(1) for line in reversed(lines[first:stop])
                       if (m := tag.match(line))), "") for first, stop in zip(starts, ends,
                                                                               strict=True)]
    *others, last = last_tags or [""]
    if others and last and len(set(others)) == 1 and last != others[0]:
        return (f"the last record stops at its '{last}' line, before the '{others[0]}' line "
                "every other record ends with: the file looks cut off")
    return ""
