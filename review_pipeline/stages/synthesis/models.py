"""Inverse-variance models, as metafor's ``rma`` fits them: equal effects, or random
effects with tau-squared from DerSimonian-Laird, Paule-Mandel, maximum likelihood or
restricted maximum likelihood (Fisher scoring, held at 0 from below); Wald or
Hartung-Knapp tests; Q, I-squared and H-squared; the prediction interval.

Every fit takes a design matrix (an intercept alone for pooling; an intercept and the
standard errors for Egger's test), so one set of formulas serves both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from review_pipeline.model.errors import AnalysisError

Array = NDArray[np.float64]

LEVEL = 0.95
Z = float(stats.norm.ppf(1 - (1 - LEVEL) / 2))
"""The normal quantile of a two-sided interval at :data:`LEVEL` (1.959964)."""
LIMIT = 1e100
"""The largest effect, and the widest range of variances (1/LIMIT to LIMIT), a model
takes: beyond them sums overflow, and no real study is there."""
_MAX_STEPS = 100
_THRESHOLD = 1e-5
"""metafor's convergence threshold for Fisher scoring (on the step in tau-squared)."""
_ROOT_TOLERANCE = float(np.finfo(float).eps ** 0.25)
"""metafor's tolerance for root finding (R's ``uniroot`` default)."""
_TAU2_MAX = 100.0


@dataclass(frozen=True)
class Fit:
    k: int
    method: str
    knha: bool
    beta: Array
    se: Array
    tau2: float
    q: float
    """Cochran's Q (residual heterogeneity under the equal-effects model)."""
    q_p: float
    i2: float
    """Percent."""
    h2: float
    weights: Array
    """Each study's share of the weight, in percent."""
    df: int | None
    """Degrees of freedom of the tests (Hartung-Knapp), None for Wald tests."""
    wald_se: Array | None = None
    """The standard errors before the Hartung-Knapp adjustment (None without it)."""
    note: str = ""
    """How the fit departed from metafor's defaults, if it had to."""

    @property
    def mu(self) -> float:
        return float(self.beta[0])

    def crit(self) -> float:
        return Z if self.df is None else float(stats.t.ppf(1 - (1 - LEVEL) / 2, self.df))

    def ci(self, index: int = 0) -> tuple[float, float]:
        half = self.crit() * float(self.se[index])
        return float(self.beta[index]) - half, float(self.beta[index]) + half

    def pi(self) -> tuple[float, float] | None:
        """The prediction interval of a random-effects model (none for equal effects)."""
        if self.method == "EE":
            return None
        half = self.crit() * float(np.sqrt(self.tau2 + self.se[0] ** 2))
        return self.mu - half, self.mu + half

    def z(self, index: int = 0) -> float:
        return float(self.beta[index] / self.se[index])

    def p(self, index: int = 0) -> float:
        z = abs(self.z(index))
        return float(2 * (stats.norm.sf(z) if self.df is None else stats.t.sf(z, self.df)))


def fit(yi: Array, vi: Array, method: str = "REML", knha: bool = False,
        x: Array | None = None) -> Fit:
    """The model ``method`` (EE, DL, PM, ML, REML) of effects ``yi`` with sampling variances
    ``vi``; ``x`` is the design matrix (an intercept when None)."""
    yi, vi = np.asarray(yi, dtype=float), np.asarray(vi, dtype=float)
    k = len(yi)
    x = np.ones((k, 1)) if x is None else np.asarray(x, dtype=float)
    p = x.shape[1]
    if k < p:
        raise AnalysisError(f"{k} studies for a model of {p} coefficients",
                            fix="pool more studies")
    if not (np.all(np.abs(yi) < LIMIT) and np.all(vi > 1 / LIMIT) and np.all(vi < LIMIT)):
        raise AnalysisError("an effect or a variance beyond what a model can take (effects "
                            f"within {LIMIT:g}, variances between {1 / LIMIT:g} and "
                            f"{LIMIT:g})", fix="check the studies' numbers")
    q = max(0.0, float(yi @ _p_matrix(vi, x) @ yi))
    tau2, note = (0.0, "") if method == "EE" or k == p else _tau2(method, yi, vi, x, q)
    w = 1 / (vi + tau2)
    vb = np.linalg.inv(x.T @ (w[:, None] * x))
    beta = vb @ (x.T @ (w * yi))
    df, wald_se = None, None
    if knha:
        df = k - p
        wald_se = np.sqrt(np.diag(vb))
        residual = yi - x @ beta
        vb = vb * float(w @ residual**2) / df
    residual_df = k - p
    i2, h2 = heterogeneity(method, vi, x, tau2, q, residual_df)
    return Fit(k=k, method=method, knha=knha, beta=beta, se=np.sqrt(np.diag(vb)), tau2=tau2,
               q=q, q_p=float(stats.chi2.sf(q, residual_df)) if residual_df else 1.0,
               i2=i2, h2=h2, weights=100 * w / w.sum(), df=df, wald_se=wald_se, note=note)


