"""Files as the review handles them: shown relative to the working folder, written whole or
not at all, known by their digest."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def display_path(path: Path) -> str:
    """A path as people read it: relative to the working folder when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``path`` whole or not at all: a reader, or a crash, never finds it half
    written; a failure (a full disk) leaves the old file as it was."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    try:
        with partial.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())  # on disk before it takes the old file's place
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def write_figure(fig: Figure, svg: Path | None, png: Path | None, salt: str,
                 dpi: int = 200) -> str:
    """Draw ``fig`` as SVG (text kept as text, no date, ids from ``salt``: the same figure
    gives the same file) and PNG, write the files asked for whole, return the SVG text."""
    import matplotlib  # here, so that what only writes files does not load it

    out, picture = io.StringIO(), io.BytesIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": salt}):
        fig.savefig(out, format="svg", metadata={"Date": None})
        if png:
            fig.savefig(picture, format="png", dpi=dpi, metadata={"Software": None})
    text = out.getvalue()
    if svg:
        write_atomic(svg, text.encode("utf-8"))
    if png:
        write_atomic(png, picture.getvalue())
    return text


def sha256_file(path: Path) -> str:
    key = stamp(path)
    if key not in _DIGESTS:  # the reader and the batch both ask; a big file is read once
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        _DIGESTS[key] = digest.hexdigest()
    return _DIGESTS[key]


_DIGESTS: dict[tuple[str, int, int], str] = {}


def stamp(path: Path) -> tuple[str, int, int]:
    """What tells one version of a file from another, without reading it."""
    stat = path.stat()
    return str(path.resolve()), stat.st_size, stat.st_mtime_ns
