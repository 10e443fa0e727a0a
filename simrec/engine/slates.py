"""Checking the slates an agent returns (and the actions of the envs).

:func:`validate_slates` refuses a slate of the wrong type or shape, with an id out of range,
not in the catalog, not among the request's candidates, or repeated within the slate; the
error names the first failed check over the batch, the row, the user and the item.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from simrec.errors import InvalidActionError
from simrec.rng import has_duplicates

__all__ = ["LOG_BLOCK", "as_array", "check_propensities", "validate_slates"]

#: Requests per block of the slate checks and of the log append (whole-batch temporaries of
#: a million users would be fresh, page-faulted memory on every tick).
LOG_BLOCK = 65_536


def as_array(x: object, what: str) -> np.ndarray:
    """``np.asarray(x)``, or an :class:`InvalidActionError` naming ``what`` if it is ragged.

    >>> as_array([[1], [2, 3]], "slates")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    simrec.errors.InvalidActionError: slates: expected a rectangular array ... ([[1], [2, 3]])
    """
    try:
        return np.asarray(x)
    except (ValueError, TypeError, OverflowError):
        shown = repr(x)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        raise InvalidActionError(
            f"{what}: expected a rectangular array of integers, got a ragged sequence ({shown})"
        ) from None


def validate_slates(
    slates: object,
    users: np.ndarray,
    slate_size: int,
    n_items: int,
    available: np.ndarray | Callable[[np.ndarray], np.ndarray],
    candidates: np.ndarray | None,
) -> np.ndarray:
    """Check an agent's slates and return them as ``(B, K)`` int64.

    Args:
        slates: The agent's output.
        users: Requesting users ``(B,)`` (named in errors).
        slate_size: K.
        n_items: M; ids must lie in ``[0, M)``.
        available: ``(M,)`` bool, items in the catalog now; or a function mapping the
            ``(B, K)`` ids to a ``(B, K)`` availability mask (per-row times).
        candidates: ``(B, C)`` candidate ids, or ``None``.

    Raises:
        InvalidActionError: Wrong type or shape, an id out of range, not available, not
            among the request's candidates, or repeated within a slate.
    """
    a = as_array(slates, "slates")
    B = len(users)
    if a.dtype.kind not in "iu":
        raise InvalidActionError(
            f"slates: expected integer item ids, got dtype {a.dtype} (shape {a.shape})"
        )
    if a.shape != (B, slate_size):
        raise InvalidActionError(
            f"slates: expected shape (B, K) = ({B}, {slate_size}), got {a.shape}"
        )
    a = a.astype(np.int64)  # the engine's own copy: the agent may reuse its buffer
    if callable(available):  # per-row times: ask about the whole batch at once
        in_range = ((a >= 0) & (a < n_items)).all()
        available = available(a) if in_range else np.zeros(a.shape, dtype=bool)
    for lo in range(0, B, LOG_BLOCK):  # blocks keep the temporaries small
        r = slice(lo, lo + LOG_BLOCK)
        ab = a[r]
        ok = (ab >= 0) & (ab < n_items)
        if ok.all():
            ok = available[r] if available.ndim == 2 else available[ab]
            if candidates is not None:
                ok &= (ab[:, :, None] == candidates[r][:, None, :]).any(axis=2)
        if not ok.all() or has_duplicates(ab).any():
            _raise_slate_error(a, users, n_items, available, candidates)
    return a


def check_propensities(p: Any, shape: tuple[int, int]) -> None:
    """Refuse propensities of the wrong shape or outside ``(0, 1]`` (NaN: unknown, allowed).

    Raises:
        InvalidActionError: Naming the field, the row and the value.
    """
    B, K = shape
    for name, want in (("slate", (B,)), ("item", (B, K)), ("cascade", (B, K))):
        a = np.asarray(getattr(p, name), dtype=np.float64)
        if a.shape != want:
            raise InvalidActionError(f"propensities.{name}: expected shape {want}, got {a.shape}")
        bad = ~np.isnan(a) & ~((a > 0.0) & (a <= 1.0 + 1e-9))
        if bad.any():
            r = int(np.flatnonzero(bad.reshape(B, -1).any(axis=1))[0])
            raise InvalidActionError(
                f"propensities.{name}[{r}]: expected probabilities in (0, 1] of the served "
                f"slate, got {a.reshape(B, -1)[r].tolist()}"
            )


def _raise_slate_error(
    a: np.ndarray,
    users: np.ndarray,
    n_items: int,
    available: np.ndarray,
    candidates: np.ndarray | None,
) -> None:
    """Raise the :class:`InvalidActionError` for the first failed check over the batch.

    ``available`` is ``(M,)`` per item or, for per-row times, ``(B, K)`` per slate entry.
    """

    def fail(mask: np.ndarray, what: str) -> None:
        r, c = (int(x[0]) for x in np.nonzero(mask))
        raise InvalidActionError(
            f"slates[{r}, {c}] (user {int(users[r])}): item {int(a[r, c])} {what}"
            f" ({int(mask.sum())} bad entries in total)"
        )

    bad = (a < 0) | (a >= n_items)
    if bad.any():
        fail(bad, f"is out of range [0, {n_items})")
    bad = ~(available if available.ndim == 2 else available[a])  # (B, K): the rows' own
    if bad.any():
        fail(bad, "is not in the catalog now (not yet released or expired)")
    if candidates is not None:
        bad = ~(a[:, :, None] == candidates[:, None, :]).any(axis=2)
        if bad.any():
            fail(bad, "is not among the request's candidates")
    dup = has_duplicates(a)
    r = int(np.flatnonzero(dup)[0])
    raise InvalidActionError(
        f"slates[{r}] (user {int(users[r])}): duplicate items in {a[r].tolist()}"
    )
