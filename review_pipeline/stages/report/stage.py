"""The report stage: one self-contained HTML page of the review as the data stand."""

from __future__ import annotations

import base64
import io
import json
import shutil
import subprocess
import tempfile
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlite_utils import Database

from review_pipeline import layout, store
from review_pipeline.files import write_atomic
from review_pipeline.formats.sheets import csv_writer
from review_pipeline.model.errors import ResourceError
from review_pipeline.model.state import State
from review_pipeline.model.text import number_text, value_text
from review_pipeline.protocol import Protocol, Report
from review_pipeline.stages.extract.stage import SIDE_BY_SIDE
from review_pipeline.stages.prisma import (
    DEFAULT_OUT,
    PrismaCounts,
    SearchLog,
    checked_counts,
    flow,
    load_previous,
    search_log,
)
from review_pipeline.stages.prisma.search_log import count_text, screening_lines
from review_pipeline.stages.report.figures import summary_bars, traffic_light
from review_pipeline.stages.report.grade import DOMAINS, findings, read_judgements
from review_pipeline.stages.report.methods import methods
from review_pipeline.stages.report.summary import Summary, risk_of_bias, treatment_summary
from review_pipeline.stages.report.tools import shares, tool_of, tools
from review_pipeline.store import extraction
from review_pipeline.store import studies as study_store

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem;
color:#222;line-height:1.4}
h1{font-size:1.6rem}h2{margin-top:2rem;border-bottom:1px solid #ccc}h3{margin-bottom:.3rem}
table{border-collapse:collapse;width:100%;font-size:.9rem;margin:.5rem 0}
th,td{border:1px solid #ccc;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f2f2f2}.n{text-align:right}.note{color:#555;font-size:.9rem}
.warning{color:#a61b1b;font-weight:bold}
.banner{background:#fff4ce;border:1px solid #e0b000;padding:.6rem .8rem;font-weight:600}
.diagram svg{width:100%;height:auto}
pre{white-space:pre-wrap;background:#f7f7f7;padding:.5rem;font-size:.85rem}
.studies>tbody>tr>td:first-child{width:35%}
ul.sides{margin:0;padding-left:1rem}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.1rem .6rem;margin:0}
dt{color:#555}dd{margin:0}
.rob td{text-align:center}.rob td:first-child{text-align:left}
figure.rob svg{max-width:100%;height:auto}
p.csv{margin:.2rem 0 1rem;font-size:.85rem}@media print{p.csv{display:none}}
.certainty{white-space:nowrap}.certainty.high,.certainty.moderate{background:#e2f0d9}
.certainty.low{background:#fff2cc}.certainty.very-low{background:#f8d7da}
.low{background:#c6efce}.some{background:#ffeb9c}.high{background:#ffc7ce}
.critical{background:#c0504d;color:#fff}.na{background:#eee}.noinfo{background:#cfe3fb}
@media (max-width:700px){table{display:block;overflow-x:auto}
table.sof{display:table}.sof thead{display:none}.sof tr,.sof td{display:block;border:0}
.sof tr{border-top:2px solid #ccc;padding:.4rem 0}.sof td{padding:.1rem .2rem;text-align:left}
.sof td[data-label]::before{content:attr(data-label) ": ";color:#555}
.sof td:first-child{font-weight:600}}
@media print{body{margin:0;max-width:none}tr,svg{break-inside:avoid}
h2,h3,.note{break-after:avoid}}
"""
JUDGEMENTS = {"Low": "low", "Yes": "low", "Include": "low", "Moderate": "some",
              "Unclear": "some", "Seek further info": "some", "No information": "some",
              "Serious": "high", "No": "high", "Exclude": "high", "Critical": "critical",
              "Not applicable": "na"}
"""Risk-of-bias judgements by traffic-light colour, for forms no tool of rob_tools.toml
draws."""
LEVEL_CLASSES = {"low": "low", "some": "some", "high": "high", "critical": "critical",
                 "none": "noinfo", "na": "na"}
"""A tool's judgement levels as the table's classes (the figures' colours)."""


def run(db: Database, protocol: Protocol, out_dir: Path = DEFAULT_OUT,
        grade: Path = layout.GRADE) -> Path:
    """Write ``index.html`` to ``out_dir`` and return its path; ``grade`` holds reviewers'
    GRADE judgements (indirectness, publication bias), when it exists."""
    from review_pipeline.stages.prisma import diagram

    c = checked_counts(db, protocol, load_previous(protocol))
    f = flow(c, protocol.review.notice)
    svg = diagram.render(f)
    warning = f"<p class=\"warning\">{escape(f.warning)}</p>" if f.warning else ""
    parts = [
        *([f"<p class=\"banner\" role=\"note\">{escape(protocol.review.notice)}</p>"]
          if protocol.review.notice else []),
        f"<h1>{escape(protocol.review.title)}</h1>",
        f"<p>{escape(protocol.review.question)}</p>", warning,
        "<h2>PRISMA 2020 flow</h2>",
        f"<div class=\"diagram\">{svg[svg.index('<svg'):]}</div>",
        "<h2>Methods</h2>", _methods(db, protocol, c),
        "<h2>Search log</h2>", _search_log(search_log(db, protocol), protocol),
        "<h2>Summary of findings</h2>", _findings(db, read_judgements(grade)),
        "<h2>Results by treatment</h2>", _summary(treatment_summary(db, protocol.report)),
        _pooled(study_store.analyses(db), out_dir),
        "<h2>Risk of bias</h2>", _risk_of_bias(db, protocol.report),
        "<h2>Included studies</h2>", _included(db),
    ]
    html = ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{escape(protocol.review.title)}</title><style>{_STYLE}"
            f"{_on_every_page(protocol.review.notice)}</style></head>"
            f"<body>{''.join(parts)}</body></html>\n")
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "index.html"
    write_atomic(path, html.encode("utf-8"))
    return path


def _on_every_page(notice: str) -> str:
    """The notice at the top of every printed page too (a page margin box)."""
    if not notice:
        return ""
    text = notice.replace("\\", "\\\\").replace('"', '\\"')
    return ("@page{margin:1.9cm 1.2cm 1.5cm;@top-center{content:\"" + text + "\";"
            "font:8pt system-ui,sans-serif;color:#6b5200}}")


def _table(header: list[str], rows: list[list[Any]], numeric: set[int] | None = None,
           cls: str = "", csv_name: str = "") -> str:
    """A table of ``rows``; with ``csv_name``, a link under it downloads it as CSV."""
    numeric = numeric or set()
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td class=\"n\">{escape(str(v))}</td>" if i in numeric
                         else f"<td>{escape(str(v))}</td>" for i, v in enumerate(row)) + "</tr>"
        for row in rows)
    attr = f" class=\"{cls}\"" if cls else ""
    return (f"<table{attr}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
            + (_download(csv_name, header, rows) if csv_name else ""))


def _download(name: str, header: list[str], rows: list[list[Any]]) -> str:
    """A link that saves the table as ``<name>.csv``: the data in the page itself (it stays
    one file), its cells safe to open in a spreadsheet."""
    out = io.StringIO()
    writer = csv_writer(out)
    writer.writerow(header)
    writer.writerows([["" if v is None else v for v in row] for row in rows])
    href = "data:text/csv;charset=utf-8," + quote(out.getvalue())
    return (f"<p class=\"csv\"><a download=\"{escape(name)}.csv\" href=\"{href}\">"
            f"Download this table as CSV ({escape(name)}.csv)</a></p>")


def _methods(db: Database, protocol: Protocol, c: PrismaCounts) -> str:
    from review_pipeline.stages.screen import agreement

    forms = list(dict.fromkeys(r["table_name"] for r in extraction.fields(db, "file")))
    tools = {form: tool.name for form in forms if (tool := tool_of(form))}
    parts = []
    for part in methods(protocol, c, search_log(db, protocol), agreement(db), forms, tools):
        items = ("<ul>" + "".join(f"<li>{escape(i)}</li>" for i in part.items) + "</ul>"
                 if part.items else "")
        parts.append(f"<h3>{escape(part.heading)}</h3>"
                     + "".join(f"<p>{escape(t)}</p>" for t in part.sentences) + items)
    return "".join(parts)


def _search_log(log: SearchLog, protocol: Protocol) -> str:
    parts = []
    for run in log.runs:
        parts.append(
            f"<h3>{escape(run['database'])} ({escape(run['interface'])})</h3>"
            f"<p>Searched {escape(run['searched'])}"
            + (f" ({escape(run['mode'])})" if run["mode"] != "snapshot" else "") + "; limits: "
            f"{escape(run['limits'] or 'none')}; {count_text(run['count'])} found, "
            f"{count_text(run['records'])} retrieved.</p><pre>{escape(run['query'])}</pre>")
    for title, imports in (("Database and register exports", log.database_imports),
                           ("Other methods", log.other_imports)):
        if imports:
            parts.append(f"<h3>{title}</h3>" + _table(
                ["Source", "File", "Format", "Imported (UTC)", "Records"],
                [[b["source"], b["file"], b["format"], b["imported_at"], b["records"]]
                 for b in imports], {4}))
    if log.planned:
        parts.append("<p class=\"note\">Planned, not yet searched: " + escape("; ".join(
            p["source"] for p in log.planned)) + ".</p>")
    d = log.dedup
    if d:
        parts.append(f"<p>Deduplication: {escape(d['software'])}, {d['records']:,} records, "
                     f"{d['duplicates']:,} marked as duplicates (never deleted). The full "
                     "log is <code>search_log.md</code>.</p>")
    if log.runs or log.imports:
        parts.append("<h3>Screening order and stopping</h3><ul>" + "".join(
            f"<li>{escape(line)}</li>" for line in screening_lines(log, protocol)) + "</ul>")
    return "".join(parts) or "<p>No search has been run yet.</p>"


def _summary(s: Summary) -> str:
    if s.missing:
        return (f"<p class=\"note\">No summary: the extraction forms have no field "
                f"{escape(', '.join(s.missing))} (see the protocol's [report] section).</p>")
    if not s.treatments:
        return "<p>Nothing is extracted yet.</p>"
    treatments = _table(["Treatment", "Studies", "Arms", "Patients"],
                        [[t.treatment, t.studies, t.arms, t.patients] for t in s.treatments],
                        {1, 2, 3}, csv_name="treatments")
    rates = _table(["Treatment", "Outcome", "Studies", "Results", "Median %", "Range %"],
                   [[r.treatment, r.outcome, r.studies, r.results, number_text(r.median),
                     f"{number_text(r.low)}-{number_text(r.high)}" if r.low != r.high else ""]
                    for r in s.rates], {2, 3, 4, 5}, csv_name="outcome-rates")
    return (f"{treatments}<h3>Outcome rates</h3><p class=\"note\">The median and range of "
            "the rates the studies report, unweighted; the pooled estimates follow.</p>"
            f"{rates}")


def _pooled(analyses: list[dict[str, Any]], out_dir: Path) -> str:
    """The synthesis stage's pooled estimates, each with its forest plot (embedded, so the
    page stays one file), and the outcomes it could not pool."""
    pooled = [a for a in analyses if a["pooled"]]
    if not analyses:
        return ""
    rows = []
    for a in pooled:
        r = a["result"]
        rows.append([a["treatment"], a["outcome"], r["k"],
                     number_text(sum(s["total"] for s in a["studies"])),
                     f"{r['estimate']:.2f} [{r['ci_low']:.2f}, {r['ci_high']:.2f}]",
                     f"{r['pi_low']:.2f}-{r['pi_high']:.2f}" if r["pi_low"] is not None
                     else "", f"{r['i2']:.0f}%"])
    table = _table(["Treatment", "Outcome", "Studies", "Patients", "Pooled proportion "
                    "[95% CI]", "Prediction interval", "I\u00b2"], rows, {2, 3},
                   csv_name="pooled-estimates")
    figures = "".join(_figure(out_dir / a["forest"], f"{a['outcome']}: {a['treatment']}")
                      for a in pooled if a["forest"])
    single = [f"{a['treatment']}: {a['outcome']} ({len(a['studies'])} "
              f"{'study' if len(a['studies']) == 1 else 'studies'})"
              for a in analyses if not a["pooled"] and not a.get("error")]
    failed = [f"{a['treatment']}: {a['outcome']}: {a['error']}" for a in analyses
              if a.get("error")]
    aside = [f"{s['label']} ({a['treatment']}: {a['outcome']}): {s['why']}"
             for a in analyses for s in a["set_aside"]]
    model = pooled[0]["model"].capitalize() if pooled else ""
    return (f"<h3>Pooled estimates</h3><p class=\"note\">{escape(model)}; proportions of "
            f"the evaluable patients, one study per cohort.</p>{table}{figures}"
            + (f"<p class=\"note\">Not pooled (too few studies): {escape('; '.join(single))}"
               "</p>" if single else "")
            + (f"<p class=\"warning\">Not fitted: {escape('; '.join(failed))}</p>"
               if failed else "")
            + (f"<p class=\"note\">Set aside: "
               f"{escape('; '.join(aside))}</p>" if aside else ""))


def _figure(path: Path, caption: str) -> str:
    if not path.exists():
        return ""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (f"<figure><img alt=\"Forest plot: {escape(caption)}\" style=\"max-width:100%\" "
            f"src=\"data:image/svg+xml;base64,{data}\"></figure>")


def _risk_of_bias(db: Database, report: Report) -> str:
    """Per form, headed by its tool's name: the traffic-light plot and the summary bars (of
    studies, and of patients) for a tool defined in ``rob_tools.toml``; a table of the
    judgements for any other form."""
    forms = [f for f in risk_of_bias(db) if f.rows]
    if not forms:
        return "<p>No risk-of-bias judgement is recorded yet.</p>"
    names = store.short_names(db, State.INCLUDED)
    weights = _patients(db, report)
    parts = []
    for form in forms:
        tool = tool_of(form.table)
        if tool is None:
            parts.append(f"<h3>{escape(form.table)}</h3>" + _judgements(
                form.table, [(d, h) for d, h in form.domains], form.rows, names))
            continue
        weighted = [r for r in form.rows if r["record_id"] in weights]
        parts.append(
            f"<h3>{escape(tool.name)}</h3><p class=\"note\">{escape(tool.reference)}. "
            f"{len(form.rows)} studies.</p>"
            f"<figure class=\"rob\">{_inline(traffic_light(tool, form.rows, names))}</figure>"
            f"<figure class=\"rob\">{_inline(summary_bars(tool, shares(tool, form.rows), 'Share of studies (%)'))}</figure>"  # noqa: E501
            + (f"<figure class=\"rob\">{_inline(summary_bars(tool, shares(tool, weighted, weights), 'Share of patients (%), studies weighted by their patients'))}</figure>"  # noqa: E501
               + (f"<p class=\"note\">{len(form.rows) - len(weighted)} studies without a "
                  "patient count are left out of the weighted bars.</p>"
                  if len(weighted) < len(form.rows) else "") if weighted else "")
            + _judgements(tool.id, list(tool.domains), form.rows, names))
    return "".join(parts)


def _findings(db: Database, judged: dict[tuple[str, str, str], tuple[int, str]]) -> str:
    """The summary of findings: each pooled treatment and outcome with its certainty and
    every rating down, with the reason."""
    overall: dict[str, str] = {}
    start_high = _randomised(db)
    order = {level: i for i, level in enumerate(("none", "low", "some", "high", "critical"))}
    for form in risk_of_bias(db):
        tool = tool_of(form.table)
        if tool is None:
            continue
        if tool.starts_high:
            start_high |= {row["record_id"] for row in form.rows}
        for row in form.rows:
            level = tool.level(row.get("overall"))
            if level and order.get(level, -1) > order.get(overall.get(row["record_id"], ""), -1):
                overall[row["record_id"]] = level
    analyses = study_store.analyses(db)
    found = findings(analyses, overall, start_high, judged)
    pooled = {(a["treatment"], a["outcome"]) for a in analyses if a["pooled"]}
    stray = sorted({f"{t}: {o}" for t, o, _ in judged if (t, o) not in pooled})
    if not found:
        return "<p>No outcome is pooled yet.</p>"
    rows = []
    for f in found:
        downs = "".join(
            f"<li>{escape(d.domain)}: "
            + (f"<b>&minus;{d.levels}</b> " if d.levels else "not serious, " if d.judged
               else "")
            + f"{escape(d.reason)}</li>" for d in f.downgrades)
        rows.append(f"<tr><td>{escape(f.treatment)}</td><td>{escape(f.outcome)}</td>"
                    f"<td class=\"n\" data-label=\"Studies\">{f.studies}</td>"
                    f"<td class=\"n\" data-label=\"Patients\">{f.patients}</td>"
                    f"<td data-label=\"Pooled [95% CI]\">{f.estimate:.0%} [{f.ci_low:.0%} to "
                    f"{f.ci_high:.0%}]</td>"
                    f"<td class=\"certainty {f.certainty.replace(' ', '-')}\">"
                    f"{CERTAINTY_MARKS[f.certainty]} {escape(f.certainty.capitalize())}<br>"
                    f"<span class=\"note\">from {escape(f.start)}</span></td>"
                    f"<td><ul class=\"sides\">{downs}</ul></td></tr>")
    warning = (f"<p class=\"warning\">Judged in grade.csv but not pooled (a typo?): "
               f"{escape('; '.join(stray))}</p>" if stray else "")
    return (warning + "<p class=\"note\">Certainty as GRADE rates it: from high for "
            "randomised trials (or studies judged with ROBINS-I), from low otherwise, rated "
            "down per domain. Risk of bias, inconsistency "
            "and imprecision are computed (rules in the methods); indirectness and "
            "publication bias are the reviewers' judgements (<code>extracted/synthesis/"
            "grade.csv</code>).</p><table class=\"sof\"><thead><tr><th>Treatment</th>"
            "<th>Outcome</th><th>Studies</th><th>Patients</th><th>Pooled proportion "
            "[95% CI]</th><th>Certainty</th><th>Rated down</th></tr></thead><tbody>"
            + "".join(rows) + "</tbody></table>"
            + _download("summary-of-findings", [
                "treatment", "outcome", "studies", "patients", "estimate", "ci_low", "ci_high",
                "certainty", "starts_from", *(f"{d} ({k})" for d in DOMAINS
                                               for k in ("levels", "reason"))],
                [[f.treatment, f.outcome, f.studies, f.patients, round(f.estimate, 4),
                  round(f.ci_low, 4), round(f.ci_high, 4), f.certainty, f.start,
                  *(x for d in f.downgrades for x in (d.levels if d.judged else "",
                                                      d.reason))] for f in found]))


CERTAINTY_MARKS = {"high": "⊕⊕⊕⊕", "moderate": "⊕⊕⊕◯", "low": "⊕⊕◯◯", "very low": "⊕◯◯◯"}


def _randomised(db: Database) -> set[str]:
    """Studies whose design field (any form's ``design``) says randomised."""
    out = set()
    for table in {r["table_name"] for r in extraction.fields(db) if r["field"] == "design"}:
        for row in extraction.form_rows(db, table, ["design"], given="design"):
            text = str(row["design"]).lower()
            if "randomi" in text and "non-randomi" not in text:
                out.add(row["record_id"])
    return out


def _judgements(name: str, domains: list[tuple[str, str]], rows: list[dict[str, Any]],
                names: dict[str, str]) -> str:
    tool = tool_of(name) or next((t for t in tools() if t.id == name), None)

    def colour(value: str) -> str:
        if tool is not None:
            return LEVEL_CLASSES.get(tool.level(value), "")
        return JUDGEMENTS.get(value, "")

    head = "".join(f"<th>{escape(label)}</th>" for _, label in domains)
    body = "".join(
        f"<tr><td>{escape(names.get(r['record_id'], r['record_id']))}</td>" + "".join(
            f"<td class=\"{colour(r.get(d) or '')}\">{escape(r.get(d) or '')}</td>"
            for d, _ in domains) + "</tr>" for r in rows)
    return (f"<details><summary>The judgements as a table</summary><table class=\"rob\">"
            f"<thead><tr><th>Study</th>{head}</tr></thead><tbody>{body}</tbody></table>"
            "</details>" + _download(f"risk-of-bias-{name}", ["study", "record_id", *(
                label for _, label in domains)], [[names.get(r["record_id"], ""),
                                                   r["record_id"], *(r.get(d) or "" for d, _
                                                                     in domains)]
                                                  for r in rows]))


def _patients(db: Database, report: Report) -> dict[str, float]:
    """Patients per study: the sum of the protocol's ``[report] patients`` field."""
    table, field = report.patients.split(".")
    out: dict[str, float] = {}
    if not any(r["table_name"] == table and r["field"] == field
               for r in extraction.fields(db)):
        return out
    for row in extraction.form_rows(db, table, [field], given=field):
        out[row["record_id"]] = out.get(row["record_id"], 0.0) + float(row[field])
    return out


def _inline(svg: str) -> str:
    return svg[svg.index("<svg"):]


def _citation(row: dict[str, Any]) -> str:
    authors = json.loads(row["authors"] or "[]")
    first = f"{authors[0]} et al." if len(authors) > 1 else (authors[0] if authors else "")
    parts = [first, str(row["year"] or ""), row["title"] or "(no title)", row["journal"] or ""]
    return ". ".join(p.rstrip(".") for p in parts if p) + "."


def _included(db: Database) -> str:
    fields: dict[str, list[tuple[str, str]]] = {}
    for r in extraction.fields(db, "file"):
        fields.setdefault(r["table_name"], []).append((r["field"], r["unit"] or ""))
    rows: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for table in fields:
        for row in extraction.form_rows(db, table):
            rows.setdefault((table, row["record_id"]), []).append(row)
    items = []
    names = store.short_names(db, State.INCLUDED)
    for r in store.records_at(db, State.INCLUDED,
                              ("record_id", "title", "authors", "year", "journal", "doi",
                               "pmid"), by_year=True):
        blocks = [_extracted(table, columns, rows.get((table, r["record_id"]), []))
                  for table, columns in fields.items()]
        items.append(f"<tr><td><b>{escape(names.get(r['record_id'], r['record_id']))}</b>"
                     f"<br>{escape(_citation(r))}{_links(r)}</td>"
                     f"<td>{''.join(blocks)}</td></tr>")
    if not items:
        return "<p>No study is included yet.</p>"
    downloads = "".join(_download(
        f"extracted-{table}", ["study", "record_id", *(name for name, _ in columns)],
        [[names.get(row["record_id"], ""), row["record_id"],
          *(value_text(row[name]) for name, _ in columns)]
         for (form, _), found in rows.items() if form == table for row in found])
        for table, columns in fields.items())
    return (f"<p>{len(items)} reports.</p><table class=\"studies\"><thead><tr><th>Study</th>"
            f"<th>Extracted data</th></tr></thead><tbody>{''.join(items)}</tbody></table>"
            f"{downloads}")


def _links(r: dict[str, Any]) -> str:
    """DOI and PubMed links of a record (quoted into the URL, escaped into the page)."""
    links = []
    if r.get("doi"):
        links.append(f"<a href=\"https://doi.org/{escape(quote(r['doi'], safe='/:;()'))}\">"
                     f"doi:{escape(r['doi'])}</a>")
    if r.get("pmid"):
        links.append(f"<a href=\"https://pubmed.ncbi.nlm.nih.gov/{escape(quote(r['pmid']))}/\">"
                     f"PubMed {escape(r['pmid'])}</a>")
    return f"<br><span class=\"note\">{' · '.join(links)}</span>" if links else ""


def _extracted(table: str, columns: list[tuple[str, str]], rows: list[dict[str, Any]]) -> str:
    shown = [(name, unit) for name, unit in columns if any(r[name] is not None for r in rows)]
    if not shown:
        return ""
    title = f"<b>{escape(table.replace('_', ' '))}</b>"
    if len(rows) == 1:
        pairs = "".join(f"<dt>{escape(name.replace('_', ' '))}</dt>"
                        f"<dd>{_cell(rows[0][name], unit)}</dd>" for name, unit in shown)
        return f"{title}<dl>{pairs}</dl>"
    head = "".join(f"<th>{escape(name.replace('_', ' '))}</th>" for name, _ in shown)
    body = "".join("<tr>" + "".join(f"<td>{_cell(r[name], unit)}</td>" for name, unit in shown)
                   + "</tr>" for r in rows)
    return f"{title}<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _value(value: object, unit: str) -> str:
    text = value_text(value)
    return f"{text}%" if unit == "%" and text else text


def _cell(value: object, unit: str) -> str:
    """A value as HTML: reviewers' different free text (kept side by side by the extract
    stage) as a list, one reviewer's text an item, never glued into one line."""
    text = _value(value, unit)
    if SIDE_BY_SIDE in text:
        return "<ul class=\"sides\">" + "".join(
            f"<li>{escape(part)}</li>" for part in text.split(SIDE_BY_SIDE)) + "</ul>"
    return escape(text)


BROWSERS = ("chromium", "chromium-browser", "google-chrome", "chrome")


def to_pdf(page: Path, pdf: Path) -> Path:
    """Print the report ``page`` to ``pdf`` with a headless Chromium or Chrome, as a browser's
    print would (the page's print styles apply)."""
    browser = next((found for name in BROWSERS if (found := shutil.which(name))), None)
    if browser is None:
        raise ResourceError("no Chromium or Chrome to print the report with",
                            fix="install one (apt-get install chromium), or open "
                                f"{page} in a browser and print it to PDF")
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run(  # noqa: S603 (a browser found on PATH, our own file)
            [browser, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}",
             "--no-pdf-header-footer", f"--print-to-pdf={pdf.resolve()}",
             page.resolve().as_uri()], capture_output=True, text=True, timeout=120,
            check=False)
    if done.returncode or not pdf.exists():
        raise ResourceError(f"{browser} could not print the report: "
                            f"{(done.stderr or '').strip()[-300:]}", where=str(page),
                            fix="open the page in a browser and print it to PDF")
    return pdf
