"""The report a team can circulate, read as a clinician would: the example's notice on
every page and in the diagram, and user text shown as written in HTML, SVG and Markdown."""

from __future__ import annotations

from pathlib import Path

import pytest

from review_pipeline.api import Review
from tests.conftest import UP_TO_EXTRACT, run_stages

NOTICE = "Illustrative example: the screening decisions, extracted data and results"


def _protocol(project: Path, old: str, new: str) -> None:
    path = project / "queries" / "protocol.toml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _report(project: Path) -> dict[str, str]:
    run_stages(project, (*UP_TO_EXTRACT, "synthesis", "prisma", "report"))
    reports = project / "reports"
    return {name: (reports / name).read_text(encoding="utf-8")
            for name in ("index.html", "prisma.svg", "prisma.md", "search_log.md")}


def test_an_example_says_so_in_the_report_and_the_diagram(project: Path) -> None:
    pages = _report(project)
    assert pages["index.html"].index(NOTICE) < pages["index.html"].index("<h1>")
    assert NOTICE.split(":")[0] in pages["prisma.svg"]
    assert NOTICE in pages["prisma.md"]


def test_a_finished_review_carries_no_notice(project: Path) -> None:
    _protocol(project, "example = true", "example = false")
    pages = _report(project)
    assert not any("Illustrative" in text or "Draft:" in text for text in pages.values())


def test_a_draft_says_it_is_unfinished(project: Path) -> None:
    _protocol(project, "example = true", "draft = true")
    assert "Draft: this review is not finished" in _report(project)["index.html"]


def test_user_text_is_shown_as_written_everywhere(project: Path) -> None:
    hostile = '<b>Cit*ation*</b> | _x_ [link](javascript:alert(1)) #'
    escaped = "\\<b\\>Cit\\*ation\\*\\</b\\> \\| \\_x\\_ \\[link\\](javascript:alert(1)) \\#"
    _protocol(project, 'label = "Citation searching"', f"label = '{hostile}'")
    _protocol(project, 'title = "Medical treatment of POEMS syndrome: a systematic review"',
              f"title = '{hostile}'")
    pages = _report(project)
    assert "<b>Cit" not in pages["index.html"] and "&lt;b&gt;Cit" in pages["index.html"]
    assert "<b>Cit" not in pages["prisma.svg"]
    assert f"# PRISMA 2020 flow: {escaped}" in pages["prisma.md"]
    assert f"# Search log (PRISMA-S): {escaped}" in pages["search_log.md"]
    assert f"| {escaped} | Citation searching |" in pages["search_log.md"]


def test_a_snapshot_search_says_its_date_once(project: Path) -> None:
    page = _report(project)["index.html"]
    assert "(snapshot)" not in page and "the snapshot&#x27;s date; loaded" in page


def test_no_reports_excluded_box_ends_in_a_colon(project: Path) -> None:
    with Review(project) as review:
        run_stages(project, (*UP_TO_EXTRACT,))
        flow = review.prisma(out=project / "reports")
    assert flow.counts.other.excluded == ()
    text = (project / "reports" / "prisma.md").read_text(encoding="utf-8")
    assert "Reports excluded (n = 0):" not in text


def test_studies_are_named_as_papers_cite_them_with_links(project: Path) -> None:
    page = _report(project)["index.html"]
    assert "<b>Dispenzieri 2008</b>" in page
    # without authors, the journal; repeated names told apart by a letter
    assert "<b>Blood 2011a</b>" in page and "<b>Blood 2011b</b>" in page
    assert '<a href="https://doi.org/10.1111/j.1600-0609.2008.01037.x">' in page
    assert '<a href="https://pubmed.ncbi.nlm.nih.gov/18221391/">PubMed 18221391</a>' in page
    assert "<b>pubmed:" not in page


def test_reviewers_free_text_is_listed_not_glued(project: Path) -> None:
    page = _report(project)["index.html"]
    assert '<ul class="sides"><li>' in page
    assert " | " not in page.split("<h2>Included studies</h2>")[1]


