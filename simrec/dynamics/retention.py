r"""Retention: return gaps and churn at session end.

Mean return gap (days), growing as satisfaction falls:

.. math:: \bar g(s) = g_{min} + (g_{max} - g_{min}) (1 - s)^{\gamma}

The gap is exponential with that mean, :math:`g = -\bar g \log(1 - U)`. At each session end the
user churns for good with hazard

.. math:: h(s) = h_{min} + (h_{max} - h_{min})\, \sigma\!\left(\frac{s_c - s}{w}\right)
"""

from __future__ import annotations

import numpy as np

__all__ = ["churn_hazard", "gamma_multiplier", "mean_return_gap", "return_gap", "trial_hazard"]


def mean_return_gap(s: np.ndarray, *, gap_min: float, gap_max: float, shape: float) -> np.ndarray:
    """Mean days until the next visit at satisfaction ``s``.

    >>> mean_return_gap(np.array([1.0, 0.0]), gap_min=1, gap_max=5, shape=1).tolist()
    [1.0, 5.0]
    """
    return gap_min + (gap_max - gap_min) * np.clip(1.0 - s, 0.0, 1.0) ** shape


def return_gap(
    s: np.ndarray, u: np.ndarray, *, gap_min: float, gap_max: float, shape: float
) -> np.ndarray:
    """Exponential return gap (days) by inversion of uniforms ``u``."""
    return -mean_return_gap(s, gap_min=gap_min, gap_max=gap_max, shape=shape) * np.log1p(-u)


def churn_hazard(
    s: np.ndarray, *, h_min: float, h_max: float, midpoint: float, width: float
) -> np.ndarray:
    """Probability of churning at a session end at satisfaction ``s``.

    >>> float(churn_hazard(np.array(0.3), h_min=0.0, h_max=1.0, midpoint=0.3, width=0.1))
    0.5
    """
    return h_min + (h_max - h_min) / (1.0 + np.exp(-(midpoint - s) / width))


def gamma_multiplier(u: np.ndarray, shape: float) -> np.ndarray:
    """Gamma(``shape``, mean 1) variates by inversion of uniforms ``u``; 1 for ``shape`` inf.

    A per-user frailty: the spread of activity rates or loyalty between users (the BG/NBD's
    Gamma-distributed purchase rates, Fader, Hardie & Lee 2005).

    >>> gamma_multiplier(np.array([0.5]), np.inf).tolist()
    [1.0]
    """
    if np.isinf(shape):
        return np.ones(np.shape(u), dtype=np.float32)
    from scipy.special import gammaincinv

    return (gammaincinv(shape, np.clip(u, 1e-12, 1.0 - 1e-12)) / shape).astype(np.float32)


def trial_hazard(session: np.ndarray, *, first: float, decay_sessions: float) -> np.ndarray:
    r"""Extra churn probability of a newcomer at the end of session number ``session`` (1-based).

    .. math:: h_T(k) = h_1 e^{-(k - 1)/k_T}

    the trial phase of a new user: most try the product once and never return.

    >>> trial_hazard(np.array([1, 2]), first=0.5, decay_sessions=1.0).round(3).tolist()
    [0.5, 0.184]
    """
    k = np.maximum(np.asarray(session, dtype=np.float64), 1.0)
    return first * np.exp(-(k - 1.0) / decay_sessions)
