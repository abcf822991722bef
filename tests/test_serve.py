"""`review serve` without a browser: the desk and the extraction bench on the POEMS copy, and
the server's guards, over plain HTTP on 127.0.0.1."""

from __future__ import annotations

import csv
import errno
import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from review_pipeline.api import Review
from review_pipeline.model.errors import InputError
from review_pipeline.protocol import load_protocol
from review_pipeline.serve import App, Shown, conflicts
from review_pipeline.serve.pages import Highlighter, screening_page
from tests.conftest import UP_TO_EXTRACT, run_stages, serving

SCREENING = Path("extracted") / "screening"


def call(app: App, path: str, data: dict[str, Any] | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """GET (or POST ``data`` with the app's token, unless ``headers`` say otherwise)."""
    sent = {"X-Review-Token": app.served.token, "Content-Type": "application/json",
            **(headers or {})}
    body = None if data is None else json.dumps(data).encode()
    # http://127.0.0.1 only: the app's own address
    request = urllib.request.Request(app.address.rstrip("/") + path, body, sent)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            text = answer.read().decode()
            status = answer.status
    except urllib.error.HTTPError as error:
        text, status = error.read().decode(), error.code
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def first_open(app: App) -> str:
    record = app.served.desk.next_open()
    assert record is not None
    return record


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture
def review(project: Path) -> Path:
    run_stages(project, UP_TO_EXTRACT)
    return project


def test_a_decision_goes_into_the_reviewers_sheet_at_once(review: Path) -> None:
    with serving(review, reviewer="carol") as app:
        first = first_open(app)
        status, answer = call(app, "/screen/decide", {"record": first, "decision": "include"})
        assert status == 200 and answer["next"] != first
        app.served.desk.flush()  # the writer's thread has the file a moment later
        sheet = {r["record_id"]: r for r in rows(review / SCREENING / "ta-carol.csv")}
        assert sheet[first]["decision"] == "include"
        status, answer = call(app, "/screen/undo", {})
        assert answer["record"] == first
        app.served.desk.flush()
        assert {r["record_id"]: r for r in rows(review / SCREENING / "ta-carol.csv")}[
            first]["decision"] == ""


def test_what_was_typed_in_the_sheet_meanwhile_is_kept(review: Path) -> None:
    with serving(review, reviewer="carol") as app:
        path = review / SCREENING / "ta-carol.csv"
        typed = rows(path)
        typed[5]["note"] = "typed by hand while the browser was open"
        typed[6]["decision"] = "exclude"
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, list(typed[0]))
            writer.writeheader()
            writer.writerows(typed)
        call(app, "/screen/decide", {"record": typed[0]["record_id"], "decision": "maybe"})
        app.served.desk.flush()
        now = rows(path)
        assert now[5]["note"] == "typed by hand while the browser was open"
        assert now[6]["decision"] == "exclude" and now[0]["decision"] == "maybe"
        assert [r["record_id"] for r in now] == [r["record_id"] for r in typed]


def test_an_xlsx_sheet_is_written_as_xlsx(review: Path) -> None:
    with Review(review) as r:
        r.screening_sheet("ta", "dora", fmt="xlsx")
    with serving(review, reviewer="dora") as app:
        first = first_open(app)
        call(app, "/screen/decide", {"record": first, "decision": "exclude",
                                     "reason": "not_poems"})
    sheet = openpyxl.load_workbook(review / SCREENING / "ta-dora.xlsx").worksheets[0]
    header = [c.value for c in sheet[1]]
    found = [row for row in sheet.iter_rows(min_row=2, values_only=True) if row[0] == first]
    assert found[0][header.index("decision")] == "exclude"
    assert found[0][header.index("reason")] == "not_poems"


