r"""The social world (``world.kind: social``): the synthetic world plus a follow graph.

Users follow other users; a click may be shared with the clicking user's followers, whose
feeds then hold the item for a few days, raise its utility and bring it into their
candidates (the engine's :class:`~simrec.engine.social.SocialChannel`). Influence so flows
between users along the graph -- and between the arms of an A/B test, unless the arms are
graph clusters (:mod:`simrec.experiments`).

**The graph** (:func:`follow_graph`): users, in a random order, each choose
``world.social.follows`` accounts to follow, by preferential attachment with homophily in
interests -- user *j* follows *k* with probability proportional to

.. math::
    (\text{followers}_k + 1)\, \exp(h \langle u_j, u_k \rangle)

(:math:`h`: ``world.social.homophily``; :math:`u`: the hidden interests), among a uniform
sample of 512 other users (so that building it is linear in the users). Popular accounts
gain followers faster, and users follow people who like what they like, as in follow graphs
measured on real platforms (Barabasi and Albert 1999; McPherson et al. 2001).

**The clusters** (:func:`communities`): Louvain communities (Blondel et al. 2008; networkx)
of the undirected graph, the unit of a cluster-randomised test. The graph and the clusters
are observable: a platform knows who follows whom.

The catalog and the users are those of the synthetic world of the same seed (the graph is
drawn from the world stream after them).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from simrec.config import WorldConfig
from simrec.worlds.base import SocialGraph, World
from simrec.worlds.synthetic import build_synthetic

__all__ = ["POOL", "SocialGraph", "build_social", "communities", "follow_graph"]

#: Users sampled as the candidates of each user's follows.
POOL = 512


def follow_graph(
    interest: np.ndarray, follows: int, homophily: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Edges ``(follower, followee)`` by preferential attachment with homophily (module doc).

    >>> rng = np.random.default_rng(0)
    >>> u = np.eye(4)[np.arange(200) % 4]  # four tastes
    >>> a, b = follow_graph(u, 5, 8.0, rng)
    >>> len(a), bool((a != b).all())
    (1000, True)
    >>> float(np.mean(a % 4 == b % 4)) > 0.9  # users follow users of the same taste
    True
    """
    n = len(interest)
    k = min(follows, n - 1)
    indegree = np.zeros(n)
    src = np.empty(n * k, dtype=np.int64)
    dst = np.empty(n * k, dtype=np.int64)
    order = rng.permutation(n)
    interest = np.asarray(interest, dtype=np.float64)
    for e, j in enumerate(order):
        pool = rng.choice(n - 1, size=min(POOL, n - 1), replace=False)
        pool = pool + (pool >= j)  # anyone but j
        logit = homophily * (interest[pool] @ interest[j])
        w = (indegree[pool] + 1.0) * np.exp(logit - logit.max())
        chosen = rng.choice(pool, size=k, replace=False, p=w / w.sum())
        src[e * k : (e + 1) * k], dst[e * k : (e + 1) * k] = j, chosen
        indegree[chosen] += 1.0
    return src, dst


def communities(
    src: np.ndarray, dst: np.ndarray, n: int, resolution: float, rng: np.random.Generator
) -> np.ndarray:
    """Louvain communities of the undirected graph, ``(n,)`` int64, largest first."""
    import networkx as nx

    g = nx.Graph()
    g.add_nodes_from(range(n))
    g.add_edges_from(zip(src.tolist(), dst.tolist(), strict=True))
    found = nx.community.louvain_communities(
        g, resolution=resolution, seed=int(rng.integers(2**31))
    )
    found = sorted(found, key=lambda c: (-len(c), min(c)))
    cluster = np.empty(n, dtype=np.int64)
    for i, members in enumerate(found):
        cluster[list(members)] = i
    return cluster


def build_social(
    config: WorldConfig,
    rng: np.random.Generator,
    horizon_days: float,
    arrivals_rng: np.random.Generator,
) -> World:
    """The synthetic world of the same seed, with a follow graph and its communities."""
    world = build_synthetic(config, rng, horizon_days, arrivals_rng)
    sc = config.social
    src, dst = follow_graph(world.user_truth.interest, sc.follows, sc.homophily, rng)
    n = world.n_users
    cluster = communities(src, dst, n, sc.cluster_resolution, rng)
    order = np.argsort(dst, kind="stable")
    follower, followee = src[order], dst[order]
    offsets = np.searchsorted(followee, np.arange(n + 1)).astype(np.int64)
    graph = SocialGraph(follower, followee, offsets, cluster)
    return replace(world, name="social", social=graph)
