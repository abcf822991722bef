"""Shared fixtures: paths anchored to this file, fresh databases, a copy of the worked example.

The worked example the tests read is the copy in ``tests/poems/``, not the one at the root of
the repository, so that a team that replaces the root's review with its own keeps a passing
suite."""

from __future__ import annotations

import shutil
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sqlite_utils import Database

from review_pipeline.protocol import Protocol, load_protocol
from review_pipeline.store import open_db

if TYPE_CHECKING:
    from review_pipeline.serve import App

TESTS = Path(__file__).parent
ROOT = TESTS.parent
FIXTURES = TESTS / "fixtures"
EXAMPLE = TESTS / "poems"
EXAMPLE_PARTS = ("queries", "snapshot", "imports", "extracted")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true",
                     help="Rewrite tests/golden/ from what the readers produce now; review the "
                          "diff before committing it.")


_LOOPBACK = ("127.0.0.1", "::1", "localhost")
_connect = socket.socket.connect


def _loopback_only(sock: socket.socket, address: Any) -> Any:
    host = address[0] if isinstance(address, tuple) else address
    if sock.family in (socket.AF_INET, socket.AF_INET6) and host not in _LOOPBACK:
        raise OSError(f"tests must not reach the network (tried {host})")
    return _connect(sock, address)


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any connection beyond this machine fails, so no test can reach NCBI by accident."""
    monkeypatch.setattr(socket.socket, "connect", _loopback_only)


@pytest.fixture(autouse=True)
def isolated_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run every test in an empty folder, so no default path finds the repository's files."""
    folder = tmp_path / "cwd"
    folder.mkdir()
    monkeypatch.chdir(folder)


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_db(tmp_path / "review.db")
    yield database
    database.close()


@pytest.fixture
def open_database() -> Iterator[Callable[[Path], Database]]:
    """Opens review databases, each closed when the test ends."""
    opened: list[Database] = []

    def open_(path: Path) -> Database:
        opened.append(open_db(path))
        return opened[-1]

    yield open_
    for database in opened:
        database.close()


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the shipped POEMS worked example, as the working folder."""
    folder = tmp_path / "project"
    for part in EXAMPLE_PARTS:
        shutil.copytree(EXAMPLE / part, folder / part)
    monkeypatch.chdir(folder)
    monkeypatch.delenv("NCBI_EMAIL", raising=False)
    monkeypatch.delenv("NCBI_API_KEY", raising=False)
    monkeypatch.delenv("REVIEW_DB", raising=False)
    monkeypatch.delenv("REVIEW_PROTOCOL", raising=False)
    return folder


@pytest.fixture
def protocol(project: Path) -> Protocol:
    return load_protocol(project / "queries" / "protocol.toml")


UP_TO_EXTRACT = ("fetch", "import_", "dedup", "screen", "extract")
"""The stages of the worked example before synthesis, by their names in the API."""


def run_stages(folder: Path, stages: tuple[str, ...] = UP_TO_EXTRACT) -> None:
    """Run ``stages`` of the review in ``folder`` through the API, in order."""
    from review_pipeline.api import Review

    with Review(folder) as review:
        for stage in stages:
            getattr(review, stage)()


@contextmanager
def serving(project: Path, **options: Any) -> Iterator[App]:
    """``review serve`` on the review in ``project``, on a free port, in a thread of its own;
    stopped (its last write waited for) when the block ends."""
    from review_pipeline.api import Review

    review = Review(project)
    app = review.serve(port=0, **options)
    thread = threading.Thread(target=app.serve_forever, daemon=True)
    thread.start()
    try:
        yield app
    finally:
        app.shutdown()
        app.server_close()
        review.close()
