r"""Re-rankers over any base agent: provider-exposure fairness and calibration.

Both wrap a registered agent (``base``, with ``base_params``): the base ranks the ``depth``
best items of each request (its own ``recommend`` with a longer slate), and the wrapper
picks the K shown from them greedily, trading the base's ranking against its own goal with
a ``weight`` :math:`\lambda \in [0, 1]`. The base's relevance of the item at rank *r* is the
DCG gain :math:`g_r = 1/\log_2(r + 2)` (1 at the top), so any agent can be wrapped, whether
or not it exposes scores. The base learns from what was actually shown (its ``observe``
gets the served slates). At :math:`\lambda = 0` the wrapper is its base: it passes the
base's own K-item slates through unchanged.

``fair-exposure`` -- amortised fairness of exposure (Singh & Joachims, KDD 2018; Biega et
al., SIGIR 2018). Each creator *c* accumulates the exposure of their items over the run,
:math:`E_c = \sum w_p` over every impression at position *p*, with the position weights
:math:`w_p = 1/\log_2(p + 2)` of the same models. At each slate position the wrapper picks
the candidate maximising

.. math:: (1 - \lambda)\, g_{r(i)} + \lambda\, \frac{E_{\max} - E_{c(i)}}{E_{\max} - E_{\min}}

over the row's remaining candidates (:math:`E_{\max}`, :math:`E_{\min}` over them; 0 when
they are equal), adding :math:`w_p` to the chosen creator's exposure inside the slate:
the least-exposed creators move up, towards equal amortised exposure (the
equal-attention target of Biega et al.; the exposure Gini over creators is what it lowers).

``calibrated`` -- Steck's calibrated recommendations (RecSys 2018). With :math:`p(g \mid u)`
the genre distribution of the user's clicked items and :math:`q(g \mid u)` that of the
slate, the greedy step adds the candidate maximising

.. math:: (1 - \lambda) \sum_{i \in S} g_{r(i)} - \lambda\, C_{KL}(p, \tilde q), \quad
          \tilde q = (1 - \alpha) q + \alpha p,\ \alpha = 0.01

(Steck's objective and smoothing); users without a click get the base's slate.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from simrec_agents.cf.base import check_params

from simrec.agent import Agent, AgentContext, make_agent
from simrec.errors import ConfigError, SimrecError
from simrec.types import Cost, Feedback, RequestBatch, StochasticSlates

__all__ = [
    "CalibratedAgent",
    "FairExposureAgent",
    "ReRanker",
    "calibrated_rerank",
    "exposure_rerank",
    "position_weights",
]

#: Steck's smoothing of the slate's genre distribution towards the user's.
ALPHA = 0.01


def position_weights(n: int) -> np.ndarray:
    r"""DCG position weights :math:`1/\log_2(p + 2)`, ``(n,)``.

    >>> position_weights(3).round(3).tolist()
    [1.0, 0.631, 0.5]
    """
    return 1.0 / np.log2(np.arange(n) + 2.0)


def exposure_rerank(
    ranked: np.ndarray, creator: np.ndarray, exposure: np.ndarray, weight: float, k: int
) -> np.ndarray:
    r"""Pick ``k`` of each row's ranked items, trading rank for the least-exposed creators.

    Args:
        ranked: The base's ranking ``(B, D)`` (best first).
        creator: Creator of every item, ``(M,)``.
        exposure: Each creator's amortised exposure so far, ``(C,)`` (not modified).
        weight: :math:`\lambda` in [0, 1].
        k: Slate size.

    Returns:
        ``(B, k)`` item ids; at weight 0 the first ``k`` of each ranking.
    """
    B, D = ranked.shape
    gain = position_weights(D)[None, :]
    w = position_weights(k)
    c = creator[ranked]
    e = exposure[c].astype(np.float64)  # (B, D): grows as the slate takes a creator's items
    free = np.ones((B, D), dtype=bool)
    rows = np.arange(B)
    out = np.empty((B, k), dtype=ranked.dtype)
    for p in range(k):
        lo = np.where(free, e, np.inf).min(axis=1, keepdims=True)
        hi = np.where(free, e, -np.inf).max(axis=1, keepdims=True)
        span = hi - lo
        z = np.divide(hi - e, span, out=np.zeros_like(e), where=span > 0)
        value = np.where(free, (1.0 - weight) * gain + weight * z, -np.inf)
        pick = value.argmax(axis=1)  # ties: the better base rank
        out[:, p] = ranked[rows, pick]
        free[rows, pick] = False
        e += w[p] * (c == c[rows, pick][:, None])
    return out


def calibrated_rerank(
    ranked: np.ndarray, genre: np.ndarray, target: np.ndarray, weight: float, k: int
) -> np.ndarray:
    r"""Steck's greedy calibrated re-ranking of each row's ranked items.

    Args:
        ranked: The base's ranking ``(B, D)`` (best first).
        genre: Genre of every item, ``(M,)`` int.
        target: Each request's user's genre distribution :math:`p(g \mid u)`, ``(B, G)``;
            a row of zeros (no history) keeps the base's first ``k``.
        weight: :math:`\lambda` in [0, 1].
        k: Slate size.

    Returns:
        ``(B, k)`` item ids.
    """
    B, D = ranked.shape
    G = target.shape[1]
    gain = position_weights(D)[None, :]
    onehot = np.eye(G)[genre[ranked]]  # (B, D, G)
    has = target.sum(axis=1) > 0
    lam = np.where(has, weight, 0.0)[:, None]
    p = target[:, None, :]  # (B, 1, G)
    counts = np.zeros((B, 1, G))
    relevance = np.zeros((B, 1))
    free = np.ones((B, D), dtype=bool)
    rows = np.arange(B)
    out = np.empty((B, k), dtype=ranked.dtype)
    for step in range(k):
        q = (counts + onehot) / (step + 1)  # the slate's genres with each candidate added
        qt = (1.0 - ALPHA) * q + ALPHA * p
        with np.errstate(divide="ignore", invalid="ignore"):
            kl = np.where(p > 0, p * np.log(p / qt), 0.0).sum(axis=2)  # (B, D)
        value = (1.0 - lam) * (relevance + gain) - lam * kl
        value = np.where(free, value, -np.inf)
        pick = value.argmax(axis=1)
        out[:, step] = ranked[rows, pick]
        free[rows, pick] = False
        counts = counts + onehot[rows, pick][:, None, :]
        relevance = relevance + gain[0, pick][:, None]
    return out


class ReRanker(Agent):
    r"""A base agent's ranking, re-ranked for a goal of the wrapper's (see the module).

    Args:
        base: Registered name of the wrapped agent.
        base_params: Its parameters.
        weight: Weight :math:`\lambda` of the wrapper's goal, in [0, 1] (0: the base).
        depth: How many of the base's best items per request are re-ranked.
    """

    def __init__(
        self,
        base: str = "mf",
        base_params: dict[str, Any] | None = None,
        weight: float = 0.5,
        depth: int = 50,
    ) -> None:
        check_params(weight=(weight, "prob"), depth=(depth, "pos_int"))
        if not isinstance(base, str):
            raise ValueError(f"base: expected a registered agent name, got {base!r}")
        try:
            self.base = make_agent(base, **(base_params or {}))
        except SimrecError as err:
            raise ConfigError(f"base: {err}") from err
        if self.base.reads_hidden_state:
            raise ConfigError(
                f"base: expected an agent that sees only observable data, got {base!r} (it "
                f"reads the hidden state; compare against it as an agent of its own instead)"
            )
        self.base_name, self.weight, self.depth = base, float(weight), depth

    def check(self, context: AgentContext) -> None:
        """The base's checks."""
        self.base.check(context)

    def setup(self, context: AgentContext) -> None:
        """Set up the base with the same context (its stream: the run's agent stream)."""
        super().setup(context)
        self.base.setup(context)
        self.creator = np.asarray(context.world.items.creator, dtype=np.int64)
        self.genre = np.asarray(context.world.items.genre, dtype=np.int64)

    # simrec.agent.Agent.recommend is annotated ``np.ndarray`` although the engine takes
    # StochasticSlates too (simrec.types); unused once simrec widens it.
    def recommend(self, batch: RequestBatch) -> np.ndarray | StochasticSlates:
        """The base's ``depth`` best, re-ranked down to the slate (the base's slate at 0)."""
        width = batch.candidates.shape[1] if batch.candidates is not None else batch.available.size
        depth = min(self.depth, width)
        if self.weight == 0.0 or depth <= batch.slate_size:
            return self.base.recommend(batch)
        long = RequestBatch(
            users=batch.users,
            time=batch.time,
            step=batch.step,
            available=batch.available,
            candidates=batch.candidates,
            slate_size=depth,
        )
        ranked = np.asarray(_items(self.base.recommend(long)), dtype=np.int64)
        return self.rerank(ranked, batch)

    def rerank(self, ranked: np.ndarray, batch: RequestBatch) -> np.ndarray:
        """``(B, K)`` of the ``(B, depth)`` ranking."""
        raise NotImplementedError

    def observe(self, feedback: Feedback) -> None:
        self.base.observe(feedback)

    def retrain(self, now: float) -> None:
        self.base.retrain(now)

    def on_items_released(self, items: np.ndarray, now: float) -> None:
        self.base.on_items_released(items, now)

    def cost(self) -> Cost:
        """The base's cost report, with the wrapper's settings in ``extra``."""
        c = self.base.cost()
        extra = dict(c.extra) | {"base": self.base_name, "weight": self.weight}
        return Cost(params=c.params, trainable_params=c.trainable_params, extra=extra)

    def request_flops(self, pool: float, batch: float) -> float:
        """The base's (the greedy re-ranking's arithmetic is small and not counted)."""
        return self.base.request_flops(pool, batch)


