"""``review serve``: a local web app on the review's own files, with the standard library's
HTTP server.

Safe by construction: it listens on 127.0.0.1 unless told otherwise; every change is a POST
carrying the session's token (a page from elsewhere cannot read it, so cannot forge one)
from a page whose Host is the server's own (against DNS rebinding); it serves its own pages
only, never files by path; every value in a page is escaped (:mod:`.pages`).
"""

from __future__ import annotations

import json
import secrets
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from review_pipeline.model.errors import InputError, ReviewError
from review_pipeline.protocol import Protocol
from review_pipeline.serve.desk import Desk, Shown, conflicts, resolve
from review_pipeline.serve.forms import Bench
from review_pipeline.serve.pages import (
    Highlighter,
    card_html,
    conflicts_page,
    extraction_page,
    progress_text,
    screening_page,
    stop_text,
)
from review_pipeline.stages.screen.stopping import evaluate, screening_order

LOCAL = ("127.0.0.1", "localhost", "::1")


@dataclass
class Served:
    """What the server holds: one reviewer's desk at one stage, and their extraction."""

    protocol: Protocol
    desk: Desk
    bench: Bench | None
    pool: list[str]
    """The records put to title/abstract screening, for the stop rule."""
    token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    """Proves a change comes from one of the app's own pages."""
    lock: threading.Lock = field(default_factory=threading.Lock)
    """One change at a time: the sheets are read and written whole."""
    highlight: Highlighter = field(init=False)

    def __post_init__(self) -> None:
        self.highlight = Highlighter(self.protocol.eligibility.rules)

    @property
    def stage(self) -> str:
        return self.desk.stage

    @property
    def reviewer(self) -> str:
        return self.desk.reviewer


class App(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, served: Served, host: str, port: int) -> None:
        self.served = served
        self.local = host in LOCAL
        super().__init__((host, port), Handler)

    def server_close(self) -> None:
        """Stop listening, then wait for the sheet's last write."""
        super().server_close()
        self.served.desk.close()

    @property
    def address(self) -> str:
        host, port = str(self.server_address[0]), self.server_address[1]
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}/"


