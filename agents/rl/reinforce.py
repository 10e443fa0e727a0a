r"""``reinforce-topk``: REINFORCE with off-policy and top-K correction (Chen et al. 2019).

"Top-K Off-Policy Correction for a REINFORCE Recommender System" (WSDM 2019), small:

- state :math:`s_t`: a GRU over the embeddings of the user's last ``history`` clicked items
  (own logs), started from a projection of the observable profile;
- policy :math:`\pi_\theta(a \mid s) = \operatorname{softmax}_a(s^\top w_a)` over the catalog
  (items not in the catalog masked);
- behaviour policy :math:`\beta(a \mid s) = \operatorname{softmax}_a(\bar s^\top w'_a)`, learned
  from the logged actions by maximum likelihood on the *stopped* state :math:`\bar s` (the
  logging policy's propensities are unknown, as in production);
- loss per logged (state, shown item a, return :math:`G`):

  .. math:: -\,\underbrace{\min\Big(\frac{\pi(a\mid s)}{\beta(a\mid s)}, c\Big)}_{\text{capped
            off-policy weight}}\;\underbrace{K\,(1-\pi(a\mid s))^{K-1}}_{\lambda_K:\ \text{top-K
            correction}}\;G\;\log\pi(a\mid s)

  with the weights held constant in the gradient (:func:`topk_correction`);
- :math:`G_t = r_t + \gamma G_{t+1}` over each user's requests in time order, from the item's
  own reward at *t* (reward choices below) and the later requests' rewards.

Logged data of another agent: for the first ``behaviour_days`` the agent serves the slates of
a registered ``behaviour`` agent (e.g. ``popularity``) and only logs; from then on it is
retrained on the calendar's schedule on everything logged, its own slates included (their
propensity is learned too). Rewards (``reward``): ``click`` (1 per click), ``engagement``
(minutes), ``revenue``, or ``long-term`` (a click, plus ``return_bonus`` credited to the
previous request whenever the user comes back for a new session: a visit the slates earned).
Slates are the top-K items by :math:`\pi`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from simrec_agents.base import item_pool, scores_top_k
from simrec_agents.cf.base import check_params
from simrec_agents.cf.torch_util import seeded_generator, torch_setup
from torch import nn

from simrec.agent import Agent, AgentContext, make_agent
from simrec.errors import ConfigError
from simrec.log import Table
from simrec.types import Cost, Feedback, RequestBatch, StochasticSlates

__all__ = ["REWARD_CHOICES", "ReinforceTopKAgent", "discounted_returns", "topk_correction"]

REWARD_CHOICES = ("click", "engagement", "revenue", "long-term")


def topk_correction(pi: torch.Tensor, beta: torch.Tensor, k: int, cap: float) -> torch.Tensor:
    r"""Per-example weight :math:`\min(\pi/\beta, c)\cdot K (1-\pi)^{K-1}` (no gradient).

    >>> float(topk_correction(torch.tensor([0.2]), torch.tensor([0.1]), 3, 10.0)[0])
    3.84
    """
    with torch.no_grad():
        return torch.clamp(pi / beta, max=cap) * k * (1.0 - pi) ** (k - 1)


def discounted_returns(
    user: np.ndarray, time: np.ndarray, reward: np.ndarray, gamma: float
) -> np.ndarray:
    """``G_t = r_t + gamma * G_{t+1}`` over each user's requests in time order.

    Args:
        user: User of each request ``(R,)``.
        time: Time of each request ``(R,)``.
        reward: Reward of each request ``(R,)``.
        gamma: Discount.

    >>> discounted_returns(np.array([0, 0, 1]), np.array([0.0, 1.0, 0.5]),
    ...                    np.array([1.0, 2.0, 5.0]), 0.5).tolist()
    [2.0, 2.0, 5.0]
    """
    order = np.lexsort((time, user))
    u, r = user[order], np.asarray(reward, dtype=np.float64)[order]
    n = len(u)
    if n == 0:
        return np.zeros(0)
    # Position of each request in its user's sequence; then one vectorised pass per position,
    # from the last back to the first: G[p] = r[p] + gamma * G[p + 1] (same user).
    starts = np.flatnonzero(np.r_[True, u[1:] != u[:-1]])
    pos = np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n]))
    has_next = np.r_[u[1:] == u[:-1], False]
    by_pos = np.argsort(pos, kind="stable")
    bounds = np.r_[0, np.cumsum(np.bincount(pos))]
    G_sorted = np.zeros(n)
    for p in range(len(bounds) - 2, -1, -1):
        idx = by_pos[bounds[p] : bounds[p + 1]]
        later = np.where(has_next[idx], G_sorted[np.minimum(idx + 1, n - 1)], 0.0)
        G_sorted[idx] = r[idx] + gamma * later
    G = np.empty(n)
    G[order] = G_sorted
    return G


class _Policy(nn.Module):
    def __init__(self, n_items: int, profile_dim: int, dim: int, gen: torch.Generator) -> None:
        super().__init__()
        self.items = nn.Parameter(torch.randn(n_items + 1, dim, generator=gen) * 0.1)  # +pad
        self.profile = nn.Linear(profile_dim, dim)
        self.gru = nn.GRU(dim, dim, batch_first=True)
        self.pi = nn.Parameter(torch.randn(n_items, dim, generator=gen) * 0.1)
        self.beta = nn.Parameter(torch.randn(n_items, dim, generator=gen) * 0.1)

    def state(self, history: torch.Tensor, profile: torch.Tensor) -> torch.Tensor:
        """GRU state after the history (left-padded with -1), started from the profile."""
        x = self.items[history.clamp(min=-1) % self.items.shape[0]]
        x = x * (history >= 0)[..., None]
        h0 = torch.tanh(self.profile(profile))[None]
        _, h = self.gru(x, h0)
        return h[0]


class ReinforceTopKAgent(Agent):
    """REINFORCE with top-K off-policy correction (Chen et al. 2019) on another agent's logs.

    Args:
        behaviour: Registered agent whose slates are served (and logged) first.
        behaviour_days: Days the behaviour agent serves.
        reward: ``click``, ``engagement``, ``revenue`` or ``long-term``.
        return_bonus: Reward of a return visit under ``long-term``.
        gamma: Discount of the return over a user's requests.
        dim: Embedding and GRU width.
        history: Clicked items in the state.
        lr: Adam learning rate.
        epochs: Passes over the log per retrain.
        batch_size: Logged impressions per step.
        cap: Cap c of the off-policy weight.
        samples_per_fit: Logged impressions drawn (uniformly, all days) per retrain epoch.
        behaviour_params: Parameters of the behaviour agent.
    """

    name = "reinforce-topk"

    def __init__(
        self,
        behaviour: str = "popularity",
        behaviour_days: float = 3.0,
        reward: str = "click",
        return_bonus: float = 1.0,
        gamma: float = 0.5,
        dim: int = 32,
        history: int = 10,
        lr: float = 0.02,
        epochs: int = 2,
        batch_size: int = 1024,
        cap: float = 10.0,
        samples_per_fit: int = 50_000,
        behaviour_params: dict[str, Any] | None = None,
    ) -> None:
        if reward not in REWARD_CHOICES:
            raise ConfigError(
                f"reward: expected one of {', '.join(REWARD_CHOICES)}, got {reward!r}"
            )
        check_params(
            behaviour_days=(behaviour_days, "nonneg"),
            return_bonus=(return_bonus, "nonneg"),
            gamma=(gamma, "prob"),
            dim=(dim, "pos_int"),
            history=(history, "pos_int"),
            lr=(lr, "pos"),
            epochs=(epochs, "nonneg_int"),
            batch_size=(batch_size, "pos_int"),
            cap=(cap, "pos"),
            samples_per_fit=(samples_per_fit, "pos_int"),
        )
        self.samples_per_fit = samples_per_fit
        self.behaviour = make_agent(behaviour, **(behaviour_params or {}))
        self.behaviour_days, self.reward = behaviour_days, reward
        self.return_bonus, self.gamma = return_bonus, gamma
        self.dim, self.L, self.lr = dim, history, lr
        self.epochs, self.batch_size, self.cap = epochs, batch_size, cap
        self.fits = 0

    def check(self, context: AgentContext) -> None:
        """The behaviour agent's own checks."""
        self.behaviour.check(context)

    def setup(self, context: AgentContext) -> None:
        """Set up the behaviour agent and the (untrained) policy."""
        super().setup(context)
        self.behaviour.setup(context)
        torch_setup()
        w = context.world
        N, M = w.n_users, w.n_items
        self.gen = seeded_generator(self.rng)
        # nn.Linear and nn.GRU draw their initial weights from torch's global stream: seed
        # it from the agent's stream, without disturbing the caller's global state.
        with torch.random.fork_rng():
            torch.manual_seed(int(self.rng.integers(0, 2**62)))
            self.model = _Policy(M, w.users.profile.shape[1], self.dim, self.gen)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=self.lr)
        self.profile = torch.from_numpy(w.users.profile.astype(np.float32))
        self.recent = np.full((N, self.L), -1, dtype=np.int64)
        self.recent_next = np.zeros(N, dtype=np.int64)
        self.last_request = np.full(N, -1, dtype=np.int64)
        # One row per request: user, time, history at request time, slate, item rewards;
        # return visits credit the request before them.
        self.requests = Table({"user": np.int64, "time": np.float64})
        self.hist_rows: list[np.ndarray] = []
        self.slate_rows: list[np.ndarray] = []
        self.reward_rows: list[np.ndarray] = []
        self.credited: list[np.ndarray] = []
        self.n_requests = 0
        self._pending: tuple[np.ndarray, np.ndarray] | None = None

    # ------------------------------------------------------------------ serving

    def _histories(self, users: np.ndarray) -> np.ndarray:
        idx = (self.recent_next[users][:, None] + np.arange(self.L)[None, :]) % self.L
        hist = np.take_along_axis(self.recent[users], idx, axis=1)
        valid = (self.recent_next[users][:, None] - self.L + np.arange(self.L)[None, :]) >= 0
        return np.where(valid, hist, -1)

    # simrec.agent.Agent.recommend is annotated ``np.ndarray`` although the engine takes
    # StochasticSlates too (a stochastic behaviour agent's); unused once simrec widens it.
    def recommend(self, batch: RequestBatch) -> np.ndarray | StochasticSlates:
        """The behaviour agent's slates at first, then the top-K items by the policy."""
        hist = self._histories(batch.users)
        self._pending = (hist, batch.step == 0)
        if batch.time < self.behaviour_days or self.fits == 0:
            return self.behaviour.recommend(batch)
        with torch.no_grad():
            s = self.model.state(torch.from_numpy(hist), self.profile[batch.users.copy()])
            logits = (s @ self.model.pi.T).numpy()
        pool = item_pool(batch)
        scores = np.take_along_axis(logits, pool, axis=1)
        return scores_top_k(pool, scores, batch.slate_size)

    def observe(self, feedback: Feedback) -> None:
        """Log the requests (state, slate, per-item reward) and update the histories."""
        self.behaviour.observe(feedback)
        fb = feedback
        users = fb.users.astype(np.int64)
        pending = self._pending
        if pending is None or len(pending[0]) != len(users):
            hist = self._histories(users)
            start = np.zeros(len(users), dtype=bool)
        else:
            hist, start = pending
        item_r = {
            "click": fb.clicked,
            "engagement": fb.engagement,
            "revenue": fb.revenue,
            "long-term": fb.clicked,
        }[self.reward].astype(np.float32)
        if self.reward == "long-term":
            back = start & (self.last_request[users] >= 0)
            self.credited.append(self.last_request[users[back]])
        self.hist_rows.append(hist)
        self.slate_rows.append(fb.slates.astype(np.int64))
        self.reward_rows.append(item_r)
        self.requests.append(user=users, time=np.full(len(users), fb.time))
        self.last_request[users] = self.n_requests + np.arange(len(users))
        self.n_requests += len(users)
        rows, cols = np.nonzero(fb.clicked)
        for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
            u = users[r]
            self.recent[u, self.recent_next[u] % self.L] = fb.slates[r, c]
            self.recent_next[u] += 1

    # ------------------------------------------------------------------ training

    def retrain(self, now: float) -> None:
        """Fit the behaviour model and the policy on everything logged (warm start)."""
        self.behaviour.retrain(now)
        if self.n_requests == 0:
            return
        req = self.requests.columns()
        hist = np.concatenate(self.hist_rows)
        slates = np.concatenate(self.slate_rows)
        item_r = np.concatenate(self.reward_rows).astype(np.float64)  # (R, K)
        R, K = slates.shape
        bonus: np.ndarray = np.zeros(R)
        if self.credited:
            bonus = self.return_bonus * np.bincount(np.concatenate(self.credited), minlength=R)
        # Each shown item's return: its own reward, an equal share of the return bonus its
        # request earned, and the discounted future of the user's trajectory.
        total = item_r.sum(axis=1) + bonus
        G_req = discounted_returns(req["user"], req["time"], total, self.gamma)
        G = item_r + (bonus / K)[:, None] + (G_req - total)[:, None]
        returns = G.ravel()
        baseline = returns.mean()  # lowers variance; the expected gradient is unchanged
        n = min(self.samples_per_fit, R * K)
        for _ in range(self.epochs):
            flat = self.rng.choice(R * K, size=n, replace=False)
            for lo in range(0, n, self.batch_size):
                b = flat[lo : lo + self.batch_size]
                r_idx = b // K
                self._step(
                    hist[r_idx],
                    req["user"][r_idx],
                    slates.ravel()[b],
                    returns[b] - baseline,
                    K,
                )
        self.fits += 1

    def _step(
        self, hist: np.ndarray, users: np.ndarray, actions: np.ndarray, returns: np.ndarray, K: int
    ) -> None:
        m = self.model
        s = m.state(torch.from_numpy(hist), self.profile[users])
        a = torch.from_numpy(actions)
        log_pi = torch.log_softmax(s @ m.pi.T, dim=1).gather(1, a[:, None]).squeeze(1)
        log_beta = torch.log_softmax(s.detach() @ m.beta.T, dim=1).gather(1, a[:, None]).squeeze(1)
        w = topk_correction(log_pi.exp(), log_beta.exp(), K, self.cap)
        g = torch.from_numpy(returns.astype(np.float32))
        loss = -(w * g * log_pi).mean() - log_beta.mean()
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()

    def cost(self) -> Cost:
        """Policy, behaviour head, item embeddings and GRU."""
        n = sum(p.numel() for p in self.model.parameters())
        return Cost(params=n, trainable_params=n, extra={"fits": self.fits})

    def request_flops(self, pool: float, batch: float) -> float:
        """GRU over the history and a dot product per pool item."""
        d = self.dim
        return self.L * 2 * 3 * (2 * d * d) + 2 * d * pool
