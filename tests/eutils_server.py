"""A local stand-in for NCBI E-utilities, serving real PubMed XML from the fixtures.

Each test scripts it: a queue of canned failures to answer first, PMIDs to leave out of
EFetch answers, and a log of every request's form fields.
"""

from __future__ import annotations

import gzip
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

ARTICLE = re.compile(r"<PubmedArticle>.*?</PubmedArticle>", re.DOTALL)
PMID = re.compile(r"<PMID[^>]*>(\d+)</PMID>")
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


@dataclass
class Canned:
    status: int
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Script:
    articles: dict[str, str]
    count: int | None = None
    translation: str = '"poems syndrome"[MeSH Terms]'
    esearch_error: str = ""
    withhold: set[str] = field(default_factory=set)
    failures: dict[str, list[Canned]] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def esearch(self, form: dict[str, str]) -> str:
        if self.esearch_error:
            return f"<eSearchResult><ERROR>{self.esearch_error}</ERROR></eSearchResult>"
        ids = sorted(self.articles, key=int)
        count = len(ids) if self.count is None else self.count
        shown = ids[: int(form.get("retmax", "20"))]
        id_list = "".join(f"<Id>{i}</Id>" for i in shown)
        return (f"<eSearchResult><Count>{count}</Count><RetMax>{len(shown)}</RetMax>"
                f"<RetStart>0</RetStart><IdList>{id_list}</IdList><TranslationSet/>"
                f"<QueryTranslation>{self.translation}</QueryTranslation></eSearchResult>")

    def efetch(self, form: dict[str, str]) -> str:
        ids = [i for i in form["id"].split(",") if i in self.articles and i not in self.withhold]
        body = "\n".join(self.articles[i] for i in ids)
        return f"{HEADER}<PubmedArticleSet>\n{body}\n</PubmedArticleSet>\n"


def _handler(script: Script) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            endpoint = self.path.rsplit("/", 1)[-1]
            script.requests.append((endpoint, form))
            queue = script.failures.get(endpoint, [])
            if queue:
                canned = queue.pop(0)
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
            self.send_header("Content-Type", "text/xml; charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            return

    return Handler


def serve(script: Script) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(script))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02},
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/entrez/eutils/"
    finally:
        server.shutdown()
        server.server_close()
