"""The pages of ``review serve``, rendered on the server; a little JavaScript sends the keys.

Every value from a record, a sheet or the protocol goes through :func:`html.escape` (or
:func:`_mark`, which escapes what it does not highlight); the pages load nothing from
elsewhere.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from html import escape
from urllib.parse import quote

from review_pipeline.model.eligibility import Rule
from review_pipeline.protocol import Protocol
from review_pipeline.serve.desk import Open, Shown
from review_pipeline.serve.forms import StudyForms
from review_pipeline.stages.extract.fields import Form
from review_pipeline.stages.screen.stopping import StopState

STYLE = """
*{box-sizing:border-box}body{font:15px/1.5 system-ui,sans-serif;margin:0;color:#1b1b1b;
background:#f4f5f7}header{display:flex;gap:1.2rem;align-items:baseline;padding:.6rem 1.2rem;
background:#1f4e79;color:#fff}header a{color:#fff}header .grow{flex:1}
main{display:grid;grid-template-columns:minmax(0,1fr) 22rem;gap:1rem;padding:1rem 1.2rem;
max-width:84rem;margin:auto}article,aside section{background:#fff;border-radius:6px;
padding:1rem 1.2rem;box-shadow:0 1px 2px #0002}aside section{margin-bottom:1rem}
h1{font-size:1.3rem;margin:.2rem 0 .6rem}h2{font-size:1rem;margin:.2rem 0 .5rem}
.meta{color:#555;margin:.2rem 0}.tags span{display:inline-block;background:#eef;
border-radius:3px;padding:0 .4rem;margin:.1rem .2rem .1rem 0;font-size:.85rem}
mark.inc{background:#c6efce}mark.exc{background:#ffc7ce}
.decision{font-weight:600;padding:.1rem .5rem;border-radius:3px}
.include{background:#c6efce}.exclude{background:#ffc7ce}.maybe{background:#ffeb9c}
.not_retrieved{background:#ddd}kbd{border:1px solid #999;border-radius:3px;padding:0 .3rem;
font-size:.85rem;background:#fafafa}ul{padding-left:1.1rem;margin:.3rem 0}
#message{color:#a61b1b;font-weight:600;margin:0 0 .6rem}#message:empty{display:none}
#reasons,#help{display:none;position:fixed;inset:20% 30% auto;background:#fff;padding:1rem;
border:2px solid #1f4e79;border-radius:6px;box-shadow:0 4px 20px #0004}
#reasons.open,#help.open{display:block}table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #ddd;padding:.3rem;text-align:left;vertical-align:top}
form.row{border:1px solid #ddd;border-radius:6px;padding:.6rem;margin:.6rem 0}
form.row label{display:grid;grid-template-columns:12rem 1fr;gap:.5rem;margin:.2rem 0}
form.row small{grid-column:2;color:#666}
.problems{white-space:pre-wrap;margin:.4rem 0 0}
.refused{color:#a61b1b;font-weight:600}.saved{color:#2e7d32;font-weight:600}
header{flex-wrap:wrap}td .decision{white-space:nowrap}
.bar{height:6px;background:#ddd;border-radius:3px}
.bar div{height:6px;background:#1f4e79;border-radius:3px}
@media (max-width:800px){main{grid-template-columns:1fr}header strong{flex-basis:100%}
#reasons,#help{inset:10% 5% auto}}
"""

SCRIPT = """
const token = document.querySelector('meta[name=token]').content;
const page = document.body.dataset;
async function post(url, data) {
  const answer = await fetch(url, {method: 'POST', headers: {'Content-Type':
    'application/json', 'X-Review-Token': token}, body: JSON.stringify(data)});
  const body = await answer.json();
  if (!answer.ok) { show(body.error || 'refused'); throw new Error(body.error); }
  return body;
}
function show(text) { document.getElementById('message').textContent = text; }
// A record is swapped in place (no new page), so a key is answered at once.
function put(card) {
  document.getElementById('record').outerHTML = card.html;
  document.getElementById('progress').textContent = card.progress;
  document.getElementById('bar').style.width = card.share + '%';
  if (card.record) history.replaceState(null, '', '?record=' + encodeURIComponent(card.record));
  show('');
}
async function go(record) {
  if (!record) return;
  const answer = await fetch('/screen/card?record=' + encodeURIComponent(record));
  if (answer.ok) put(await answer.json());
  else location.href = '?record=' + encodeURIComponent(record);
}
const reasons = document.getElementById('reasons');
const help = document.getElementById('help');
let busy = false;  // one decision at a time: a key pressed meanwhile is not lost to a race
async function decide(decision, reason) {
  if (busy) return;
  busy = true;
  try {
    const current = document.querySelector('[data-record-id]').dataset.recordId;
    reasons.classList.remove('open');
    put((await post('/screen/decide', {record: current, decision: decision,
                                        reason: reason || ''})).card);
  } finally { busy = false; }
  stop();
}
async function stop() {
  const state = await (await fetch('/stop')).json();
  if (state.text) document.getElementById('stop').textContent = state.text;
}
stop();
document.addEventListener('keydown', async (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if (event.target.closest('input, textarea, select')) return;
  const key = event.key;
  if (reasons && reasons.classList.contains('open')) {
    const chosen = reasons.querySelector('[data-key="' + key + '"]');
    if (chosen) { event.preventDefault(); await decide('exclude', chosen.dataset.code); }
    else if (key === 'Escape') { reasons.classList.remove('open'); }
    return;
  }
  if (help.classList.contains('open') && (key === 'Escape' || key === '?')) {
    help.classList.remove('open'); return;
  }
  const record = document.querySelector('[data-record-id]');
  if (!record) {
    if (key === '?') help.classList.add('open');
    if (key === 'u') {
      const body = await post('/screen/undo', {}); if (body.card) put(body.card);
    }
    return;
  }
  const keys = {i: 'include', m: 'maybe', n: page.stage === 'ft' ? 'not_retrieved' : null};
  try {
    if (keys[key]) { event.preventDefault(); await decide(keys[key]); }
    else if (key === 'e') {
      event.preventDefault();
      if (page.stage === 'ft') reasons.classList.add('open'); else await decide('exclude');
    } else if (key === 'u') {
      event.preventDefault(); const body = await post('/screen/undo', {});
      if (body.card) put(body.card); else show('nothing to undo');
    } else if (key === 'ArrowRight') { go(record.dataset.next); }
    else if (key === 'ArrowLeft') { go(record.dataset.previous); }
    else if (key === '?') { help.classList.add('open'); }
  } catch (error) { /* the message is shown */ }
});
"""

EXTRACT_SCRIPT = """
const token = document.querySelector('meta[name=token]').content;
for (const form of document.querySelectorAll('form.row')) {
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const values = {};
    for (const input of form.querySelectorAll('[name]')) values[input.name] = input.value;
    const answer = await fetch('/extract/save', {method: 'POST', headers: {'Content-Type':
      'application/json', 'X-Review-Token': token}, body: JSON.stringify({
        table: form.dataset.table, record: form.dataset.record,
        before: form.dataset.before ? JSON.parse(form.dataset.before) : null,
        values: values})});
    const body = await answer.json();
    const message = form.querySelector('.problems');
    if (answer.ok && !body.problems.length) {
      message.textContent = 'saved'; message.className = 'problems saved';
      form.dataset.before = JSON.stringify(body.before);
    } else {
      message.textContent = (body.problems || [body.error]).join('\\n');
      message.className = 'problems refused';
    }
  });
}
"""

CONFLICT_SCRIPT = """
const token = document.querySelector('meta[name=token]').content;
for (const button of document.querySelectorAll('button[data-decision]')) {
  button.addEventListener('click', async () => {
    const row = button.closest('[data-record-id]');
    const reason = row.querySelector('select') ? row.querySelector('select').value : '';
    const answer = await fetch('/conflicts/resolve', {method: 'POST', headers: {
      'Content-Type': 'application/json', 'X-Review-Token': token}, body: JSON.stringify({
        record: row.dataset.recordId, decision: button.dataset.decision, reason: reason})});
    const body = await answer.json();
    document.getElementById('message').textContent = answer.ok ? '' : body.error;
    if (answer.ok) location.reload();
  });
}
"""


def layout(title: str, token: str, body: str, *, stage: str, reviewer: str,
           script: str = SCRIPT) -> str:
    nav = ("<a href=\"/screen\">Screening</a><a href=\"/conflicts\">Conflicts</a>"
           "<a href=\"/extract\">Extraction</a>")
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
            f"<meta name=\"token\" content=\"{escape(token)}\"><title>{escape(title)}</title>"
            f"<style>{STYLE}</style></head><body data-stage=\"{escape(stage)}\">"
            f"<header><strong>{escape(title)}</strong><span class=\"grow\"></span>{nav}"
            f"<span>{escape(reviewer)} · {escape(stage)}</span></header>{body}"
            f"<script>{script}</script></body></html>")


class Highlighter:
    """The protocol's rule terms marked in a text: include rules' in green, exclude rules' in
    red (the words of ``terms`` and of ``match``, not those after NOT)."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        found: dict[str, list[str]] = {"include": [], "exclude": []}
        for rule in rules:
            if rule.verdict in found:
                found[rule.verdict] += [*rule.terms, *_match_terms(rule.match)]
        self.patterns = {kind: _pattern(terms) for kind, terms in found.items() if terms}

    def mark(self, text: str) -> str:
        spans: list[tuple[int, int, str]] = []
        for kind, pattern in self.patterns.items():
            spans += [(m.start(), m.end(), kind[:3]) for m in pattern.finditer(text)]
        out, at = [], 0
        for start, end, kind in sorted(spans):
            if start < at:
                continue
            out += [escape(text[at:start]), f"<mark class=\"{kind}\">",
                    escape(text[start:end]), "</mark>"]
            at = end
        out.append(escape(text[at:]))
        return "".join(out)


_TOKEN = re.compile(r'\(|\)|"[^"]*"|[^\s()"]+')


def _match_terms(expression: str) -> list[str]:
    """The terms of a ``match`` expression that count for it: not those under a NOT (a NOT
    applies to the term or bracketed group after it)."""
    terms: list[str] = []
    negated, pending = [False], False
    for word in _TOKEN.findall(expression):
        if word == "NOT":
            pending = not pending
        elif word == "(":
            negated.append(negated[-1] or pending)
            pending = False
        elif word == ")":
            if len(negated) > 1:
                negated.pop()
        elif word not in ("AND", "OR"):
            if not (negated[-1] or pending):
                terms.append(word.strip('"'))
            pending = False
    return terms


def _pattern(terms: Sequence[str]) -> re.Pattern[str]:
    bodies = sorted({r"\w*".join(re.escape(part) for part in t.split("*")) for t in terms if
                     t.strip("*")}, key=len, reverse=True)
    return re.compile(rf"(?<!\w)(?:{'|'.join(bodies)})(?!\w)", re.IGNORECASE)


def screening_page(protocol: Protocol, token: str, stage: str, reviewer: str,
                   shown: Shown | None, decision: tuple[str, str], neighbours: tuple[str, str],
                   progress: tuple[int, int], highlight: Highlighter) -> str:
    done, total = progress
    share = done / total * 100 if total else 100.0
    card = card_html(shown, decision, neighbours, highlight)
    reasons = "".join(f"<li data-key=\"{n}\" data-code=\"{escape(r.code)}\"><kbd>{n}</kbd> "
                      f"{escape(r.label)} <small>({escape(r.code)})</small></li>"
                      for n, r in enumerate(protocol.reasons[:9], 1))
    side = (f"<aside><section><h2>Progress</h2><p id=\"progress\">{progress_text(progress)}"
            f"</p><div class=\"bar\"><div id=\"bar\" style=\"width:{share:.1f}%\"></div></div>"
            "<p id=\"stop\" class=\"meta\"></p></section>"
            f"<section><h2>Include</h2>{_list(protocol.eligibility.include)}"
            f"<h2>Exclude</h2>{_list(protocol.eligibility.exclude)}</section>"
            "<section><h2>Keys</h2><p><kbd>i</kbd> include <kbd>e</kbd> exclude <kbd>m</kbd> "
            "maybe" + (" <kbd>n</kbd> not retrieved" if stage == "ft" else "") +
            " <kbd>u</kbd> undo <kbd>←</kbd> <kbd>→</kbd> move <kbd>?</kbd> help</p>"
            "</section></aside>")
    overlays = (f"<div id=\"reasons\" role=\"dialog\"><h2>Reason for exclusion</h2><ul>"
                f"{reasons}</ul><p class=\"meta\">Press its number; <kbd>Esc</kbd> cancels."
                "</p></div><div id=\"help\" role=\"dialog\"><h2>Keys</h2><ul>"
                "<li><kbd>i</kbd> include, <kbd>e</kbd> exclude (at full text: then the "
                "reason's number), <kbd>m</kbd> maybe"
                + (", <kbd>n</kbd> full text not retrieved" if stage == "ft" else "") +
                "</li><li><kbd>u</kbd> undo the last decision</li><li><kbd>←</kbd> "
                "<kbd>→</kbd> previous and next record</li><li><kbd>?</kbd> this help; "
                "<kbd>Esc</kbd> closes it</li></ul><p>Decisions are written at once to your "
                "sheet; you see no other reviewer's decision until both of you have decided "
                "(then: Conflicts).</p></div>")
    body = (f"<main><div><p id=\"message\" role=\"status\"></p>{card}</div>{side}</main>"
            f"{overlays}")
    return layout(protocol.review.title, token, body, stage=stage, reviewer=reviewer)


def progress_text(progress: tuple[int, int]) -> str:
    return f"{progress[0]:,} of {progress[1]:,} decided"


def card_html(shown: Shown | None, decision: tuple[str, str], neighbours: tuple[str, str],
              highlight: Highlighter) -> str:
    """The element showing one record (``id="record"``, carrying ``data-record-id``), or
    saying that every record is decided."""
    if shown is None:
        return ("<article id=\"record\"><h1>Every record in your sheet is decided</h1><p>Run "
                "<code>make</code> to take the decisions in, and see the conflicts. "
                "<kbd>u</kbd> undoes the last decision.</p></article>")
    return _card(shown, decision, neighbours, highlight)


def _card(shown: Shown, decision: tuple[str, str], neighbours: tuple[str, str],
          highlight: Highlighter) -> str:
    links = []
    if shown.doi:
        links.append(f"<a href=\"https://doi.org/{escape(quote(shown.doi, safe='/:'))}\" "
                     "rel=\"noreferrer\" target=\"_blank\">DOI</a>")
    if shown.pmid:
        links.append(f"<a href=\"https://pubmed.ncbi.nlm.nih.gov/{escape(quote(shown.pmid))}/\""
                     " rel=\"noreferrer\" target=\"_blank\">PubMed</a>")
    mine = decision[0]
    verdict = " · ".join(x for x in (
        f"rule verdict: {shown.verdict}" + (f" ({shown.rule})" if shown.rule else "")
        if shown.verdict else "", f"design: {shown.design}" if shown.design else "",
        f"patients: {shown.patients}" if shown.patients else "") if x)
    authors = "; ".join(shown.authors[:8]) + (" et al." if len(shown.authors) > 8 else "")
    return (f"<article id=\"record\" data-record-id=\"{escape(shown.record_id)}\" "
            f"data-previous=\"{escape(neighbours[0])}\" data-next=\"{escape(neighbours[1])}\">"
            f"<p class=\"meta\">{escape(shown.record_id)}"
            + (f" · your decision: <span class=\"decision {escape(mine)}\">{escape(mine)}"
               f"{' (' + escape(decision[1]) + ')' if decision[1] else ''}</span>"
               if mine else " · undecided") + "</p>"
            f"<h1>{highlight.mark(shown.title or '(no title)')}</h1>"
            f"<p class=\"meta\">{escape(authors)}</p>"
            f"<p class=\"meta\">{escape(shown.journal)} {escape(shown.year)} "
            f"{' · '.join(links)}</p>"
            + (f"<p class=\"meta\">{escape(verdict)}</p>" if verdict else "")
            + f"<p>{highlight.mark(shown.abstract) or '<em>No abstract.</em>'}</p>"
            + (f"<p class=\"tags\">{''.join(f'<span>{highlight.mark(k)}</span>' for k in shown.keywords)}</p>"  # noqa: E501
               if shown.keywords else "") + "</article>")


def _list(items: Sequence[str]) -> str:
    return "<ul>" + "".join(f"<li>{escape(i)}</li>" for i in items) + "</ul>"


def conflicts_page(protocol: Protocol, token: str, stage: str, reviewer: str,
                   found: list[Open]) -> str:
    codes = sorted(protocol.reason_codes)
    rows = []
    for c in found:
        said = "<br>".join(f"{escape(who)}: <span class=\"decision {escape(d)}\">{escape(d)}"
                           f"</span>{' (' + escape(r) + ')' if r else ''}"
                           for who, d, r in c.decisions)
        resolved = (f"<span class=\"decision {escape(c.resolution[0])}\">"
                    f"{escape(c.resolution[0])}</span>" if c.resolution else "open")
        choose = ("<select aria-label=\"reason\"><option value=\"\">no reason</option>"
                  + "".join(f"<option>{escape(code)}</option>" for code in codes)
                  + "</select>")
        buttons = "".join(f"<button data-decision=\"{d}\">{d.replace('_', ' ')}</button> "
                          for d in ("include", "exclude", "maybe",
                                    *(("not_retrieved",) if stage == "ft" else ())))
        rows.append(f"<tr data-record-id=\"{escape(c.record_id)}\"><td>"
                    f"{escape(c.record_id)}<br><small>{escape(c.title)}</small></td>"
                    f"<td>{said}</td><td>{resolved}</td><td>{choose} {buttons}</td></tr>")
    table = ("<table><thead><tr><th>Record</th><th>Reviewers</th><th>Resolution</th>"
             "<th>Resolve</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
             if rows else "<p>No conflicts: the reviewers agree on every record both have "
             "decided.</p>")
    body = (f"<main style=\"grid-template-columns:1fr\"><article><h1>Conflicts at "
            f"{'title/abstract' if stage == 'ta' else 'full text'}</h1>"
            "<p class=\"meta\">Only records every reviewer has decided are shown. A "
            "resolution is written to <code>extracted/screening/resolutions.csv</code>.</p>"
            f"<p id=\"message\" role=\"status\"></p>{table}</article></main>")
    return layout(protocol.review.title, token, body, stage=stage, reviewer=reviewer,
                  script=CONFLICT_SCRIPT)


def extraction_page(protocol: Protocol, token: str, stage: str, reviewer: str,
                    studies: list[tuple[str, str]], forms: StudyForms | None) -> str:
    listing = "".join(
        f"<li><a href=\"/extract?study={escape(quote(rid))}\">{escape(citation or rid)}</a></li>"
        for rid, citation in studies)
    if forms is None:
        content = "<p>Choose a study.</p>"
    else:
        parts = [f"<h1 data-study=\"{escape(forms.record_id)}\">{escape(forms.citation)}</h1>"
                 f"<p class=\"meta\">{escape(forms.record_id)} · saved into "
                 f"<code>extracted/extraction/{escape(reviewer)}/</code>, as "
                 "<code>review extract</code> checks it</p>"]
        for form, rows in forms.tables:
            parts.append(f"<h2>{escape(form.name)}</h2>")
            for filled in rows:
                if not filled.line:
                    parts.append("<p class=\"meta\">A new row:</p>")
                parts.append(_form(form, forms.record_id, filled.line, filled.values))
        content = "".join(parts)
    body = (f"<main><article>{content}</article><aside><section><h2>Studies</h2><ul>"
            f"{listing}</ul></section></aside></main>")
    return layout(protocol.review.title, token, body, stage=stage, reviewer=reviewer,
                  script=EXTRACT_SCRIPT)


def _form(form: Form, record_id: str, line: int, values: dict[str, str]) -> str:
    fields = []
    for f in form.fields:
        value = values.get(f.name, "")
        name = escape(f.name)
        if f.choices:
            options = "".join(f"<option{' selected' if c == value else ''}>{escape(c)}"
                              "</option>" for c in ("", *f.choices))
            if value and value not in f.choices:
                options += f"<option selected>{escape(value)}</option>"
            control = f"<select name=\"{name}\">{options}</select>"
        else:
            control = f"<input name=\"{name}\" value=\"{escape(value)}\">"
        hint = escape(f.describe() + (f". {f.help}" if f.help else ""))
        fields.append(f"<label><span>{name}{' *' if f.required else ''}"
                      f"{' (' + escape(f.unit) + ')' if f.unit else ''}</span>{control}"
                      f"<small>{hint}</small></label>")
    before = escape(json.dumps(values)) if line else ""
    return (f"<form class=\"row\" data-table=\"{escape(form.name)}\" "
            f"data-record=\"{escape(record_id)}\" data-before=\"{before}\">{''.join(fields)}"
            "<button type=\"submit\">Save</button><pre class=\"problems\" role=\"status\">"
            "</pre></form>")


def stop_text(state: StopState | None) -> str:
    if state is None:
        return ""
    where = "met" if state.met else state.distance
    return f"Stop rule ({state.rule}): {state.relevant:,} relevant in {state.screened:,} of " \
           f"{state.total:,} screened; {where}"

