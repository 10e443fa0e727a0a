r"""The BG/NBD model of repeat transactions (Fader, Hardie & Lee 2005), fitted by ML.

Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005), *"Counting your customers" the easy way:
an alternative to the Pareto/NBD model*, Marketing Science 24(2):275-284.

A customer, while alive, makes repeat transactions as a Poisson process of rate
:math:`\lambda \sim \text{Gamma}(r, \alpha)` (shape ``r``, rate ``alpha``: mean
:math:`r/\alpha` per unit of time); after each repeat transaction they drop out for good with
probability :math:`p \sim \text{Beta}(a, b)`. A customer is summarised by ``x`` (the number
of repeat transactions in the calibration period: transactions after the first), ``t_x`` (the
time of the last one, measured from the first purchase; 0 when ``x`` = 0) and ``T`` (the time
from the first purchase to the end of the period). The likelihood of one customer:

.. math::

    L = \frac{B(a, b + x)}{B(a, b)} \frac{\Gamma(r + x)\,\alpha^r}{\Gamma(r)(\alpha + T)^{r+x}}
      + \delta_{x>0} \frac{B(a + 1, b + x - 1)}{B(a, b)}
        \frac{\Gamma(r + x)\,\alpha^r}{\Gamma(r)(\alpha + t_x)^{r+x}}

:func:`fit_bgnbd` maximises the summed log-likelihood over the logs of the four parameters
(L-BFGS-B, from r = alpha = a = b = 1) and takes standard errors from the inverse of a
central-difference Hessian of the negative log-likelihood in the natural parameters.
:meth:`BGNBD.expected_repeat` is the expected number of repeat transactions of a new customer
in ``t`` units of time, :meth:`BGNBD.conditional_expected` that of a customer with a given
history over the next ``t``, :meth:`BGNBD.p_alive` the probability that they are still alive,
and :meth:`BGNBD.p_repeat` the distribution of ``x`` (the expectations need ``a`` != 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize, special

__all__ = ["BGNBD", "PUBLISHED_CDNOW", "fit_bgnbd", "log_likelihood"]

#: The estimates Fader, Hardie & Lee (2005) report on the 2,357-customer CDNOW sample (weeks,
#: 39-week calibration period), to their three decimals: r, alpha, a, b.
PUBLISHED_CDNOW = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}

NAMES = ("r", "alpha", "a", "b")


def _summary(
    x: np.ndarray, t_x: np.ndarray, T: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x, t_x, T = (np.asarray(v, dtype=np.float64) for v in (x, t_x, T))
    if not (x.shape == t_x.shape == T.shape) or x.ndim != 1 or len(x) == 0:
        raise ValueError("x, t_x and T must be non-empty 1-d arrays of one length")
    if (x < 0).any() or (np.floor(x) != x).any():
        raise ValueError("x (repeat transactions) must be non-negative integers")
    if (t_x < 0).any() or (t_x > T + 1e-9).any() or ((x == 0) & (t_x != 0)).any():
        raise ValueError("t_x must lie in [0, T], and be 0 where x = 0")
    return x, t_x, T


def _loglik_terms(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Each customer's log-likelihood (vectorised; all parameters > 0)."""
    r, alpha, a, b = params
    lnB = special.betaln
    head = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    alive = lnB(a, b + x) - lnB(a, b) - (r + x) * np.log(alpha + T)
    # The second term exists only for x > 0 (b + x - 1 > 0 there; masked elsewhere).
    repeat = x > 0
    dropped = np.full_like(x, -np.inf)
    xs = x[repeat]
    dropped[repeat] = (
        lnB(a + 1.0, b + xs - 1.0) - lnB(a, b) - (r + xs) * np.log(alpha + t_x[repeat])
    )
    return head + np.logaddexp(alive, dropped)


def log_likelihood(
    params: dict[str, float] | tuple[float, float, float, float] | np.ndarray,
    x: np.ndarray,
    t_x: np.ndarray,
    T: np.ndarray,
) -> float:
    """The BG/NBD log-likelihood of the summaries ``(x, t_x, T)`` at ``(r, alpha, a, b)``."""
    p = np.array([params[k] for k in NAMES] if isinstance(params, dict) else params, float)
    if p.shape != (4,) or not (p > 0).all():
        raise ValueError(f"parameters must be four positive numbers (r, alpha, a, b), got {p}")
    return float(_loglik_terms(p, *_summary(x, t_x, T)).sum())


def _hessian(f, p: np.ndarray, rel: float = 1e-4) -> np.ndarray:  # noqa: ANN001 - a callable
    """Central-difference Hessian of ``f`` at ``p`` (steps relative to each parameter)."""
    n = len(p)
    h = rel * np.maximum(np.abs(p), 1e-3)
    H = np.empty((n, n))
    for i in range(n):
        for j in range(i, n):
            ei, ej = np.zeros(n), np.zeros(n)
            ei[i], ej[j] = h[i], h[j]
            H[i, j] = H[j, i] = (
                f(p + ei + ej) - f(p + ei - ej) - f(p - ei + ej) + f(p - ei - ej)
            ) / (4.0 * h[i] * h[j])
    return H


