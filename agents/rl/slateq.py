r"""``slateq``: SlateQ (Ie et al. 2019), slate Q-values decomposed into item-level long-term values.

With a conditional-logit user choice model :math:`P(i \mid s, A) = e^{v(s,i)} / (e^{v_0} +
\sum_{j \in A} e^{v(s,j)})`, the value of a slate is :math:`Q(s, A) = \sum_{i \in A}
P(i \mid s, A)\, \bar Q(s, i)`, and only the item-level values :math:`\bar Q(s, i)` (the
long-term value of the user consuming *i* in state *s*) are learned, by SARSA-style TD on the
consumed item:

.. math:: \bar Q(s, i) \leftarrow r + \gamma \sum_{j \in A'} P(j \mid s', A')\,
          \bar Q_{\text{target}}(s', j)

where :math:`s'` is the **next** state and :math:`A'` the slate the policy picks in it (top-K
by :math:`e^{v(s',j)} \bar Q(s',j)`, the paper's top-K heuristic); terminal transitions stop at
:math:`r`. (The RecSim reference implementation computed this expectation from the *current*
state's choice probabilities and slate; :func:`slateq_targets` takes next-state quantities
only, and a test holds it to that.) The choice model :math:`v` (with a learned no-click logit
:math:`v_0`) is fitted on the same transitions by maximum likelihood of the observed choice.

Training runs on the native vector env (:class:`simrec.envs.UserLifetimeVectorEnv`, many users
stepped at once) with epsilon-greedy slates, a replay buffer and a soft-updated target network.
``gamma = 0`` gives the myopic agent of the paper (immediate reward only).

The trained policy also serves a population simulation through the common agent protocol,
on observations rebuilt from observable data (:mod:`simrec_agents.rl.obs`); the scenario
must then use the training env's candidate count (``simulation.candidates``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from simrec_agents.cf.base import check_params
from simrec_agents.cf.torch_util import torch_setup
from simrec_agents.rl.evaluate import Policy
from simrec_agents.rl.obs import (
    PopulationObservation,
    check_fits,
    check_preset_reward,
    env_shape,
    training_env,
)
from torch import nn

from simrec.agent import Agent, AgentContext
from simrec.envs.vector import UserLifetimeVectorEnv
from simrec.types import Cost, Feedback, RequestBatch

__all__ = [
    "SlateQAgent",
    "SlateQNet",
    "features",
    "greedy_policy",
    "slate_probabilities",
    "slateq_targets",
    "train_slateq",
]


def features(obs: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """State vectors ``(B, S)`` and candidate features ``(B, C, F + 2)`` of a batched observation.

    State: the profile, the mean features of the valid history items, and the context (on a
    log scale already). Candidates: the env's candidate features, then each candidate's
    genre agreement with the user's stated genre and with the genre mix of the history (the
    same agreement features as :class:`simrec_agents.rl.sb3_policies.CandidateScorer`; the
    value network would otherwise have to learn a product of two inputs).
    """
    hist = obs["history"]
    valid = hist[:, :, -1:]
    n = np.maximum(valid.sum(axis=1), 1.0)
    mean_hist = (hist[:, :, :-1] * valid).sum(axis=1) / n
    state = np.concatenate([obs["profile"], mean_hist, valid.mean(axis=1), obs["context"]], axis=1)
    cand = obs["candidates"]
    G = obs["profile"].shape[1] - 1
    genre = cand[:, :, :G]
    stated = (genre * obs["profile"][:, None, 1:]).sum(axis=2, keepdims=True)
    mix = (genre * mean_hist[:, None, :G]).sum(axis=2, keepdims=True)
    items = np.concatenate([cand, stated, mix], axis=2)
    return state.astype(np.float32), items.astype(np.float32)


def slate_probabilities(
    v: torch.Tensor, v0: torch.Tensor, slate_mask: torch.Tensor
) -> torch.Tensor:
    """Conditional-logit choice probabilities over the slate items (no-click mass left out).

    Args:
        v: Choice logits ``(B, C)``.
        v0: No-click logit (scalar tensor).
        slate_mask: ``(B, C)`` bool, the candidates in the slate.
    """
    ev = torch.where(slate_mask, torch.exp(v.clamp(max=30.0)), torch.zeros_like(v))
    return ev / (torch.exp(v0.clamp(max=30.0)) + ev.sum(dim=1, keepdim=True))


def slateq_targets(
    reward: torch.Tensor,
    terminal: torch.Tensor,
    gamma: float,
    next_q: torch.Tensor,
    next_v: torch.Tensor,
    v0: torch.Tensor,
    slate_size: int,
    next_q0: torch.Tensor | None = None,
) -> torch.Tensor:
    r"""SlateQ's TD targets, from next-state quantities only.

    :math:`y = r + \gamma [\sum_{j \in A'} P(j \mid s', A') \bar Q(s', j)
    + P(\bot \mid s', A') \bar Q(s', \bot)]`.

    Every input after ``gamma`` is of the **next** state: ``next_q`` and ``next_v`` ``(B, C)``
    are the target network's item values and the choice logits of the next state's
    candidates, ``next_q0`` ``(B,)`` the value of no click there (the null item; omitted:
    0); :math:`A'` is the top-``slate_size`` slate by :math:`e^{v} (\bar Q - \bar Q_\bot)`.
    """
    q0 = torch.zeros_like(reward) if next_q0 is None else next_q0
    score = torch.exp(next_v.clamp(max=30.0)) * (next_q - q0[:, None])
    top = torch.topk(score, slate_size, dim=1).indices
    mask = torch.zeros_like(next_q, dtype=torch.bool).scatter_(1, top, True)
    p = slate_probabilities(next_v, v0, mask)
    expected = (p * next_q).sum(dim=1) + (1.0 - p.sum(dim=1)) * q0
    return reward + gamma * (1.0 - terminal.float()) * expected


class SlateQNet(nn.Module):
    r"""Item-level long-term value :math:`\bar Q(s, i)` and choice logits :math:`v(s, i)`."""

    def __init__(self, state_dim: int, item_dim: int, hidden: int = 64) -> None:
        super().__init__()

        def mlp() -> nn.Module:
            return nn.Sequential(
                nn.Linear(state_dim + item_dim, hidden),
                nn.ReLU(),
                nn.Linear(hidden, hidden),
                nn.ReLU(),
                nn.Linear(hidden, 1),
            )

        self.q, self.v = mlp(), mlp()
        # The null item: the long-term value of not clicking.
        self.q0 = nn.Sequential(nn.Linear(state_dim, hidden), nn.ReLU(), nn.Linear(hidden, 1))
        self.v0 = nn.Parameter(torch.zeros(()))

    def forward(
        self, state: torch.Tensor, items: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(Q, v)``, each ``(B, C)``."""
        x = torch.cat([state[:, None, :].expand(-1, items.shape[1], -1), items], dim=-1)
        return self.q(x).squeeze(-1), self.v(x).squeeze(-1)

    def null_value(self, state: torch.Tensor) -> torch.Tensor:
        """The null item's value, ``(B,)``."""
        return self.q0(state).squeeze(-1)

    def slates(self, state: torch.Tensor, items: torch.Tensor, k: int) -> torch.Tensor:
        """Greedy slates: the top-``k`` candidates by exp(v) (Q - Q_null), ``(B, k)``."""
        q, v = self(state, items)
        gain = q - self.null_value(state)[:, None]
        return torch.topk(torch.exp(v.clamp(max=30.0)) * gain, k, dim=1).indices


