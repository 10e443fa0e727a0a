r"""Engagement: time spent on a clicked item.

.. math::
    e_{ji} = T \, q_i \, \frac{1 + \langle u_j, z_i \rangle}{2}\,
             \exp\!\left(\sigma_e \xi - \sigma_e^2 / 2\right), \quad \xi \sim N(0, 1)

in minutes: quality and match multiply, and the log-normal noise has mean one.
"""

from __future__ import annotations

import numpy as np

__all__ = ["engagement"]


def engagement(
    quality: np.ndarray, match: np.ndarray, xi: np.ndarray, *, minutes: float, noise: float
) -> np.ndarray:
    r"""Engagement minutes of clicked items.

    Args:
        quality: :math:`q_i`, any shape.
        match: :math:`\langle u_j, z_i \rangle`, same shape.
        xi: Standard normal noise, same shape.
        minutes: :math:`T`, mean minutes at quality 1 and perfect match.
        noise: :math:`\sigma_e`.

    >>> float(engagement(np.array(1.0), np.array(1.0), np.array(0.0), minutes=10, noise=0))
    10.0
    """
    m01 = 0.5 * (1.0 + match)
    return (minutes * quality * m01 * np.exp(noise * xi - 0.5 * noise**2)).astype(np.float32)
