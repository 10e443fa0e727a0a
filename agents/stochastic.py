r"""Stochastic policies from any scoring agent, with the probabilities of what they serve.

Off-policy evaluation reweights logged decisions by the probability the logging policy gave
them, so the policy must be stochastic and say its probabilities. These wrappers turn a
*scoring* agent -- one with a deterministic ``scores(batch, pool) -> (B, P)`` (the oracles,
``popularity``, ``random``) -- into such a policy; ``recommend`` returns
:class:`~simrec.types.StochasticSlates` (logged as ``pscore``, ``pscore_item`` and
``pscore_cascade``) and :meth:`StochasticAgent.probabilities` answers for any given slates
(how a target policy is evaluated on another policy's logs).

* :class:`EpsilonGreedy` (``epsilon-greedy``): the agent's top-K slate with probability
  :math:`1 - \epsilon`, else a uniformly random ordered slate of the pool (size *P*). Exact:

  .. math::
      \pi(i_0..i_k) = (1-\epsilon)\,\mathbb{1}[i_0..i_k = g_0..g_k]
                      + \epsilon \prod_{j \le k} \frac{1}{P - j}, \qquad
      \pi(i_k \text{ at } k) = (1-\epsilon)\,\mathbb{1}[i_k = g_k] + \frac{\epsilon}{P}.

* :class:`Softmax` (``softmax``): a Plackett-Luce slate -- position by position, an item of
  the rest of the pool with probability :math:`\propto e^{s_i/\tau}` (drawn at once by
  Gumbel top-K). The slate and its prefixes are exact,
  :math:`\pi(i_0..i_k) = \prod_{j \le k} e^{s_{i_j}/\tau} / \sum_{i \notin i_{<j}}
  e^{s_i/\tau}`; the marginal of an item at position :math:`k \ge 1` has no closed form and
  is estimated from ``item_samples`` further draws (the served slate counted as one), or left
  NaN with ``item_samples = 0`` (the default; exact at position 0 and for K = 1).

Items a scorer excludes (score :math:`-\infty`) stay in the support with a probability
:math:`e^{-30}` times the least likely other item's, so that every propensity is positive.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np
from simrec_agents.base import item_pool, sample_distinct, scores_top_k

from simrec.agent import Agent, AgentContext, make_agent
from simrec.types import Cost, Feedback, Propensities, RequestBatch, StochasticSlates

__all__ = ["EpsilonGreedy", "ScoringAgent", "Softmax", "StochasticAgent"]

#: Log-probability gap below the least likely item at which excluded items are kept.
EXCLUDED_GAP = 30.0


@runtime_checkable
class ScoringAgent(Protocol):
    """An agent with a deterministic ``scores(batch, pool) -> (B, P)`` (what is wrapped)."""

    def scores(self, batch: RequestBatch, pool: np.ndarray) -> np.ndarray:
        """Scores of the pool ``(B, P)`` items for the batch's requests; higher is better."""
        ...


