r"""Interest drift: consumption pulls interest toward the item, plus a daily random walk.

On consumption of item *i*:

.. math:: u_j \leftarrow \operatorname{normalize}\big(u_j + \eta\,(z_i - u_j)\big)

Between visits, an exogenous random walk over :math:`\Delta t` days:

.. math:: u_j \leftarrow \operatorname{normalize}\big(u_j + \sigma_w \sqrt{\Delta t}\,\xi\big),
   \quad \xi \sim N(0, I_d)

Drift toward what is consumed is what lets a recommender shape interests (feedback loops,
filter bubbles).
"""

from __future__ import annotations

import numpy as np

__all__ = ["consume", "random_walk"]


def _normalize(x: np.ndarray) -> np.ndarray:
    # The arithmetic of np.linalg.norm(x, axis=-1, keepdims=True) for real rows, without its
    # argument handling (it runs on every click and session start).
    n = np.sqrt(np.add.reduce(x * x, axis=-1, keepdims=True))
    return (x / np.maximum(n, 1e-12)).astype(np.float32)


def consume(interest: np.ndarray, topic: np.ndarray, rate: float) -> np.ndarray:
    """Pull interests ``(B, d)`` toward consumed topics ``(B, d)`` by ``rate`` (eta).

    >>> consume(np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]]), 1.0).tolist()
    [[0.0, 1.0]]
    """
    return _normalize(interest + rate * (topic - interest))


def random_walk(interest: np.ndarray, dt_days: np.ndarray, xi: np.ndarray, sd: float) -> np.ndarray:
    """Exogenous drift over ``dt_days`` ``(B,)`` with standard normals ``xi`` ``(B, d)``."""
    step = sd * np.sqrt(np.maximum(dt_days, 0.0))[:, None] * xi
    return _normalize(interest + step)
