r"""Engagement: time spent on a clicked item.

.. math::
    e_{ji} = T \, \big((1 - \lambda) q_i + \lambda a_i\big)
             \frac{1 + \langle u_j, z_i \rangle}{2}\,
             \exp\!\left(\sigma_e \xi - \sigma_e^2 / 2\right), \quad \xi \sim N(0, 1)

in minutes: the item's pull (quality, and with weight :math:`\lambda` appeal) and the match
multiply, and the log-normal noise has mean one. With :math:`\lambda > 0` an item that trades
quality for appeal holds attention *now* (RecSim's long-term-satisfaction semantics, where
"chocolate" is engaging and erodes satisfaction); :math:`\lambda = 0` is quality alone.
"""

from __future__ import annotations

import numpy as np

__all__ = ["engagement"]


def engagement(
    quality: np.ndarray,
    match: np.ndarray,
    xi: np.ndarray,
    *,
    minutes: float,
    noise: float,
    appeal: np.ndarray | None = None,
    appeal_weight: float = 0.0,
) -> np.ndarray:
    r"""Engagement minutes of clicked items.

    Args:
        quality: :math:`q_i`, any shape.
        match: :math:`\langle u_j, z_i \rangle`, same shape.
        xi: Standard normal noise, same shape.
        minutes: :math:`T`, mean minutes at quality 1 and perfect match.
        noise: :math:`\sigma_e`.
        appeal: :math:`a_i`, same shape (needed when ``appeal_weight > 0``).
        appeal_weight: :math:`\lambda` in [0, 1].

    >>> float(engagement(np.array(1.0), np.array(1.0), np.array(0.0), minutes=10, noise=0))
    10.0
    """
    m01 = 0.5 * (1.0 + match)
    if appeal_weight != 0.0 and appeal is None:
        raise ValueError(
            f"appeal: needed when appeal_weight > 0, got None (weight {appeal_weight})"
        )
    pull = (
        quality
        if appeal_weight == 0.0 or appeal is None
        else (1.0 - appeal_weight) * quality + appeal_weight * appeal
    )
    return (minutes * pull * m01 * np.exp(noise * xi - 0.5 * noise**2)).astype(np.float32)