class StochasticAgent(Agent):
    """Shared part of the wrappers: the inner scoring agent and the delegation.

    Args:
        agent: The scoring agent, by registered name or as an instance.
        agent_params: Its constructor parameters (with a name).
    """

    def __init__(
        self, agent: str | Agent = "myopic-oracle", agent_params: dict[str, Any] | None = None
    ) -> None:
        """Build (or take) the inner agent; it must score."""
        inner = make_agent(agent, **(agent_params or {})) if isinstance(agent, str) else agent
        if not (isinstance(inner, ScoringAgent) and callable(inner.scores)):
            raise ValueError(
                f"agent: expected a scoring agent (a method scores(batch, pool)), got "
                f"{type(inner).__name__}; the oracles, popularity and random score"
            )
        self.inner = inner
        # (Per instance, where simrec.agent.Agent declares a ClassVar; unused once it does not.)
        self.reads_hidden_state = self.inner.reads_hidden_state
        # Its own draws come from a generator seeded from its rng: isolated as the inner is.
        self.isolated_state = self.inner.isolated_state  # type: ignore[misc]

    def check(self, context: AgentContext) -> None:
        """The inner agent's checks."""
        self.inner.check(context)

    def setup(self, context: AgentContext) -> None:
        """Set up the inner agent; the wrapper's draws come from a stream of its own."""
        self.rng = np.random.default_rng(int(context.rng.integers(2**63)))
        self.context = context
        self.inner.setup(context)

    def observe(self, feedback: Feedback) -> None:
        """The inner agent learns from what was served."""
        self.inner.observe(feedback)

    def retrain(self, now: float) -> None:
        """Retrain the inner agent."""
        self.inner.retrain(now)

    def on_items_released(self, items: np.ndarray, now: float) -> None:
        """Tell the inner agent."""
        self.inner.on_items_released(items, now)

    def cost(self) -> Cost:
        """The inner agent's cost."""
        return self.inner.cost()

    def request_flops(self, pool: float, batch: float) -> float:
        """The inner agent's."""
        return self.inner.request_flops(pool, batch)

    def _scored(self, batch: RequestBatch) -> tuple[np.ndarray, np.ndarray]:
        pool = item_pool(batch)
        return pool, np.asarray(self.inner.scores(batch, pool), dtype=np.float64)

    # simrec.agent.Agent.recommend is annotated ``np.ndarray`` although the engine takes
    # StochasticSlates too (simrec.types); unused once simrec widens it.
    def recommend(self, batch: RequestBatch) -> StochasticSlates:
        """Draw the slates; return them with their propensities."""
        pool, scores = self._scored(batch)
        slates = self.sample(pool, scores, batch.slate_size)
        return StochasticSlates(slates, self.propensities(pool, scores, slates))

    def probabilities(self, batch: RequestBatch, slates: np.ndarray) -> Propensities:
        """This policy's probabilities of the given ``slates (B, K)`` for ``batch`` now."""
        pool, scores = self._scored(batch)
        return self.propensities(pool, scores, np.asarray(slates))

    def first_item_probabilities(self, batch: RequestBatch) -> np.ndarray:
        """``(B, P)``: each pool item's probability at the slate's first position.

        With slates of one item that is the policy's whole distribution; the pool is scored
        once.
        """
        pool, scores = self._scored(batch)
        return self.first_item(pool, scores)

    def first_item(self, pool: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """Each pool item's probability at the first position, given the pool's scores."""
        raise NotImplementedError

    def sample(self, pool: np.ndarray, scores: np.ndarray, k: int) -> np.ndarray:
        """Slates ``(B, k)`` drawn from the policy."""
        raise NotImplementedError

    def propensities(
        self, pool: np.ndarray, scores: np.ndarray, slates: np.ndarray
    ) -> Propensities:
        """The policy's probabilities of ``slates`` given the pool's scores."""
        raise NotImplementedError


class EpsilonGreedy(StochasticAgent):
    """The scorer's top-K with probability ``1 - epsilon``, else a uniformly random slate.

    Args:
        agent: The scoring agent, by registered name or as an instance.
        agent_params: Its constructor parameters (with a name).
        epsilon: Probability of the random slate.
    """

    name = "epsilon-greedy"

    def __init__(
        self,
        agent: str | Agent = "myopic-oracle",
        agent_params: dict[str, Any] | None = None,
        epsilon: float = 0.1,
    ) -> None:
        """Validate ``epsilon``."""
        if (
            isinstance(epsilon, bool)
            or not isinstance(epsilon, (int, float))
            or not 0 <= epsilon <= 1
        ):
            raise ValueError(f"epsilon: expected a probability in [0, 1], got {epsilon!r}")
        super().__init__(agent, agent_params)
        self.epsilon = float(epsilon)

    def sample(self, pool: np.ndarray, scores: np.ndarray, k: int) -> np.ndarray:
        """Greedy slates, a random one in each row with probability epsilon."""
        out = scores_top_k(pool, scores, k)
        explore = np.flatnonzero(self.rng.random(len(pool)) < self.epsilon)
        if explore.size:
            out = np.array(out)
            out[explore] = sample_distinct(self.rng, np.ascontiguousarray(pool[explore]), k)
        return out

    def first_item(self, pool: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """``(1 - epsilon) 1[i = g_0] + epsilon / P``."""
        greedy = scores_top_k(pool, scores, 1)
        return (1.0 - self.epsilon) * (pool == greedy) + self.epsilon / pool.shape[1]

    def propensities(
        self, pool: np.ndarray, scores: np.ndarray, slates: np.ndarray
    ) -> Propensities:
        """Exact (module docstring)."""
        K = slates.shape[1]
        P = pool.shape[1]
        greedy = scores_top_k(pool, scores, K)
        eps = self.epsilon
        same_prefix = np.cumprod(slates == greedy, axis=1).astype(np.float64)
        uniform_prefix = np.cumprod(1.0 / (P - np.arange(K, dtype=np.float64)))
        cascade = (1.0 - eps) * same_prefix + eps * uniform_prefix[None, :]
        item = (1.0 - eps) * (slates == greedy) + eps / P
        return Propensities(cascade[:, -1].copy(), item, cascade)


class Softmax(StochasticAgent):
    r"""Plackett-Luce slates with item weights ``exp(score / temperature)``.

    Args:
        agent: The scoring agent, by registered name or as an instance.
        agent_params: Its constructor parameters (with a name).
        temperature: :math:`\tau` (small: nearly greedy; large: nearly uniform).
        item_samples: Extra draws estimating each item's marginal probability at its
            position beyond the first (0: left NaN; see the module docstring).
    """

    name = "softmax"

    def __init__(
        self,
        agent: str | Agent = "myopic-oracle",
        agent_params: dict[str, Any] | None = None,
        temperature: float = 1.0,
        item_samples: int = 0,
    ) -> None:
        """Validate the settings."""
        if (
            isinstance(temperature, bool)
            or not isinstance(temperature, (int, float))
            or not temperature > 0
        ):
            raise ValueError(f"temperature: expected a positive number, got {temperature!r}")
        if not isinstance(item_samples, int) or item_samples < 0:
            raise ValueError(f"item_samples: expected an integer >= 0, got {item_samples!r}")
        super().__init__(agent, agent_params)
        self.temperature = float(temperature)
        self.item_samples = item_samples

    def logits(self, scores: np.ndarray) -> np.ndarray:
        """``scores / temperature``, excluded items just inside the support, row max 0."""
        z = scores / self.temperature
        finite = np.isfinite(z)
        low = np.where(finite, z, np.inf).min(axis=1, keepdims=True)
        low = np.where(np.isfinite(low), low, 0.0)
        z = np.where(finite, z, low - EXCLUDED_GAP)
        return z - z.max(axis=1, keepdims=True)

    def _gumbel_top_k(self, z: np.ndarray, k: int) -> np.ndarray:
        g = z - np.log(-np.log(self.rng.random(z.shape)))
        part = np.argpartition(-g, k - 1, axis=-1)[..., :k]
        order = np.argsort(-np.take_along_axis(g, part, axis=-1), axis=-1, kind="stable")
        return np.take_along_axis(part, order, axis=-1)

    def sample(self, pool: np.ndarray, scores: np.ndarray, k: int) -> np.ndarray:
        """Plackett-Luce slates (Gumbel top-K)."""
        return np.take_along_axis(pool, self._gumbel_top_k(self.logits(scores), k), axis=1)

    def first_item(self, pool: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """The softmax of ``scores / temperature``."""
        w = np.exp(self.logits(scores))
        return w / w.sum(axis=1, keepdims=True)

    def propensities(
        self, pool: np.ndarray, scores: np.ndarray, slates: np.ndarray
    ) -> Propensities:
        """Exact slate and prefix probabilities; item marginals as the module docstring says."""
        B, K = slates.shape
        z = self.logits(scores)
        w = np.exp(z)
        idx = _positions(pool, slates)
        chosen = np.take_along_axis(w, idx, axis=1)
        left = w.sum(axis=1, keepdims=True) - np.concatenate(
            [np.zeros((B, 1)), np.cumsum(chosen, axis=1)[:, :-1]], axis=1
        )
        cascade = np.cumprod(chosen / left, axis=1)
        item = np.full((B, K), np.nan)
        item[:, 0] = cascade[:, 0]
        if K > 1 and self.item_samples:
            item[:, 1:] = self._marginals(z, idx)[:, 1:]
        return Propensities(cascade[:, -1].copy(), item, cascade)

    def _marginals(self, z: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """Monte Carlo marginals of the slates' items at their positions (+1: the slate)."""
        B, K = idx.shape
        n = self.item_samples
        hits = np.ones((B, K))
        for lo in range(0, B, 64):  # (rows, n, P) draws, a block at a time
            r = slice(lo, lo + 64)
            draws = self._gumbel_top_k(np.repeat(z[r, None, :], n, axis=1), K)  # (b, n, K)
            hits[r] += (draws == idx[r, None, :]).sum(axis=1)
        return hits / (n + 1)


def _positions(pool: np.ndarray, slates: np.ndarray) -> np.ndarray:
    """Column of each slate item in its pool row ``(B, K)``.

    Raises:
        ValueError: An item is not in its row's pool.
    """
    eq = pool[:, None, :] == slates[:, :, None]  # (B, K, P)
    found = eq.any(axis=2)
    if not found.all():
        r, c = (int(x[0]) for x in np.nonzero(~found))
        raise ValueError(f"slates[{r}, {c}]: item {int(slates[r, c])} is not in the request's pool")
    return eq.argmax(axis=2)
