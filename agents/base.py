"""Pieces shared by agents: the item pool of a request, top-K, random slates, caches."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from simrec.rng import distinct_integers
from simrec.types import RequestBatch

if TYPE_CHECKING:
    import torch

__all__ = ["CatalogCache", "dense_flops", "item_pool", "sample_distinct", "scores_top_k"]


def item_pool(batch: RequestBatch) -> np.ndarray:
    """Items each request may be served, ``(B, P)``: its candidates or the whole catalog.

    For the whole catalog the array is a broadcast view (no copy).
    """
    if batch.candidates is not None:
        return batch.candidates
    return np.broadcast_to(batch.available, (len(batch), len(batch.available)))


def dense_flops(module: torch.nn.Module) -> float:
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
    given = scores
    scores = np.asarray(scores, dtype=np.float32)
    B, P = scores.shape
    if k >= P or k > 16 or B == 0:
        return _top_k_partition(pool, scores, k)
    # Fast path: the k + 1 best by repeated argmax. Where they are finite and strictly
    # decreasing, the top k and their order are unique, so the result is the partition's
    # exactly; rows with ties or non-finite values there take the partition path. (A float32
    # copy made above is the work array; the fallback converts the rows it needs again.)
    work = scores.copy() if scores is given or scores.base is not None else scores
    rows = np.arange(B)
    idx = np.empty((B, k + 1), dtype=np.int64)
    val = np.empty((B, k + 1), dtype=np.float32)
    for c in range(k + 1):
        idx[:, c] = j = work.argmax(axis=1)
        val[:, c] = work[rows, j]
        work[rows, j] = -np.inf
    unique = np.isfinite(val).all(axis=1) & (val[:, :-1] > val[:, 1:]).all(axis=1)
    out = np.take_along_axis(pool, idx[:, :k], axis=1) if pool.strides[0] else pool[0][idx[:, :k]]
    if not unique.all():
        tied = ~unique
        out[tied] = _top_k_partition(pool[tied], np.asarray(given, dtype=np.float32)[tied], k)
    return out


def _top_k_partition(pool: np.ndarray, scores: np.ndarray, k: int) -> np.ndarray:
    """:func:`scores_top_k` by ``argpartition`` and a stable sort (any ``k``, ties)."""
    P = scores.shape[1]
    part = np.argpartition(scores, P - k, axis=1)[:, P - k :]
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(pool, np.take_along_axis(part, order, axis=1), axis=1)


def sample_distinct(rng: np.random.Generator, pool: np.ndarray, k: int) -> np.ndarray:
    """``k`` distinct items per row drawn uniformly from ``pool (B, P)``."""
    B, P = pool.shape
    idx = distinct_integers(lambda _r, w: rng.random((B, w)), P, k)
    return np.take_along_axis(pool, idx, axis=1)


class CatalogCache:
    """A per-item quantity (e.g. adapted item vectors) kept until its key changes.

    Scoring reads it on every request; it is recomputed only when the key (e.g. the number
    of fits and the item-vector version) changes. ``passes`` and ``requests`` (counted by the
    scoring agent) give the amortised cost per request for FLOP estimates.
    """

    def __init__(self) -> None:
        self.key: object = None
        self.value: Any = None
        self.passes = 0
        self.requests = 0

    def get(self, key: object, compute: Callable[[], Any]) -> Any:
        """The cached value for ``key`` (computed on a new key)."""
        if self.value is None or key != self.key:
            self.key, self.value = key, compute()
            self.passes += 1
        return self.value

    def passes_per_request(self) -> float:
        """Recomputations per request served so far."""
        return self.passes / max(self.requests, 1)
