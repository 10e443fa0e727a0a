r"""``als``: weighted alternating least squares for implicit feedback.

Hu, Koren and Volinsky (2008), "Collaborative Filtering for Implicit Feedback Datasets".

Preferences :math:`p_{ui} = 1` if u clicked i, else 0, with confidence
:math:`c_{ui} = 1 + \alpha r_{ui}` (:math:`r_{ui}`: clicks). Each half-step solves, for every
user (then every item) in closed form,

.. math:: x_u = (Y^\top Y + Y^\top (C^u - I) Y + \lambda I)^{-1} Y^\top C^u p(u)

using the paper's trick: :math:`Y^\top Y` once, plus a correction over the user's own items
only. Vectorised in numpy (batched solves over users padded to their click counts); the
``implicit`` package was not used, so the only dependency is numpy/scipy. Warm-started:
each retrain runs ``iterations`` alternations from the previous factors.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from simrec_agents.cf.base import CFAgent, check_params

__all__ = ["ALSAgent", "als_half_step"]


def als_half_step(R: sp.csr_matrix, Y: np.ndarray, alpha: float, reg: float) -> np.ndarray:
    """Solve every row's factors given the other side's ``Y`` (rows with no data get 0).

    Args:
        R: Click counts, rows x columns, CSR.
        Y: Factors of the columns ``(n_cols, f)``.
        alpha: Confidence slope.
        reg: L2 weight lambda.
    """
    n_rows, f = R.shape[0], Y.shape[1]
    X = np.zeros((n_rows, f))
    YtY = Y.T @ Y
    counts = np.diff(R.indptr)
    rows = np.flatnonzero(counts)
    if rows.size == 0:
        return X
    width = int(counts.max())
    idx = np.zeros((rows.size, width), dtype=np.int64)
    conf = np.zeros((rows.size, width))
    for k, r in enumerate(rows):  # gather each row's columns (a padded view)
        lo, hi = R.indptr[r], R.indptr[r + 1]
        idx[k, : hi - lo] = R.indices[lo:hi]
        conf[k, : hi - lo] = alpha * R.data[lo:hi]
    Yr = Y[idx]  # (rows, width, f); padded entries have confidence 0
    A = YtY[None] + np.einsum("rw,rwf,rwg->rfg", conf, Yr, Yr) + reg * np.eye(f)[None]
    b = np.einsum("rw,rwf->rf", 1.0 + conf, Yr * (conf > 0)[:, :, None])
    X[rows] = np.linalg.solve(A, b[:, :, None])[:, :, 0]
    return X


class ALSAgent(CFAgent):
    """Implicit-feedback ALS on the agent's click log.

    Args:
        factors: Latent dimension f.
        alpha: Confidence slope.
        reg: L2 weight lambda.
        iterations: Alternations per retrain (warm-started).
        **shared: :class:`~simrec_agents.cf.base.CFAgent` options.
    """

    name = "als"

    def __init__(
        self,
        factors: int = 32,
        alpha: float = 20.0,
        reg: float = 0.1,
        iterations: int = 3,
        **shared,
    ) -> None:
        super().__init__(**shared)
        check_params(
            factors=(factors, "pos_int"),
            alpha=(alpha, "pos"),
            reg=(reg, "pos"),
            iterations=(iterations, "pos_int"),
        )
        self.factors, self.alpha, self.reg, self.iterations = factors, alpha, reg, iterations

    def build(self, n_users: int, n_items: int) -> None:
        self.U = np.zeros((n_users, self.factors))
        self.V = 0.01 * self.rng.standard_normal((n_items, self.factors))

    def fit(self, data: dict[str, np.ndarray], now: float) -> None:
        N, M = self.log.n_users, self.log.n_items
        c = data["click"]
        R = sp.csr_matrix((np.ones(int(c.sum())), (data["user"][c], data["item"][c])), shape=(N, M))
        R.sum_duplicates()
        Rt = R.T.tocsr()
        for _ in range(self.iterations):
            self.U = als_half_step(R, self.V, self.alpha, self.reg)
            V = als_half_step(Rt, self.U, self.alpha, self.reg)
            seen = np.diff(Rt.indptr) > 0  # items without clicks keep their factors
            self.V[seen] = V[seen]

    def score(self, users: np.ndarray, pool: np.ndarray) -> np.ndarray:
        U = self.U[users]
        if pool.strides[0] == 0:
            return U @ self.V[pool[0]].T
        return np.einsum("bf,bpf->bp", U, self.V[pool])

    def n_params(self) -> tuple[int, int]:
        n = self.U.size + self.V.size
        return n, n

    def score_flops(self, pool: float, batch: float) -> float:
        """A dot product per pool item."""
        return 2 * self.factors * pool
