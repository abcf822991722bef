"""The report stage: one self-contained HTML page of the review as the data stand."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from .config import Protocol
from .db import State
from .extract.fields import number_text
from .prisma import DEFAULT_OUT, OTHER_LABELS, as_template, checked_counts

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem;
color:#222;line-height:1.4}
h1{font-size:1.6rem}h2{margin-top:2rem;border-bottom:1px solid #ccc}
table{border-collapse:collapse;width:100%;font-size:.9rem;margin:.5rem 0}
th,td{border:1px solid #ccc;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f2f2f2}.n{text-align:right}.note{color:#555;font-size:.9rem}
.flow td:first-child{width:70%}td:first-child{width:40%}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.1rem .6rem;margin:0}
dt{color:#555}dd{margin:0}@media print{body{margin:0}tr{break-inside:avoid}}
"""


def report(db: Database, protocol: Protocol, out_dir: Path = DEFAULT_OUT) -> Path:
    """Write ``index.html`` to ``out_dir`` and return its path."""
    counts = as_template(checked_counts(db, protocol))
    parts = [
        f"<h1>{escape(protocol.review.title)}</h1>",
        f"<p>{escape(protocol.review.question)}</p>",
        "<h2>PRISMA 2020 flow</h2>", _flow(counts),
        "<h2>Search log</h2>", _search_log(db, protocol),
        "<h2>Included studies</h2>", _included(db),
    ]
    html = ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{escape(protocol.review.title)}</title><style>{_STYLE}</style></head>"
            f"<body>{''.join(parts)}</body></html>\n")
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "index.html"
    path.write_text(html, encoding="utf-8")
    return path


def _table(header: list[str], rows: list[list[Any]], numeric: set[int] | None = None) -> str:
    numeric = numeric or set()
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td class=\"n\">{escape(str(v))}</td>" if i in numeric
                         else f"<td>{escape(str(v))}</td>" for i, v in enumerate(row)) + "</tr>"
        for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _flow(c: dict[str, Any]) -> str:
    rows: list[list[Any]] = [
        *[[f"Records identified: {d['label']}", d["n"]] for d in c["database_specific_results"]],
        *[[f"Records identified: {label}", c[key]] for key, label in OTHER_LABELS if c[key]],
        *([["Of those, already found by the database search", c["other_already_identified"]]]
          if c["other_already_identified"] else []),
        ["Duplicate records removed", c["duplicates"]],
        ["Marked as ineligible by automation tools", c["excluded_automatic"]],
        ["Records screened", c["records_screened"]],
        ["Records excluded", c["records_excluded"]],
        ["Reports sought for retrieval", c["dbr_sought_reports"] + c["other_sought_reports"]],
        ["Reports not retrieved",
         c["dbr_notretrieved_reports"] + c["other_notretrieved_reports"]],
        ["Reports assessed for eligibility", c["dbr_assessed"] + c["other_assessed"]],
        *[[f"Reports excluded: {r['label']}", r["n"]]
          for r in c["dbr_excluded"] + c["other_excluded"]],
        ["Studies included in review", c["new_studies"]],
    ]
    note = ("<p class=\"note\">Provisional: some records still await a decision.</p>"
            if c["provisional"] else "")
    return note + _table(["Box", "n"], rows, {1}).replace("<table>", "<table class=\"flow\">")


def _search_log(db: Database, protocol: Protocol) -> str:
    rows = [[r["database_name"], r["interface"], r["mode"], r["started_at"], r["count"],
             r["query"]] for r in db.query("SELECT * FROM search_runs ORDER BY run_id")]
    rows += [[protocol.source_label_kind(b["source"])[0], f"export file ({b['format']})",
              "import", b["created_at"], b["records"], b["file"]]
             for b in db.query("SELECT * FROM batches WHERE kind = 'import' ORDER BY batch_id")]
    return _table(["Source", "Interface", "Mode", "Date (UTC)", "Records", "Query or file"],
                  rows, {4})


def _citation(row: dict[str, Any]) -> str:
    authors = json.loads(row["authors"] or "[]")
    first = f"{authors[0]} et al." if len(authors) > 1 else (authors[0] if authors else "")
    parts = [first, str(row["year"] or ""), row["title"] or "(no title)", row["journal"] or ""]
    return ". ".join(p.rstrip(".") for p in parts if p) + "."


def _included(db: Database) -> str:
    fields: dict[str, list[tuple[str, str]]] = {}
    for r in db.query("SELECT table_name, field, unit FROM extraction_fields "
                      "ORDER BY rowid"):
        fields.setdefault(r["table_name"], []).append((r["field"], r["unit"] or ""))
    rows: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for table in fields:
        for row in db.query(f"SELECT * FROM [{table}]"):
            rows.setdefault((table, row["record_id"]), []).append(row)
    items = []
    for r in db.query("SELECT record_id, title, authors, year, journal FROM records "
                      "WHERE status = ? ORDER BY year, record_id", [State.INCLUDED.value]):
        blocks = [_extracted(table, columns, rows.get((table, r["record_id"]), []))
                  for table, columns in fields.items()]
        items.append(f"<tr><td>{escape(_citation(r))}<br><span class=\"note\">"
                     f"{escape(r['record_id'])}</span></td><td>{''.join(blocks)}</td></tr>")
    if not items:
        return "<p>No study is included yet.</p>"
    return (f"<p>{len(items)} studies.</p><table><thead><tr><th>Study</th>"
            f"<th>Extracted data</th></tr></thead><tbody>{''.join(items)}</tbody></table>")


def _extracted(table: str, columns: list[tuple[str, str]], rows: list[dict[str, Any]]) -> str:
    shown = [(name, unit) for name, unit in columns if any(r[name] is not None for r in rows)]
    if not shown:
        return ""
    title = f"<b>{escape(table.replace('_', ' '))}</b>"
    if len(rows) == 1:
        pairs = "".join(f"<dt>{escape(name.replace('_', ' '))}</dt>"
                        f"<dd>{escape(_value(rows[0][name], unit))}</dd>" for name, unit in shown)
        return f"{title}<dl>{pairs}</dl>"
    return title + _table([name.replace("_", " ") for name, _ in shown],
                          [[_value(r[name], unit) for name, unit in shown] for r in rows])


def _value(value: object, unit: str) -> str:
    if value is None:
        return ""
    text = number_text(value) if isinstance(value, float) else str(value)
    return f"{text}%" if unit == "%" else text
