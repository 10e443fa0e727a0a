"""The hidden-state accessor handed to ``oracle*`` agents (and to nothing else).

An oracle scores every request against the whole catalog: a ``(B, A)`` pool that is the same
row for every request (a broadcast view). The item side of those scores -- the pool's
topics, quality, appeal and genres -- changes only when the catalog does (once a day), so it
is gathered once per catalog and reused; the user side (interest, fatigue, recent items) is
read fresh on every call. The arithmetic is the uncached one, so the scores are the same
bit for bit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from simrec.types import readonly
from simrec.usermodel import Items
from simrec.usermodel.arrays import row_scores

if TYPE_CHECKING:
    from simrec.engine import Engine

__all__ = ["GroundTruth", "PoolItems"]


class PoolItems:
    """The item columns of the last whole-catalog pool seen, gathered once per catalog.

    Args:
        items: The item columns of the world.

    >>> items = Items(np.eye(3, dtype=np.float32), np.array([.1, .2, .3]), np.zeros(3),
    ...               np.array([0, 1, 0]), np.ones(3))
    >>> cache = PoolItems(items)
    >>> cache.of(np.array([2, 0])).quality.tolist()
    [[0.3, 0.1]]
    >>> cache.of(np.array([2, 0])) is cache.of(np.array([2, 0]))  # same pool: reused
    True
    """

    def __init__(self, items: Items) -> None:
        """Start with no pool."""
        self.items = items
        self._ids: np.ndarray | None = None
        self._side: Items | None = None

    def of(self, ids: np.ndarray) -> Items:
        """The columns of pool ``ids (A,)``.

        Topics ``(A, d)``, the rest ``(1, A)`` (broadcast over requests); ``trend`` is not
        cached (it changes every tick).
        """
        if self._ids is None or not np.array_equal(self._ids, ids):
            it = self.items
            self._ids = np.array(ids, copy=True)
            self._side = Items(
                topic=readonly(it.topic[ids]),
                quality=readonly(it.quality[ids][None, :]),
                appeal=readonly(it.appeal[ids][None, :]),
                genre=readonly(it.genre[ids][None, :]),
                price=readonly(it.price[ids][None, :]),
            )  # read-only: a component writing into its inputs cannot change the cache
        return self._side  # type: ignore[return-value]


def _broadcast_pool(ids: np.ndarray) -> bool:
    """Whether ``ids (B, X)`` is one row for every request (a broadcast view)."""
    return ids.ndim == 2 and ids.strides[0] == 0 and ids.shape[0] > 0


class GroundTruth:
    """Read access to hidden state, handed only to ``oracle*`` agents.

    It answers questions about the live state with fresh, read-only arrays; it holds no
    attribute that leads to the engine or to its arrays.

    Args:
        engine: The engine whose state it answers about (kept in closures only).
        offset: Population row of user 0 (the copy's first row; see :class:`Engine`).
    """

    __slots__ = ("_match", "_recent", "_utility", "_value", "dim")

    def __init__(self, engine: Engine, offset: int = 0) -> None:
        pop, items, model = engine.pop, engine.items, engine.model
        pools = PoolItems(items)

        def rows(users: np.ndarray) -> np.ndarray:
            return np.asarray(users) + offset if offset else users

        def match(users: np.ndarray, ids: np.ndarray) -> np.ndarray:
            if _broadcast_pool(ids):
                return pop.interest[rows(users)] @ pools.of(ids[0]).topic.T
            return row_scores(pop.interest[rows(users)], items.topic, ids)

        def value(users: np.ndarray, ids: np.ndarray) -> np.ndarray:
            m = match(users, ids)
            side = pools.of(ids[0]) if _broadcast_pool(ids) else None
            if side is None:
                return model.satisfaction.value(items.quality[ids], m, items.appeal[ids])
            return model.satisfaction.value(side.quality, m, side.appeal)

        def utility(users: np.ndarray, ids: np.ndarray) -> np.ndarray:
            return model.choice.item_utility(pop, items, rows(users), ids, match(users, ids))

        def recent(users: np.ndarray) -> np.ndarray:
            return pop.recent.T[rows(users)]

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