def _items(slates: Any) -> np.ndarray:
    return slates.items if isinstance(slates, StochasticSlates) else np.asarray(slates)


class FairExposureAgent(ReRanker):
    """Amortised provider-exposure fairness re-ranking of a base agent (Biega et al. 2018)."""

    name = "fair-exposure"

    def setup(self, context: AgentContext) -> None:
        super().setup(context)
        self.exposure = np.zeros(int(self.creator.max()) + 1 if len(self.creator) else 0)

    def rerank(self, ranked: np.ndarray, batch: RequestBatch) -> np.ndarray:
        return exposure_rerank(ranked, self.creator, self.exposure, self.weight, batch.slate_size)

    def observe(self, feedback: Feedback) -> None:
        """Add the served slates' position-weighted exposure to their creators."""
        slates = np.asarray(feedback.slates)
        w = np.broadcast_to(position_weights(slates.shape[1]), slates.shape)
        np.add.at(self.exposure, self.creator[slates], w)
        super().observe(feedback)


class CalibratedAgent(ReRanker):
    """Steck's calibrated re-ranking of a base agent's slates to the user's genre mix."""

    name = "calibrated"

    def setup(self, context: AgentContext) -> None:
        super().setup(context)
        G = int(self.genre.max()) + 1 if len(self.genre) else 1
        self.history = np.zeros((context.world.n_users, G))

    def rerank(self, ranked: np.ndarray, batch: RequestBatch) -> np.ndarray:
        counts = self.history[batch.users]
        total = counts.sum(axis=1, keepdims=True)
        target = np.divide(counts, total, out=np.zeros_like(counts), where=total > 0)
        return calibrated_rerank(ranked, self.genre, target, self.weight, batch.slate_size)

    def observe(self, feedback: Feedback) -> None:
        """Count the genres of each user's clicked items."""
        rows, cols = np.nonzero(np.asarray(feedback.clicked))
        items = np.asarray(feedback.slates)[rows, cols]
        np.add.at(self.history, (np.asarray(feedback.users)[rows], self.genre[items]), 1.0)
        super().observe(feedback)