def test_a_full_text_exclusion_without_a_reason_is_refused(review: Path) -> None:
    with serving(review, reviewer="carol", stage="ft") as app:
        first = first_open(app)
        before = (review / SCREENING / "ft-carol.csv").read_bytes()
        status, answer = call(app, "/screen/decide", {"record": first, "decision": "exclude"})
        assert status == 422 and "needs one reason code" in answer["error"]
        app.served.desk.flush()
        assert (review / SCREENING / "ft-carol.csv").read_bytes() == before
        status, _ = call(app, "/screen/decide", {"record": first, "decision": "exclude",
                                                 "reason": "too_few_patients"})
        assert status == 200
    assert {r["record_id"]: r["reason"] for r in rows(review / SCREENING / "ft-carol.csv")}[
        first] == "too_few_patients"


@pytest.mark.parametrize(("headers", "why"), [
    ({"X-Review-Token": "guessed"}, "no token"),
    ({"Host": "evil.example:80"}, "another host (DNS rebinding)"),
    ({"Origin": "http://evil.example"}, "another site's page"),
])
def test_a_change_from_elsewhere_is_refused(review: Path, headers: dict[str, str],
                                            why: str) -> None:
    with serving(review, reviewer="carol") as app:
        first = first_open(app)
        status, answer = call(app, "/screen/decide", {"record": first, "decision": "include"},
                              headers)
        assert status == 403, why
        assert "refused" in answer["error"]
        assert app.served.desk.decisions()[first] == ("", "")


def test_only_the_apps_own_pages_are_served(review: Path) -> None:
    with serving(review, reviewer="carol") as app:
        assert call(app, "/../queries/protocol.toml")[0] == 404
        assert call(app, "/extracted/screening/ta-anna.csv")[0] == 404
        status, page = call(app, "/screen")
        assert status == 200 and f'content="{app.served.token}"' in page


def test_the_page_escapes_what_a_record_holds(protocol_path: Path) -> None:
    protocol = load_protocol(protocol_path)
    hostile = Shown("x:1", "<script>alert(1)</script> treatment", ("<b>A</b>",), "J", "2020",
                    "<img src=x onerror=alert(2)>", ("<i>k</i>",), "10.1/\"><script>", "1",
                    "include", "r", "", "")
    page = screening_page(protocol, "t", "ta", "carol", hostile, ("", ""), ("", ""), (0, 1),
                          Highlighter(protocol.eligibility.rules))
    body = page.split("</style>", 1)[1].split("<script>const token", 1)[0]
    assert "<script>alert" not in body and "<img" not in body and "<b>A" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "<mark class=\"inc\">treatment</mark>" in body


@pytest.fixture
def protocol_path(project: Path) -> Path:
    return project / "queries" / "protocol.toml"


def test_highlighting_leaves_out_terms_under_not(protocol_path: Path) -> None:
    rules = load_protocol(protocol_path).eligibility.rules
    marked = Highlighter(rules).mark("Autologous stem cell transplantation: imaging findings")
    # "stem cell*" is named by the include rule, and under NOT in the exclude rule
    assert '<mark class="inc">stem cell</mark>' in marked
    assert 'class="exc">stem' not in marked


def test_conflicts_show_only_records_every_reviewer_decided(review: Path) -> None:
    folder = review / SCREENING
    for name in ("ta-anna.csv", "ta-ben.csv", "resolutions.csv"):
        (folder / name).unlink()
    (folder / "ta-carol.csv").write_text("record_id,decision,reason,note\n"
                                         "pubmed:15280195,include,,\npubmed:11317138,"
                                         "include,,\n", encoding="utf-8")
    (folder / "ta-dora.csv").write_text("record_id,decision,reason,note\n"
                                        "pubmed:15280195,exclude,,\n", encoding="utf-8")
    protocol = load_protocol(review / "queries" / "protocol.toml")
    found = conflicts(protocol, folder, "ta", {})
    assert [c.record_id for c in found] == ["pubmed:15280195"]
    assert sorted(found[0].decisions) == [("carol", "include", ""), ("dora", "exclude", "")]


