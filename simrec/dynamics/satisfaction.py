r"""Satisfaction: moves toward what consumption was worth, decays toward a baseline.

Experienced value of consuming item *i* (quality times match, minus a penalty when the
item's appeal exceeded its quality -- the clickbait letdown):

.. math:: x_{ji} = \operatorname{clip}\Big(q_i \frac{1 + \langle u_j, z_i\rangle}{2}
          - w_{cb} \max(0, a_i - q_i),\ 0,\ 1\Big)

On a click :math:`s_j \leftarrow s_j + \alpha (x_{ji} - s_j)`; on a request with no click
:math:`s_j \leftarrow \max(0, s_j - \delta)`. Between visits, over :math:`\Delta t` days,

.. math:: s_j \leftarrow s_{base} + (s_j - s_{base})\, e^{-\Delta t / \tau_s}

("satisfaction decay").
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "decay",
    "decay_to",
    "experienced_value",
    "net_experience",
    "on_click",
    "on_experience",
    "on_no_click",
    "relevance",
]


def experienced_value(
    quality: np.ndarray, match: np.ndarray, appeal: np.ndarray, *, clickbait_penalty: float
) -> np.ndarray:
    """Value x in [0, 1] of consuming an item.

    >>> experienced_value(np.array([1.0, 0.1]), np.array([1.0, 1.0]), np.array([0.0, 0.9]),
    ...                   clickbait_penalty=1.0).round(2).tolist()
    [1.0, 0.0]
    """
    m01 = np.add(match, 1.0)
    m01 *= 0.5
    x = quality * m01 - clickbait_penalty * np.maximum(0.0, appeal - quality)
    return np.clip(x, 0.0, 1.0).astype(np.float32, copy=False)


def on_click(s: np.ndarray, value: np.ndarray, rate: float) -> np.ndarray:
    """Step satisfaction toward the experienced value by ``rate`` (alpha)."""
    return (s + rate * (value - s)).astype(np.float32)


def on_no_click(s: np.ndarray, penalty: float) -> np.ndarray:
    """Lower satisfaction by ``penalty`` (delta), floored at zero."""
    return np.maximum(s - penalty, 0.0).astype(np.float32)


def decay(s: np.ndarray, dt_days: np.ndarray, baseline: float, tau_days: float) -> np.ndarray:
    """Relax satisfaction toward ``baseline`` over ``dt_days`` with time constant ``tau_days``.

    >>> float(decay(np.array([1.0]), np.array([np.inf]), 0.5, 7.0)[0])
    0.5
    """
    w = np.exp(-np.maximum(dt_days, 0.0) / tau_days)
    return (baseline + (s - baseline) * w).astype(np.float32)


# ----------------------------------------------------------------------------- evidence model
# The rules of the ``evidence`` satisfaction component (docs/model.md, "A user model built on
# evidence"): an experience is judged against what was expected of it, and satisfaction
# accumulates experiences with saturation instead of averaging them.


def relevance(match: np.ndarray, neutral_match: float) -> np.ndarray:
    r"""Relevance :math:`\rho = \operatorname{clip}((m - m_0)/(1 - m_0), -1, 1)` of a match.

    >>> relevance(np.array([1.0, 0.0, -1.0]), 0.0).tolist()
    [1.0, 0.0, -1.0]
    """
    m = np.asarray(match, dtype=np.float32)
    return np.clip((m - neutral_match) / (1.0 - neutral_match), -1.0, 1.0)


def net_experience(
    quality: np.ndarray,
    match: np.ndarray,
    appeal: np.ndarray,
    *,
    neutral_match: float,
    appeal_share: float,
    irrelevance_weight: float,
    letdown_weight: float,
) -> np.ndarray:
    r"""Net experience :math:`g \in [-1, 1]` of consuming an item (no repeat, no fatigue).

    Relevance :math:`\rho = \operatorname{clip}((m - m_0)/(1 - m_0), -1, 1)` is the match
    relative to a neutral one. A relevant item is enjoyed in proportion to its quality, to
    which appeal adds up to the quality (:math:`Q = (q + w_a \min(a, q)) / (1 + w_a)`); an
    irrelevant one costs :math:`w_{irr}|\rho|`; appeal in excess of quality is a letdown
    (expectation disconfirmed, Oliver 1980):

    .. math:: g = \rho^+ Q - w_{irr}\rho^- - w_{cb}\max(0, a - q)

    >>> net_experience(np.array([0.8, 0.2]), np.array([0.6, 0.6]), np.array([0.2, 0.9]),
    ...     neutral_match=0.0, appeal_share=0.5, irrelevance_weight=0.5,
    ...     letdown_weight=1.0).astype(float).round(3).tolist()
    [0.36, -0.58]
    """
    rho = relevance(match, neutral_match)
    enjoyed = (quality + appeal_share * np.minimum(appeal, quality)) / (1.0 + appeal_share)
    g = (
        np.maximum(rho, 0.0) * enjoyed
        - irrelevance_weight * np.maximum(-rho, 0.0)
        - letdown_weight * np.maximum(appeal - quality, 0.0)
    )
    return np.clip(g, -1.0, 1.0).astype(np.float32, copy=False)


def on_experience(s: np.ndarray, g: np.ndarray, rate: float) -> np.ndarray:
    r"""Accumulate experience ``g``: up toward 1 when it is positive, down toward 0 when not.

    .. math:: s \leftarrow s + \alpha g (1 - s) \ (g \ge 0), \qquad s + \alpha g s \ (g < 0)

    so a good experience never lowers satisfaction and the level stays in [0, 1].

    >>> out = on_experience(np.array([0.5, 0.5]), np.array([1.0, -1.0]), 0.1)
    >>> out.astype(float).round(3).tolist()
    [0.55, 0.45]
    """
    g = np.asarray(g, dtype=np.float32)
    room = np.where(g >= 0.0, 1.0 - s, s)
    return (s + rate * g * room).astype(np.float32)


def decay_to(
    s: np.ndarray, dt_days: np.ndarray, baseline: np.ndarray, tau_days: float
) -> np.ndarray:
    """:func:`decay` toward per-user baselines."""
    w = np.exp(-np.maximum(dt_days, 0.0) / tau_days)
    return (baseline + (s - baseline) * w).astype(np.float32)
