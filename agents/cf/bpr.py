r"""``bpr``: Bayesian personalised ranking (Rendle et al. 2009) from ``implicit``.

Score :math:`\hat y_{ui} = p_u^\top q_i + b_i` (``implicit`` keeps the item bias as an extra
factor). Each retrain runs ``iterations`` epochs of ``implicit``'s SGD over the clicked
(user, item) pairs, each with a negative drawn uniformly from the catalog and checked not to
be clicked by the user (``verify_negative_samples``), from the previous factors (warm start).
One thread (the multi-threaded SGD is Hogwild and not reproducible); each retrain draws its
sampler's seed from the agent's stream. The torch ``mf`` agent is the same model with Adam,
impression negatives and the training loop the language-model agents share; ``bpr`` is the
library reference beside it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from simrec_agents.cf.als import click_matrix, dot_scores, implicit_module
from simrec_agents.cf.base import CFAgent, check_params

__all__ = ["BPRAgent"]


class BPRAgent(CFAgent):
    """BPR matrix factorisation (``implicit``), warm-started on the agent's click log.

    Args:
        factors: Latent dimension (plus one bias factor).
        lr: SGD learning rate.
        reg: L2 weight.
        iterations: Epochs per retrain.
        **shared: :class:`~simrec_agents.cf.base.CFAgent` options.
    """

    name = "bpr"

    def __init__(
        self,
        factors: int = 32,
        lr: float = 0.05,
        reg: float = 0.01,
        iterations: int = 10,
        **shared: Any,
    ) -> None:
        super().__init__(**shared)
        check_params(
            factors=(factors, "pos_int"),
            lr=(lr, "pos"),
            reg=(reg, "nonneg"),
            iterations=(iterations, "pos_int"),
        )
        self.factors, self.lr, self.reg, self.iterations = factors, lr, reg, iterations

    def build(self, n_users: int, n_items: int) -> None:
        bpr = implicit_module("bpr")
        self.model = bpr.BayesianPersonalizedRanking(
            factors=self.factors,
            learning_rate=self.lr,
            regularization=self.reg,
            iterations=self.iterations,
            num_threads=1,
            verify_negative_samples=True,
        )

    def fit(self, data: dict[str, np.ndarray], now: float) -> None:
        R = click_matrix(data, self.log.n_users, self.log.n_items)
        R.data[:] = 1.0
        self.model.random_state = int(self.rng.integers(2**31))  # fresh draws each retrain
        self.model.fit(R, show_progress=False)

    def score(self, users: np.ndarray, pool: np.ndarray) -> np.ndarray:
        return dot_scores(self.model.user_factors[users], self.model.item_factors, pool)

    def n_params(self) -> tuple[int, int]:
        n = (self.log.n_users + self.log.n_items) * (self.factors + 1)
        return n, n

    def score_flops(self, pool: float, batch: float) -> float:
        """A dot product (with the bias factor) per pool item."""
        return 2 * (self.factors + 1) * pool
