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

__all__ = ["decay", "experienced_value", "on_click", "on_no_click"]


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
