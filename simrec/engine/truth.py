"""The hidden-state accessor handed to ``oracle*`` agents (and to nothing else)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from simrec.types import readonly
from simrec.usermodel.arrays import row_scores

if TYPE_CHECKING:
    from simrec.engine import Engine

__all__ = ["GroundTruth"]


class GroundTruth:
    """Read access to hidden state, handed only to ``oracle*`` agents.

    It answers questions about the live state with fresh, read-only arrays; it holds no
    attribute that leads to the engine or to its arrays.

    Args:
        engine: The engine whose state it answers about (kept in closures only).
    """

    __slots__ = ("_match", "_recent", "_utility", "_value", "dim")

    def __init__(self, engine: Engine) -> None:
        pop, items, model = engine.pop, engine.items, engine.model

        def match(users: np.ndarray, ids: np.ndarray) -> np.ndarray:
            return row_scores(pop.interest[users], items.topic, ids)

        def value(users: np.ndarray, ids: np.ndarray) -> np.ndarray:
            m = match(users, ids)
            return model.satisfaction.value(items.quality[ids], m, items.appeal[ids])

        def utility(users: np.ndarray, ids: np.ndarray) -> np.ndarray:
            return model.choice.item_utility(pop, items, users, ids, match(users, ids))

        def recent(users: np.ndarray) -> np.ndarray:
            return pop.recent.T[users]

        self._match, self._value, self._utility, self._recent = match, value, utility, recent
        #: Latent dimension d of interests and topics.
        self.dim = int(items.topic.shape[1])

    def match(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        r"""True match :math:`\langle u_j, z_i\rangle` for ``users (B,)`` x ``items (B, X)``."""
        return readonly(self._match(users, items))

    def value(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Experienced value of consuming each item now (what raises satisfaction)."""
        return readonly(self._value(users, items))

    def utility(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Choice utility of each item now, without position bias (what drives clicks)."""
        return readonly(self._utility(users, items))

    def recent(self, users: np.ndarray) -> np.ndarray:
        """Recently consumed items ``(B, L)`` (-1 = empty)."""
        return readonly(self._recent(users))