def _p_matrix(vi: Array, x: Array, tau2: float = 0.0) -> Array:
    """P = W - W X (X'WX)^-1 X'W: y'Py is the weighted residual sum of squares."""
    w = 1 / (vi + tau2)
    wx = w[:, None] * x
    return np.diag(w) - wx @ np.linalg.solve(x.T @ wx, wx.T)


def _tau2(method: str, yi: Array, vi: Array, x: Array, q: float) -> tuple[float, str]:
    """Tau-squared by ``method``, and a note when it needed more than the usual."""
    k, p = int(x.shape[0]), int(x.shape[1])
    if method == "DL":
        return max(0.0, (q - (k - p)) / float(np.trace(_p_matrix(vi, x)))), ""
    if method == "PM":
        return _paule_mandel(yi, vi, x), ""
    return _fisher_scoring(method, yi, vi, x)


def _paule_mandel(yi: Array, vi: Array, x: Array) -> float:
    """The tau-squared at which the generalised Q equals its degrees of freedom, found as
    metafor finds it: Brent's method on [0, 100] to its tolerance (eps ** 0.25)."""
    k, p = int(x.shape[0]), int(x.shape[1])

    def excess(tau2: float) -> float:
        return float(yi @ _p_matrix(vi, x, tau2) @ yi) - (k - p)

    if excess(0.0) < 0:
        return 0.0
    high = _TAU2_MAX
    while excess(high) > 0:  # metafor stops here; a wider bracket only costs steps
        high *= 10
    return _zeroin(excess, 0.0, high, _ROOT_TOLERANCE)


def _zeroin(f: Callable[[float], float], a: float, b: float, tol: float) -> float:
    """A root of ``f`` between ``a`` and ``b`` (where it changes sign) by Brent's method
    (1973) in the form R's ``uniroot`` uses, so that PM's tau-squared stops where metafor's
    does: bisection, secant and inverse quadratic steps, the best kept as ``b``."""
    fa, fb = f(a), f(b)
    c, fc = a, fa
    eps = float(np.finfo(float).eps)
    for _ in range(_MAX_STEPS * 10):
        previous = b - a
        if abs(fc) < abs(fb):
            a, b, c, fa, fb, fc = b, c, b, fb, fc, fb
        tolerance = 2 * eps * abs(b) + tol / 2
        step = (c - b) / 2
        if abs(step) <= tolerance or fb == 0:
            return b
        if abs(previous) >= tolerance and abs(fa) > abs(fb):
            cb = c - b
            if a == c:  # two points: the secant
                t1 = fb / fa
                num, den = cb * t1, 1 - t1
            else:  # three: inverse quadratic interpolation
                q, t1, t2 = fa / fc, fb / fc, fb / fa
                num = t2 * (cb * q * (q - t1) - (b - a) * (t1 - 1))
                den = (q - 1) * (t1 - 1) * (t2 - 1)
            if num > 0:
                den = -den
            else:
                num = -num
            if num < 0.75 * cb * den - abs(tolerance * den) / 2 and num < abs(previous * den / 2):
                step = num / den
        if abs(step) < tolerance:
            step = tolerance if step > 0 else -tolerance
        a, fa = b, fb
        b += step
        fb = f(b)
        if (fb > 0 and fc > 0) or (fb < 0 and fc < 0):
            c, fc = a, fa
    raise AnalysisError("the Paule-Mandel estimate of tau-squared did not converge",
                        fix="use method REML or DL for these studies")


