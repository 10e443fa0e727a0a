r"""The observation of the lifetime envs, built in one place.

Both the gymnasium envs (:class:`simrec.envs.core.LifetimeCore`) and the RL agents serving a
population (``simrec_agents.rl.obs.PopulationObservation``, which rebuilds what the env would
show from the agent's own log) build their observations with :class:`ObservationBuilder`,
so a policy trained on the env sees the same features when it serves.

Features (all ``float32``):

- ``profile`` ``(1 + G,)``: the user's observable profile (age scaled by
  :func:`simrec.worlds.base.scale_age`, one-hot stated genre);
- ``history`` ``(L, G + 2 + E)``: the last L consumed items, newest first: genre one-hot, log
  price, item vector (if any), validity flag; empty slots are all zero;
- ``context`` ``(4,)``: ``log1p`` of the day of the user's life, of the days since the
  previous request, of the request index in the session and of the visits so far;
- ``candidates`` ``(C, G + 3 + E)``: genre one-hot, log price, ``log1p`` of the age in units
  of 30 days (clipped to :data:`MAX_AGE` before the log), popularity (the item's CTR smoothed
  by :func:`smoothed_ctr`, divided by the prior CTR :data:`PRIOR_CTR`: 1 is an average item),
  item vector.

Every feature is of order one (the context and the age on a log scale, the popularity
relative to the prior), so a policy network needs no observation normalisation
(:func:`scale_context`).
"""

from __future__ import annotations

import numpy as np

from simrec.worlds.base import ItemFeatures

__all__ = [
    "LOG_PRICE_BOUND",
    "MAX_AGE",
    "PRIOR_CLICKS",
    "PRIOR_CTR",
    "PRIOR_N",
    "ObservationBuilder",
    "item_static",
    "newest_first",
    "scale_context",
    "smoothed_ctr",
]

#: Bounds of observation features (the values are clipped to them).
LOG_PRICE_BOUND = 20.0
MAX_AGE = 100.0  # item age in units of 30 days
#: Beta smoothing of a CTR toward 2%: (clicks + 1) / (impressions + 50).
PRIOR_CLICKS, PRIOR_N = 1.0, 50.0
PRIOR_CTR = PRIOR_CLICKS / PRIOR_N


def scale_context(raw: np.ndarray) -> np.ndarray:
    """The observed context: ``log1p`` of the raw counts and days (all non-negative).

    >>> scale_context(np.array([[0.0, np.e - 1.0, 0.0, 0.0]])).round(3).tolist()
    [[0.0, 1.0, 0.0, 0.0]]
    """
    return np.log1p(np.maximum(raw, 0.0)).astype(np.float32)


def smoothed_ctr(clicks: np.ndarray, shown: np.ndarray) -> np.ndarray:
    """``(clicks + PRIOR_CLICKS) / (shown + PRIOR_N)``, float32.

    >>> smoothed_ctr(np.array([0.0, 9.0]), np.array([0.0, 50.0])).tolist()
    [0.019999999552965164, 0.10000000149011612]
    """
    return ((clicks + PRIOR_CLICKS) / (shown + PRIOR_N)).astype(np.float32)


def item_static(items: ItemFeatures, n_genres: int) -> np.ndarray:
    """The static item features ``(M, G + 1)``: genre one-hot and the clipped log price."""
    log_price = np.clip(np.log(items.price), -LOG_PRICE_BOUND, LOG_PRICE_BOUND)
    return np.concatenate(
        [np.eye(n_genres, dtype=np.float32)[items.genre], log_price[:, None]], axis=1
    ).astype(np.float32)


def newest_first(ring: np.ndarray, count: np.ndarray, L: int) -> tuple[np.ndarray, np.ndarray]:
    """The last ``L`` entries of per-row ring buffers, newest first, and their validity.

    Args:
        ring: Ring buffers ``(B, R)`` (-1: empty).
        count: Entries ever written per row ``(B,)`` (the next slot is ``count % R``).
        L: How many to return.

    >>> newest_first(np.array([[7, 8, -1]]), np.array([2]), 3)
    (array([[8, 7, 0]]), array([[ True,  True, False]]))
    """
    idx = (count[:, None] - 1 - np.arange(L)[None, :]) % ring.shape[1]
    items = np.take_along_axis(ring, idx, axis=1)
    valid = (items >= 0) & (np.arange(L)[None, :] < count[:, None])
    return np.where(valid, items, 0), valid


class ObservationBuilder:
    """Builds the observation arrays of a batch (see the module docstring).

    Args:
        items: The observable item table (release days).
        n_genres: G.
        history_length: L.
        item_vectors: Optional agent-supplied item vectors ``(M, E)``.
    """

    def __init__(
        self,
        items: ItemFeatures,
        n_genres: int,
        history_length: int,
        item_vectors: np.ndarray | None = None,
    ) -> None:
        """Precompute the static item features."""
        self.static = item_static(items, n_genres)
        self.release_day = items.release_day
        self.L = history_length
        self.item_vectors = item_vectors

    def _item_block(self, ids: np.ndarray) -> list[np.ndarray]:
        parts = [self.static[ids]]
        if self.item_vectors is not None:
            parts.append(self.item_vectors[ids])
        return parts

    def __call__(
        self,
        profile: np.ndarray,
        history: tuple[np.ndarray, np.ndarray],
        context: np.ndarray,
        candidates: np.ndarray,
        now: np.ndarray,
        popularity: np.ndarray,
    ) -> dict[str, np.ndarray]:
        """The observation of a batch.

        Args:
            profile: Observable profiles ``(B, 1 + G)``.
            history: ``(items, valid)`` of :func:`newest_first`, ``(B, L)`` each.
            context: ``(B, 4)``, raw: day of life, days since the previous request, request
                index in the session, visits (scaled here by :func:`scale_context`).
            candidates: Candidate item ids ``(B, C)``.
            now: Each request's time ``(B,)`` (days, for the items' age).
            popularity: Smoothed CTR of each candidate ``(B, C)``.
        """
        hist, valid = history
        h = np.concatenate([*self._item_block(hist), valid[:, :, None].astype(np.float32)], axis=2)
        h = np.where(valid[:, :, None], h, 0.0)
        age = np.log1p(np.clip((now[:, None] - self.release_day[candidates]) / 30.0, 0.0, MAX_AGE))
        pop = popularity / PRIOR_CTR
        static, *vectors = self._item_block(candidates)
        c = np.concatenate([static, age[:, :, None], pop[:, :, None], *vectors], axis=2)
        return {
            "profile": profile.astype(np.float32),
            "history": h.astype(np.float32),
            "context": scale_context(context),
            "candidates": c.astype(np.float32),
        }