def test_a_resolution_is_written_to_resolutions_csv(review: Path) -> None:
    path = review / SCREENING / "resolutions.csv"
    with serving(review, reviewer="anna") as app:
        titles = {k: v.title for k, v in app.served.desk.records.items()}
        found = conflicts(app.served.protocol, review / SCREENING, "ta", titles)[0]
        before = path.read_bytes()
        status, answer = call(app, "/conflicts/resolve", {"record": "pubmed:99999999",
                                                          "decision": "include"})
        assert status == 422 and "has no conflict at this stage" in answer["error"]
        assert path.read_bytes() == before
        status, _ = call(app, "/conflicts/resolve", {"record": found.record_id,
                                                     "decision": "exclude",
                                                     "reason": "not_poems"})
        assert status == 200
    mine = [r for r in rows(path) if r["record_id"] == found.record_id and r["stage"] == "ta"]
    assert [(r["decision"], r["reason"]) for r in mine] == [("exclude", "not_poems")]


def test_a_malformed_request_is_answered_not_crashed(review: Path) -> None:
    with serving(review, reviewer="anna", stage="ft") as app:
        bodies: list[object] = [
            [1], None, "text", {"record": {"x": 1}, "decision": []},
            {"table": "studies", "record": "x", "before": None, "values": [1]},
            {"table": "nope", "record": "x", "before": None, "values": {}}]
        for body in bodies:
            for path in ("/screen/decide", "/extract/save", "/conflicts/resolve"):
                request = urllib.request.Request(  # noqa: S310 (the app's own address)
                    app.address.rstrip("/") + path, json.dumps(body).encode(),
                    {"X-Review-Token": app.served.token})
                with pytest.raises(urllib.error.HTTPError) as refused:
                    urllib.request.urlopen(request, timeout=10)  # noqa: S310
                assert refused.value.code in (400, 422), (path, body)
                assert json.loads(refused.value.read())["error"]


def test_a_page_asked_for_by_another_name_is_refused(review: Path) -> None:
    with serving(review, reviewer="anna") as app:
        status, answer = call(app, "/screen", headers={"Host": "rebound.example:8770"})
        assert status == 403 and "token" not in str(answer)


def test_an_extraction_row_is_checked_as_the_extract_stage_checks_it(review: Path) -> None:
    with serving(review, reviewer="anna", stage="ft") as app:
        bench = app.served.bench
        assert bench is not None
        record, _ = bench.studies()[0]
        row = bench.study(record).tables[0][1][0]
        path = review / "extracted" / "extraction" / "anna" / "studies.csv"
        before = path.read_bytes()
        status, answer = call(app, "/extract/save", {
            "table": "studies", "record": record, "before": row.values,
            "values": {**row.values, "patients": "many"}})
        assert status == 200
        assert answer == {"problems": [f"{path}, line {row.line}, column 'patients': 'many' "
                                       "is not a whole number"], "before": row.values}
        assert path.read_bytes() == before
        status, answer = call(app, "/extract/save", {
            "table": "studies", "record": record, "before": row.values,
            "values": {**row.values, "notes": "checked in the browser"}})
        assert answer == {"problems": [],
                          "before": {**row.values, "notes": "checked in the browser"}}
    saved = [r for r in rows(path) if r["record_id"] == record]
    assert saved[0]["notes"] == "checked in the browser"
    assert saved[0]["patients"] == row.values["patients"]


def test_a_reviewer_must_be_named_when_several_have_sheets(review: Path) -> None:
    with Review(review) as r, pytest.raises(InputError, match="several reviewers"):
        r.serve(port=0)


