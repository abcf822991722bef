"""The binomial-normal model of single proportions (metafor's ``rma.glmm`` with measure PLO,
which calls lme4's ``glmer``): events ~ Binomial(n, expit(mu + u)), u ~ Normal(0, tau²),
fitted by maximum likelihood with the likelihood of each study integrated over u by
adaptive Gauss-Hermite quadrature on 7 points, as glmer's default there.

Unlike the inverse-variance models it needs no 1/2 added to a study with no events or only
events. Q, I² and H² are those metafor reports beside it: the Wald-type Q of the studies'
logits, and I² from tau² and the typical within-study variance of the logits (with 1/2
added where needed).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.polynomial.hermite import hermgauss
from numpy.typing import NDArray
from scipy import optimize, stats
from scipy.special import expit, gammaln

from review_pipeline.model.errors import AnalysisError
from review_pipeline.stages.synthesis import models

Array = NDArray[np.float64]

_NODES, _WEIGHTS = hermgauss(7)
_FLAT = 1e-8
"""A tau below this is taken as 0: the integrand is then the binomial alone."""
_EDGE = 20.0
"""A logit beyond this (a proportion within 2e-9 of 0 or 1) is the optimiser running off
where the likelihood has no maximum, not an estimate."""


def fit(events: Array, totals: Array, yi: Array, vi: Array) -> models.Fit:
    """The model of ``events`` out of ``totals``; ``yi``, ``vi`` are the studies' logits and
    variances (with 1/2 added where a study needs it), for Q and I²."""
    x, n = np.asarray(events, dtype=float), np.asarray(totals, dtype=float)
    k = len(x)
    if k < 2:
        raise AnalysisError("the binomial-normal model needs at least two studies",
                            fix="use method EE, or pool more studies")
    if not np.any(x > 0) or not np.any(x < n):
        raise AnalysisError("the binomial-normal model has no maximum when "
                            + ("no study has an event" if not np.any(x > 0)
                               else "every patient of every study has the event"),
                            fix="use method REML (1/2 is added to such studies) or EE")
    constant = float(np.sum(gammaln(n + 1) - gammaln(x + 1) - gammaln(n - x + 1)))

    def deviance(theta: Array) -> float:
        return -2 * (_loglik(float(theta[0]), abs(float(theta[1])), x, n) + constant)

    start = models.fit(yi, vi, "DL")
    best = optimize.minimize(deviance, np.array([start.mu, max(np.sqrt(start.tau2), 0.1)]),
                             method="Nelder-Mead",
                             options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 20_000})
    if not best.success:
        raise AnalysisError(f"the binomial-normal model did not converge ({best.message})",
                            fix="use method REML for these studies")
    mu, tau = float(best.x[0]), abs(float(best.x[1]))
    if abs(mu) > _EDGE:
        raise AnalysisError("the binomial-normal model's estimate runs off to a proportion "
                            "of 0 or 1 (events are too rare or too common in these studies)",
                            fix="use method REML (1/2 is added to studies with no events)")
    se = _se(deviance, mu, tau)
    q = _wald_q(x, n)
    tau2 = tau**2
    i2, h2 = models.heterogeneity("GLMM", vi, np.ones((k, 1)), tau2, q, k - 1)
    return models.Fit(k=k, method="GLMM", knha=False, beta=np.array([mu]), se=np.array([se]),
                      tau2=tau2, q=q, q_p=float(stats.chi2.sf(q, k - 1)), i2=i2, h2=h2,
                      weights=np.full(k, np.nan), df=None)


def _wald_q(x: Array, n: Array) -> float:
    """metafor's Wald-type Q: the test that the studies' own logits (the saturated logistic
    model's) are equal. A study with no events or only events has an infinite logit of
    infinite variance, which adds nothing to it."""
    inside = (x > 0) & (x < n)
    if inside.sum() < 2:
        return 0.0
    a, b = x[inside], n[inside] - x[inside]
    return models.fit(np.log(a / b), 1 / a + 1 / b, "EE").q


def _loglik(mu: float, tau: float, x: Array, n: Array) -> float:
    """The marginal log-likelihood (without the binomial coefficients)."""
    if tau < _FLAT:
        eta = np.full_like(x, mu)
        return float(np.sum(x * eta - n * np.logaddexp(0, eta)))
    # adaptive quadrature centres its nodes on each study's mode of u (Newton's method)
    u = np.zeros_like(x)
    for _ in range(50):
        p = expit(mu + u)
        gradient = x - n * p - u / tau**2
        curvature = n * p * (1 - p) + 1 / tau**2
        step = gradient / curvature
        u = u + step
        if np.max(np.abs(step)) < 1e-12:
            break
    p = expit(mu + u)
    scale = 1 / np.sqrt(n * p * (1 - p) + 1 / tau**2)
    points = u[:, None] + np.sqrt(2) * scale[:, None] * _NODES[None, :]
    eta = mu + points
    log_f = (x[:, None] * eta - n[:, None] * np.logaddexp(0, eta)
             - points**2 / (2 * tau**2) - 0.5 * np.log(2 * np.pi * tau**2))
    log_terms = log_f + _NODES[None, :] ** 2 + np.log(_WEIGHTS)[None, :]
    top = log_terms.max(axis=1)
    per_study = (top + np.log(np.exp(log_terms - top[:, None]).sum(axis=1))
                 + np.log(np.sqrt(2) * scale))
    return float(per_study.sum())


def _se(deviance: Callable[[Array], float], mu: float, tau: float) -> float:
    """The standard error of mu from the Hessian of the deviance in (mu, tau), as glmer's
    ``vcov`` gives it; in mu alone when tau is 0."""
    h = 1e-4

    def d(a: float, b: float) -> float:
        return deviance(np.array([mu + a, tau + b]))

    center = d(0, 0)
    h_mm = (d(h, 0) - 2 * center + d(-h, 0)) / h**2
    if tau < 10 * h:
        information = h_mm / 2
    else:
        h_tt = (d(0, h) - 2 * center + d(0, -h)) / h**2
        h_mt = (d(h, h) - d(h, -h) - d(-h, h) + d(-h, -h)) / (4 * h**2)
        hessian = np.array([[h_mm, h_mt], [h_mt, h_tt]]) / 2
        try:
            information = 1 / float(np.linalg.inv(hessian)[0, 0])
        except np.linalg.LinAlgError:  # a flat likelihood: no standard error
            information = 0.0
    if not information > 0:
        raise AnalysisError("the binomial-normal model's information is not positive",
                            fix="use method REML for these studies")
    return float(np.sqrt(1 / information))

