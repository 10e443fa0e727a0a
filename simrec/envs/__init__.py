"""Gymnasium environments over the simrec engine, registered on ``import simrec``.

=================================== ===========================================================
``simrec/UserLifetime-v0``          one user's life: default world, 1 item from 20 candidates
``simrec/InterestEvolution-v0``     RecSim interest-evolution analogue (engagement reward)
``simrec/LongTermSatisfaction-v0``  RecSim long-term-satisfaction analogue (clickbait vs quality)
``simrec/Retention-v0``             KuaiSim-style cross-session return reward
=================================== ===========================================================

Each id also has a native vector version: ``gymnasium.make_vec(id, num_envs=N)``.
"""

from __future__ import annotations

import gymnasium as gym

from simrec.envs.lifetime import UserLifetimeEnv
from simrec.envs.presets import PRESETS
from simrec.envs.vector import UserLifetimeVectorEnv

__all__ = ["ENV_IDS", "UserLifetimeEnv", "UserLifetimeVectorEnv", "register_envs"]

#: Registered id -> preset name.
ENV_IDS: dict[str, str] = {
    "simrec/UserLifetime-v0": "user_lifetime",
    "simrec/InterestEvolution-v0": "interest_evolution",
    "simrec/LongTermSatisfaction-v0": "long_term_satisfaction",
    "simrec/Retention-v0": "retention",
}


def register_envs() -> None:
    """Register every id with its single and vector entry points (idempotent)."""
    for env_id, preset in ENV_IDS.items():
        assert preset in PRESETS
        if env_id in gym.registry:
            continue
        gym.register(
            id=env_id,
            entry_point="simrec.envs.lifetime:UserLifetimeEnv",
            vector_entry_point="simrec.envs.vector:UserLifetimeVectorEnv",
            kwargs={"preset": preset},
            disable_env_checker=False,
        )


register_envs()
