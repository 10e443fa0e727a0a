r"""Fatigue: per-genre weariness that builds with exposure and decays over time.

Each impression of genre *g* adds :math:`\phi_e` to :math:`F_{jg}`, each click on *g* adds
:math:`\phi_c`; between requests :math:`F \leftarrow F e^{-\Delta t/\tau_f}`. Fatigue lowers the
utility of the genre (see :mod:`simrec.dynamics.choice`) and raises session exit.
"""

from __future__ import annotations

import numpy as np

__all__ = ["accumulate", "decay"]


def decay(fatigue: np.ndarray, dt_days: np.ndarray, tau_days: float) -> np.ndarray:
    """Decay fatigue rows ``(B, G)`` over ``dt_days`` ``(B,)``."""
    return (fatigue * np.exp(-np.maximum(dt_days, 0.0) / tau_days)[:, None]).astype(np.float32)


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
    rows = np.repeat(np.arange(B), genres.shape[1])
    flat = rows * G + genres.ravel().astype(np.int64)
    add = per_exposure + per_click * clicked.ravel()
    inc = np.bincount(flat, weights=add, minlength=B * G).reshape(B, G)
    return (fatigue + inc).astype(np.float32)
