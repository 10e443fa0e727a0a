"""Knowledge graphs over items, from observable attributes only.

:func:`attribute_graph` turns an item table into triples ``item -has_genre-> genre``,
``item -by_creator-> creator`` and ``item -released_in-> period`` (30-day periods of the
release day; one period for the day-0 catalog). :func:`item_graph` returns a world's own graph
(``movielens-100k``: Freebase plus these attributes) or the attribute graph of any other world.
No hidden state enters a graph.

>>> import numpy as np
>>> from simrec.worlds.base import ItemFeatures
>>> items = ItemFeatures(
...     genre=np.array([0, 1, 0], np.int16), creator=np.array([5, 5, 7], np.int32),
...     price=np.ones(3, np.float32), release_day=np.array([0.0, 0.0, 40.0], np.float32),
...     expire_day=np.full(3, np.inf, np.float32), title=("a", "b", "c"), description=("", "", ""))
>>> g = attribute_graph(items, n_genres=2)
>>> len(g), g.n_entities, g.relation_names
(9, 9, ('has_genre', 'by_creator', 'released_in'))
"""

from __future__ import annotations

import numpy as np

from simrec.worlds.base import ItemFeatures, KnowledgeGraph, ObservableWorld

__all__ = ["RELEASE_PERIOD_DAYS", "attribute_graph", "item_graph", "merge_graphs"]

#: Width of the release-period entities of the attribute graph.
RELEASE_PERIOD_DAYS = 30.0


def attribute_graph(items: ItemFeatures, n_genres: int) -> KnowledgeGraph:
    """Triples linking each item to its genre, creator and release period."""
    M = len(items.genre)
    item = np.arange(M, dtype=np.int64)
    _, creator = np.unique(items.creator, return_inverse=True)
    # A movie that is never released (release day inf) gets a period of its own.
    day = np.nan_to_num(np.maximum(items.release_day, 0.0), posinf=1e12)
    period = np.floor(day / RELEASE_PERIOD_DAYS).astype(np.int64)
    _, period = np.unique(period, return_inverse=True)
    n_creators = int(creator.max()) + 1 if M else 0
    genre_base, creator_base = M, M + n_genres
    period_base = creator_base + n_creators
    head = np.concatenate([item, item, item])
    relation = np.repeat(np.arange(3, dtype=np.int64), M)
    tail = np.concatenate(
        [genre_base + items.genre.astype(np.int64), creator_base + creator, period_base + period]
    )
    n_periods = int(period.max()) + 1 if M else 0
    return KnowledgeGraph(
        head, relation, tail, period_base + n_periods, ("has_genre", "by_creator", "released_in")
    )


def merge_graphs(base: KnowledgeGraph, extra: KnowledgeGraph, n_items: int) -> KnowledgeGraph:
    """The union of two graphs over the same items (``extra``'s other entities renumbered)."""
    shift = base.n_entities - n_items

    def renumber(e: np.ndarray) -> np.ndarray:
        return np.where(e < n_items, e, e + shift)

    r0 = len(base.relation_names)
    return KnowledgeGraph(
        np.concatenate([base.head, renumber(extra.head)]),
        np.concatenate([base.relation, extra.relation + r0]),
        np.concatenate([base.tail, renumber(extra.tail)]),
        base.n_entities + extra.n_entities - n_items,
        base.relation_names + extra.relation_names,
    )


def item_graph(world: ObservableWorld) -> KnowledgeGraph:
    """The world's own knowledge graph, or the attribute graph of its items."""
    if world.graph is not None:
        return world.graph
    return attribute_graph(world.items, world.n_genres)
