r"""Economy: purchase after a click, and revenue.

.. math::
    P(\text{buy} \mid \text{click}) = p_{max}\, \frac{1 + \langle u_j, z_i\rangle}{2}
        \exp(-\lambda_j\, p_i / p_{scale}), \qquad \text{revenue} = p_i \cdot \text{margin}

The probability falls with price :math:`p_i` at a rate set by the user's price sensitivity
:math:`\lambda_j`.
"""

from __future__ import annotations

import numpy as np

__all__ = ["purchase_probability", "revenue"]


def purchase_probability(
    price: np.ndarray,
    sensitivity: np.ndarray,
    match: np.ndarray,
    *,
    purchase_max: float,
    price_scale: float,
) -> np.ndarray:
    """Probability that a click becomes a purchase.

    >>> float(purchase_probability(np.array(0.0), np.array(1.0), np.array(1.0),
    ...                            purchase_max=0.3, price_scale=10.0))
    0.3
    """
    m01 = 0.5 * (1.0 + match)
    return purchase_max * m01 * np.exp(-sensitivity * price / price_scale)


def revenue(price: np.ndarray, purchased: np.ndarray, *, margin: float) -> np.ndarray:
    """Platform revenue (currency) of each purchase; zero where nothing was bought."""
    return np.where(purchased, price * margin, 0.0).astype(np.float32)
