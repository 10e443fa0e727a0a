r"""Stable-baselines3 policies that score each candidate with one shared network.

SB3's ``MultiInputPolicy`` flattens the observation and maps it to one logit per candidate
*slot* with a dense layer, so it must learn the value of "a good item in slot 3" separately
for each of the C slots; with 10-20 candidates a few tens of thousands of steps teach it
nothing (the first reference runs of simrec 0.1: PPO at 20k-30k steps equal to random).
Recommendation policies score candidates with one function of (user, item) instead, as
SlateQ's item-level values and the two-tower models do. These policies do that inside SB3,
unmodified otherwise:

- :class:`CandidateScorer` (a features extractor) builds a user state from the profile, the
  context and the mean of the valid history items, and scores every candidate with one MLP
  over (user state, candidate features, the candidate's genre agreement with the stated
  genre and with the history, and its vector's dot product with the history's mean vector
  when the env has item vectors). Its output is the C scores followed by the user state.
- :class:`CandidatePPOPolicy`: the actor's logits are the scores themselves (the same for
  each slate position of a ``MultiDiscrete`` slate; the env's ``slate_duplicates="fill"``
  replaces repeats), the critic an MLP over the scores and the user state.
- :class:`CandidateDQNPolicy`: the Q-values are the scores (one per candidate).

Both are selected by ``policy="candidate"`` in :func:`simrec_agents.rl.sb3.train_policy`
(the default; ``policy="mlp"`` is SB3's own ``MultiInputPolicy``). A saved model names its
policy class, so loading one needs this module importable (``simrec[rl]`` installed).
"""

from __future__ import annotations

import itertools
from typing import Any, cast

import torch
from gymnasium import spaces
from simrec_agents.rl.obs import space_shape
from stable_baselines3.common.policies import MultiInputActorCriticPolicy
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from stable_baselines3.common.type_aliases import Schedule
from stable_baselines3.dqn.policies import MultiInputPolicy as DQNMultiInputPolicy
from stable_baselines3.dqn.policies import QNetwork
from torch import nn

__all__ = ["CandidateDQNPolicy", "CandidatePPOPolicy", "CandidateScorer"]


def _mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in itertools.pairwise(sizes[:-1]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    layers.append(nn.Linear(sizes[-2], sizes[-1]))
    return nn.Sequential(*layers)


class CandidateScorer(BaseFeaturesExtractor):
    """C candidate scores from one shared MLP, then the user state (see the module docstring).

    Args:
        observation_space: The env's ``Dict`` space (``profile``, ``history``, ``context``,
            ``candidates``).
        state_dim: Width of the user state.
        hidden: Width of the scoring MLP's two hidden layers.
    """

    def __init__(
        self, observation_space: spaces.Dict, state_dim: int = 32, hidden: int = 64
    ) -> None:
        C, F = space_shape(observation_space, "candidates")
        H = space_shape(observation_space, "history")[1]
        P = space_shape(observation_space, "profile")[0]
        X = space_shape(observation_space, "context")[0]
        super().__init__(observation_space, features_dim=C + state_dim)
        self.C, self.G = C, P - 1
        self.E = F - self.G - 3  # item-vector width
        self.state = nn.Sequential(_mlp([P + X + H, hidden, state_dim]), nn.ReLU())
        n_match = 2 + (1 if self.E else 0)
        self.score = _mlp([state_dim + F + n_match, hidden, hidden, 1])

    def forward(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        """``(B, C + state_dim)``: the candidates' scores, then the user state."""
        G, E = self.G, self.E
        hist, cand, profile = obs["history"], obs["candidates"], obs["profile"]
        valid = hist[:, :, -1:]
        mean_hist = (hist * valid).sum(dim=1) / valid.sum(dim=1).clamp(min=1.0)
        state = self.state(torch.cat([profile, obs["context"], mean_hist], dim=1))
        genre = cand[:, :, :G]
        match = [
            (genre * profile[:, None, 1:]).sum(dim=2, keepdim=True),
            (genre * mean_hist[:, None, :G]).sum(dim=2, keepdim=True),
        ]
        if E:
            vec = cand[:, :, G + 3 : G + 3 + E]
            match.append((vec * mean_hist[:, None, G + 1 : G + 1 + E]).sum(dim=2, keepdim=True))
        s = state[:, None, :].expand(-1, self.C, -1)
        scores = self.score(torch.cat([s, cand, *match], dim=2)).squeeze(2)
        return torch.cat([scores, state], dim=1)


class _Scores(nn.Module):
    """The first C features (the scores), repeated once per slate position."""

    def __init__(self, C: int, K: int) -> None:
        super().__init__()
        self.C, self.K = C, K

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features[:, : self.C].repeat(1, self.K)


def _small_last_layer(scorer: CandidateScorer, gain: float) -> None:
    """Start the scores near zero (a near-uniform first policy, as SB3's action-net gain)."""
    last = cast(nn.Linear, scorer.score[-1])  # _mlp ends with a Linear layer
    nn.init.orthogonal_(last.weight, gain=gain)
    nn.init.zeros_(last.bias)


class CandidatePPOPolicy(MultiInputActorCriticPolicy):
    """Actor-critic whose logits are :class:`CandidateScorer`'s scores (module docstring)."""

    def __init__(
        self,
        observation_space: spaces.Dict,
        action_space: spaces.Space,
        lr_schedule: Schedule,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("features_extractor_class", CandidateScorer)
        kwargs.setdefault("net_arch", {"pi": [], "vf": [64, 64]})
        super().__init__(observation_space, action_space, lr_schedule, **kwargs)

    def _build(self, lr_schedule: Schedule) -> None:
        super()._build(lr_schedule)
        C = space_shape(self.observation_space, "candidates")[0]
        if isinstance(self.action_space, spaces.Discrete):
            K = 1
        else:  # a slate: MultiDiscrete
            K = len(cast(spaces.MultiDiscrete, self.action_space).nvec)
        self.action_net = _Scores(C, K)
        # The features extractor is the CandidateScorer (the default set in __init__).
        _small_last_layer(cast(CandidateScorer, self.pi_features_extractor), 0.01)
        # As SB3's own _build: optimizer_class is typed as torch's Optimizer (no ``lr``).
        self.optimizer = self.optimizer_class(  # type: ignore[call-arg]
            self.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs
        )


class _CandidateQNetwork(QNetwork):
    """Q-values = the candidates' scores."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        C = space_shape(self.observation_space, "candidates")[0]
        # SB3 types q_net as the nn.Sequential of its own MLP; only its forward is used.
        self.q_net = _Scores(C, 1)  # type: ignore[assignment]


class CandidateDQNPolicy(DQNMultiInputPolicy):
    """DQN whose Q-values are :class:`CandidateScorer`'s scores (Discrete actions only)."""

    def __init__(
        self,
        observation_space: spaces.Dict,
        action_space: spaces.Discrete,
        lr_schedule: Schedule,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("features_extractor_class", CandidateScorer)
        kwargs.setdefault("net_arch", [])
        super().__init__(observation_space, action_space, lr_schedule, **kwargs)

    def make_q_net(self) -> _CandidateQNetwork:
        net_args = self._update_features_extractor(self.net_args, features_extractor=None)
        return _CandidateQNetwork(**net_args).to(self.device)
