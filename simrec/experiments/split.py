"""Two agents serving one population: the arms of an A/B test.

:class:`SplitAgent` is an :class:`~simrec.agent.Agent` that routes every request to the
control or the treatment agent by the requesting user's arm, so both arms serve in one run
and share everything the world shares: the catalog, the item state and the platform-wide
trending signal (:mod:`simrec.engine.trending`). Each arm's agent sees only its own arm's
feedback, unless ``shared_training`` hands every agent the feedback of both arms (one
platform-wide log, as when one model table serves the whole site).

:func:`assign_arms` draws the arms: a user is treated when a uniform keyed by the run's
behaviour stream and the user id falls below the share, so the arms of a seed are the same
in every run of it and independent of everything the users do.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from simrec.agent import Agent, AgentContext
from simrec.config import ScenarioConfig
from simrec.errors import ConfigError, InvalidActionError, in_context
from simrec.rng import Purpose, keyed_uniform, make_streams
from simrec.types import Cost, Feedback, Propensities, RequestBatch, StochasticSlates
from simrec.worlds import make_world

__all__ = ["ARMS", "SplitAgent", "arm_contexts", "assign_arms", "check_arms"]

#: The arms, in the order of :attr:`SplitAgent.agents`.
ARMS = ("control", "treatment")


def assign_arms(
    seed: int, n_users: int, share: float, cluster: np.ndarray | None = None
) -> np.ndarray:
    """Treated users ``(n_users,)`` bool.

    By user: each user independently with probability ``share``. By cluster (``cluster``:
    each user's cluster id): ``round(share x clusters)`` whole clusters (at least one, and
    at least one left in control), chosen uniformly -- complete randomisation, as cluster
    experiments with few units use.

    >>> a = assign_arms(0, 10_000, 0.3)
    >>> bool(abs(a.mean() - 0.3) < 0.02), bool((a == assign_arms(0, 10_000, 0.3)).all())
    (True, True)
    >>> c = np.arange(10) // 2  # five clusters of two
    >>> t = assign_arms(0, 10, 0.4, c)
    >>> int(t.sum()), bool((t[::2] == t[1::2]).all())
    (4, True)
    """
    behaviour = make_streams(seed).behaviour
    if cluster is None:
        keys = behaviour.user_keys(np.arange(n_users))
        zero = np.zeros(n_users, dtype=np.int64)
        return keyed_uniform(keys, Purpose.AB_ASSIGNMENT, zero) < share
    cluster = np.asarray(cluster, dtype=np.int64)
    if len(cluster) != n_users:
        raise ValueError(f"cluster: expected one id per user ({n_users}), got {len(cluster)}")
    k = int(cluster.max()) + 1
    if k < 2:
        raise ValueError(f"cluster: a cluster-randomised test needs two clusters, got {k}")
    keys = behaviour.user_keys(np.arange(k))
    draw = keyed_uniform(keys, Purpose.AB_ASSIGNMENT, np.ones(k, dtype=np.int64))
    n_treated = min(max(round(share * k), 1), k - 1)
    treated_clusters = np.zeros(k, dtype=bool)
    treated_clusters[np.argsort(draw, kind="stable")[:n_treated]] = True
    return treated_clusters[cluster]


def check_arms(scenario: ScenarioConfig) -> None:
    """Refuse an A/B design whose arms cannot give a confidence interval on some seed.

    The test's CI needs at least two randomisation units of the day-0 cohort (the users the
    metrics are means over) in each arm: users, or clusters under ``ab.unit: cluster``. The
    arms are drawn exactly as the A/B run draws them, on every seed's world (the preflight
    of ``simrec ab``: :func:`simrec.preflight.preflight`).

    Raises:
        ConfigError: Naming ``ab.share``, the seed and the units in the short arm.
    """
    ab, cfg = scenario.ab, scenario.config
    for seed in scenario.seeds:
        s = make_streams(seed)
        world = make_world(cfg.world, s.world, s.arrivals, cfg.simulation.days)
        cohort = np.flatnonzero(np.asarray(world.users.arrival_day) == 0.0)
        cluster = None
        if ab.unit == "cluster" and world.social is not None:
            cluster = np.asarray(world.social.cluster, dtype=np.int64)
            clusters = len(np.unique(cluster))
            if clusters < 4:
                raise ConfigError(
                    f"ab.unit: a cluster-randomised test needs at least 2 clusters in each arm; "
                    f"seed {seed}'s follow graph has {clusters} (raise world.users.n_users or "
                    "world.social.cluster_resolution, or use unit: user)"
                )
        treated = assign_arms(seed, world.n_users, ab.share, cluster)[cohort]
        units = cohort if cluster is None else cluster[cohort]
        what = "user" if cluster is None else "cluster"
        for arm, members in (("treatment", treated), ("control", ~treated)):
            n = len(np.unique(units[members]))
            if n < 2:
                raise ConfigError(
                    f"ab.share: {ab.share} puts {n} {what}{'s' if n != 1 else ''} of the day-0 "
                    f"cohort ({len(cohort)} users) in the {arm} arm on seed {seed}; a confidence "
                    f"interval needs at least 2 {what}s in each arm: raise world.users.n_users "
                    "or move ab.share toward 0.5"
                )


def arm_contexts(context: AgentContext, agents: Sequence[Agent]) -> list[AgentContext]:
    """One setup context per agent of a composite (the arms of a test, a shadowed policy).

    The first agent keeps the context's random stream; the others get streams seeded from
    it. Only an agent that declares ``reads_hidden_state`` gets the hidden-state accessor.
    """
    seeds = [int(context.rng.integers(2**63)) for _ in agents[1:]]
    rngs = [context.rng, *(np.random.default_rng(s) for s in seeds)]
    return [
        dataclasses.replace(
            context, rng=rng, _ground_truth=context._ground_truth if a.reads_hidden_state else None
        )
        for a, rng in zip(agents, rngs, strict=True)
    ]


class SplitAgent(Agent):
    """Routes each request to the agent of the user's arm (see the module docstring).

    Args:
        control: The control arm's agent.
        treatment: The treatment arm's agent.
        treated: ``(N,)`` bool over every user of the world: True in the treatment arm.
        shared_training: Give every agent the feedback of both arms.
        labels: The arms' agent labels (named in errors).
    """

    def __init__(
        self,
        control: Agent,
        treatment: Agent,
        treated: np.ndarray,
        shared_training: bool = False,
        labels: tuple[str, str] = ("control", "treatment"),
    ) -> None:
        """Bind the arms."""
        self.agents = (control, treatment)
        self.treated = np.asarray(treated, dtype=bool)
        self.shared_training = bool(shared_training)
        self.labels = labels
        # an instance attribute: the split reads hidden state when either arm does
        self.reads_hidden_state = control.reads_hidden_state or treatment.reads_hidden_state

    def _call(self, arm: int, method: str, *args: Any) -> Any:
        try:
            return getattr(self.agents[arm], method)(*args)
        except Exception as err:
            raise in_context(err, f"{ARMS[arm]} arm {self.labels[arm]!r}") from err

    def check(self, context: AgentContext) -> None:
        """Both arms' checks."""
        for arm in (0, 1):
            self._call(arm, "check", context)

    def setup(self, context: AgentContext) -> None:
        """Set up both arms, each with its own random stream."""
        super().setup(context)
        if len(self.treated) < context.world.n_users:
            raise ValueError(
                f"treated: expected one arm per user of the world ({context.world.n_users}), "
                f"got {len(self.treated)}"
            )
        for arm, ctx in enumerate(arm_contexts(context, self.agents)):
            self._call(arm, "setup", ctx)

    def _rows(self, users: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        t = self.treated[users]
        return np.flatnonzero(~t), np.flatnonzero(t)

    def recommend(self, batch: RequestBatch) -> np.ndarray | StochasticSlates:
        """Each arm's slates for its own users' requests (with any propensities they give)."""
        out = np.empty((len(batch), batch.slate_size), dtype=np.int64)
        propensities = None
        for arm, rows in enumerate(self._rows(batch.users)):
            if rows.size == 0:
                continue
            sub = RequestBatch(
                users=batch.users[rows],
                time=batch.time,
                step=batch.step[rows],
                available=batch.available,
                candidates=None if batch.candidates is None else batch.candidates[rows],
                slate_size=batch.slate_size,
            )
            slates = self._call(arm, "recommend", sub)
            if isinstance(slates, StochasticSlates):  # keep the arm's propensities
                if propensities is None:
                    propensities = Propensities.unknown(len(batch), batch.slate_size)
                for name in ("slate", "item", "cascade"):
                    getattr(propensities, name)[rows] = getattr(slates.propensities, name)
                slates = slates.items
            slates = np.asarray(slates)
            if slates.shape != (rows.size, batch.slate_size) or slates.dtype.kind not in "iu":
                raise InvalidActionError(
                    f"{ARMS[arm]} arm {self.labels[arm]!r}: expected integer slates of shape "
                    f"({rows.size}, {batch.slate_size}), got {slates.dtype} {slates.shape}"
                )
            out[rows] = slates
        return out if propensities is None else StochasticSlates(out, propensities)

    def observe(self, feedback: Feedback) -> None:
        """Each arm's feedback to its agent (every arm's, with ``shared_training``)."""
        for arm, rows in enumerate(self._rows(feedback.users)):
            if self.shared_training:
                self._call(arm, "observe", feedback)
            elif rows.size:
                self._call(arm, "observe", _take(feedback, rows))

    def retrain(self, now: float) -> None:
        """Retrain both arms."""
        for arm in (0, 1):
            self._call(arm, "retrain", now)

    def on_items_released(self, items: np.ndarray, now: float) -> None:
        """Tell both arms."""
        for arm in (0, 1):
            self._call(arm, "on_items_released", items, now)

    def cost(self) -> Cost:
        """Both arms' parameters (each arm's own cost is in its global run)."""
        a, b = (self._call(arm, "cost") for arm in (0, 1))
        return Cost(
            params=a.params + b.params, trainable_params=a.trainable_params + b.trainable_params
        )


def _take(feedback: Feedback, rows: np.ndarray) -> Feedback:
    """The feedback of the batch rows ``rows``."""
    arrays = {
        f.name: getattr(feedback, f.name)[rows]
        for f in dataclasses.fields(feedback)
        if isinstance(getattr(feedback, f.name), np.ndarray)
    }
    return dataclasses.replace(feedback, **arrays)
