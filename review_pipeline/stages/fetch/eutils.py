"""A polite NCBI E-utilities client: one rate limit, retries with backoff, POST only.

Every request carries ``tool`` and ``email`` (and ``api_key`` when given) in a POST body,
so the key never appears in a URL, a log line or an error message.

Each answer is classified before anyone reads it:

* **retried** (with exponential backoff and jitter, honouring ``Retry-After``, capped in
  attempts and in total waiting time): HTTP 429 and 5xx, connection drops, read timeouts,
  bodies cut off mid-read, empty bodies, and ``<ERROR>`` answers such as "Search Backend
  failed" that say NCBI is busy;
* **refused** (a :class:`FetchError` at once): any other HTTP 4xx and ``<ERROR>`` answers
  that say the request itself is wrong (invalid database, parameter or range);
* **results**: everything else, including a search that finds nothing (``PhraseNotFound``).

Searches with more hits than PubMed returns for one query (9,999) are split, as NCBI's own
EDirect does, by bisecting the PMID space with ``lo:hi[UID]`` until every range fits.
"""

from __future__ import annotations

import json
import logging
import random
import re
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import requests

from review_pipeline.model.errors import FetchError

DEFAULT_BASE_URL = "https://eutils.ncbi.nlm.nih.gov/entrez/eutils/"
TOOL = "review_pipeline"
PUBMED_CAP = 9999
"""ESearch returns at most this many PubMed ids for one query."""
UID_MAX = 99_999_999
"""Upper end of the PMID space bisected for large searches (PMIDs have at most 8 digits);
a PMID above it would show up as a count mismatch, never as a silent loss."""

log = logging.getLogger(__name__)

_RETRY_STATUS = {429, 500, 502, 503, 504}
_REFUSED_ERROR = re.compile(r"invalid|empty id list|cannot be larger|out of acceptable range",
                            re.IGNORECASE)
_ROOT = re.compile(r"<([A-Za-z][\w.:-]*)[\s/>]")


class PubmedUnreachable(FetchError):
    """No connection to E-utilities could be made (network down, name not resolved)."""


