"""Array helpers of the user model: membership of ids in per-row sets, row-wise scores."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["equal_to_any", "row_membership", "row_scores"]


def equal_to_any(rows: np.ndarray, sets: np.ndarray, masked: bool = False) -> np.ndarray:
    """``(X, B)`` bool: whether ``rows[x, b]`` equals some ``sets[l, b]`` (``sets (L, B)``).

    One comparison of whole contiguous rows per set row; ``masked`` ignores negative (empty)
    set entries.
    """
    out = np.zeros(rows.shape, dtype=bool)
    hit = np.empty(rows.shape, dtype=bool)
    for row in sets:
        np.equal(rows, row, out=hit)
        if masked:
            hit &= row >= 0
        out |= hit
    return out


def row_membership(items: np.ndarray, sets: np.ndarray, n_items: int) -> np.ndarray:
    """Whether ``items[b, x]`` is in row ``b`` of ``sets``.

    Args:
        items: Item ids ``(B, X)``.
        sets: Item ids ``(B, L)``; negative entries are ignored (empty slots).
        n_items: Upper bound of the ids.

    Returns:
        ``(B, X)`` bool.

    >>> row_membership(np.array([[1, 2], [1, 2]]), np.array([[2, -1], [-1, -1]]), 3).tolist()
    [[False, True], [False, False]]
    """
    B, X = items.shape
    L = sets.shape[1]
    if X * L <= 4 * n_items:
        # One pass per set column over the transposed items (X, B): long contiguous rows
        # and no (B, X, L) temporary. A negative (empty) set entry can only equal a negative
        # item id, which the masked variant excludes.
        if not B or not L:
            return np.zeros((B, X), dtype=bool)
        masked = bool(items.size) and int(items.min()) < 0
        hi = int(max(items.max(initial=0), sets.max()))
        lo = int(min(items.min(initial=0), sets.min()))
        dtype: Any = np.result_type(items.dtype, sets.dtype)
        for narrow in (np.int16, np.int32):  # compare in the narrowest type that holds the ids
            if (
                np.can_cast(narrow, dtype)
                and np.iinfo(narrow).min <= lo <= hi < np.iinfo(narrow).max
            ):
                dtype = narrow
                break
        rows = np.ascontiguousarray(items.T, dtype=dtype)  # (X, B)
        columns = np.ascontiguousarray(sets.T, dtype=dtype)  # (L, B)
        return np.ascontiguousarray(equal_to_any(rows, columns, masked).T)
    if B and X and items.strides[0] == 0:  # one row for all (a broadcast view)
        row = items[0]
        if (row[1:] > row[:-1]).all():  # sorted and distinct (the catalog): binary search
            pos = np.minimum(np.searchsorted(row, sets), X - 1)
            hit = (row[pos] == sets) & (sets >= 0)
            out = np.zeros((B, X), dtype=bool)
            out[np.nonzero(hit)[0], pos[hit]] = True
            return out
    mark = np.zeros((B, n_items + 1), dtype=bool)
    rows = np.repeat(np.arange(B), sets.shape[1])
    mark[rows, np.where(sets >= 0, sets, n_items).ravel()] = True
    return np.take_along_axis(mark, items, axis=1)


def row_scores(vectors: np.ndarray, item_vectors: np.ndarray, items: np.ndarray) -> np.ndarray:
    """Dot products of row vectors ``(B, d)`` with the vectors of ``items (B, X)``.

    A pool that is the same for every row (a broadcast view, as for the whole catalog) is
    scored with one matrix product instead of a ``(B, X, d)`` gather.
    """
    if items.ndim == 2 and items.strides[0] == 0:
        return vectors @ item_vectors[items[0]].T
    return np.einsum("bd,bxd->bx", vectors, item_vectors[items])
