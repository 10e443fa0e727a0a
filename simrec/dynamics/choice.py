r"""Choice: which items of a slate a user clicks.

User *j* shown slate :math:`S = (i_0, \dots, i_{K-1})` has utility for the item at position
*k*

.. math::
    v_{jk} = b_{int} \langle u_j, z_{i_k} \rangle + b_{app} a_{i_k}
             - b_{fat} F_{j, g(i_k)} - b_{rep} \mathbb{1}[i_k \in R_j]

(:math:`R_j`: the user's recently consumed items) and :math:`v_0` is the utility of not
clicking. Three models turn utilities into clicks:

* **multinomial logit** (the default): with position bias
  :math:`\beta_k = -b_{pos}\log_2(1+k)`, the user clicks position *k* with probability
  :math:`e^{v_{jk}+\beta_k} / (e^{v_0} + \sum_{k'} e^{v_{jk'}+\beta_{k'}})`, or nothing;
  one uniform per request inverts the cumulative probabilities (:func:`choose`).
* **cascade** (Craswell et al., WSDM 2008): the user scans top-down and clicks the item at
  *k* with its attractiveness :math:`r_{jk} = \sigma(v_{jk} - v_0)`, stopping at the first
  click: :math:`P(k) = r_{jk}\prod_{k'<k}(1 - r_{jk'})`, :math:`P(\text{none}) =
  \prod_k (1 - r_{jk})` (:func:`cascade_probabilities`, :func:`choose_cascade`).
* **position-based** (Richardson et al. 2007; Chuklin et al. 2015): position *k* is examined
  with probability :math:`\theta_k = e^{-b_{pos}\log_2(1+k)}` and clicked if examined with
  probability :math:`r_{jk}`, independently: :math:`P(\text{click } k) = \theta_k r_{jk}`;
  several items of one slate can be clicked (:func:`click_position_based`).
"""

from __future__ import annotations

import functools

import numpy as np

__all__ = [
    "attractiveness",
    "cascade_probabilities",
    "choice_probabilities",
    "choose",
    "choose_cascade",
    "click_position_based",
    "examination",
    "position_bias",
    "utility",
]

#: Utilities within +-this need no shift before exp (e^300 ~ 1e130: sums stay finite).
_EXP_SAFE = 300.0


#: Requests above which the running sum adds whole rows one position at a time (faster for
#: long rows than one ``cumsum`` along the position axis; the sums are the same).
_ROW_LOOP_ABOVE = 256


def position_bias(k: int, weight: float) -> np.ndarray:
    """Utility offset of positions ``0..k-1``: ``-weight * log2(1 + position)``.

    >>> [round(float(x), 3) for x in position_bias(3, 1.0)]
    [-0.0, -1.0, -1.585]
    """
    return (-weight * np.log2(1.0 + np.arange(k))).astype(np.float32)


def utility(
    match: np.ndarray,
    appeal: np.ndarray,
    fatigue: np.ndarray,
    repeat: np.ndarray,
    *,
    interest_weight: float,
    appeal_weight: float,
    fatigue_weight: float,
    repeat_penalty: float,
    position: np.ndarray | None = None,
) -> np.ndarray:
    r"""Utility of each shown item, shape ``(B, K)``.

    Args:
        match: :math:`\langle u_j, z_i \rangle`, ``(B, K)``.
        appeal: Item appeal :math:`a_i`, ``(B, K)``.
        fatigue: User fatigue of the item's genre, ``(B, K)``.
        repeat: Whether the item is among the user's recently consumed, ``(B, K)`` bool.
        interest_weight: :math:`b_{int}`.
        appeal_weight: :math:`b_{app}`.
        fatigue_weight: :math:`b_{fat}`.
        repeat_penalty: :math:`b_{rep}`.
        position: Position offsets ``(K,)`` from :func:`position_bias`, or ``None``.
    """
    v = interest_weight * match + appeal_weight * appeal - fatigue_weight * fatigue
    v = v - repeat_penalty * repeat
    if position is not None:
        v = v + position[None, :]
    return v.astype(np.float32, copy=False)


def choice_probabilities(v: np.ndarray, no_click_utility: float) -> np.ndarray:
    """MNL probabilities ``(B, K + 1)``; the last column is the no-click option.

    >>> p = choice_probabilities(np.zeros((1, 2)), 0.0)
    >>> p.round(3).tolist()
    [[0.333, 0.333, 0.333]]
    """
    logits = np.concatenate(
        [v, np.full((v.shape[0], 1), no_click_utility, dtype=v.dtype)], axis=1
    ).astype(np.float64)
    logits -= logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    return e / e.sum(axis=1, keepdims=True)


