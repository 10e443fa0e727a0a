r"""``als``: weighted alternating least squares for implicit feedback, from ``implicit``.

Hu, Koren and Volinsky (2008), "Collaborative Filtering for Implicit Feedback Datasets".

Preferences :math:`p_{ui} = 1` if u clicked i, else 0, with confidence
:math:`c_{ui} = 1 + \alpha r_{ui}` (:math:`r_{ui}`: clicks). Each half-step solves, for every
user (then every item),

.. math:: x_u = (Y^\top Y + Y^\top (C^u - I) Y + \lambda I)^{-1} Y^\top C^u p(u)

The solver is ``implicit``'s (Frederickson; Cython, maintained): the paper's confidence is
passed as the matrix's values (``implicit`` takes :math:`c_{ui}` itself, so its own ``alpha``
is 1), the conjugate-gradient solver by default (``cg_steps`` steps from the previous factors,
Takács et al. 2011) or the exact Cholesky solve (``use_cg: false``). One thread, so runs are
reproducible. Warm-started: each retrain runs ``iterations`` alternations from the previous
factors (the model keeps them between fits).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from types import ModuleType
from typing import Any

import numpy as np
import scipy.sparse as sp
from simrec_agents.cf.base import CFAgent, check_params

from simrec.errors import DependencyNotInstalled

__all__ = ["ALSAgent", "click_matrix", "dot_scores", "single_threaded_blas"]


def click_matrix(data: dict[str, np.ndarray], n_users: int, n_items: int) -> sp.csr_matrix:
    """Clicks per (user, item) of the logged impressions, CSR float32."""
    c = data["click"]
    R = sp.csr_matrix(
        (np.ones(int(c.sum()), dtype=np.float32), (data["user"][c], data["item"][c])),
        shape=(n_users, n_items),
    )
    R.sum_duplicates()
    return R


def dot_scores(U: np.ndarray, V: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """Scores ``U[b] . V[pool[b, p]]`` of a request batch (one matmul for a shared pool)."""
    if pool.strides[0] == 0:
        return U @ V[pool[0]].T
    return np.einsum("bf,bpf->bp", U, V[pool])


def single_threaded_blas() -> AbstractContextManager[object]:
    """BLAS on one thread (``implicit`` parallelises itself and warns otherwise)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1, "blas")


def implicit_module(name: str) -> ModuleType:
    """``implicit.cpu.<name>``, or a clear error naming the extra."""
    try:
        import importlib

        return importlib.import_module(f"implicit.cpu.{name}")
    except ImportError as err:
        raise DependencyNotInstalled(
            "the als and bpr agents need implicit; install it with pip install 'simrec[cf]'"
        ) from err


class ALSAgent(CFAgent):
    """Implicit-feedback ALS (``implicit``) on the agent's click log.

    Args:
        factors: Latent dimension f.
        alpha: Confidence slope (c = 1 + alpha x clicks).
        reg: L2 weight lambda.
        iterations: Alternations per retrain (warm-started).
        use_cg: Conjugate-gradient half-steps (``implicit``'s default) instead of exact solves.
        cg_steps: Conjugate-gradient steps per half-step.
        **shared: :class:`~simrec_agents.cf.base.CFAgent` options.
    """

    name = "als"

    def __init__(
        self,
        factors: int = 32,
        alpha: float = 20.0,
        reg: float = 0.1,
        iterations: int = 3,
        use_cg: bool = True,
        cg_steps: int = 3,
        **shared: Any,
    ) -> None:
        super().__init__(**shared)
        check_params(
            factors=(factors, "pos_int"),
            alpha=(alpha, "pos"),
            reg=(reg, "pos"),
            iterations=(iterations, "pos_int"),
            cg_steps=(cg_steps, "pos_int"),
        )
        if not isinstance(use_cg, bool):
            raise ValueError(f"use_cg: expected true or false, got {use_cg!r}")
        self.factors, self.alpha, self.reg, self.iterations = factors, alpha, reg, iterations
        self.use_cg, self.cg_steps = use_cg, cg_steps

    def build(self, n_users: int, n_items: int) -> None:
        als = implicit_module("als")
        with single_threaded_blas():  # implicit warns when BLAS may use a thread pool
            self.model = als.AlternatingLeastSquares(
                factors=self.factors,
                regularization=self.reg,
                alpha=1.0,  # the confidences are given (1 + alpha r), not r
                iterations=self.iterations,
                use_cg=self.use_cg,
                num_threads=1,
                random_state=int(self.rng.integers(2**31)),
            )
        self.model.cg_steps = self.cg_steps

    def fit(self, data: dict[str, np.ndarray], now: float) -> None:
        C = click_matrix(data, self.log.n_users, self.log.n_items)
        C.data = 1.0 + self.alpha * C.data
        with single_threaded_blas():
            self.model.fit(C, show_progress=False)

    def score(self, users: np.ndarray, pool: np.ndarray) -> np.ndarray:
        return dot_scores(self.model.user_factors[users], self.model.item_factors, pool)

    def n_params(self) -> tuple[int, int]:
        n = self.log.n_users * self.factors + self.log.n_items * self.factors
        return n, n

    def score_flops(self, pool: float, batch: float) -> float:
        """A dot product per pool item."""
        return 2 * self.factors * pool
