"""``review meta``: the synthesis engine on a plain CSV of studies, for any team."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from review_pipeline.model.errors import AnalysisError
from review_pipeline.stages.synthesis.analysis import EGGER_MIN, Analysis, analyse
from review_pipeline.stages.synthesis.forest import forest, funnel
from review_pipeline.stages.synthesis.table import check_measure, read_studies


def meta(path: Path, *, measure: str | None = None, method: str = "REML", knha: bool = False,
         by: str | None = None, ratio: bool = False, forest_out: Path | None = None,
         funnel_out: Path | None = None) -> Analysis:
    """Pool the studies of the CSV at ``path`` (see :func:`.table.read_studies`); draw the
    forest plot and the funnel plot when asked (SVG, or PNG by the file's suffix)."""
    table = read_studies(path, by=by, ratio=ratio)
    measure = (measure or table.default_measure()).upper()
    method = method.upper()
    check_measure(table, measure, str(path))
    analysis = analyse(table.studies, measure, method, knha=knha, by_group=by is not None,
                       ratio=ratio)
    if funnel_out and analysis.egger is None:
        raise AnalysisError(f"a funnel plot needs {EGGER_MIN} or more studies and an "
                            f"inverse-variance model; this analysis has {len(table.studies)}"
                            f" ({method})", fix="leave out --funnel")
    title = path.stem.replace("_", " ")
    if forest_out:
        _draw(forest, analysis, title, forest_out)
    if funnel_out:
        _draw(funnel, analysis, title, funnel_out)
    return analysis


def _draw(draw: Callable[..., str], analysis: Analysis, title: str, out: Path) -> None:
    if out.suffix.lower() == ".png":
        draw(analysis, title, png=out)
    else:
        draw(analysis, title, svg=out)