def test_family_names_as_databases_write_them() -> None:
    from review_pipeline.store.records import family_name

    assert family_name("Le Quintrec M") == "Le Quintrec"
    assert family_name("Le Quintrec, M.") == "Le Quintrec"
    assert family_name("Dispenzieri A") == "Dispenzieri"
    assert family_name("World Health Organization") == "World Health Organization"


# risk of bias: tools as data, shares worked by hand

def test_every_tool_defined_as_data_is_well_formed() -> None:
    from review_pipeline.stages.report.tools import LEVEL_WORDS, tool_of, tools

    assert {t.id for t in tools()} == {"jbi_case_series", "robins_i", "rob_2", "robins_e"}
    for tool in tools():
        assert tool.domains[-1][0] == "overall"
        assert all(level in LEVEL_WORDS for _, level in tool.judgements)
    robins = tool_of("rob_robins_i")
    assert robins is not None and robins.level("No information") == "none"
    assert tool_of("studies") is None


def test_summary_shares_unweighted_and_weighted_by_patients() -> None:
    from review_pipeline.stages.report.tools import shares, tool_of

    tool = tool_of("rob_robins_i")
    assert tool is not None
    rows = [{"record_id": "a", "confounding": "Low", "selection": "Serious"},
            {"record_id": "b", "confounding": "Serious", "selection": "No information"},
            {"record_id": "c", "confounding": "Serious", "selection": ""},
            {"record_id": "d", "confounding": "Critical"}]
    plain = shares(tool, rows)
    # confounding: 1 low, 2 serious, 1 critical of 4 studies
    assert plain["confounding"] == {"low": 0.25, "some": 0.0, "high": 0.5, "critical": 0.25,
                                    "none": 0.0}
    # selection: judged in a and b only (an empty cell is not a judgement)
    assert plain["selection"]["high"] == 0.5 and plain["selection"]["none"] == 0.5
    weighted = shares(tool, rows, {"a": 10, "b": 30, "c": 60})
    # d has no patient count: it weighs nothing; of 100 patients 10 low, 90 serious
    assert weighted["confounding"] == {"low": 0.1, "some": 0.0, "high": 0.9, "critical": 0.0,
                                       "none": 0.0}
    assert weighted["selection"] == {"low": 0.0, "some": 0.0, "high": 0.25, "critical": 0.0,
                                     "none": 0.75}


def test_the_report_draws_each_tool_by_its_real_name(project: Path) -> None:
    page = _report(project)["index.html"]
    section = page.split("<h2>Risk of bias</h2>")[1].split("<h2>")[0]
    assert "<h3>JBI critical appraisal checklist for case series</h3>" in section
    assert "<h3>ROBINS-I (risk of bias in non-randomised studies of interventions)</h3>" in section
    assert section.count("<svg") == 6  # per tool: traffic lights, studies' and patients' bars
    assert "rob_jbi" not in section and "rob_robins_i" not in section
    assert "D7 Selection of the reported result" in section


# methods: written from the protocol

def test_the_methods_follow_the_protocol(project: Path) -> None:
    criterion = "Case reports and series of fewer than 5 treated people."
    before = _report(project)["index.html"].split("<h2>Methods</h2>")[1].split("<h2>")[0]
    assert f"<li>Exclude: {criterion}</li>" in before
    assert "2 reviewers independently screened every record" in before
    assert "random effects, restricted maximum likelihood estimate of tau-squared" in before
    assert "Cohen&#x27;s kappa 0.87 (almost perfect) over 190 records" in before
    _protocol(project, criterion, "Case reports and series of fewer than 10 treated people.")
    _protocol(project, 'method = "REML"', 'method = "DL"')
    after = _report(project)["index.html"].split("<h2>Methods</h2>")[1].split("<h2>")[0]
    assert "<li>Exclude: Case reports and series of fewer than 10 treated people.</li>" in after
    assert criterion not in after
    assert "DerSimonian-Laird estimate of tau-squared" in after