class Handler(BaseHTTPRequestHandler):
    server: App
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # Headers and body go out as two writes; without this the second waits for the
        # first's acknowledgement (Nagle's algorithm), some 40 ms a request.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the terminal shows the address and errors, not every request."""

    # routing

    def do_GET(self) -> None:
        if not self._own_host():
            self._json({"error": "refused: not this app's address"}, HTTPStatus.FORBIDDEN)
            return
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        pages: dict[str, Callable[[dict[str, str]], str]] = {
            "/": self._screen, "/screen": self._screen, "/conflicts": self._conflicts,
            "/extract": self._extract}
        if url.path == "/stop":
            self._json({"text": self._stop()})
        elif url.path == "/screen/card":
            self._guarded(lambda: self._json(self._card(query.get("record"))))
        elif url.path in pages:
            self._guarded(lambda: self._html(pages[url.path](query)))
        else:
            self._json({"error": "no such page"}, HTTPStatus.NOT_FOUND)

    def do_POST(self) -> None:
        if not self._trusted():
            self._json({"error": "refused: this request did not come from the app's own "
                                 "page (reload it)"}, HTTPStatus.FORBIDDEN)
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
            data = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            data = None
        if not isinstance(data, dict):
            self._json({"error": "the request is not a JSON object"}, HTTPStatus.BAD_REQUEST)
            return
        actions: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "/screen/decide": self._decide, "/screen/undo": self._undo,
            "/conflicts/resolve": self._resolve, "/extract/save": self._save}
        action = actions.get(urlsplit(self.path).path)
        if action is None:
            self._json({"error": "no such action"}, HTTPStatus.NOT_FOUND)
            return
        self._guarded(lambda: self._json(action(data)))

    def _own_host(self) -> bool:
        """The request names this machine (a page of another site that a DNS trick points
        here names that site), unless the app was told to listen beyond it."""
        if not self.server.local:
            return True
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0].strip("[]")
        return host in LOCAL

    def _trusted(self) -> bool:
        s = self.server.served
        origin = self.headers.get("Origin")
        host = self.headers.get("Host") or ""
        return (secrets.compare_digest(self.headers.get("X-Review-Token") or "", s.token)
                and self._own_host()
                and (origin is None or urlsplit(origin).netloc == host))

    def _guarded(self, respond: Callable[[], None]) -> None:
        try:
            with self.server.served.lock:
                respond()
        except ReviewError as error:
            self._json({"error": error.one_line()}, HTTPStatus.UNPROCESSABLE_ENTITY)
        except (ValueError, TypeError, KeyError, LookupError, OSError) as error:
            # a request the pages never send, or a file gone meanwhile: said, not a crash
            self._json({"error": f"could not do that ({type(error).__name__}: {error}); "
                                 "reload the page"}, HTTPStatus.BAD_REQUEST)

    # pages

    def _screen(self, query: dict[str, str]) -> str:
        s = self.server.served
        record = query.get("record") or s.desk.next_open()
        shown, decision, neighbours = self._record(record)
        return screening_page(s.protocol, s.token, s.stage, s.reviewer, shown, decision,
                              neighbours, s.desk.progress(), s.highlight)

    def _record(self, record: str | None) -> tuple[Shown | None, tuple[str, str],
                                                   tuple[str, str]]:
        desk = self.server.served.desk
        if not record or record not in desk.records:
            return None, ("", ""), ("", "")
        return (desk.records[record], desk.decision(record),
                (desk.neighbour(record, -1), desk.neighbour(record, 1)))

    def _card(self, record: str | None) -> dict[str, Any]:
        """One record's element and the progress, for the page to swap in."""
        s = self.server.served
        shown, decision, neighbours = self._record(record)
        done, total = progress = s.desk.progress()
        return {"record": record if shown else None,
                "html": card_html(shown, decision, neighbours, s.highlight),
                "progress": progress_text(progress),
                "share": round(done / total * 100, 1) if total else 100.0}

    def _conflicts(self, query: dict[str, str]) -> str:
        s = self.server.served
        titles = {k: v.title for k, v in s.desk.records.items()}
        found = conflicts(s.protocol, s.desk.folder, s.stage, titles)
        return conflicts_page(s.protocol, s.token, s.stage, s.reviewer, found)

    def _extract(self, query: dict[str, str]) -> str:
        s = self.server.served
        if s.bench is None:
            return extraction_page(s.protocol, s.token, s.stage, s.reviewer, [], None)
        studies = s.bench.studies()
        chosen = query.get("study")
        forms = s.bench.study(chosen) if chosen else None
        return extraction_page(s.protocol, s.token, s.stage, s.reviewer, studies, forms)

    def _stop(self) -> str:
        s = self.server.served
        stop = s.protocol.screening.stop
        if stop is None or s.stage != "ta":
            return ""
        # this reviewer's own screening only: the others' decisions stay unseen
        order = screening_order(s.desk.lines(), s.pool)
        return stop_text(evaluate(stop, [relevant for _, relevant in order], len(s.pool),
                                  first_met=False))

    # actions

    def _decide(self, data: dict[str, Any]) -> dict[str, Any]:
        desk = self.server.served.desk
        record = str(data.get("record", ""))
        desk.decide(record, str(data.get("decision", "")), str(data.get("reason", "")))
        if desk.error:
            raise InputError(desk.error, fix="free the disk or the file, then restart "
                             "`review serve`; the decisions since are held until then")
        following = desk.next_open(after=record)
        return {"next": following, "card": self._card(following)}

    def _undo(self, data: dict[str, Any]) -> dict[str, Any]:
        record = self.server.served.desk.undo()
        return {"record": record, "card": self._card(record) if record else None}

    def _resolve(self, data: dict[str, Any]) -> dict[str, Any]:
        s = self.server.served
        record = str(data.get("record", ""))
        titles = {k: v.title for k, v in s.desk.records.items()}
        if record not in {c.record_id for c in conflicts(s.protocol, s.desk.folder, s.stage,
                                                         titles)}:
            raise InputError(f"record '{record}' has no conflict at this stage",
                             fix="resolve a record the conflicts page lists")
        title = s.desk.records[record].title if record in s.desk.records else ""
        resolve(s.desk.folder, s.protocol, record, s.stage, str(data.get("decision", "")),
                str(data.get("reason", "")), title)
        return {}

    def _save(self, data: dict[str, Any]) -> dict[str, Any]:
        bench = self.server.served.bench
        if bench is None:
            return {"problems": ["this review has no extraction forms (fields.csv)"]}
        values, before = data.get("values"), data.get("before")
        if not isinstance(values, dict) or not isinstance(before, dict | None):
            raise InputError("the form's values did not come as named fields",
                             fix="reload the page")
        problems, now = bench.save(str(data.get("table", "")), str(data.get("record", "")),
                                   None if before is None else
                                   {str(k): str(v) for k, v in before.items()},
                                   {str(k): str(v) for k, v in values.items()})
        return {"problems": problems, "before": now}

    # answers

    def _html(self, text: str) -> None:
        self._send(text.encode("utf-8"), "text/html; charset=utf-8", HTTPStatus.OK)

    def _json(self, data: dict[str, Any], status: HTTPStatus = HTTPStatus.OK) -> None:
        self._send(json.dumps(data).encode("utf-8"), "application/json", status)

    def _send(self, body: bytes, kind: str, status: HTTPStatus) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Frame-Options", "DENY")
        self.send_header("Content-Security-Policy", "default-src 'self'; style-src "
                         "'unsafe-inline'; script-src 'unsafe-inline'; img-src 'self' data:")
        self.end_headers()
        self.wfile.write(body)


def make_app(served: Served, host: str = "127.0.0.1", port: int = 0) -> App:
    """The app on ``host``:``port`` (0: any free port), not yet serving."""
    return App(served, host, port)
