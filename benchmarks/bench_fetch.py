"""Benchmarks of the fetch stage for `make bench`, printed as tables.

3. Parsing: a PubMed XML of 30,000 records, built from the real records in tests/fixtures
   under fresh PMIDs, read by this project's streaming parser, a plain ElementTree loop and
   ``Bio.Entrez.read``; each in its own process, so each peak RSS is its own.
4. Fetching: 20,000 records from a local E-utilities stand-in (in its own process) that
   answers 429 above 3, then 10, requests a second; wall time against the rate-limit floor,
   429s provoked, and whether every record arrived once.
"""

from __future__ import annotations

import argparse
import multiprocessing
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_pipeline import in_child, table  # noqa: E402
from review_pipeline.stages.fetch import LiveSettings  # noqa: E402
from review_pipeline.stages.fetch import run as fetch  # noqa: E402
from review_pipeline.stages.fetch.eutils import Eutils  # noqa: E402
from tests.eutils_server import HEADER, Script, articles, renumbered, start  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures"
PARSERS = {
    "review_pipeline (streaming)": """
from review_pipeline.formats.base import open_binary
from review_pipeline.formats.pubmed_xml import iter_records
with open_binary(PATH) as stream:
    n = sum(1 for _ in iter_records(stream, str(PATH)))
""",
    "ElementTree iterparse loop": """
import xml.etree.ElementTree as ET
n = 0
for _, el in ET.iterparse(PATH, events=("end",)):
    if el.tag == "PubmedArticle":
        n += bool(el.findtext("MedlineCitation/PMID"))
        el.findtext("MedlineCitation/Article/ArticleTitle")
        el.clear()
""",
    "Bio.Entrez.read": """
from Bio import Entrez
with open(PATH, "rb") as handle:
    n = len(Entrez.read(handle, validate=False)["PubmedArticle"])
""",
}
def templates() -> list[str]:
    """Every real PubmedArticle in the fixtures, once."""
    blocks: dict[str, str] = {}
    for path in sorted((FIXTURES / "pubmed").glob("*.xml*")):
        blocks.update(articles(path))
    blocks.update(articles(FIXTURES / "exports" / "asreview_pubmed.xml"))
    return list(blocks.values())


def build_xml(path: Path, count: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write(HEADER + "<PubmedArticleSet>\n")
        for block in renumbered(templates(), count, 40_000_001).values():
            out.write(block + "\n")
        out.write("</PubmedArticleSet>\n")


def bench_parse(count: int) -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.xml"
        build_xml(path, count)
        size = path.stat().st_size / 1e6
        for name, code in PARSERS.items():
            n, seconds, peak = in_child("PATH = Path(ARGS[0])", code, str(path))
            rows.append([name, f"{n:,}", f"{seconds:.1f}", f"{n / seconds:,.0f}",
                         f"{size / seconds:.0f}", f"{peak:,.0f}"])
    table(f"3. Parsing a {size:.0f} MB PubMed XML of {count:,} records (target: >= 3,000 "
          "records/s and < 200 MB peak for review_pipeline)",
          ["parser", "records", "seconds", "records/s", "MB/s", "peak RSS MB"], rows)


def _serve(count: int, rate: float, ready: Any, stop: Any, report: Any) -> None:
    blocks = renumbered(templates(), count, 40_000_001)
    # Cited-reference lists make records four times their usual size; fetch speed here is
    # about the rate limit, so they are dropped to keep the server from being the bottleneck.
    slim = {k: re.sub(r"<ReferenceList>.*?</ReferenceList>", "", v, flags=re.DOTALL)
            for k, v in blocks.items()}
    script = Script(slim, rate_limit=rate)
    server = start(script)
    ready.put(server.server_address[1])
    stop.wait()
    report.put((script.rejected, len(script.requests)))
    server.shutdown()


def bench_fetch(count: int, batch_size: int) -> None:
    from review_pipeline.protocol import load_protocol
    from review_pipeline.store import open_db

    rows = []
    protocol = load_protocol(ROOT / "queries" / "protocol.toml")
    for rate, key in ((3, ""), (10, "bench-key")):
        ready: multiprocessing.Queue[int] = multiprocessing.Queue()
        report: multiprocessing.Queue[tuple[int, int]] = multiprocessing.Queue()
        stop = multiprocessing.Event()
        server = multiprocessing.Process(target=_serve, args=(count, rate, ready, stop, report))
        server.start()
        port = ready.get(timeout=120)
        with tempfile.TemporaryDirectory() as tmp:
            db = open_db(Path(tmp) / "review.db")
            client = Eutils(email="bench@example.org", api_key=key,
                            base_url=f"http://127.0.0.1:{port}/entrez/eutils/")
            began = time.perf_counter()
            [result] = fetch(db, protocol, live=LiveSettings(batch_size=batch_size),
                             raw_dir=Path(tmp) / "raw", client=client).searches
            seconds = time.perf_counter() - began
            stored, distinct = db.execute(
                "SELECT count(*), count(DISTINCT pmid) FROM records").fetchone()
        stop.set()
        rejected, requests = report.get(timeout=60)
        server.join()
        floor = (requests - 1) * client.limiter.interval
        rows.append([f"{rate}/s" + (" (api key)" if key else ""), f"{result.records:,}",
                     str(requests), f"{floor:.1f}", f"{seconds:.1f}",
                     f"{(seconds / floor - 1) * 100:+.0f}%", str(rejected),
                     "yes" if stored == distinct == count else f"no ({stored}/{distinct})"])
    table(f"4. Fetching {count:,} records in batches of {batch_size} from a local server that "
          "answers 429 above its limit (target: within 10% of the floor, no 429)",
          ["limit", "records", "requests", "floor s", "wall s", "over floor", "429s",
           "each record once"], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--parse-records", type=int, default=30_000)
    parser.add_argument("--fetch-records", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=200)
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}; {time.strftime('%Y-%m-%d %H:%M')}")
    bench_parse(args.parse_records)
    bench_fetch(args.fetch_records, args.batch_size)


if __name__ == "__main__":
    main()