def _fisher_scoring(method: str, yi: Array, vi: Array, x: Array) -> tuple[float, str]:
    """The (restricted) maximum likelihood tau-squared by metafor's Fisher scoring: from the
    Hedges (HE) estimate, steps halved while they would go below 0, until a step is at most
    :data:`_THRESHOLD`; then 0 instead if the likelihood is higher there. When 100 steps do
    not converge (metafor stops there with an error), the remedy its manual gives: steps
    halved (``stepadj = 0.5``) and up to 1,000 of them; the note says so."""
    note = ""
    tau2 = _scoring(method, yi, vi, x, 1.0, _MAX_STEPS)
    if tau2 is None:
        tau2 = _scoring(method, yi, vi, x, 0.5, 10 * _MAX_STEPS)
        note = (f"the {method} estimate of tau-squared needed metafor's remedy for Fisher "
                "scoring that does not converge: steps halved (stepadj = 0.5), up to 1,000")
    if tau2 is None:
        raise AnalysisError(f"the {method} estimate of tau-squared did not converge",
                            fix="use method DL or PM for these studies")
    if tau2 > _THRESHOLD and _loglik(method, yi, vi, x, 0.0) - _loglik(
            method, yi, vi, x, tau2) > _ROOT_TOLERANCE:
        return 0.0, "; ".join(filter(None, [note, f"the {method} likelihood is higher at "
                                                  "tau-squared 0, which is taken (metafor "
                                                  "warns so)"]))
    return tau2, note


def _scoring(method: str, yi: Array, vi: Array, x: Array, adjust: float,
             steps: int) -> float | None:
    k, p = int(x.shape[0]), int(x.shape[1])
    ols = np.eye(k) - x @ np.linalg.solve(x.T @ x, x.T)
    tau2 = max(0.0, (float(yi @ ols @ yi) - float(np.trace(ols * vi))) / (k - p))
    for _ in range(steps):
        pm = _p_matrix(vi, x, tau2)
        py = pm @ yi
        if method == "REML":
            step = (float(py @ py) - float(np.trace(pm))) / float(np.sum(pm * pm))
        else:
            w = 1 / (vi + tau2)
            step = (float(py @ py) - float(w.sum())) / float(w @ w)
        step *= adjust
        while tau2 + step < 0:
            step /= 2
        tau2 += step
        if abs(step) <= _THRESHOLD:
            return tau2
    return None


def _loglik(method: str, yi: Array, vi: Array, x: Array, tau2: float) -> float:
    """The log-likelihood (restricted, for REML) at ``tau2``, up to a constant."""
    w = 1 / (vi + tau2)
    xwx = x.T @ (w[:, None] * x)
    beta = np.linalg.solve(xwx, x.T @ (w * yi))
    value = -0.5 * float(np.sum(np.log(vi + tau2))) - 0.5 * float(w @ (yi - x @ beta) ** 2)
    if method == "REML":
        value -= 0.5 * float(np.linalg.slogdet(xwx)[1])
    return value


def heterogeneity(method: str, vi: Array, x: Array, tau2: float, q: float,
                   df: int) -> tuple[float, float]:
    """I-squared (percent) and H-squared: from Q under equal effects, else from tau-squared
    and the typical within-study variance (Higgins and Thompson 2002)."""
    if df <= 0:
        return 0.0, 1.0
    if method == "EE":
        return (100 * max(0.0, (q - df) / q) if q > 0 else 0.0), q / df
    typical = df / float(np.trace(_p_matrix(vi, x)))
    return 100 * tau2 / (tau2 + typical), (tau2 + typical) / typical