class RateLimiter:
    """Spaces requests ``(1 + margin) / per_second`` seconds apart, across threads.

    The small margin keeps a client that is exactly on the limit from tripping NCBI's
    counter through network jitter; EDirect and Biopython leave a similar gap.
    """

    def __init__(self, per_second: float, *, margin: float = 0.05,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.interval = (1.0 + margin) / per_second
        self.waited = 0.0
        """Seconds spent waiting for the limit so far."""
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next = 0.0

    def wait(self) -> None:
        with self._lock:
            now = self._clock()
            if now < self._next:
                self._sleep(self._next - now)
                self.waited += self._next - now
                now = self._next
            self._next = now + self.interval


@dataclass
class ClientStats:
    """What the client has done so far, for progress bars and the search log."""

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    """HTTP 429 answers received."""
    server_errors: int = 0
    bytes: int = 0
    backoff_waited: float = 0.0


@dataclass
class SearchResult:
    count: int
    ids: list[str]
    query_translation: str
    warnings: list[str] = field(default_factory=list)
    ranges: list[tuple[int, int, int]] = field(default_factory=list)
    """(first PMID, last PMID, hits) of each range searched when the search was split."""
    searched_at: str = ""


class Eutils:
    """E-utilities over ``requests``; tests point ``base_url`` at a local server."""

    def __init__(self, *, email: str, api_key: str = "", base_url: str = DEFAULT_BASE_URL,
                 timeout: tuple[float, float] = (10.0, 120.0), max_attempts: int = 6,
                 max_waiting: float = 300.0, session: requests.Session | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not email:
            raise FetchError("NCBI asks every E-utilities client for a contact e-mail",
                             where="NCBI_EMAIL", fix="set NCBI_EMAIL=you@example.org")
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self._auth = {"tool": TOOL, "email": email, **({"api_key": api_key} if api_key else {})}
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.max_waiting = max_waiting
        self.session = session or requests.Session()
        self._sleep = sleep
        self.limiter = RateLimiter(10.0 if api_key else 3.0, clock=clock, sleep=sleep)
        self.stats = ClientStats()
        self._answered = False

    def post(self, endpoint: str, params: dict[str, str]) -> str:
        """POST to ``endpoint`` and return the body, retrying what is worth retrying."""
        url = self.base_url + endpoint
        waited = 0.0
        for attempt in range(1, self.max_attempts + 1):
            self.limiter.wait()
            self.stats.requests += 1
            delay: float | None = None
            try:
                response = self.session.post(url, data={**params, **self._auth},
                                             timeout=self.timeout)
                body = response.text
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
            except (requests.exceptions.ChunkedEncodingError,
                    requests.exceptions.ContentDecodingError) as exc:
                problem = f"the answer was cut off while reading ({_short(exc)})"
            else:
                self._answered = True
                self.stats.bytes += len(response.content)
                problem, retry = _classify(response.status_code, body)
                if not problem:
                    return body
                if not retry:
                    raise FetchError(f"E-utilities refused the request: {problem}",
                                     where=endpoint, fix="check the query and parameters "
                                     "(the protocol's [[searches]])")
                self.stats.rate_limited += response.status_code == 429
                self.stats.server_errors += response.status_code >= 500
                delay = _retry_after(response.headers.get("Retry-After", ""))
            if attempt == self.max_attempts:
                break
            delay = delay if delay is not None else _backoff(attempt)
            if waited + delay > self.max_waiting:
                raise FetchError(f"gave up after waiting {waited:.0f} s over {attempt} "
                                 f"attempts: {problem}", where=endpoint,
                                 fix="try again later; NCBI may be busy")
            log.warning("%s: %s; retrying in %.1f s (attempt %d of %d)", endpoint, problem,
                        delay, attempt + 1, self.max_attempts)
            self.stats.retries += 1
            self.stats.backoff_waited += delay
            waited += delay
            self._sleep(delay)
        raise FetchError(f"gave up after {self.max_attempts} attempts: {problem}",
                         where=endpoint, fix="try again later; NCBI may be busy")

    def esearch(self, term: str, dates: dict[str, str], retmax: int = PUBMED_CAP
                ) -> SearchResult:
        params = {"db": "pubmed", "term": term, "retmax": str(retmax), **dates}
        return parse_esearch(self.post("esearch.fcgi", params))

    def search(self, query: str, *, date_field: str = "", min_date: str = "",
               max_date: str = "", on_range: Callable[[int, int, int], None] | None = None
               ) -> SearchResult:
        """Every PMID matching ``query``, sorted numerically, past PubMed's 9,999 cap.

        ``on_range`` is told (first PMID, last PMID, hits) of each range a large search is
        split into.
        """
        dates = ({"datetype": date_field, "mindate": min_date, "maxdate": max_date}
                 if min_date else {})
        first = self.esearch(query, dates)
        result = first
        if first.count > PUBMED_CAP:
            ranges: list[tuple[int, int, int]] = []
            ids: list[str] = []
            # The first answer's ids bound most hits; the two outer ranges are searched too,
            # so the bound is a shortcut, never an assumption.
            low, high = min(map(int, first.ids)), max(map(int, first.ids))
            outer = [(1, low - 1), (low, high), (high + 1, UID_MAX)]
            for lo, hi, found in self._split(query, dates, [r for r in outer if r[0] <= r[1]]):
                ranges.append((lo, hi, found.count))
                ids += found.ids
                if on_range:
                    on_range(lo, hi, found.count)
            result = SearchResult(first.count, ids, first.query_translation,
                                  list(first.warnings), ranges)
            if len(set(ids)) != first.count:
                _reconcile(result, self.esearch(query, dates, retmax=0).count)
        elif len(first.ids) != first.count:
            raise FetchError(f"PubMed reported {first.count} records but returned "
                             f"{len(first.ids)} ids", where="esearch",
                             fix="run the fetch again; the result changed while searching")
        result.ids = sorted(set(result.ids), key=int)
        result.searched_at = datetime.now(UTC).isoformat(timespec="seconds")
        return result

    def _split(self, query: str, dates: dict[str, str], ranges: list[tuple[int, int]]
               ) -> list[tuple[int, int, SearchResult]]:
        """The PMID ``ranges`` cut into ranges holding at most the cap each, in PMID order;
        found by bisection as EDirect does."""
        done: list[tuple[int, int, SearchResult]] = []
        # (lo, hi, known to be too big), popped from the end: the lowest range first
        todo = [(lo, hi, False) for lo, hi in reversed(ranges)]
        while todo:
            lo, hi, too_big = todo.pop()
            if not too_big:
                found = self.esearch(f"({query}) AND {lo}:{hi}[UID]", dates)
                too_big = found.count > PUBMED_CAP
                if not too_big:
                    if len(found.ids) != found.count:
                        raise FetchError(
                            f"PubMed counted {found.count} records for PMIDs {lo}:{hi} but "
                            f"returned {len(found.ids)} ids", where="esearch",
                            fix="run the fetch again; the result changed while searching")
                    if found.count:
                        done.append((lo, hi, found))
                    continue
            if lo == hi:
                raise FetchError(f"PubMed counts more than {PUBMED_CAP} records for the "
                                 f"single PMID {lo}", where="esearch",
                                 fix="report this; it should not happen")
            mid = (lo + hi) // 2
            todo += [(mid + 1, hi, False), (lo, mid, False)]  # the low half is popped first
        return done

    def efetch(self, ids: list[str]) -> str:
        """PubMed XML for ``ids``, exactly as NCBI sent it."""
        # PubMed's full XML is retmode=xml with rettype left empty (EFetch's table).
        return self.post("efetch.fcgi", {"db": "pubmed", "id": ",".join(ids), "retmode": "xml"})


def _reconcile(result: SearchResult, recount: int) -> None:
    """Accept a union that differs from the first count only if PubMed's count moved too."""
    union = len(set(result.ids))
    if union == recount:
        result.warnings.append(f"PubMed's count changed from {result.count} to {recount} "
                               "while the PMID ranges were searched")
        result.count = recount
        return
    raise FetchError(
        f"the PMID ranges searched hold {union} records but PubMed counts {result.count} "
        f"(then {recount}); ranges: "
        + ", ".join(f"{lo}:{hi}={n}" for lo, hi, n in result.ranges),
        where="esearch", fix="run the fetch again; the result changed while searching",
    )


def _classify(status: int, body: str) -> tuple[str, bool]:
    """(problem, worth retrying) for one answer; no problem means a usable answer."""
    if status != 200:
        detail = _error_detail(body)
        problem = f"HTTP {status}" + (f" ({detail})" if detail else "")
        return problem, status in _RETRY_STATUS
    if not body.strip():
        return "empty response body", True
    root = _ROOT.search(body)
    if root is None or root.group(1).lower() == "html":
        return "a web page came back instead of XML", True
    tail = body[-300:].rstrip()
    if not (tail.endswith(f"</{root.group(1)}>")
            or re.search(rf"<{root.group(1)}\b[^<]*/>$", tail)):
        return "the answer is cut off (the XML does not close)", True
    if "DocSum Backend failed" in body:
        return "NCBI backend failure reported inside the response", True
    error = re.search(r"<ERROR>(.*?)</ERROR>", body, re.DOTALL)
    if error:
        message = " ".join(error.group(1).split())
        return f"E-utilities error: {message}", not _REFUSED_ERROR.search(message)
    return "", False


def _error_detail(body: str) -> str:
    """The ``error`` of a JSON error body (NCBI's 429), else a short plain-text excerpt."""
    try:
        data = json.loads(body)
    except ValueError:
        return ""
    return str(data.get("error", "")) if isinstance(data, dict) else ""


def _retry_after(value: str) -> float | None:
    """Seconds asked for by a ``Retry-After`` header (seconds or an HTTP date), capped."""
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds()
        except (TypeError, ValueError):
            return None
    return min(max(seconds, 0.0), 60.0)


def _backoff(attempt: int) -> float:
    """Exponential backoff from 1 s, capped at 30 s, with jitter so clients spread out."""
    return float(min(2 ** (attempt - 1), 30)) * random.uniform(1.0, 1.5)  # noqa: S311


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
                         fix="check the query syntax in the protocol's [[searches]] query")
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