@dataclass
class TrainStats:
    """What a training run did."""

    env_steps: int
    updates: int
    seconds: float
    mean_reward: float


class _Replay:
    def __init__(self, size: int, S: int, C: int, F: int, K: int) -> None:
        self.size, self.n, self.i = size, 0, 0
        self.s = np.zeros((size, S), np.float32)
        self.c = np.zeros((size, C, F), np.float32)
        self.a = np.zeros((size, K), np.int64)
        self.pos = np.zeros(size, np.int64)
        self.r = np.zeros(size, np.float32)
        self.s2 = np.zeros((size, S), np.float32)
        self.c2 = np.zeros((size, C, F), np.float32)
        self.done = np.zeros(size, np.float32)

    def add(self, **cols: np.ndarray) -> None:
        B = len(cols["r"])
        idx = (self.i + np.arange(B)) % self.size
        for k, v in cols.items():
            getattr(self, k)[idx] = v
        self.i = (self.i + B) % self.size
        self.n = min(self.n + B, self.size)

    def sample(self, rng: np.random.Generator, B: int) -> dict[str, torch.Tensor]:
        idx = rng.integers(0, self.n, size=B)
        names = ("s", "c", "a", "pos", "r", "s2", "c2", "done")
        return {k: torch.from_numpy(getattr(self, k)[idx]) for k in names}