def choose(v: np.ndarray, no_click_utility: float, u: np.ndarray) -> np.ndarray:
    """Draw the chosen position per request; ``K`` means no click.

    Args:
        v: Utilities ``(B, K)``.
        no_click_utility: :math:`v_0`.
        u: One uniform in [0, 1) per request, ``(B,)``.

    Returns:
        Chosen positions ``(B,)`` in ``0..K`` (``K`` = no click).

    >>> choose(np.array([[50.0, 0.0]]), 0.0, np.array([0.5])).tolist()
    [0]
    >>> choose(np.array([[-50.0, -50.0]]), 0.0, np.array([0.5])).tolist()
    [2]
    """
    # The arithmetic of choice_probabilities in one float64 buffer, without normalising:
    # position k is chosen when u * total >= the cumulative weight of positions <= k. The
    # buffer is position-major (K + 1, B), so the running sum adds whole contiguous rows.
    B, K = v.shape
    if B == 0:
        return np.zeros(0, dtype=np.int64)
    p = np.empty((K + 1, B), dtype=np.float64)
    p[:K] = v.T
    p[K] = _as_dtype(no_click_utility, v.dtype)
    if not -_EXP_SAFE <= np.minimum.reduce(p, axis=None) <= p.max() <= _EXP_SAFE:
        p -= p.max(axis=0)  # only then can exp leave float64's normal range
    np.exp(p, out=p)
    if B < _ROW_LOOP_ABOVE:  # one call (the same sequential sums as the loop below)
        np.add.accumulate(p, axis=0, out=p)
    else:
        for j in range(1, K + 1):
            np.add(p[j], p[j - 1], out=p[j])
    return np.add.reduce(u * p[K] >= p[:K], axis=0, dtype=np.intp)


@functools.lru_cache(maxsize=64)
def _as_dtype(value: float, dtype: np.dtype) -> np.float64:
    """``value`` rounded to ``dtype``, as float64 (the no-click utility in the utilities')."""
    return np.float64(np.asarray(value, dtype=dtype))


def attractiveness(v: np.ndarray, no_click_utility: float) -> np.ndarray:
    r"""Click probability of an examined item, :math:`\sigma(v - v_0)`, float64.

    >>> attractiveness(np.array([[0.0, 2.0]]), 0.0).round(3).tolist()
    [[0.5, 0.881]]
    """
    x = np.clip(np.asarray(v, dtype=np.float64) - no_click_utility, -700.0, 700.0)
    return 1.0 / (1.0 + np.exp(-x))


def examination(k: int, weight: float) -> np.ndarray:
    r"""Examination probability of positions ``0..k-1``, :math:`e^{-w \log_2(1 + k)}`.

    >>> examination(3, 1.0).round(3).tolist()
    [1.0, 0.368, 0.205]
    """
    return np.exp(-weight * np.log2(1.0 + np.arange(k)))


def cascade_probabilities(r: np.ndarray) -> np.ndarray:
    """Cascade-model probabilities ``(B, K + 1)`` of a click at each position, then none.

    >>> cascade_probabilities(np.array([[0.5, 0.5]])).tolist()
    [[0.5, 0.25, 0.25]]
    """
    B, K = r.shape
    survive = np.cumprod(np.concatenate([np.ones((B, 1)), 1.0 - r], axis=1), axis=1)
    return np.concatenate([survive[:, :K] * r, survive[:, K:]], axis=1)


def choose_cascade(r: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Draw the clicked position of the cascade model per request (``K``: no click).

    Args:
        r: Attractiveness ``(B, K)``.
        u: One uniform in [0, 1) per request.

    >>> choose_cascade(np.array([[0.5, 0.5], [0.5, 0.5], [0.5, 0.5]]),
    ...                np.array([0.4, 0.6, 0.8])).tolist()
    [0, 1, 2]
    """
    cum = np.cumsum(cascade_probabilities(r)[:, :-1], axis=1)
    return np.count_nonzero(u[:, None] >= cum, axis=1)


def click_position_based(r: np.ndarray, theta: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Clicks of the position-based model, ``(B, K)`` bool: ``u < theta_k * r``.

    Args:
        r: Attractiveness ``(B, K)``.
        theta: Examination probability per position ``(K,)``.
        u: One uniform in [0, 1) per impression ``(B, K)``.

    >>> click_position_based(np.array([[1.0, 1.0]]), np.array([1.0, 0.5]),
    ...                      np.array([[0.9, 0.6]])).tolist()
    [[True, False]]
    """
    return u < theta[None, :] * r
