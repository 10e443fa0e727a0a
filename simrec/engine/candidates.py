"""The candidate sampler: C distinct random items of the catalog per request.

Draws come from the behavioural stream keyed by the user and the user's request number, so
the same user's n-th request gets the same candidates under every agent (common random
numbers).
"""

from __future__ import annotations

import numpy as np

from simrec.rng import Purpose, distinct_integers, keyed_uniform
from simrec.usermodel import Population

__all__ = ["CandidateSampler"]


class CandidateSampler:
    """Samples candidate positions for requests.

    Args:
        pop: The population (stream keys and request counters).
    """

    def __init__(self, pop: Population) -> None:
        """Bind the population."""
        self.pop = pop

    def indices(self, users: np.ndarray, n: int | np.ndarray, k: int) -> np.ndarray:
        """``k`` distinct indices in ``[0, n)`` per user, keyed by the user's request number.

        ``n`` is one range for all or one per user; ``k`` is capped at ``min(n)``.
        """
        keys, counters = self.pop.keys[users], self.pop.requests[users]

        def draw(r: int, width: int) -> np.ndarray:
            return keyed_uniform(keys, Purpose.CANDIDATES + 16 * r, counters, width)

        return distinct_integers(draw, n, min(k, int(np.min(n))))
