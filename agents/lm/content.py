r"""``lm-content``: the language model as the representation learner of users and items.

Items are the encoder's vectors :math:`e_i` of their observable text (title, description,
genre), computed for the initial catalog at setup and for each new item when it is released
(so a brand-new item is recommendable at once: no interaction needed). A user's profile is
the recency-weighted sum of the vectors of the items they clicked,

.. math:: c_u(t) = \sum_{k} e^{-(t - t_k)/\tau}\, e_{i_k},

normalised, plus ``profile_weight`` times the encoded text of the user's observable profile
("a 34-year-old who likes science"), which is all there is for a user with no click yet.
The score is :math:`\langle \hat c_u + w\,p_u, e_i \rangle` (cosine to unit item vectors). No
parameter is trained; the cost is the encoder's.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from simrec_agents.cf.base import CFAgent, check_params, rank_within
from simrec_agents.lm.encoder import Encoder, agent_encoder, place_cache

from simrec.types import Cost, Feedback
from simrec.worlds.base import ObservableWorld

__all__ = ["LMContentAgent", "LMEncodedItems", "item_text", "pool_items", "profile_text"]


def item_text(world: ObservableWorld, i: int) -> str:
    """The observable text of item ``i`` the encoders see."""
    genre = world.genre_names[int(world.items.genre[i])]
    return f"{world.items.title[i]}. {world.items.description[i]} Genre: {genre}."


def profile_text(world: ObservableWorld, u: int) -> str:
    """The observable profile of user ``u`` as text.

    The world's own profile text (e.g. real demographics) when it has one, else age and
    stated favourite genre.
    """
    if world.users.description:
        return world.users.description[u]
    genre = world.genre_names[int(world.users.stated_genre[u])]
    return f"A {int(world.users.age[u])}-year-old who likes {genre}."


def pool_items(pool: np.ndarray) -> np.ndarray:
    """The item ids of a request's pool, flat (one row when the pool is shared)."""
    if pool.ndim == 2 and pool.strides[0] == 0:
        return pool[0]
    return pool.ravel()


class LMEncodedItems:
    """Item vectors of the released items, encoded as items are released."""

    def __init__(self, world: ObservableWorld, encoder: Encoder) -> None:
        self.world, self.encoder = world, encoder
        self.vectors = np.zeros((world.n_items, encoder.dim), dtype=np.float32)
        self.known = np.zeros(world.n_items, dtype=bool)
        #: Bumped whenever vectors change (for caches of quantities derived from them).
        self.version = 0

    def add(self, items: np.ndarray) -> None:
        """Encode ``items`` (any shape; a request's pool) not encoded yet."""
        items = pool_items(np.asarray(items))
        new = np.unique(items[~self.known[items]])
        if new.size:
            self.encode_new(new)
            self.known[new] = True
            self.version += 1

    def encode_new(self, items: np.ndarray) -> None:
        """Set the vectors of ``items`` (sorted, not encoded yet)."""
        self.vectors[items] = self.encoder.encode([item_text(self.world, int(i)) for i in items])


class LMContentAgent(CFAgent):
    """Content-based recommender on language-model vectors of item and profile text.

    Args:
        encoder: Encoder backend (``minilm`` or ``tfidf``).
        recency_days: tau, the time constant of the recency weights (days).
        profile_weight: Weight of the encoded profile text in the user vector.
        cache_dir: Embedding cache folder, a relative path inside the run's output folder
            (default: the shared ``$SIMREC_CACHE`` or ``~/.cache``; see ``agent_encoder``).
        **shared: :class:`~simrec_agents.cf.base.CFAgent` options (exclusion, exploration).
    """

    name = "lm-content"
    popularity_for_cold_users = False
    neutral_cold_items = False

    def __init__(
        self,
        encoder: str = "minilm",
        recency_days: float = 7.0,
        profile_weight: float = 0.3,
        cache_dir: str | None = None,
        **shared: Any,
    ) -> None:
        super().__init__(**shared)
        check_params(recency_days=(recency_days, "pos"), profile_weight=(profile_weight, "nonneg"))
        self.encoder_name, self.recency_days = encoder, recency_days
        self.profile_weight, self.cache_dir = profile_weight, cache_dir
        self.encoder = agent_encoder(encoder, cache_dir)

    def build(self, n_users: int, n_items: int) -> None:
        w = self.context.world
        place_cache(self.encoder, self.context)
        self.items = LMEncodedItems(w, self.encoder)
        self.items.add(np.flatnonzero(w.items.release_day <= 0))
        self.profile = self.encoder.encode([profile_text(w, u) for u in range(n_users)])
        self.clicks = np.zeros((n_users, self.encoder.dim), dtype=np.float32)
        self.clicked_at = np.zeros(n_users)
        self.fitted = True  # nothing to train: scores are defined from the start

    def on_items_released(self, items: np.ndarray, now: float) -> None:
        self.items.add(items)

    def observe(self, feedback: Feedback) -> None:
        """Log the impressions and add every clicked item's vector to its user's profile.

        A user's clicks of one batch count in order (the batch's requests in order, a
        request's clicks in slate order): the first decays the profile since the user's
        previous click, the next ones (at the same time) add to it.
        """
        super().observe(feedback)
        rows, cols = np.nonzero(feedback.clicked)  # row by row: request, then slate position
        if not rows.size:
            return
        users = feedback.users[rows]
        rank, _ = rank_within(users)
        for k in range(int(rank.max()) + 1):  # each user at most once per pass
            sel = rank == k
            r, u = rows[sel], users[sel]
            decay = np.exp(-(feedback.time - self.clicked_at[u]) / self.recency_days)
            self.clicks[u] = (
                self.clicks[u] * decay[:, None] + self.items.vectors[feedback.slates[r, cols[sel]]]
            )
            self.clicked_at[u] = feedback.time

    def retrain(self, now: float) -> None:
        """Nothing to fit (the encoder is frozen)."""

    def user_vectors(self, users: np.ndarray) -> np.ndarray:
        """Normalised recency-weighted click vector plus the weighted profile-text vector."""
        c = self.clicks[users]
        c = c / np.maximum(np.linalg.norm(c, axis=1, keepdims=True), 1e-12)
        return c + self.profile_weight * self.profile[users]

    def score(self, users: np.ndarray, pool: np.ndarray) -> np.ndarray:
        self.items.add(pool)  # items visible in a request are encoded now
        q = self.user_vectors(users)
        E = self.items.vectors
        if pool.strides[0] == 0:
            return (q @ E.T)[:, pool[0]]  # the catalog at once: cheaper than gathering it
        return np.einsum("bd,bpd->bp", q, E[pool])

    def cost(self) -> Cost:
        """Frozen encoder parameters and the encoder ledger."""
        enc = self.encoder
        return Cost(params=enc.params, trainable_params=0, extra=enc.ledger())

    def score_flops(self, pool: float, batch: float) -> float:
        """The user vector (normalise, add the profile) and a cosine per pool item.

        Encoding new items is timed in the encoder ledger, not counted here.
        """
        return 5 * self.encoder.dim + 2 * self.encoder.dim * pool
