r"""The platform-wide trending signal: what every user's clicks say about an item.

Each item's recent clicks, over all users, decay exponentially with time constant
:math:`\tau` (``dynamics.trend_tau_days``):

.. math::
    n_i(t) = \sum_{\text{clicks } c \text{ on } i,\; t_c \le t} e^{-(t - t_c)/\tau}

and the signal is the item's share of them against a uniform catalog,
:math:`T_i = \log(1 + M\, n_i / \sum_k n_k)` (0 before any click; about 0.69 for an item
with an average share). With ``dynamics.trend_weight`` :math:`b_{trend} > 0` it enters every
user's choice utility as :math:`+ b_{trend} T_i` -- social proof, as a "trending now" row or
a view counter shows it. It is the channel through which one user's clicks change another
user's choices, and so the one through which the arms of an A/B test in one population
interfere (:mod:`simrec.experiments.ab`). With the default weight 0 the signal stays at
zero (the engine neither updates it nor adds it to any utility) and the runs are those of
earlier versions, bit for bit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from simrec.engine.platform import Platform

if TYPE_CHECKING:
    from simrec.config import Config

__all__ = ["Trending"]


class Trending(Platform):
    """Decayed platform-wide click counts of every item, and the signal the users see.

    A :class:`~simrec.engine.platform.Platform`: it connects users while
    ``dynamics.trend_weight > 0`` (and is updated only then).

    Args:
        n_items: M.
        tau_days: Time constant of the decay.

    >>> t = Trending(4, tau_days=1.0)
    >>> t.add(np.array([[0, 1]]), np.array([[True, False]]), 0.0)
    >>> t.signal.round(3).tolist()  # item 0 holds every click: log(1 + 4)
    [1.609, 0.0, 0.0, 0.0]
    >>> t.add(np.array([[1, 2]]), np.array([[True, False]]), 1.0)  # a day later
    >>> t.counts.round(3).tolist()
    [0.368, 1.0, 0.0, 0.0]
    """

    def __init__(self, n_items: int, tau_days: float) -> None:
        """Start with no clicks."""
        self.tau = float(tau_days)
        self.counts = np.zeros(n_items, dtype=np.float64)
        #: The signal :math:`T_i`, float32, updated in place (the user model reads it).
        self.signal = np.zeros(n_items, dtype=np.float32)
        self.time = 0.0
        self.on = False

    name = "trending"
    state = ("counts", "signal")

    def connects_users(self, config: Config) -> bool:
        """While the signal enters the utility."""
        return bool(config.dynamics.trend_weight)

    def bind(self, config: Config) -> None:
        """The decay's time constant, and whether the signal is kept up to date."""
        self.tau = float(config.dynamics.trend_tau_days)
        self.on = bool(config.dynamics.trend_weight)

    def served(
        self,
        users: np.ndarray,
        slates: np.ndarray,
        clicked: np.ndarray,
        keys: np.ndarray,
        req: np.ndarray,
        now: float,
    ) -> None:
        """Count the batch's clicks (only while the signal has a weight)."""
        if self.on:
            self.add(slates, clicked, now)

    def add(self, slates: np.ndarray, clicked: np.ndarray, now: float) -> None:
        """Decay the counts to ``now`` and add the clicks of a served batch."""
        if now > self.time:
            self.counts *= np.exp(-(now - self.time) / self.tau)
            self.time = float(now)
        np.add.at(self.counts, slates[clicked], 1.0)
        total = self.counts.sum()
        if total > 0.0:
            np.log1p(self.counts * (len(self.counts) / total), out=self.signal, casting="unsafe")
