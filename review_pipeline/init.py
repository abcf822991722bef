"""The files a review is made of: a new review's folder, and a source added to a review.

``review init DIR`` copies the template shipped in ``template/`` (a commented protocol, a
generic intervention review's extraction form, READMEs, and a Makefile that includes the
stages of ``review.mk``). ``review import FILE --source NAME --add`` copies an export into
the review's ``imports/`` and lists it under ``[[sources]]`` in the protocol, whose comments
and layout are kept (tomlkit edits TOML in place).
"""

from __future__ import annotations

import filecmp
import json
import re
import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import tomlkit

from review_pipeline.files import write_atomic
from review_pipeline.model.errors import InputError, ProtocolError
from review_pipeline.model.names import RULE, is_name
from review_pipeline.protocol import SOURCE_KINDS, load_protocol, parse_protocol

TEMPLATE = Path(__file__).parent / "template"
MAKEFILE = Path(__file__).parent / "review.mk"
"""The stages as make rules, which every review's Makefile includes."""
_RENAMED = {"gitignore": ".gitignore"}
"""Template files shipped under another name (a package would not carry a dotfile)."""
_TITLE = "__TITLE__"
_UNSAFE = re.compile(r"[^A-Za-z0-9._+=@,-]+")

KNOWN_SOURCES = {
    "embase": ("Embase", "database"), "medline": ("MEDLINE", "database"),
    "scopus": ("Scopus", "database"), "wos": ("Web of Science", "database"),
    "web-of-science": ("Web of Science", "database"),
    "central": ("Cochrane CENTRAL", "database"), "cochrane": ("Cochrane Library", "database"),
    "cinahl": ("CINAHL", "database"), "psycinfo": ("PsycINFO", "database"),
    "lilacs": ("LILACS", "database"), "google-scholar": ("Google Scholar", "database"),
    "clinicaltrials": ("ClinicalTrials.gov", "register"),
    "clinicaltrials-gov": ("ClinicalTrials.gov", "register"),
    "ictrp": ("WHO ICTRP", "register"),
    "citations": ("Citation searching", "citation_searching"),
}
"""Labels and kinds of sources by the names people give them; others are databases named
as given."""


def init_review(folder: Path, title: str = "") -> list[Path]:
    """Make ``folder`` a new review from the template; return the files written. Nothing is
    overwritten: a file the template would write that exists already is an error."""
    files = sorted(p for p in TEMPLATE.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    targets = [(source, folder / _RENAMED.get(source.name, source.name)
                if source.parent == TEMPLATE else folder / source.relative_to(TEMPLATE))
               for source in files]
    clashes = [str(target) for _, target in targets if target.exists()]
    if clashes:
        raise InputError(f"the folder already holds {', '.join(clashes)}", where=str(folder),
                         fix="choose a new folder for the review, or move those files away")
    title = title.strip() or (folder.resolve().name.replace("-", " ").replace("_", " ")
                              .capitalize())
    for source, target in targets:
        target.parent.mkdir(parents=True, exist_ok=True)
        text = source.read_text(encoding="utf-8")
        if target.suffix == ".toml":
            text = text.replace(f'"{_TITLE}"', json.dumps(title, ensure_ascii=False))
        target.write_text(text.replace(_TITLE, title), encoding="utf-8")
    for folder_name in ("extracted/screening", "extracted/dedup"):
        (folder / folder_name).mkdir(parents=True, exist_ok=True)
    return [target for _, target in targets]


@dataclass(frozen=True)
class AddedSource:
    name: str
    label: str
    kind: str
    file: Path
    """The file as the protocol lists it, under the review's ``imports/``."""
    copied: bool
    """Whether the file was copied into ``imports/`` (it was elsewhere)."""
    listed: bool
    """Whether the protocol gained the file (it may have listed it already)."""
    new_source: bool
    """Whether the protocol gained a ``[[sources]]`` entry (else a file was added to one)."""


def add_source(protocol_path: Path, file: Path, name: str, *, kind: str | None = None,
               label: str | None = None, fmt: str = "auto") -> AddedSource:
    """Copy ``file`` into the review's ``imports/`` (under a name make can follow) and list it
    under source ``name`` in the protocol (made if need be). The protocol is checked as it
    will be before anything is copied or written."""
    protocol = load_protocol(protocol_path)
    if kind is not None and kind not in SOURCE_KINDS:
        raise InputError(f"unknown kind '{kind}'", fix=f"use one of {', '.join(SOURCE_KINDS)}")
    if not file.is_file():
        raise InputError("file not found", where=str(file), fix="check the path")
    target = protocol.root / "imports" / safe_name(file.name)
    listed = target.relative_to(protocol.root).as_posix()
    for other in protocol.sources:
        if other.name != name and target in other.files:
            raise InputError(f"{listed} is listed under source '{other.name}' already",
                             where=str(protocol_path),
                             fix="one file is one source's records; give that source's name")
    doc = tomlkit.parse(protocol_path.read_text(encoding="utf-8"))
    existing = protocol.source(name)
    if existing is not None:
        if kind and kind != existing.kind:
            raise ProtocolError(f"source '{name}' is of kind {existing.kind}, not {kind}",
                                where=str(protocol_path),
                                fix="leave out --kind, or give the file another --source")
        entry = next(t for t in doc["sources"] if t["name"] == name)
        if "files" not in entry:
            entry["files"] = tomlkit.array()
        new_file = listed not in entry["files"]
        if new_file:
            entry["files"].append(listed)
        added = AddedSource(name, existing.label, existing.kind, target, False, new_file,
                            False)
    else:
        if not is_name(name):
            raise InputError(f"'{name[:60]}' cannot name a source",
                             fix=f"use {RULE}, e.g. --source embase")
        known_label, known_kind = KNOWN_SOURCES.get(name, (name, "database"))
        entry = _source_table(name, label or known_label, kind or known_kind, listed, fmt)
        if "sources" not in doc:
            doc.add(tomlkit.nl())
            doc.append("sources", tomlkit.aot())
        doc["sources"].append(entry)
        added = AddedSource(name, entry["label"], entry["kind"], target, False, True, True)
    text = tomlkit.dumps(doc)
    parse_protocol(text, protocol_path)
    copied = _copy(file, target)
    write_atomic(protocol_path, text.encode("utf-8"))
    return replace(added, copied=copied)


def safe_name(name: str) -> str:
    """``name`` as make can follow it: each run of spaces, brackets, quotes and the like
    becomes one '-' ("embase (1).ris" gives "embase-1.ris")."""
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = suffix, ""
    stem = _UNSAFE.sub("-", stem).strip("-") or "export"
    return f"{stem}.{_UNSAFE.sub('', suffix)}" if suffix else stem


def _source_table(name: str, label: str, kind: str, listed: str, fmt: str) -> Any:
    entry = tomlkit.table()
    entry["name"] = name
    entry["label"] = label
    entry["kind"] = kind
    entry["files"] = [listed]
    if fmt != "auto":
        entry["format"] = fmt
    entry.add(tomlkit.nl())
    return entry


def _copy(file: Path, target: Path) -> bool:
    """Copy ``file`` to ``target`` unless it is that file; refuse to replace another file."""
    if target.exists():
        if target.resolve() == file.resolve() or filecmp.cmp(file, target, shallow=False):
            return False
        raise InputError(f"{target} exists and holds another file", where=str(file),
                         fix="rename the export (each file in imports/ keeps its name), or "
                             "remove the old one from imports/ and from the protocol first")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(file, target)
    return True
