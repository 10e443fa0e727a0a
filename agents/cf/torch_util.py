"""Torch helpers shared by the learned CF models: seeding, threads, negative sampling."""

from __future__ import annotations

import numpy as np
import torch
from simrec_agents.cf.base import UnclickedByUser

__all__ = ["sample_training_pairs", "seeded_generator", "torch_setup"]


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
