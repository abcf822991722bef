"""A polite NCBI E-utilities client: one rate limit, retries with backoff, POST only.

Every request carries ``tool`` and ``email`` (and ``api_key`` when given) in a POST body,
so the key never appears in a URL, a log line or an error message.
"""

from __future__ import annotations

import random
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field

import requests

from ..errors import FetchError

DEFAULT_BASE_URL = "https://eutils.ncbi.nlm.nih.gov/entrez/eutils/"
TOOL = "review_pipeline"
PUBMED_CAP = 9999
"""ESearch returns at most this many PubMed ids for one query."""

_RETRY_STATUS = {429, 500, 502, 503, 504}


class PubmedUnreachable(FetchError):
    """No connection to E-utilities could be made (network down, name not resolved)."""


class RateLimiter:
    """Spaces requests at least ``interval`` seconds apart, across threads."""

    def __init__(self, per_second: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.interval = 1.0 / per_second
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next = 0.0

    def wait(self) -> None:
        with self._lock:
            now = self._clock()
            if now < self._next:
                self._sleep(self._next - now)
                now = self._next
            self._next = now + self.interval


@dataclass
class SearchResult:
    count: int
    ids: list[str]
    query_translation: str
    warnings: list[str] = field(default_factory=list)


class Eutils:
    """E-utilities over ``requests``; tests point ``base_url`` at a local server."""

    def __init__(self, *, email: str, api_key: str = "", base_url: str = DEFAULT_BASE_URL,
                 timeout: tuple[float, float] = (10.0, 120.0), max_attempts: int = 4,
                 session: requests.Session | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not email:
            raise FetchError("NCBI asks every E-utilities client for a contact e-mail",
                             where="NCBI_EMAIL", fix="set NCBI_EMAIL=you@example.org")
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self._auth = {"tool": TOOL, "email": email, **({"api_key": api_key} if api_key else {})}
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.session = session or requests.Session()
        self._sleep = sleep
        self.limiter = RateLimiter(10.0 if api_key else 3.0, clock=clock, sleep=sleep)
        self._answered = False

    def post(self, endpoint: str, params: dict[str, str]) -> str:
        """POST to ``endpoint`` and return the body, retrying what is worth retrying."""
        url = self.base_url + endpoint
        problem = ""
        for attempt in range(1, self.max_attempts + 1):
            self.limiter.wait()
            try:
                response = self.session.post(url, data={**params, **self._auth},
                                             timeout=self.timeout)
            except requests.ConnectionError as exc:
                # Only a first contact that fails means "unreachable"; a drop later in a
                # run is retried, so a run never silently turns into the snapshot.
                if not self._answered:
                    raise PubmedUnreachable(f"cannot connect to {self.base_url} ({_short(exc)})",
                                            where=endpoint, fix="check the network, or run "
                                            "`review fetch --offline`") from None
                problem = f"connection failed ({_short(exc)})"
            except requests.Timeout:
                problem = "no answer before the timeout"
            else:
                self._answered = True
                problem = self._problem(response)
                if not problem:
                    return response.text
                if response.status_code not in _RETRY_STATUS | {200}:
                    raise FetchError(f"E-utilities refused the request: {problem}",
                                     where=endpoint, fix="check the query and parameters")
                self._wait_after(response, attempt)
                continue
            self._sleep(self._backoff(attempt))
        raise FetchError(f"gave up after {self.max_attempts} attempts: {problem}",
                         where=endpoint, fix="try again later; NCBI may be busy")

    @staticmethod
    def _problem(response: requests.Response) -> str:
        if response.status_code != 200:
            return f"HTTP {response.status_code}"
        body = response.text
        if not body.strip():
            return "empty response body"
        if "Search Backend failed" in body or "DocSum Backend failed" in body:
            return "NCBI backend failure reported inside the response"
        return ""

    def _wait_after(self, response: requests.Response, attempt: int) -> None:
        retry_after = response.headers.get("Retry-After", "")
        delay = float(retry_after) if retry_after.isdigit() else self._backoff(attempt)
        self._sleep(min(delay, 60.0))

    @staticmethod
    def _backoff(attempt: int) -> float:
        return float(min(2 ** (attempt - 1), 30)) + random.uniform(0, 0.5)  # noqa: S311

    def search(self, query: str, *, date_field: str = "", min_date: str = "",
               max_date: str = "") -> SearchResult:
        """All PMIDs matching ``query`` (up to PubMed's cap), sorted numerically."""
        params = {"db": "pubmed", "term": query, "retmax": "0"}
        if min_date:
            params.update(datetype=date_field, mindate=min_date, maxdate=max_date)
        first = parse_esearch(self.post("esearch.fcgi", params))
        if first.count > PUBMED_CAP:
            raise FetchError(
                f"the search finds {first.count:,} records, more than the {PUBMED_CAP:,} that "
                "one PubMed search returns; this client does not split searches yet",
                where="search.query", fix="narrow the query or the date limits in the protocol",
            )
        if first.count == 0:
            return first
        full = parse_esearch(self.post("esearch.fcgi", {**params, "retmax": str(first.count)}))
        full.ids = sorted(set(full.ids), key=int)
        if len(full.ids) != full.count:
            raise FetchError(f"PubMed reported {full.count} records but returned "
                             f"{len(full.ids)} ids", where="esearch",
                             fix="run the fetch again; the result changed while searching")
        return full

    def efetch(self, ids: list[str]) -> str:
        """PubMed XML for ``ids``, exactly as NCBI sent it."""
        return self.post("efetch.fcgi", {"db": "pubmed", "id": ",".join(ids), "retmode": "xml"})


def parse_esearch(body: str) -> SearchResult:
    """An ESearch XML answer; ``<ERROR>`` is an error, ``PhraseNotFound`` is zero hits."""
    try:
        root = ET.fromstring(body)  # noqa: S314 (see module doc of pubmed_xml)
    except ET.ParseError as exc:
        raise FetchError(f"ESearch answered with malformed XML ({exc})", where="esearch",
                         fix="try again; the answer was probably cut off") from None
    error = root.findtext("ERROR")
    if error:
        raise FetchError(f"ESearch reported an error: {error}", where="esearch",
                         fix="check the query syntax in the protocol's [search] query")
    warnings = [f"{node.tag}: {node.text}" for node in root.findall("ErrorList/*")]
    warnings += [f"{node.tag}: {node.text}" for node in root.findall("WarningList/*")]
    return SearchResult(
        count=int(root.findtext("Count") or 0),
        ids=[node.text or "" for node in root.findall("IdList/Id")],
        query_translation=root.findtext("QueryTranslation") or "",
        warnings=warnings,
    )


def _short(exc: Exception) -> str:
    return type(exc).__name__
