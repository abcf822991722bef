"""A local stand-in for NCBI E-utilities, serving real PubMed XML from the fixtures.

Each test scripts it: a queue of canned failures to answer first, PMIDs to leave out of
EFetch answers, an EFetch call to stall on, a rate limit to enforce with HTTP 429, and a log
of every request's form fields. ESearch understands the ``(query) AND lo:hi[UID]`` ranges a
large search is split into, and returns at most 9,999 ids, as PubMed does.
"""

from __future__ import annotations

import gzip
import re
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

ARTICLE = re.compile(r"<PubmedArticle>.*?</PubmedArticle>", re.DOTALL)
PMID = re.compile(r"<PMID[^>]*>(\d+)</PMID>")
UID_RANGE = re.compile(r"^\((.*)\) AND (\d+):(\d+)\[UID\]$", re.DOTALL)
CAP = 9999
HEADER = ('<?xml version="1.0" ?>\n<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle,'
          ' 1st January 2025//EN" "https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_250101.dtd">\n')


def articles(path: Path) -> dict[str, str]:
    text = gzip.decompress(path.read_bytes()).decode() if path.suffix == ".gz" else (
        path.read_text())
    found = {}
    for block in ARTICLE.findall(text):
        match = PMID.search(block)
        if match:
            found[match.group(1)] = block
    return found


def renumbered(templates: list[str], count: int, first_pmid: int) -> dict[str, str]:
    """``count`` articles cycling through ``templates``, each under a fresh PMID."""
    result = {}
    for n in range(count):
        pmid = str(first_pmid + n)
        block = templates[n % len(templates)]
        result[pmid] = PMID.sub(f'<PMID Version="1">{pmid}</PMID>', block, count=1)
    return result


@dataclass
class Canned:
    status: int
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    """Seconds to wait before answering (to provoke a read timeout)."""


@dataclass
class Script:
    articles: dict[str, str]
    ids: list[str] | None = None
    """PMIDs the search finds; by default those of ``articles``."""
    translation: str = '"poems syndrome"[MeSH Terms]'
    withhold: set[str] = field(default_factory=set)
    failures: dict[str, list[Canned]] = field(default_factory=dict)
    stall_at: int = 0
    """Hold the EFetch call with this number (1-based) until ``release`` is set."""
    release: threading.Event = field(default_factory=threading.Event)
    rate_limit: float = 0.0
    """Answer 429 to a request that would make more than this many in one second."""
    rejected: int = 0
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    _recent: deque[float] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def over_limit(self) -> bool:
        if not self.rate_limit:
            return False
        with self._lock:
            now = time.monotonic()
            while self._recent and now - self._recent[0] >= 1.0:
                self._recent.popleft()
            if len(self._recent) >= self.rate_limit:
                self.rejected += 1
                return True
            self._recent.append(now)
            return False

    def esearch(self, form: dict[str, str]) -> str:
        ids = sorted(self.ids if self.ids is not None else self.articles, key=int, reverse=True)
        term = form["term"]
        if (match := UID_RANGE.match(term)) is not None:
            lo, hi = int(match.group(2)), int(match.group(3))
            ids = [i for i in ids if lo <= int(i) <= hi]
        shown = ids[: min(int(form.get("retmax", "20")), CAP)]
        id_list = "".join(f"<Id>{i}</Id>" for i in shown)
        return (f"<eSearchResult><Count>{len(ids)}</Count><RetMax>{len(shown)}</RetMax>"
                f"<RetStart>0</RetStart><IdList>{id_list}</IdList><TranslationSet/>"
                f"<QueryTranslation>{self.translation}</QueryTranslation></eSearchResult>")

    def efetch(self, form: dict[str, str]) -> str:
        ids = [i for i in form["id"].split(",") if i in self.articles and i not in self.withhold]
        body = "\n".join(self.articles[i] for i in ids)
        return f"{HEADER}<PubmedArticleSet>\n{body}\n</PubmedArticleSet>\n"


def _handler(script: Script) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            endpoint = self.path.rsplit("/", 1)[-1]
            script.requests.append((endpoint, form))
            if script.over_limit():
                self._send(429, '{"error":"API rate limit exceeded","count":"4"}',
                           {"Content-Type": "application/json"})
                return
            efetches = sum(1 for e, _ in script.requests if e == "efetch.fcgi")
            if endpoint == "efetch.fcgi" and efetches == script.stall_at:
                script.release.wait(30)
            queue = script.failures.get(endpoint, [])
            if queue:
                canned = queue.pop(0)
                time.sleep(canned.delay)
                self._send(canned.status, canned.body, canned.headers)
            elif endpoint == "esearch.fcgi":
                self._send(200, script.esearch(form))
            elif endpoint == "efetch.fcgi":
                self._send(200, script.efetch(form))
            else:
                self._send(404, "unknown endpoint")

        def _send(self, status: int, body: str, headers: dict[str, str] | None = None) -> None:
            data = body.encode()
            self.send_response(status)
            headers = {"Content-Type": "text/xml; charset=UTF-8", **(headers or {})}
            for key, value in headers.items():
                self.send_header(key, value)
            if "Content-Length" not in headers:
                self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            return

    return Handler


def start(script: Script, port: int = 0) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", port), _handler(script))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02},
                     daemon=True).start()
    return server


def serve(script: Script) -> Iterator[str]:
    server = start(script)
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/entrez/eutils/"
    finally:
        script.release.set()
        server.shutdown()
        server.server_close()
