r"""What the metrics of every agent of a world and seed are measured against.

Computed once per run from the world before the first request, from hidden state no agent
sees, and identical for every agent of the same world and seed (they depend on the world and
the ``measure`` stream only):

* :func:`chaney_pairs` -- the user pairs homogenization follows. As in Chaney, Stewart and
  Engelhardt (RecSys 2018), each user is paired with the user most similar in true
  preference: a sample of day-0 users (``anchors``), each with the other day-0 user whose
  initial interest vector has the highest cosine similarity.
* :func:`reference_popularity` -- the popularity long-tail share and novelty are measured
  against: item *i*'s share of choices when a sample of day-0 users each choose freely from the
  whole catalog by their day-0 choice utility,
  :math:`r_i = \frac{1}{|S|}\sum_{u\in S} \frac{e^{v_{ui}}}{\sum_k e^{v_{uk}}}`. It is the
  popularity each item would have under uniform exposure, before any recommender acts, so
  no agent's own clicks define the head it is judged by.

>>> import numpy as np
>>> interest = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
>>> interest /= np.linalg.norm(interest, axis=1, keepdims=True)
>>> a, b = chaney_pairs(interest, np.arange(4), 4, np.random.default_rng(0))
>>> sorted(zip(a.tolist(), b.tolist()))
[(0, 1), (1, 0), (2, 3), (3, 2)]
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["PAIRS", "REFERENCE_USERS", "chaney_pairs", "reference_popularity"]

#: Anchor users homogenization follows (each with their most similar user).
PAIRS = 2000
#: Day-0 users the reference popularity averages over.
REFERENCE_USERS = 2000
_BLOCK = 256


def chaney_pairs(
    interest: np.ndarray, cohort: np.ndarray, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Each of up to ``n`` sampled cohort users with their most similar other cohort user.

    Args:
        interest: Initial unit interest vectors of all users ``(N, d)``.
        cohort: Ids of the users that can be paired (the day-0 cohort).
        n: Anchors to sample (all of the cohort when it is smaller).
        rng: The run's ``measure`` stream.

    Returns:
        ``(anchor, partner)`` user ids, sorted by anchor; empty when the cohort has fewer
        than two users.
    """
    cohort = np.asarray(cohort, dtype=np.int64)
    if len(cohort) < 2:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    anchors = np.sort(rng.choice(cohort, size=min(n, len(cohort)), replace=False))
    pool = np.asarray(interest[cohort], dtype=np.float64)
    own = np.searchsorted(np.sort(cohort), anchors)  # each anchor's column in the pool
    order = np.argsort(cohort, kind="stable")
    partner = np.empty(len(anchors), dtype=np.int64)
    # Blocks of anchors whose similarity rows stay under 128 MB, whatever the cohort's size.
    block = max(1, min(_BLOCK, (1 << 24) // max(len(cohort), 1)))
    for s in range(0, len(anchors), block):
        a = anchors[s : s + block]
        sim = np.asarray(interest[a], dtype=np.float64) @ pool.T
        sim[np.arange(len(a)), order[own[s : s + block]]] = -np.inf  # never the user themself
        partner[s : s + block] = cohort[np.argmax(sim, axis=1)]
    return anchors, partner


def reference_popularity(
    utility: Callable[[np.ndarray, np.ndarray], np.ndarray],
    cohort: np.ndarray,
    n_items: int,
    rng: np.random.Generator,
    n_users: int = REFERENCE_USERS,
) -> np.ndarray:
    """Each item's share of free choices from the whole catalog at day 0 (sums to 1).

    Args:
        utility: ``(users (B,), items (B, X)) -> (B, X)`` choice utilities now (the ground
            truth's, without position bias).
        cohort: Ids of the day-0 users.
        n_items: Items in the world (every item, released during the run or not).
        rng: The run's ``measure`` stream.
        n_users: Users sampled from the cohort (all when it is smaller).

    Returns:
        ``(n_items,)`` float64 shares.
    """
    cohort = np.asarray(cohort, dtype=np.int64)
    if len(cohort) == 0 or n_items == 0:
        return np.full(n_items, 1.0 / max(n_items, 1))
    users = np.sort(rng.choice(cohort, size=min(n_users, len(cohort)), replace=False))
    ids = np.arange(n_items, dtype=np.int64)
    total = np.zeros(n_items)
    for s in range(0, len(users), _BLOCK):
        u = users[s : s + _BLOCK]
        v = np.asarray(utility(u, np.broadcast_to(ids, (len(u), n_items))), dtype=np.float64)
        v = np.exp(v - v.max(axis=1, keepdims=True))
        total += (v / v.sum(axis=1, keepdims=True)).sum(axis=0)
    return total / total.sum()
