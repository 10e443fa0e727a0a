"""Pieces shared by agents: choosing the item pool of a request, top-K, random slates."""

from __future__ import annotations

import numpy as np

from simrec.rng import distinct_integers
from simrec.types import RequestBatch

__all__ = ["dense_flops", "item_pool", "sample_distinct", "scores_top_k"]


def item_pool(batch: RequestBatch) -> np.ndarray:
    """Items each request may be served, ``(B, P)``: its candidates or the whole catalog.

    For the whole catalog the array is a broadcast view (no copy).
    """
    if batch.candidates is not None:
        return batch.candidates
    return np.broadcast_to(batch.available, (len(batch), len(batch.available)))


def dense_flops(module) -> float:
    """FLOPs of one input row through the ``Linear`` layers of a torch module (2 per MAC).

    >>> import torch
    >>> dense_flops(torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU()))
    24.0
    """
    import torch

    return float(
        sum(
            2 * m.in_features * m.out_features
            for m in module.modules()
            if isinstance(m, torch.nn.Linear)
        )
    )


def scores_top_k(pool: np.ndarray, scores: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` highest-scoring items of each row, best first.

    Args:
        pool: Item ids ``(B, P)``.
        scores: Scores ``(B, P)``; ``-inf`` excludes an item (it is used only if fewer than
            ``k`` items remain).
        k: Slate size.

    Returns:
        Item ids ``(B, k)``.

    >>> scores_top_k(np.array([[10, 11, 12]]), np.array([[0.1, 0.9, 0.5]]), 2).tolist()
    [[11, 12]]
    """
    scores = np.asarray(scores, dtype=np.float32)
    P = scores.shape[1]
    part = np.argpartition(scores, P - k, axis=1)[:, P - k :]
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(pool, np.take_along_axis(part, order, axis=1), axis=1)


def sample_distinct(rng: np.random.Generator, pool: np.ndarray, k: int) -> np.ndarray:
    """``k`` distinct items per row drawn uniformly from ``pool (B, P)``."""
    B, P = pool.shape
    idx = distinct_integers(lambda _r, w: rng.random((B, w)), P, k)
    return np.take_along_axis(pool, idx, axis=1)
