r"""Fatigue: per-genre weariness that builds with exposure and decays over time.

Each impression of genre *g* adds :math:`\phi_e` to :math:`F_{jg}`, each click on *g* adds
:math:`\phi_c`; between requests :math:`F \leftarrow F e^{-\Delta t/\tau_f}`. Fatigue lowers the
utility of the genre (see :mod:`simrec.dynamics.choice`) and raises session exit.
"""

from __future__ import annotations

import functools

import numpy as np

__all__ = ["accumulate", "decay"]


def decay(fatigue: np.ndarray, dt_days: np.ndarray, tau_days: float) -> np.ndarray:
    """Decay fatigue rows ``(B, G)`` over ``dt_days`` ``(B,)``."""
    return (fatigue * np.exp(-np.maximum(dt_days, 0.0) / tau_days)[:, None]).astype(np.float32)


def _row_offsets(B: int, K: int, G: int) -> np.ndarray:
    """``row * G`` for each of the ``B * K`` impressions, row-major (cached when small)."""
    if B * K > 65_536:
        return np.repeat(np.arange(B, dtype=np.int64), K) * G
    return _small_row_offsets(B, K, G)


@functools.lru_cache(maxsize=256)
def _small_row_offsets(B: int, K: int, G: int) -> np.ndarray:
    offsets = np.repeat(np.arange(B, dtype=np.int64), K) * G
    offsets.flags.writeable = False
    return offsets


def accumulate(
    fatigue: np.ndarray,
    genres: np.ndarray,
    clicked: np.ndarray,
    *,
    per_exposure: float,
    per_click: float,
) -> np.ndarray:
    r"""Add exposure and click fatigue.

    Args:
        fatigue: Current fatigue ``(B, G)``.
        genres: Genres of the shown items ``(B, K)``.
        clicked: Clicked mask ``(B, K)``.
        per_exposure: :math:`\phi_e`.
        per_click: :math:`\phi_c`.

    Returns:
        New fatigue ``(B, G)``.

    >>> f = accumulate(np.zeros((1, 2)), np.array([[1, 1]]), np.array([[True, False]]),
    ...                per_exposure=0.1, per_click=1.0)
    >>> f.astype(float).round(2).tolist()
    [[0.0, 1.2]]
    """
    B, G = fatigue.shape
    flat = _row_offsets(B, genres.shape[1], G) + genres.ravel()  # int64: row * G + genre
    add = per_exposure + per_click * clicked.ravel()
    inc = np.bincount(flat, weights=add, minlength=B * G).reshape(B, G)
    return (fatigue + inc).astype(np.float32)
