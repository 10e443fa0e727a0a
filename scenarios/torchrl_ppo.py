"""An outside RL library on a simrec env: torchrl's PPO trains on `simrec/UserLifetime-v0`.

Question: does an RL library that knows nothing of simrec (torchrl, through its Gymnasium
wrapper) train a recommender on a simrec env that beats random on held-out users?
Units: clicks per user life, mean ± 95% CI over 500 held-out users (env seeds 10,000+),
the same users for both policies. Expected runtime: ~1 minute on 2 cores (20k frames).

    python scenarios/torchrl_ppo.py
    python scenarios/torchrl_ppo.py --frames 40000 --env simrec/LongTermSatisfaction-v0

The env is made with `gymnasium.make` and wrapped by torchrl's `GymWrapper` (torchrl's
`GymEnv` passes gym-only keywords such as `frameskip` that simrec's envs refuse); the
observation dict becomes a TensorDict with `profile`, `history`, `context`, `candidates`.
Everything else is torchrl's own: `Collector`, `ProbabilisticActor`, `ValueOperator`,
`GAE`, `ClipPPOLoss`. The networks score each candidate with one shared MLP
(`simrec_agents.rl.sb3_policies.CandidateScorer`, a plain torch module). Slate envs
(K > 1) need a slate distribution, which this example does not build: K = 1 envs only.
Needs the ``rl`` and ``dev`` extras (torchrl is installed with ``dev``).
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

KEYS = ["profile", "history", "context", "candidates"]


def main(argv: list[str] | None = None) -> dict:
    """Train torchrl PPO; evaluate it and random on the same held-out users."""
    import gymnasium as gym
    import numpy as np
    import torch
    from simrec_agents.rl.evaluate import evaluate_policy, random_policy
    from simrec_agents.rl.sb3_policies import CandidateScorer
    from tensordict.nn import TensorDictModule
    from torch import nn
    from torchrl.collectors import Collector
    from torchrl.envs.libs.gym import GymWrapper, set_gym_backend
    from torchrl.modules import ProbabilisticActor, ValueOperator
    from torchrl.objectives import ClipPPOLoss
    from torchrl.objectives.value import GAE

    import simrec  # noqa: F401 - registers the envs
    from simrec.envs import ENV_IDS

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--env", default="simrec/UserLifetime-v0", choices=list(ENV_IDS))
    p.add_argument("--frames", type=int, default=20_000, help="env steps of training")
    p.add_argument("--frames-per-batch", type=int, default=2048)
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--minibatch", type=int, default=256)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--gamma", type=float, default=0.99)
    p.add_argument("--episodes", type=int, default=500, help="evaluation users")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(a.seed)

    gym_env = gym.make(a.env, render_mode=None)
    if not isinstance(gym_env.action_space, gym.spaces.Discrete):
        raise SystemExit(f"--env: {a.env} serves slates (K > 1); this example needs K = 1")
    with set_gym_backend("gymnasium"):
        env = GymWrapper(gym_env, categorical_action_encoding=True)
    env.set_seed(a.seed)
    space = gym_env.observation_space
    C = space["candidates"].shape[0]

    def batched(tensors):
        """The observation keys' tensors as one flat batch, and the leading shape (torchrl
        may call with no batch dimension, or with several)."""
        lead = tensors[0].shape[:-1]  # profile: (..., 1 + G)
        flat = {k: v.reshape(-1, *v.shape[len(lead) :]) for k, v in zip(KEYS, tensors, strict=True)}
        return lead, flat

    class Logits(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.scorer = CandidateScorer(space)

        def forward(self, *tensors):
            lead, flat = batched(tensors)
            return self.scorer(flat)[:, :C].reshape(*lead, C)

    class Value(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.scorer = CandidateScorer(space)
            self.head = nn.Linear(self.scorer.features_dim, 1)

        def forward(self, *tensors):
            lead, flat = batched(tensors)
            return self.head(self.scorer(flat)).reshape(*lead, 1)

    logits = Logits()
    actor = ProbabilisticActor(
        TensorDictModule(logits, in_keys=KEYS, out_keys=["logits"]),
        in_keys=["logits"],
        distribution_class=torch.distributions.Categorical,
        return_log_prob=True,
        spec=env.action_spec,
    )
    critic = ValueOperator(Value(), in_keys=KEYS)
    collector = Collector(env, actor, frames_per_batch=a.frames_per_batch, total_frames=a.frames)
    advantage = GAE(gamma=a.gamma, lmbda=0.95, value_network=critic, average_gae=True)
    loss_fn = ClipPPOLoss(actor, critic, clip_epsilon=0.2, entropy_coeff=0.01)
    opt = torch.optim.Adam(loss_fn.parameters(), lr=a.lr)
    gen = torch.Generator().manual_seed(a.seed)
    t0, returns = time.perf_counter(), []
    for data in collector:
        with torch.no_grad():
            advantage(data)
        flat = data.reshape(-1)
        for _ in range(a.epochs):
            order = torch.randperm(len(flat), generator=gen)
            for start in range(0, len(flat), a.minibatch):
                out = loss_fn(flat[order[start : start + a.minibatch]])
                loss = out["loss_objective"] + out["loss_critic"] + out["loss_entropy"]
                opt.zero_grad()
                loss.backward()
                opt.step()
        returns.append(
            float(data["next", "reward"].sum() / max(1, int(data["next", "done"].sum())))
        )
    collector.shutdown()
    seconds = time.perf_counter() - t0

    def greedy(obs: dict) -> np.ndarray:
        with torch.no_grad():
            t = [torch.as_tensor(obs[k]) for k in KEYS]
            return logits(*t).argmax(dim=1).numpy()

    preset, seed = ENV_IDS[a.env], 10_000
    rows = {
        "random": evaluate_policy(random_policy(seed), preset, "click", a.episodes, seed),
        "torchrl-ppo": evaluate_policy(greedy, preset, "click", a.episodes, seed),
    }
    print(f"torchrl ClipPPOLoss on {a.env}: {a.frames:,} frames in {seconds:.1f} s")
    out = {"seconds": seconds, "returns": returns}
    for name, outcome in rows.items():
        m, ci = outcome.summary()["clicks"]
        print(f"  {name:12s}: {m:.2f} ± {ci:.2f} clicks per user life")
        out[name] = (m, ci)
    return out


if __name__ == "__main__":
    main()
