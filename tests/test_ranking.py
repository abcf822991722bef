"""Prioritised screening: the ranking model, the simulation's metrics, labelled sets and
`review simulate`. The labelled set is SYNERGY's Donners 2021 (258 records, 15 included)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from review_pipeline.api import simulate as simulate_file
from review_pipeline.cli import cli
from review_pipeline.formats.labelled import read_labelled
from review_pipeline.model.errors import InputError
from review_pipeline.stages.screen.ranking import Document, Ranker, features, scores
from review_pipeline.stages.screen.simulate import found, metrics, simulate

DONNERS = Path(__file__).parent / "fixtures" / "screening" / "donners_2021.csv"
FIRST_INCLUDE = "https://openalex.org/W2400928773"
FIRST_EXCLUDE = "https://openalex.org/W2423293822"


@pytest.fixture(scope="module")
def donners() -> tuple[list[Document], list[bool]]:
    records = read_labelled(DONNERS)
    return ([Document(r.title, r.abstract, r.keywords) for r in records],
            [r.included for r in records])


# metrics, against an order worked by hand

def test_metrics_of_a_hand_computed_order() -> None:
    included = [False, True, False, False, True, False, False, False, False, False]
    order = [1, 0, 4, 2, 3, 5, 6, 7, 8, 9]
    assert found(order, included) == [1, 1, 2, 2, 2, 2, 2, 2, 2, 2]
    m = metrics(order, included)
    # 95% of 2 includes rounds up to both, found after 3 of 10 records: 7/10 unread - 0.05
    assert m.wss95 == pytest.approx(0.65)
    # the first 10% is one record, an include: half of them
    assert m.recall10 == pytest.approx(0.5)
    # includes at positions 1 and 3: mean 2, of 10
    assert m.atd == pytest.approx(0.2)


def test_metrics_of_the_worst_order() -> None:
    included = [True] * 20 + [False] * 380
    worst = metrics(list(range(400))[::-1], included)
    # 19 of the 20 includes are found after 399 records
    assert worst.wss95 == pytest.approx((400 - 399) / 400 - 0.05)
    assert worst.recall10 == 0


def test_random_order_on_average() -> None:
    rng = np.random.default_rng(3)
    included = [True] * 20 + [False] * 380
    runs = [metrics(list(rng.permutation(400)), included) for _ in range(300)]
    # the 19th of 20 includes placed at random falls on average at 19/21 of 401 places,
    # so WSS@95 of random order is a little above 0 when the includes are few
    assert np.mean([m.wss95 for m in runs]) == pytest.approx(
        (400 - 19 / 21 * 401) / 400 - 0.05, abs=0.01)
    assert np.mean([m.recall10 for m in runs]) == pytest.approx(0.1, abs=0.02)
    assert np.mean([m.atd for m in runs]) == pytest.approx(0.5, abs=0.02)


def test_the_ranking_puts_unseen_includes_first(
        donners: tuple[list[Document], list[bool]]) -> None:
    documents, included = donners
    known = {row: included[row] for row in range(0, 258, 3)}
    assert any(known.values())
    order = Ranker(documents, seed=0).order(known)
    places = [place for place, row in enumerate(order) if included[row]]
    # the 10 includes the model has not seen sit in the first fifth of the 172 unseen records
    assert len(places) == sum(included) - sum(known.values())
    assert np.mean(places) < 0.2 * len(order)


def test_metrics_need_an_include() -> None:
    with pytest.raises(ValueError, match="at least one include"):
        metrics([0, 1], [False, False])


# the model

def test_keywords_are_a_block_of_their_own() -> None:
    plain = [Document("stem cell transplantation", "a trial"), Document("lenalidomide", "")]
    tagged = [Document(d.title, d.abstract, ("POEMS Syndrome", "Humans")) for d in plain]
    assert features(tagged).shape[1] == features(plain).shape[1] + 2


def test_scores_need_an_include_and_an_exclude(
        donners: tuple[list[Document], list[bool]]) -> None:
    matrix = features(donners[0][:20])
    with pytest.raises(ValueError, match="an include and an exclude"):
        scores(matrix, [0, 1], [True, True])


def test_the_ranking_is_the_same_for_the_same_decisions_and_seed(
        donners: tuple[list[Document], list[bool]]) -> None:
    documents, included = donners
    decisions = {row: included[row] for row in range(0, 258, 7)}
    first = Ranker(documents, seed=4).order(decisions)
    assert first == Ranker(documents, seed=4).order(decisions)
    assert sorted(first) == sorted(set(range(258)) - set(decisions))


def test_with_no_decisions_the_cold_start_orders_and_the_seed_breaks_ties(
        donners: tuple[list[Document], list[bool]]) -> None:
    documents = donners[0][:30]
    cold = [1.0 if i % 10 == 3 else 0.0 for i in range(30)]
    ranked = Ranker(documents, seed=1, cold=cold).order({})
    assert ranked[:3] == sorted(ranked[:3], key=ranked.index)
    assert set(ranked[:3]) == {3, 13, 23}
    other = Ranker(documents, seed=2, cold=cold).order({})
    assert set(other[:3]) == {3, 13, 23}
    assert ranked[3:] != other[3:]


def test_with_includes_only_the_likest_come_first() -> None:
    documents = [Document("POEMS syndrome treated with lenalidomide", ""),
                 Document("Cardiac surgery outcomes", ""),
                 Document("Lenalidomide for POEMS syndrome: a case", ""),
                 Document("Hip fracture rehabilitation", "")]
    assert Ranker(documents).order({0: True})[0] == 2


def test_the_simulation_finds_the_includes_early_and_is_repeatable(
        donners: tuple[list[Document], list[bool]]) -> None:
    documents, included = donners
    priors = [included.index(True), included.index(False)]
    run = simulate(documents, included, priors, seed=1)
    assert run.order[:2] == priors
    assert sorted(run.order) == list(range(258))
    assert run.order == simulate(documents, included, priors, seed=1).order
    # far better than reading in random order (WSS 0); ASReview's own model gets 0.575 here
    assert metrics(run.order, included).wss95 > 0.4
    assert 0 < run.updates < 258


# labelled sets

def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_asreview_and_synergy_column_names_are_read(tmp_path: Path) -> None:
    asreview = read_labelled(_write(tmp_path / "a.csv", "id,title,abstract,keywords,included\n"
                                    "7,A trial,Text,POEMS Syndrome; Humans ;,1\n8,Other,,,0\n"))
    assert asreview[0].record_id == "7"
    assert asreview[0].keywords == ("POEMS Syndrome", "Humans")
    assert [r.included for r in asreview] == [True, False]
    synergy = read_labelled(_write(tmp_path / "s.csv", "openalex_id,doi,title,abstract,"
                                   "label_included\nW1,,One,,yes\nW2,,Two,,no\n"))
    assert [r.record_id for r in synergy] == ["W1", "W2"]


def test_without_an_id_column_the_line_number_is_the_id(tmp_path: Path) -> None:
    records = read_labelled(_write(tmp_path / "x.csv", "title,label\nOne,1\nTwo,0\n"))
    assert [r.record_id for r in records] == ["2", "3"]


@pytest.mark.parametrize(("name", "text", "message", "where"), [
    ("no_title_column.csv", "id,label\n1,1\n2,0\n", "no title column", "line 1"),
    ("no_label_column.csv", "id,title\n1,A\n2,B\n", "no label column", "line 1"),
    ("bad_label.csv", "id,title,label\n1,A,1\n2,B,perhaps\n", "'perhaps' is not", "line 3"),
    ("empty_id.csv", "id,title,label\n1,A,1\n,B,0\n", "empty record id", "line 3"),
    ("duplicate_id.csv", "id,title,label\n1,A,1\n1,B,0\n", "also on line 2", "line 3"),
    ("no_records.csv", "id,title,label\n", "no records", "no_records.csv"),
    ("one_class.csv", "id,title,label\n1,A,1\n2,B,1\n", "both includes and excludes",
     "one_class.csv"),
])
def test_a_bad_labelled_set_is_refused_saying_where(tmp_path: Path, name: str, text: str,
                                                   message: str, where: str) -> None:
    with pytest.raises(InputError, match=message) as caught:
        read_labelled(_write(tmp_path / name, text))
    assert where in str(caught.value)
    assert caught.value.fix


# review simulate

def test_the_order_file_lists_every_record_once_priors_first(tmp_path: Path) -> None:
    out = tmp_path / "order.csv"
    run = simulate_file(DONNERS, priors=(FIRST_INCLUDE, FIRST_EXCLUDE), seed=1, order_out=out,
                        curve=tmp_path / "curve.svg")
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "record_id"
    assert lines[1:3] == [FIRST_INCLUDE, FIRST_EXCLUDE]
    with DONNERS.open(encoding="utf-8") as handle:
        ids = [r["openalex_id"] for r in csv.DictReader(handle)]
    assert sorted(lines[1:]) == sorted(ids)
    assert lines[1:] == run.order
    svg = (tmp_path / "curve.svg").read_text(encoding="utf-8")
    assert "random order" in svg and "15 includes in 258 records" in svg


def test_an_unknown_prior_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="prior record 'W0' is not in the set"):
        simulate_file(DONNERS, priors=("W0",))


def test_review_simulate_prints_the_metrics_and_draws_the_curve(tmp_path: Path) -> None:
    data = tmp_path / "donners.csv"
    data.write_bytes(DONNERS.read_bytes())
    result = CliRunner().invoke(cli, ["simulate", str(data), "--prior", FIRST_INCLUDE,
                                      "--prior", FIRST_EXCLUDE, "--seed", "1", "--order-out",
                                      str(tmp_path / "o.csv")])
    assert result.exit_code == 0, result.output
    assert "258 records, 15 includes, 2 priors, seed 1" in result.output
    assert "WSS@95" in result.output and "recall@10%" in result.output
    assert (tmp_path / "donners-recall.svg").exists()
    as_json = CliRunner().invoke(cli, ["simulate", str(data), "--prior", FIRST_INCLUDE,
                                       "--prior", FIRST_EXCLUDE, "--seed", "1", "--json",
                                       "--curve", str(tmp_path / "c.png")])
    numbers = json.loads(as_json.stdout)
    assert numbers["records"] == 258 and numbers["priors"] == [FIRST_INCLUDE, FIRST_EXCLUDE]
    assert np.isclose(numbers["wss95"], float(result.output.split("WSS@95")[1].split()[0]),
                      atol=5e-4)
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"