def test_the_summary_of_findings_rates_each_pooled_finding(project: Path) -> None:
    page = _report(project)["index.html"]
    section = page.split("<h2>Summary of findings</h2>")[1].split("<h2>")[0]
    assert section.count("<tr><td>") == 4
    assert "<td>ASCT</td><td>Haematological response</td>" in section
    assert "⊕◯◯◯ Very low" in section and "from low" in section
    assert "publication bias: <b>&minus;1</b> Small single-centre series" in section
    assert "imprecision: <b>&minus;2</b> 10 patients, fewer than 400" in section


def test_every_table_can_be_saved_as_csv(project: Path) -> None:
    import csv
    import io
    import re
    from urllib.parse import unquote

    page = _report(project)["index.html"]
    links = dict(re.findall(r'download="([^"]+)" href="data:text/csv;charset=utf-8,([^"]+)"',
                            page))
    assert {"summary-of-findings.csv", "treatments.csv", "outcome-rates.csv",
            "pooled-estimates.csv", "risk-of-bias-jbi_case_series.csv",
            "risk-of-bias-robins_i.csv"} <= set(links)
    sof = list(csv.reader(io.StringIO(unquote(links["summary-of-findings.csv"]))))
    assert sof[0][:8] == ["treatment", "outcome", "studies", "patients", "estimate", "ci_low",
                          "ci_high", "certainty"]
    assert len(sof) == 5 and sof[1][:2] == ["ASCT", "Haematological response"]


def test_the_notice_is_printed_on_every_page(project: Path) -> None:
    page = _report(project)["index.html"]
    assert f'@top-center{{content:"{NOTICE}' in page


def test_the_report_prints_to_pdf(project: Path) -> None:
    import shutil

    if not any(shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome")):
        pytest.skip("printing the report needs Chromium or Chrome (apt-get install chromium)")
    run_stages(project, (*UP_TO_EXTRACT, "synthesis", "prisma"))
    with Review(project) as review:
        page = review.report(pdf=True)
    assert page.with_suffix(".pdf").read_bytes()[:5] == b"%PDF-"


def test_hostile_text_from_records_and_protocol_stays_text(project: Path) -> None:
    hostile = "<svg onload=alert(1)> *J* [x](y)"
    records = project / "snapshot" / "pubmed" / "records.jsonl"
    lines = records.read_text(encoding="utf-8").splitlines()
    # the journal names an authorless study: its label in the page and the figures
    lines = [line.replace('"journal": "Zhonghua Xue Ye Xue Za Zhi"',
                          '"journal": "<svg onload=alert(1)> *J* [x](y)"')
             if '"21223728"' in line else line for line in lines]
    records.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _protocol(project, 'label = "Outcomes not reported by treatment"',
              'label = "Outcomes not <b>reported</b> | *by treatment*"')
    _protocol(project, '"Case reports and series of fewer than 5 treated people."',
              '"Case reports <script>alert(2)</script>"')
    pages = _report(project)
    html = pages["index.html"]
    assert "<svg onload" not in html and "&lt;svg onload=alert(1)&gt; *J* [x](y) 2010" in html
    assert "<script>alert(2)" not in html and "&lt;script&gt;alert(2)&lt;/script&gt;" in html
    assert "<b>reported</b>" not in html and "<b>reported</b>" not in pages["prisma.svg"]
    assert "&lt;b&gt;reported&lt;/b&gt;" in pages["prisma.svg"]
    assert "Outcomes not \\<b\\>reported\\</b\\> \\| \\*by treatment\\*" in pages["prisma.md"]
    # the traffic-light plot is inline SVG: its study label is text, escaped
    rob = html.split("<h2>Risk of bias</h2>")[1]
    assert "&lt;svg onload=alert(1)&gt;" in rob and rob.count("<svg") == rob.count("</svg>")
    assert hostile not in html