def train_slateq(
    preset: str = "long_term_satisfaction",
    reward: str | dict[str, float] = "click",
    *,
    steps: int = 100_000,
    gamma: float = 0.9,
    n_envs: int = 64,
    hidden: int = 64,
    lr: float = 1e-3,
    batch_size: int = 256,
    updates_per_step: int = 1,
    epsilon: float = 0.1,
    tau: float = 0.01,
    replay: int = 100_000,
    seed: int = 0,
    env_kwargs: dict[str, Any] | None = None,
    curve: list[tuple[int, float]] | None = None,
) -> tuple[SlateQNet, dict[str, Any], TrainStats]:
    """Train SlateQ on the native vector env of ``preset``.

    Args:
        preset: Env preset (:data:`simrec.envs.presets.PRESETS`).
        reward: Reward name (``click``, ``engagement``, ``return``, ``long-term``, ...) or
            weights.
        steps: Environment steps (users stepped, summed over sub-envs).
        gamma: Discount (0: myopic).
        n_envs: Users stepped at once.
        hidden: Width of the value and choice networks.
        lr: Adam learning rate.
        batch_size: Transitions per update.
        updates_per_step: Gradient updates per vector step.
        epsilon: Probability of a uniformly random slate per user step.
        tau: Soft-update rate of the target network.
        replay: Replay buffer size.
        seed: Seed of the env episodes, exploration, replay sampling and initialisation.
        env_kwargs: Extra keyword arguments of the env (e.g. ``horizon_days``).
        curve: If a list, ``(env steps so far, episode return)`` is appended to it for every
            training episode that ends (a learning curve).

    Returns:
        ``(net, spec, stats)``: the trained network, the env spec it expects (``preset``,
        ``candidates``, ``history_length``, ``n_genres``, ``slate_size``, ``state_dim``,
        ``item_dim``), and training statistics.
    """
    torch_setup()
    rng = np.random.default_rng(seed)
    env = UserLifetimeVectorEnv(n_envs, preset=preset, reward=reward, **(env_kwargs or {}))
    core = env.core
    C, K = core.C, core.K
    obs, _ = env.reset(seed=seed)
    s, c = features(obs)
    with torch.random.fork_rng():  # seeded initial weights; the global stream is untouched
        torch.manual_seed(seed)
        net = SlateQNet(s.shape[1], c.shape[2], hidden)
        target = SlateQNet(s.shape[1], c.shape[2], hidden)
    target.load_state_dict(net.state_dict())
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    buf = _Replay(replay, s.shape[1], C, c.shape[2], K)
    just_reset = np.zeros(n_envs, dtype=bool)
    t0, updates, rewards = time.perf_counter(), 0, []
    episode_return = np.zeros(n_envs)
    for step in range(max(1, steps // n_envs)):
        with torch.no_grad():
            greedy = net.slates(torch.from_numpy(s), torch.from_numpy(c), K).numpy()
        explore = rng.random(n_envs) < epsilon
        random_slates = np.argsort(rng.random((n_envs, C)), axis=1)[:, :K]
        slates = np.where(explore[:, None], random_slates, greedy)
        action = slates[:, 0] if K == 1 else slates
        obs2, r, term, trunc, info = env.step(action)
        s2, c2 = features(obs2)
        live = ~just_reset  # a NEXT_STEP autoreset step is not a transition
        if live.any():
            buf.add(
                s=s[live],
                c=c[live],
                a=slates[live],
                pos=info["click_position"][live],
                r=r[live].astype(np.float32),
                s2=s2[live],
                c2=c2[live],
                done=term[live].astype(np.float32),
            )
            rewards.append(float(r[live].mean()))
        episode_return += np.where(live, r, 0.0)
        just_reset = term | trunc
        if curve is not None:
            curve.extend(((step + 1) * n_envs, float(x)) for x in episode_return[just_reset])
        episode_return[just_reset] = 0.0
        s, c = s2, c2
        if buf.n >= batch_size:
            for _ in range(updates_per_step):
                _update(net, target, opt, buf.sample(rng, batch_size), gamma, K, tau)
                updates += 1
    spec = {
        "preset": preset,
        "reward": reward,
        "candidates": C,
        "history_length": core.L,
        "n_genres": int(core.n_genres),
        "slate_size": K,
        "state_dim": int(s.shape[1]),
        "item_dim": int(c.shape[2]),
        "hidden": hidden,
        "gamma": gamma,
    }
    stats = TrainStats(
        env_steps=max(1, steps // n_envs) * n_envs,
        updates=updates,
        seconds=time.perf_counter() - t0,
        mean_reward=float(np.mean(rewards)) if rewards else float("nan"),
    )
    return net, spec, stats


def greedy_policy(net: SlateQNet, k: int) -> Policy:
    """Batched greedy policy of a trained network: observation -> top-``k`` slate indices."""

    def policy(obs: dict[str, np.ndarray]) -> np.ndarray:
        s, c = features(obs)
        with torch.no_grad():
            idx = net.slates(torch.from_numpy(s), torch.from_numpy(c), k).numpy()
        return idx[:, 0] if k == 1 else idx

    return policy


def _update(
    net: SlateQNet,
    target: SlateQNet,
    opt: torch.optim.Optimizer,
    b: dict[str, torch.Tensor],
    gamma: float,
    K: int,
    tau: float,
) -> None:
    q, v = net(b["s"], b["c"])
    mask = torch.zeros_like(q, dtype=torch.bool).scatter_(1, b["a"], True)
    # Choice model: likelihood of the observed choice among the slate and no-click.
    logits = torch.where(mask, v, torch.full_like(v, -1e9))
    logits = torch.cat([net.v0.expand(len(v), 1), logits], dim=1)
    choice_loss = nn.functional.cross_entropy(logits, b["pos"] + 1)  # 0 = no click
    # Item-level TD on the consumed item (SlateQ's decomposition); no click consumes the
    # null item, whose value carries what happens after an ignored slate (e.g. churn).
    clicked = b["pos"] >= 0
    item = b["a"].gather(1, b["pos"].clamp(min=0)[:, None]).squeeze(1)
    q_item = q.gather(1, item[:, None]).squeeze(1)
    q_taken = torch.where(clicked, q_item, net.null_value(b["s"]))
    with torch.no_grad():
        nq, _ = target(b["s2"], b["c2"])
        _, nv = net(b["s2"], b["c2"])
        y = slateq_targets(
            b["r"], b["done"], gamma, nq, nv, net.v0.detach(), K, target.null_value(b["s2"])
        )
    q_loss = nn.functional.mse_loss(q_taken, y)
    opt.zero_grad()
    (q_loss + choice_loss).backward()
    opt.step()
    with torch.no_grad():
        for p, tp in zip(net.parameters(), target.parameters(), strict=True):
            tp.mul_(1.0 - tau).add_(tau * p)


class SlateQAgent(Agent):
    """A SlateQ policy serving a population (trained on the env at setup, or loaded).

    Args:
        preset: Env preset to train on, or ``"scenario"``: the env built from the run's own
            configuration (world, user model, dynamics, slate size, candidates).
        reward: Training reward (see :data:`simrec.config.REWARDS`).
        steps: Training env steps.
        gamma: Discount (0: myopic).
        path: A saved policy (``torch.save`` of :meth:`save`'s dict, loaded with
            ``weights_only=True``) instead of training.
        n_envs, hidden, lr, epsilon, batch_size, tau, replay: :func:`train_slateq` options.
    """

    name = "slateq"
    #: check_agent: 500 training steps in the check's own world, over 10 candidates.
    check_agent_params: ClassVar[dict[str, Any]] = {
        "preset": "scenario",
        "steps": 500,
        "n_envs": 8,
    }
    check_agent_settings: ClassVar[dict[str, Any]] = {"simulation.candidates": 10}

    def __init__(
        self,
        preset: str = "long_term_satisfaction",
        reward: str | dict[str, float] = "click",
        steps: int = 100_000,
        gamma: float = 0.9,
        path: str | None = None,
        n_envs: int = 64,
        hidden: int = 64,
        lr: float = 1e-3,
        epsilon: float = 0.1,
        batch_size: int = 256,
        tau: float = 0.01,
        replay: int = 100_000,
    ) -> None:
        check_preset_reward(preset, reward)
        check_params(
            steps=(steps, "pos_int"),
            gamma=(gamma, "prob"),
            n_envs=(n_envs, "pos_int"),
            hidden=(hidden, "pos_int"),
            lr=(lr, "pos"),
            epsilon=(epsilon, "prob"),
            batch_size=(batch_size, "pos_int"),
            tau=(tau, "prob"),
            replay=(replay, "pos_int"),
        )
        self.preset, self.reward, self.steps, self.gamma = preset, reward, steps, gamma
        self.path = path
        self.train_options: dict[str, Any] = {
            "n_envs": n_envs,
            "hidden": hidden,
            "lr": lr,
            "epsilon": epsilon,
            "batch_size": batch_size,
            "tau": tau,
            "replay": replay,
        }
        self.train_seconds = 0.0

    def _shape(self, context: AgentContext) -> dict[str, int]:
        """The C, K, L (and G) of the policy: the saved one's, or the training env's."""
        if self.path:
            return torch.load(self.path, weights_only=True)["spec"]
        preset, env_kwargs = training_env(self.preset, context)
        return env_shape(preset, self.reward, env_kwargs)

    def check(self, context: AgentContext) -> None:
        """The policy (saved, or the one training would give) fits the scenario.

        Its C, K and G must be the scenario's (:func:`~simrec_agents.rl.obs.check_fits`); a
        policy saved without ``n_genres`` in its spec (before it was recorded) is not
        checked on G.
        """
        check_fits(self._shape(context), context, "this slateq policy")

    def setup(self, context: AgentContext) -> None:
        """Train (seeded from the agent's stream) or load the policy; build the observer."""
        super().setup(context)
        torch_setup()
        if self.path:
            blob = torch.load(self.path, weights_only=True)  # tensors and plain data only
            self.spec: dict[str, Any] = blob["spec"]
            self.net = SlateQNet(self.spec["state_dim"], self.spec["item_dim"], self.spec["hidden"])
            self.net.load_state_dict(blob["state"])
        else:
            seed = int(self.rng.integers(0, 2**31))
            preset, env_kwargs = training_env(self.preset, context)
            self.net, self.spec, stats = train_slateq(
                preset,
                self.reward,
                env_kwargs=env_kwargs,
                steps=self.steps,
                gamma=self.gamma,
                seed=seed,
                **self.train_options,
            )
            self.train_seconds = stats.seconds
        check_fits(self.spec, context, "this slateq policy")
        self.observer = PopulationObservation(
            context.world, self.spec["candidates"], self.spec["history_length"]
        )

    def save(self, path: str) -> None:
        """Save the network and its env spec (loadable with ``weights_only=True``)."""
        torch.save({"spec": self.spec, "state": self.net.state_dict()}, path)

    @torch.no_grad()
    def recommend(self, batch: RequestBatch) -> np.ndarray:
        """Greedy slates from the request's candidates."""
        s, c = features(self.observer(batch))
        idx = self.net.slates(torch.from_numpy(s), torch.from_numpy(c), batch.slate_size)
        return np.take_along_axis(batch.candidates, idx.numpy(), axis=1)

    def observe(self, feedback: Feedback) -> None:
        """Update the observation builder (clicks, CTR counts)."""
        self.observer.observe(feedback)

    def cost(self) -> Cost:
        """Network parameters; training seconds in ``extra``."""
        n = sum(p.numel() for p in self.net.parameters())
        return Cost(params=n, trainable_params=n, extra={"train_seconds": self.train_seconds})

    def request_flops(self, pool: float, batch: float) -> float:
        """Both networks over each candidate."""
        from simrec_agents.base import dense_flops

        return dense_flops(self.net) * pool
