r"""``item-knn``: item-based collaborative filtering (Sarwar et al. 2001).

From the logged click matrix :math:`X` (users x items, binary), the shrunk cosine
similarity of items *i* and *j* is

.. math:: s_{ij} = \frac{(X^\top X)_{ij}}{\sqrt{n_i n_j} + \lambda}

(:math:`n_i`: clicks of *i*; :math:`\lambda`: shrinkage, which damps similarities resting on
few co-clicks), keeping each item's ``k`` largest neighbours. A user's score for item *j*
is :math:`\sum_{i \in H_u} s_{ij}` over the items the user clicked. Recomputed at each
retrain from the whole log (scipy sparse).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from simrec_agents.cf.base import CFAgent, check_params

__all__ = ["ItemKNNAgent"]


class ItemKNNAgent(CFAgent):
    """Item-kNN over the agent's click log.

    Args:
        neighbours: Neighbours kept per item (k).
        shrinkage: Shrinkage lambda of the cosine.
        **shared: :class:`~simrec_agents.cf.base.CFAgent` options.
    """

    name = "item-knn"

    def __init__(self, neighbours: int = 50, shrinkage: float = 10.0, **shared: Any) -> None:
        super().__init__(**shared)
        check_params(neighbours=(neighbours, "pos_int"), shrinkage=(shrinkage, "nonneg"))
        self.neighbours, self.shrinkage = neighbours, shrinkage

    def build(self, n_users: int, n_items: int) -> None:
        self.S = sp.csr_matrix((n_items, n_items))
        self.X = sp.csr_matrix((n_users, n_items))

    def fit(self, data: dict[str, np.ndarray], now: float) -> None:
        N, M = self.log.n_users, self.log.n_items
        c = data["click"]
        X = sp.csr_matrix((np.ones(int(c.sum())), (data["user"][c], data["item"][c])), shape=(N, M))
        X.data[:] = 1.0  # binary: repeated clicks count once
        X.sum_duplicates()
        X.data[:] = 1.0
        co = (X.T @ X).tocsr().astype(np.float64)
        co.setdiag(0.0)
        co.eliminate_zeros()
        n = np.asarray(X.sum(axis=0)).ravel()
        co = co.tocoo()
        vals = co.data / (np.sqrt(n[co.row] * n[co.col]) + self.shrinkage)
        # Keep each item's top-k neighbours (row-wise).
        order = np.lexsort((-vals, co.row))
        rows, cols, vals = co.row[order], co.col[order], vals[order]
        first = np.searchsorted(rows, np.arange(M))
        rank = np.arange(len(rows)) - first[rows]
        keep = rank < self.neighbours
        self.S = sp.csr_matrix((vals[keep], (rows[keep], cols[keep])), shape=(M, M))
        self.X = X

    def score(self, users: np.ndarray, pool: np.ndarray) -> np.ndarray:
        scores = np.asarray((self.X[users] @ self.S).todense())
        return np.take_along_axis(scores, np.asarray(pool), axis=1)

    def n_params(self) -> tuple[int, int]:
        n = int(self.S.nnz)
        return n, 0

    def score_flops(self, pool: float, batch: float) -> float:
        """Sparse history x similarity product: 2 x (clicked items) x (neighbours per item).

        Means over users with a click and over items; the product does not depend on the pool.
        """
        users = int((np.diff(self.X.indptr) > 0).sum())
        return 2.0 * self.X.nnz / max(users, 1) * self.S.nnz / max(self.S.shape[0], 1)
