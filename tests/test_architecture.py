"""The rooms of ARCHITECTURE.md, kept: which package may import which, and no cycles."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "review_pipeline"


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _top_level_imports(path: Path) -> set[str]:
    """The review_pipeline modules ``path`` imports when it is imported: not those imported
    inside functions (loaded when used) or for type checking only."""
    found = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.ImportFrom) and node.module:
            base = node.module
            names = [f"{base}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        found |= {n for n in names if n.startswith("review_pipeline")}
    return found


MODULES = {_module(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(name: str) -> str:
    """The module an imported name belongs to (``a.b.c`` names c of module a.b, or module
    a.b.c itself)."""
    while name not in MODULES:
        name = name.rpartition(".")[0]
    return name


GRAPH = {name: {_resolve(i) for i in _top_level_imports(path)} - {name}
         for name, path in MODULES.items()}


def test_no_module_imports_itself_back_through_others() -> None:
    def visit(name: str, trail: list[str]) -> None:
        if name in trail:
            cycle = [*trail[trail.index(name):], name]
            raise AssertionError(" -> ".join(cycle))
        for other in sorted(GRAPH[name]):
            # a package's __init__ importing its own modules is how a package names them
            if not other.startswith(name + "."):
                visit(other, [*trail, name])

    for name in MODULES:
        visit(name, [])


_MODEL = ("review_pipeline.model",)
_BELOW_STAGES = (*_MODEL, "review_pipeline.files", "review_pipeline.layout",
                 "review_pipeline.formats", "review_pipeline.store", "review_pipeline.protocol")
ROOMS = {
    "review_pipeline.model": _MODEL,
    "review_pipeline.layout": (),
    "review_pipeline.files": (),
    "review_pipeline.formats": (*_MODEL, "review_pipeline.files", "review_pipeline.formats"),
    "review_pipeline.store": (*_MODEL, "review_pipeline.layout", "review_pipeline.store"),
    "review_pipeline.protocol": (*_MODEL, "review_pipeline.layout",
                                 "review_pipeline.formats.registry"),
    "review_pipeline.init": (*_MODEL, "review_pipeline.files", "review_pipeline.protocol"),
    "review_pipeline.stages": (*_BELOW_STAGES, "review_pipeline.stages"),
    "review_pipeline.views": (*_BELOW_STAGES, "review_pipeline.stages"),
    "review_pipeline.serve": (*_BELOW_STAGES, "review_pipeline.stages",
                              "review_pipeline.serve"),
    "review_pipeline.api": (*_BELOW_STAGES, "review_pipeline.layout"),
}
"""What each room may import at module level: the model nothing of ours; formats and the
store the model; stages no command line, API or view; the browser app (serve) the stages it
works with; the API its stages only when it runs them (so it opens quickly)."""


@pytest.mark.parametrize("room", ROOMS)
def test_a_room_imports_only_the_rooms_beneath_it(room: str) -> None:
    wrong = {f"{name} imports {other}"
             for name in MODULES if name == room or name.startswith(room + ".")
             for other in GRAPH[name]
             if not any(other == r or other.startswith(r + ".") for r in ROOMS[room])}
    assert not wrong


def test_only_the_command_line_imports_click() -> None:
    users = {name for name, path in MODULES.items()
             if any(i == "click" or i.startswith("click.")
                    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
                    if isinstance(node, ast.Import | ast.ImportFrom)
                    for i in ([a.name for a in node.names] if isinstance(node, ast.Import)
                              else [node.module or ""]))}
    assert users == {"review_pipeline.cli"}