@dataclass(frozen=True)
class BGNBD:
    """A fitted (or given) BG/NBD model.

    Attributes:
        r: Shape of the gamma distribution of transaction rates.
        alpha: Its rate (in the time unit of the data: weeks for CDNOW).
        a: First shape of the beta distribution of dropout probabilities.
        b: Its second shape.
        se: Standard errors of ``(r, alpha, a, b)`` (inverse Hessian); NaN when not fitted.
        log_likelihood: Summed log-likelihood at the estimates (NaN when not fitted).
        n: Customers fitted on (0 when not fitted).
        converged: Whether the optimiser reported success.
    """

    r: float
    alpha: float
    a: float
    b: float
    se: tuple[float, float, float, float] = (np.nan,) * 4
    log_likelihood: float = float("nan")
    n: int = 0
    converged: bool = False

    @property
    def params(self) -> dict[str, float]:
        """``{"r": ..., "alpha": ..., "a": ..., "b": ...}``."""
        return dict(zip(NAMES, (self.r, self.alpha, self.a, self.b), strict=True))

    @property
    def standard_errors(self) -> dict[str, float]:
        """The standard errors by name."""
        return dict(zip(NAMES, self.se, strict=True))

    def expected_repeat(self, t: float | np.ndarray) -> np.ndarray:
        """E[X(t)]: expected repeat transactions of a new customer in ``(0, t]``."""
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        t = np.asarray(t, dtype=np.float64)
        z = t / (alpha + t)
        hyp = special.hyp2f1(r, b, a + b - 1.0, z)
        return (a + b - 1.0) / (a - 1.0) * (1.0 - (alpha / (alpha + t)) ** r * hyp)

    def _odds_dropped(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
        """``delta_{x>0} a / (b + x - 1) ((alpha + T) / (alpha + t_x))^(r + x)``."""
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        out = np.zeros_like(x)
        m = x > 0
        out[m] = a / (b + x[m] - 1.0) * ((alpha + T[m]) / (alpha + t_x[m])) ** (r + x[m])
        return out

    def p_alive(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
        """P(alive at T | x, t_x, T)."""
        x, t_x, T = _summary(x, t_x, T)
        return 1.0 / (1.0 + self._odds_dropped(x, t_x, T))

    def conditional_expected(
        self, t: float, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
    ) -> np.ndarray:
        """E[Y(t) | x, t_x, T]: each customer's expected transactions in ``(T, T + t]``."""
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        x, t_x, T = _summary(x, t_x, T)
        hyp = special.hyp2f1(r + x, b + x, a + b + x - 1.0, t / (alpha + T + t))
        num = (a + b + x - 1.0) / (a - 1.0)
        num = num * (1.0 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp)
        return num / (1.0 + self._odds_dropped(x, t_x, T))

    def p_repeat(self, k: int | np.ndarray, t: float) -> np.ndarray:
        """P(X(t) = k): the probability of ``k`` repeat transactions in ``(0, t]``."""
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        k = np.atleast_1d(np.asarray(k, dtype=np.int64))
        lnB, gl = special.betaln, special.gammaln
        lp, lq = np.log(alpha / (alpha + t)), np.log(t / (alpha + t))
        out = np.empty(len(k))
        for n, kk in enumerate(k):
            nb = lambda j: np.exp(gl(r + j) - gl(r) - gl(j + 1.0) + r * lp + j * lq)  # noqa: E731
            p = np.exp(lnB(a, b + kk) - lnB(a, b)) * nb(kk)
            if kk > 0:
                tail = 1.0 - sum(nb(j) for j in range(kk))
                p += np.exp(lnB(a + 1.0, b + kk - 1.0) - lnB(a, b)) * tail
            out[n] = p
        return out


def fit_bgnbd(
    x: np.ndarray,
    t_x: np.ndarray,
    T: np.ndarray,
    start: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0),
) -> BGNBD:
    """Maximum-likelihood BG/NBD estimates, with standard errors from the Hessian.

    Args:
        x: Repeat transactions per customer in the calibration period.
        t_x: Time of the last of them, from the customer's first purchase (0 if none).
        T: Time from the first purchase to the end of the calibration period.
        start: Starting ``(r, alpha, a, b)``.

    Raises:
        ValueError: Summaries of different lengths, negative or fractional ``x``, ``t_x``
            outside ``[0, T]``.
    """
    x, t_x, T = _summary(x, t_x, T)
    n = len(x)
    # Customers with the same summary share a likelihood term (most have x = 0 and one of
    # few T): each distinct row once, weighted by its count.
    rows, count = np.unique(np.stack([x, t_x, T], axis=1), axis=0, return_counts=True)
    x, t_x, T = rows.T
    w = count.astype(np.float64)

    def loglik(p: np.ndarray) -> float:
        return float(w @ _loglik_terms(p, x, t_x, T))

    def nll(theta: np.ndarray) -> float:
        # Per customer: the optimiser's tolerances then do not depend on the sample size.
        return -loglik(np.exp(theta)) / n

    res = optimize.minimize(
        nll,
        np.log(np.asarray(start, dtype=np.float64)),
        method="L-BFGS-B",
        options={"ftol": 1e-15, "gtol": 1e-10, "maxiter": 2000},
    )
    est = np.exp(res.x)
    H = _hessian(lambda p: -loglik(p), est)
    try:
        cov = np.linalg.inv(H)
        se = np.sqrt(np.where(np.diag(cov) > 0, np.diag(cov), np.nan))
    except np.linalg.LinAlgError:
        se = np.full(4, np.nan)
    r, alpha, a, b = (float(v) for v in est)
    return BGNBD(
        r,
        alpha,
        a,
        b,
        se=(float(se[0]), float(se[1]), float(se[2]), float(se[3])),
        log_likelihood=loglik(est),
        n=n,
        converged=bool(res.success),
    )
