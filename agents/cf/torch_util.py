"""Torch helpers shared by the learned CF models: seeding, threads, negative sampling."""

from __future__ import annotations

import numpy as np
import torch
from simrec_agents.cf.base import UnclickedByUser

__all__ = ["epoch_order", "sample_training_pairs", "seeded_generator", "torch_setup"]


def torch_setup() -> None:
    """One intra-op thread and deterministic kernels (CPU)."""
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)


def seeded_generator(rng: np.random.Generator) -> torch.Generator:
    """A torch generator seeded from the agent's numpy stream."""
    return torch.Generator().manual_seed(int(rng.integers(0, 2**62)))


def sample_training_pairs(
    data: dict[str, np.ndarray],
    n_items: int,
    available: np.ndarray,
    rng: np.random.Generator,
    negatives: int,
    impression_share: float = 0.5,
    index: UnclickedByUser | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positives (clicks) with sampled negatives, for BPR or BCE training.

    Each click (user u, item i) gets ``negatives`` negative items: with probability
    ``impression_share`` an item shown to u without a click (a logged "impression without
    click"), otherwise an item drawn uniformly from ``available`` (an unseen item).

    Args:
        data: The logged impressions (``user``, ``item``, ``click`` columns).
        n_items: Catalog size M.
        available: Items that may be drawn as unseen negatives.
        rng: The agent's stream.
        negatives: Negatives per click.
        impression_share: Probability that a negative is a logged impression without click.
        index: The agent's :class:`UnclickedByUser` over the same growing log (it sorts only
            the rows added since the last call); ``None`` sorts the whole log.

    Returns:
        ``(users, positives, negatives)`` with shapes ``(P,)``, ``(P,)``, ``(P, negatives)``.
    """
    users, items, clicks = data["user"], data["item"], data["click"]
    pu, pi = users[clicks].astype(np.int64), items[clicks].astype(np.int64)
    P = len(pu)
    neg = available[rng.integers(0, len(available), size=(P, negatives))]
    # Impressions without click, grouped by user, to draw per-user logged negatives.
    if index is None:
        index = UnclickedByUser()
    nu, ni = index.update(data)
    if len(nu) and impression_share > 0:
        start = np.searchsorted(nu, pu, side="left")
        count = np.searchsorted(nu, pu, side="right") - start
        use = (rng.random((P, negatives)) < impression_share) & (count[:, None] > 0)
        pick = start[:, None] + np.floor(rng.random((P, negatives)) * np.maximum(count, 1)[:, None])
        neg = np.where(use, ni[np.minimum(pick.astype(np.int64), len(ni) - 1)], neg)
    return pu, pi, neg


def epoch_order(
    times: np.ndarray, since: float, budget: int | None, rng: np.random.Generator
) -> np.ndarray:
    """The order in which one epoch visits the clicks, within a per-retrain click budget.

    Without a budget (``None``) or when there are no more than ``budget`` clicks, every click
    in a random order (``rng.permutation``, the same draws as an unbudgeted epoch). Otherwise
    ``budget`` clicks: every click logged after ``since`` (the previous retrain) first, then a
    uniform sample without replacement of the older ones ("new data plus replay"); when the
    new clicks alone exceed the budget, a uniform sample of them. The cost of a retrain then
    stops growing with the log.

    Args:
        times: Log time (days) of each click, ``(P,)``, in the order of the training pairs.
        since: Time of the previous retrain (``-inf`` before the first).
        budget: Most clicks per epoch, or ``None`` for all.
        rng: The agent's stream.

    >>> epoch_order(np.array([0.0, 1.0, 2.0, 3.0]), 1.5, 3, np.random.default_rng(0)).size
    3
    """
    n = len(times)
    if budget is None or n <= budget:
        return rng.permutation(n)
    new = np.flatnonzero(times > since)
    if len(new) >= budget:
        keep = rng.choice(new, size=budget, replace=False)
    else:
        old = np.flatnonzero(times <= since)
        keep = np.concatenate([new, rng.choice(old, size=budget - len(new), replace=False)])
    return rng.permutation(keep)
