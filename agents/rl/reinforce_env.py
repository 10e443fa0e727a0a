r"""REINFORCE with the top-K correction (Chen et al., WSDM 2019), trained on a simrec env.

The population agent ``reinforce-topk`` (:mod:`simrec_agents.rl.reinforce`) learns off-policy
from logs over the whole catalog. This is its on-policy counterpart on the gymnasium envs, for
the reference table (``docs/rl.md``): the policy is a softmax over the request's C candidates,
:math:`\pi(a \mid s) \propto \exp(f(s, a))`, with :math:`f` the candidate-scoring network of
:mod:`simrec_agents.rl.sb3_policies` (one MLP for every candidate). A slate of K is drawn as
K candidates without replacement (Gumbel top-K of the scores). Each iteration runs
``n_envs`` complete user lives; the loss of every step *t* and slate item *a* is

.. math:: -\,\lambda_K(\pi(a \mid s_t))\; \frac{G_t - \bar G}{\sigma_G}\; \log \pi(a \mid s_t),
          \qquad \lambda_K(p) = K (1 - p)^{K-1}

with :math:`G_t = r_t + \gamma G_{t+1}` the discounted return to the end of the life, its
batch mean :math:`\bar G` as baseline and its standard deviation as scale, the top-K weight
:math:`\lambda_K` held constant in the gradient (the off-policy weight is 1: the data are
the policy's own, :func:`simrec_agents.rl.reinforce.topk_correction` with
:math:`\beta = \pi`), and an entropy bonus. Greedy serving: the top-K scores.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import torch
from gymnasium import spaces
from simrec_agents.rl.evaluate import Policy, top_k_actions

from simrec.envs.vector import UserLifetimeVectorEnv

if TYPE_CHECKING:
    from simrec_agents.rl.sb3_policies import CandidateScorer

__all__ = ["ReinforceStats", "greedy_scores_policy", "train_reinforce"]


@dataclass(frozen=True)
class ReinforceStats:
    """What a training run did."""

    env_steps: int
    iterations: int
    seconds: float


def _tensors(obs: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    return {k: torch.as_tensor(v, dtype=torch.float32) for k, v in obs.items()}


def train_reinforce(
    preset: str,
    reward: str | dict[str, float] = "click",
    *,
    steps: int = 50_000,
    gamma: float = 0.99,
    n_envs: int = 8,
    lr: float = 3e-3,
    entropy: float = 0.01,
    seed: int = 0,
    env_kwargs: dict[str, Any] | None = None,
    curve: list[tuple[int, float]] | None = None,
) -> tuple[CandidateScorer, int, ReinforceStats]:
    """Train the top-K REINFORCE policy on ``preset``'s native vector env.

    Args:
        preset: Env preset.
        reward: Training reward.
        steps: Env steps (at least; whole lives are run).
        gamma: Discount of the returns (0: each step's own reward).
        n_envs: User lives per iteration (one policy-gradient step each).
        lr: Adam learning rate.
        entropy: Weight of the policy's entropy bonus.
        seed: Seed of the users (iteration *i*, life *j*: env seed ``seed * 10**6 + i *
            n_envs + j``), the slates drawn and the network.
        env_kwargs: Further env keyword arguments.
        curve: If a list, ``(env steps so far, episode return)`` is appended per life.

    Returns:
        ``(scorer, K, stats)``: the trained candidate scorer, the slate size and statistics.
    """
    from simrec_agents.cf.torch_util import torch_setup
    from simrec_agents.rl.sb3_policies import CandidateScorer

    torch_setup()
    kwargs = {"slate_duplicates": "fill", **(env_kwargs or {})}
    env = UserLifetimeVectorEnv(n_envs, preset=preset, reward=reward, **kwargs)
    K, C = env.core.K, env.core.C
    space = cast(spaces.Dict, env.single_observation_space)  # simrec's: make_spaces
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        scorer = CandidateScorer(space)
    opt = torch.optim.Adam(scorer.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    t0, done_steps, it = time.perf_counter(), 0, 0
    while done_steps < steps:
        obs, _ = env.reset(seed=seed * 10**6 + it * n_envs)
        live = np.ones(n_envs, bool)
        batch_obs, batch_act, rewards, alive = [], [], [], []
        while live.any():
            with torch.no_grad():
                scores = scorer(_tensors(obs))[:, :C]
            gumbel = -torch.log(-torch.log(torch.rand(scores.shape, generator=gen) + 1e-20) + 1e-20)
            slate = torch.topk(scores + gumbel, K, dim=1).indices.numpy()
            batch_obs.append(obs)
            batch_act.append(slate)
            alive.append(live.copy())
            obs, r, term, trunc, _ = env.step(slate[:, 0] if K == 1 else slate)
            rewards.append(np.where(live, r, 0.0))
            live &= ~(term | trunc)
        alive_a, rew = np.array(alive), np.array(rewards)  # (T, n)
        returns = np.zeros_like(rew)
        running = np.zeros(n_envs)
        for t in range(len(rew) - 1, -1, -1):
            running = rew[t] + gamma * running
            returns[t] = running
        mask = alive_a.reshape(-1)
        g = returns.reshape(-1)[mask]
        adv = (g - g.mean()) / (g.std() + 1e-8)
        obs_t = {
            k: torch.as_tensor(np.concatenate([o[k] for o in batch_obs])[mask], dtype=torch.float32)
            for k in batch_obs[0]
        }
        act = torch.as_tensor(np.concatenate(batch_act)[mask])
        logp_all = torch.log_softmax(scorer(obs_t)[:, :C], dim=1)
        logp = logp_all.gather(1, act)  # (N, K)
        with torch.no_grad():
            lam = K * (1.0 - logp.exp()) ** (K - 1)
        loss = -(lam * torch.as_tensor(adv, dtype=torch.float32)[:, None] * logp).mean()
        loss = loss - entropy * -(logp_all.exp() * logp_all).sum(dim=1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        n_steps = int(mask.sum())
        done_steps += n_steps
        it += 1
        if curve is not None:
            per_life = rew.sum(axis=0)
            curve.extend((done_steps, float(x)) for x in per_life)
    stats = ReinforceStats(done_steps, it, time.perf_counter() - t0)
    return scorer.eval(), K, stats


def greedy_scores_policy(scorer: CandidateScorer, K: int) -> Policy:
    """Batched greedy policy: the top-K candidates by the trained scores."""
    C = scorer.C

    def policy(obs: dict[str, np.ndarray]) -> np.ndarray:
        with torch.no_grad():
            return top_k_actions(scorer(_tensors(obs))[:, :C].numpy(), K)

    return policy