def test_a_failed_write_is_reported_and_written_when_it_can_be(
        review: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from review_pipeline.serve import desk as module

    def full(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    path = review / SCREENING / "ta-carol.csv"
    with serving(review, reviewer="carol") as app:
        before = path.read_bytes()
        monkeypatch.setattr(module, "write_atomic", full)
        first = first_open(app)
        call(app, "/screen/decide", {"record": first, "decision": "include"})
        with pytest.raises(InputError, match="No space left on device"):
            app.served.desk.flush()
        second = app.served.desk.next_open(after=first)
        assert second is not None
        status, answer = call(app, "/screen/decide", {"record": second, "decision": "exclude"})
        assert status == 422 and "could not write" in answer["error"]
        assert path.read_bytes() == before
        monkeypatch.undo()  # the disk is freed; closing writes what was held
    sheet = {r["record_id"]: r["decision"] for r in rows(path)}
    assert (sheet[first], sheet[second]) == ("include", "exclude")


def test_a_new_row_is_added_and_rows_are_found_by_what_they_hold(review: Path) -> None:
    with serving(review, reviewer="anna", stage="ft") as app:
        bench = app.served.bench
        assert bench is not None
        record = "pubmed:15280195"
        arms = dict(bench.study(record).tables)
        arms_form = next(form for form in arms if form.name == "arms")
        assert [row.line for row in arms[arms_form]][-1] == 0  # the blank row to add
        new = {"arm": "Salvage", "treatment": "Lenalidomide-based", "patients": "99"}
        problems, _ = bench.save("arms", record, None, new)
        # refused where the row would go, with the extract stage's words
        assert problems == [f"{bench.path('arms')}, line 41, column 'patients': '99' is "
                            "more than studies.patients (16)"]
        problems, held = bench.save("arms", record, None, {**new, "patients": "3"})
        assert problems == [] and held["arm"] == "Salvage"
        # a blank line typed into the sheet moves the rows; the row is still found
        path = bench.path("arms")
        text = path.read_text(encoding="utf-8").splitlines()
        path.write_text("\n".join([text[0], "", *text[1:]]) + "\n", encoding="utf-8")
        problems, _ = bench.save("arms", record, held, {**held, "arm": "Salvage line"})
        assert problems == []
        with pytest.raises(InputError, match="no longer as the page shows it"):
            bench.save("arms", record, held, held)  # that row now says "Salvage line"
    added = [r for r in rows(review / "extracted" / "extraction" / "anna" / "arms.csv")
             if r["record_id"] == record]
    assert [(r["arm"], r["patients"]) for r in added] == [("ASCT", "16"), ("Salvage line", "3")]


def test_the_undecided_are_ranked_again_as_the_reviewer_decides(review: Path) -> None:
    from review_pipeline.serve.desk import RERANK_EVERY
    from review_pipeline.stages.screen.priority import Prioritiser

    with serving(review, reviewer="carol") as app:
        desk = app.served.desk
        before = desk.order
        # the last ten of the ranking, which the others excluded, said to be includes
        decided = [(record, "include") for record in before[-RERANK_EVERY:]]
        for record, decision in decided:
            call(app, "/screen/decide", {"record": record, "decision": decision})
        desk.flush()
        sheet = list(rows(review / SCREENING / "ta-carol.csv"))
    assert [r["record_id"] for r in sheet[:RERANK_EVERY]] == [r for r, _ in decided]
    with Review(review) as r:
        places = Prioritiser(r.db(), apart="carol").places(decided)
    rest = sheet[RERANK_EVERY:]
    assert [r["record_id"] for r in rest] == sorted((r["record_id"] for r in rest),
                                                    key=places.__getitem__)
    assert [r["rank"] for r in rest] == [str(n) for n in range(1, len(rest) + 1)]
    # ten surprises taught the model something: the order is not the one the desk opened with
    assert [r["record_id"] for r in rest] != [r for r in before if r not in dict(decided)]


def test_the_browser_refuses_what_a_sheet_would(review: Path) -> None:
    from review_pipeline.serve.desk import checked

    protocol = load_protocol(review / "queries" / "protocol.toml")
    assert checked(protocol, "ta", " Include ", "not_poems") == ("include", "")
    assert checked(protocol, "ta", "exclude", "not_poems") == ("exclude", "not_poems")
    with pytest.raises(InputError, match="reason 'gone' is not a code"):
        checked(protocol, "ta", "exclude", "gone")
    with pytest.raises(InputError, match="decision 'not_retrieved' is not one of"):
        checked(protocol, "ta", "not_retrieved", "")
