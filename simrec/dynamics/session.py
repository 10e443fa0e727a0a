r"""Session exit, drawn after each request.

The user leaves with probability

.. math:: P(\text{exit}) = \sigma\big(\beta_0 - \beta_s (s_j - 0.5) + \beta_f \bar F_j
          + \beta_{nc} \mathbb{1}[\text{no click}]\big)

rising as satisfaction falls and as mean genre fatigue :math:`\bar F_j` rises. A session also
ends after a maximum number of requests, or once the minutes spent in it reach a time budget
(RecSim's watch-time budget): :math:`\sum e \ge T_{budget}`.
"""

from __future__ import annotations

import numpy as np

__all__ = ["exit_probability", "forced_exit"]


def exit_probability(
    satisfaction: np.ndarray,
    mean_fatigue: np.ndarray,
    clicked: np.ndarray,
    *,
    base: float,
    satisfaction_weight: float,
    fatigue_weight: float,
    no_click_weight: float,
) -> np.ndarray:
    """Probability that the user ends the session after this request.

    >>> float(exit_probability(np.array(0.5), np.array(0.0), np.array(True), base=0.0,
    ...       satisfaction_weight=1.0, fatigue_weight=1.0, no_click_weight=1.0))
    0.5
    """
    z = (
        base
        - satisfaction_weight * (satisfaction - 0.5)
        + fatigue_weight * mean_fatigue
        + no_click_weight * (~np.asarray(clicked, dtype=bool))
    )
    return 1.0 / (1.0 + np.exp(-z))


def forced_exit(
    requests: np.ndarray, minutes: np.ndarray, *, max_requests: int, budget_minutes: float
) -> np.ndarray:
    """Whether the session must end: request cap reached or time budget spent.

    >>> forced_exit(np.array([3, 50, 3]), np.array([1.0, 1.0, 30.0]), max_requests=50,
    ...             budget_minutes=30.0).tolist()
    [False, True, True]
    """
    return (requests >= max_requests) | (minutes >= budget_minutes)
