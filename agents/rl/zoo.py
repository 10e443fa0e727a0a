"""The RL reference table: every env, every learner that fits it, several training seeds.

A *cell* is one learner trained with one seed on one env and evaluated on the same held-out
users as every other policy of that env (env seeds ``EVAL_SEED + i``, never met in
training, whose seeds are small integers). :func:`run_cell` trains and evaluates one cell
and returns plain data (per-user outcomes and the training curve); :func:`summarise` turns
the cells into the table of ``docs/rl.md``; ``benchmarks/rl_zoo.py`` runs the grid in
worker processes, one JSON file per finished cell (a stopped run resumes where it stopped).

Learners (:data:`GRID`): SB3 PPO and DQN with the candidate-scoring policies
(:mod:`simrec_agents.rl.sb3_policies`, :data:`simrec_agents.rl.sb3.DEFAULTS`), SlateQ
(:func:`simrec_agents.rl.slateq.train_slateq`) and REINFORCE with the top-K correction
(:func:`simrec_agents.rl.reinforce_env.train_reinforce`). Long-term learners train on the env's
reward with gamma 0.99, or on ``LongTermSatisfaction-v0`` and ``Retention-v0`` on the
``long-term`` reward (a click, plus 2 x exp(-gap / 1 day) at a session end that the user
returns from, minus 10 on churn); each of these has a **myopic twin**: the same learner,
trained on the env's one-step reward with gamma 0. References (no training):
random, popularity (the observed-CTR feature), the myopic oracle (true click utility) and
the oracle (true value of consumption), both reading the hidden state.

Outcomes per user life: the env's reward, the long-term return (the ``long-term`` reward
summed over the life), clicks, minutes of engagement, retention (not churned at the
horizon).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np

from simrec.envs import ENV_IDS
from simrec.errors import ConfigError

if TYPE_CHECKING:
    from simrec_agents.rl.evaluate import Policy
    from stable_baselines3.common.callbacks import BaseCallback

__all__ = [
    "EVAL_SEED",
    "GRID",
    "OUTCOMES",
    "REFERENCES",
    "STATIC",
    "Learner",
    "compare",
    "markdown",
    "preset_of",
    "run_cell",
    "run_grid",
    "run_reference",
    "summarise",
]

#: The negative control's row group: ``LongTermSatisfaction-v0`` with the preset
#: ``long_term_satisfaction_static`` (no lasting effect of a recommendation; docs/rl.md).
STATIC = "simrec/LongTermSatisfaction-v0:static"
#: First env seed of the evaluation users (training episodes use seeds below it).
EVAL_SEED = 10_000
OUTCOMES = ("reward", "long_term", "clicks", "engagement", "retention")
REFERENCES = ("random", "popularity", "myopic-oracle", "oracle")

#: One cell of the grid, as plain data (JSON): env, label, outcomes per user, ...
Cell: TypeAlias = dict[str, Any]
#: A cell's work for a worker: (out folder, env, label, seed or None for a reference,
#: evaluation users, training steps or None for the learner's own).
Job: TypeAlias = tuple[str, str, str, int | None, int, int | None]


@dataclass(frozen=True)
class Learner:
    """One learner of the grid.

    Attributes:
        label: Row name (``ppo``, ``ppo-myopic``, ...).
        algo: ``ppo``, ``dqn``, ``slateq`` or ``reinforce``.
        reward: Training reward.
        gamma: Discount.
        steps: Env steps of training.
        role: ``long-term`` (gamma near 1), ``myopic`` (its twin, gamma 0).
        options: Further training options of the algorithm.
    """

    label: str
    algo: str
    reward: str
    gamma: float
    steps: int
    role: str
    options: tuple[tuple[str, Any], ...] = ()


def _grid() -> dict[str, tuple[str, list[Learner]]]:
    """Env id -> (its evaluation reward, learners)."""
    ppo, dqn, sq, rf = 50_000, 50_000, 100_000, 50_000
    # SlateQ: 4 gradient updates per vector step of its 64 users (1 learns less: on
    # InterestEvolution-v0 at 100k steps, engagement 11.2 vs 12.7 with 4, seed 0, measured
    # before SlateQ saw the genre-agreement features).
    options = {"slateq": (("updates_per_step", 4),)}

    def pair(algo: str, steps: int, long_reward: str, short_reward: str) -> list[Learner]:
        opts = options.get(algo, ())
        return [
            Learner(algo, algo, long_reward, 0.99, steps, "long-term", opts),
            Learner(f"{algo}-myopic", algo, short_reward, 0.0, steps, "myopic", opts),
        ]

    return {
        "simrec/UserLifetime-v0": (
            "click",
            [
                *pair("ppo", ppo, "click", "click"),
                Learner("dqn", "dqn", "click", 0.99, dqn, "long-term"),
                *pair("slateq", sq, "click", "click"),
                Learner("reinforce", "reinforce", "click", 0.99, rf, "long-term"),
            ],
        ),
        "simrec/InterestEvolution-v0": (
            "engagement",
            [
                *pair("ppo", ppo, "engagement", "engagement"),
                *pair("slateq", sq, "engagement", "engagement"),
                Learner("reinforce", "reinforce", "engagement", 0.99, rf, "long-term"),
            ],
        ),
        "simrec/LongTermSatisfaction-v0": (
            "click",
            [
                *pair("ppo", ppo, "long-term", "click"),
                *pair("dqn", dqn, "long-term", "click"),
                *pair("slateq", sq, "long-term", "click"),
                *pair("reinforce", rf, "long-term", "click"),
            ],
        ),
        "simrec/Retention-v0": (
            "return",
            [
                *pair("ppo", ppo, "long-term", "return"),
                *pair("slateq", sq, "long-term", "return"),
                *pair("reinforce", rf, "long-term", "return"),
            ],
        ),
        # The negative control: LongTermSatisfaction-v0 without lasting effects.
        STATIC: (
            "click",
            [*pair("ppo", ppo, "long-term", "click"), *pair("dqn", dqn, "long-term", "click")],
        ),
    }


def preset_of(env: str) -> str:
    """The env preset of a row group of the table (an env id, or :data:`STATIC`)."""
    return "long_term_satisfaction_static" if env == STATIC else ENV_IDS[env]


#: Env id -> (evaluation reward, learners).
GRID: dict[str, tuple[str, list[Learner]]] = _grid()


def _evaluate(
    policy_factory: Callable[[], Policy], preset: str, reward: str, episodes: int
) -> dict[str, list[float]]:
    """Per-user outcomes of a policy on the evaluation users (env reward and long-term)."""
    from simrec_agents.rl.evaluate import evaluate_policy

    kw = {"slate_duplicates": "fill"}
    own = evaluate_policy(policy_factory(), preset, reward, episodes, EVAL_SEED, **kw)
    lt = evaluate_policy(policy_factory(), preset, "long-term", episodes, EVAL_SEED, **kw)
    if not np.array_equal(own.clicks, lt.clicks):  # the reward never changes the dynamics
        raise RuntimeError("the two evaluations of one policy met different trajectories")
    return {
        "reward": own.reward.tolist(),
        "long_term": lt.reward.tolist(),
        "clicks": own.clicks.tolist(),
        "engagement": own.engagement.tolist(),
        "retention": (1.0 - own.churned.astype(float)).tolist(),
    }


def run_reference(env_id: str, name: str, episodes: int = 2000) -> Cell:
    """Evaluate a reference policy (no training) on the env's evaluation users."""
    from simrec_agents.rl.evaluate import oracle_policy, popularity_policy, random_policy

    factories = {
        "random": lambda: random_policy(EVAL_SEED),
        "popularity": popularity_policy,
        "myopic-oracle": lambda: oracle_policy("utility"),
        "oracle": lambda: oracle_policy("value"),
    }
    reward, _ = GRID[env_id]
    out = _evaluate(factories[name], preset_of(env_id), reward, episodes)
    return {"env": env_id, "label": name, "seed": None, "outcomes": out, "train_seconds": 0.0}


def _own_learner(algo: str) -> tuple[Callable[..., tuple[Any, Any, Any]], Callable[[Any], Policy]]:
    """``(train, trained -> batched greedy policy)`` of simrec's own env learners."""
    if algo == "reinforce":
        from simrec_agents.rl.reinforce_env import greedy_scores_policy, train_reinforce

        return train_reinforce, lambda out: greedy_scores_policy(out[0], out[1])
    from simrec_agents.rl.slateq import greedy_policy, train_slateq

    return train_slateq, lambda out: greedy_policy(out[0], out[1]["slate_size"])


def run_cell(env_id: str, learner: Learner, seed: int, episodes: int = 2000) -> Cell:
    """Train ``learner`` with ``seed`` on ``env_id``, evaluate it; plain data for JSON."""
    preset = preset_of(env_id)
    reward, _ = GRID[env_id]
    curve: list[tuple[int, float]] = []
    t0 = time.perf_counter()
    if learner.algo in ("reinforce", "slateq"):
        train, to_policy = _own_learner(learner.algo)
        trained = train(
            preset,
            learner.reward,
            steps=learner.steps,
            gamma=learner.gamma,
            seed=seed,
            curve=curve,
            **dict(learner.options),
        )
        seconds = time.perf_counter() - t0
        factory = lambda: to_policy(trained)  # noqa: E731
    else:
        from simrec_agents.rl.sb3 import train_policy

        model = train_policy(
            learner.algo,
            preset,
            learner.reward,
            learner.steps,
            seed,
            gamma=learner.gamma,
            callback=_curve_callback(curve),
            **dict(learner.options),
        )
        seconds = model.train_seconds

        def factory() -> Policy:
            return lambda obs: model.predict(obs, deterministic=True)[0]

    out = _evaluate(factory, preset, reward, episodes)
    return {
        "env": env_id,
        "label": learner.label,
        "algo": learner.algo,
        "role": learner.role,
        "train_reward": learner.reward,
        "gamma": learner.gamma,
        "steps": learner.steps,
        "seed": seed,
        "train_seconds": seconds,
        "curve": curve,
        "outcomes": out,
    }


def _curve_callback(curve: list[tuple[int, float]]) -> BaseCallback:
    """An SB3 callback appending ``(steps, episode return)`` for every finished episode."""
    from stable_baselines3.common.callbacks import BaseCallback

    class Curve(BaseCallback):
        def _on_step(self) -> bool:
            for info in self.locals.get("infos", []):
                if "episode" in info:
                    curve.append((self.num_timesteps, float(info["episode"]["r"])))
            return True

    return Curve()


def _t_ci(x: np.ndarray) -> tuple[float, float]:
    from simrec.runner.results import t_quantile_975

    x = np.asarray(x, dtype=float)
    if len(x) < 2:
        return float(x.mean()), float("nan")
    return float(x.mean()), float(t_quantile_975(len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x)))


def compare(a: list[Cell], b: list[Cell], outcome: str) -> tuple[float, float]:
    """Mean difference ``a - b`` of an outcome on the same users, with its 95% CI half-width.

    ``a`` and ``b`` are the cells (training seeds) of two policies of one env; a reference
    has one cell. Two learners are paired seed by seed (independent trainings), a learner
    and a reference each seed against the reference. Each difference is paired on the
    evaluation users; the half-width
    combines the spread over training seeds (a t-interval over the seed means; zero with one
    seed on each side) with the users' sampling error of the paired differences, in
    quadrature.
    """
    if len(a) > 1 and len(b) > 1:  # two learners: independent trainings, paired by seed
        a, b = sorted(a, key=lambda c: c["seed"]), sorted(b, key=lambda c: c["seed"])
        if [c["seed"] for c in a] != [c["seed"] for c in b]:
            raise ValueError("compare: the two learners were trained with different seeds")
        pairs = list(zip(a, b, strict=True))
    else:  # a learner and a reference (one cell): each seed against it
        pairs = [(ca, cb) for ca in a for cb in b]
    diffs, user_se2 = [], []
    for ca, cb in pairs:
        d = np.asarray(ca["outcomes"][outcome]) - np.asarray(cb["outcomes"][outcome])
        diffs.append(d.mean())
        user_se2.append(d.var(ddof=1) / len(d))
    mean, seed_hw = _t_ci(np.array(diffs)) if len(diffs) > 1 else (float(diffs[0]), 0.0)
    user_hw = 1.96 * float(np.sqrt(np.mean(user_se2)))
    return mean, float(np.hypot(seed_hw, user_hw))


def summarise(cells: list[Cell]) -> dict[str, dict[str, dict[str, Any]]]:
    """Env -> label -> outcome means ± CI, training seconds, seeds, and verdicts vs random.

    A learner's mean is over its training seeds (each a mean over the evaluation users) with
    a t-interval across seeds; a reference's CI is the users' sampling error.
    """
    by: dict[str, dict[str, list[Cell]]] = {}
    for c in cells:
        by.setdefault(c["env"], {}).setdefault(c["label"], []).append(c)
    table: dict[str, dict[str, dict[str, Any]]] = {}
    for env, rows in by.items():
        table[env] = {}
        for label, cs in rows.items():
            row: dict[str, Any] = {"seeds": len(cs) if cs[0]["seed"] is not None else 0}
            for k in OUTCOMES:
                per_seed = [float(np.mean(c["outcomes"][k])) for c in cs]
                if row["seeds"]:
                    row[k] = _t_ci(np.array(per_seed))
                else:
                    x = np.asarray(cs[0]["outcomes"][k])
                    row[k] = (float(x.mean()), float(1.96 * x.std(ddof=1) / np.sqrt(len(x))))
            row["train_seconds"] = float(np.median([c["train_seconds"] for c in cs]))
            if "random" in rows and row["seeds"]:
                row["vs_random"] = compare(cs, rows["random"], "reward")
            table[env][label] = row
    return table


def markdown(table: dict[str, dict[str, dict[str, Any]]], cells: list[Cell]) -> str:
    """The reference table and the comparisons, as Markdown."""
    lines = []
    for env, rows in sorted(table.items(), key=lambda kv: list(GRID).index(kv[0])):
        reward = GRID[env][0]
        lines += [
            f"### `{env}` (env reward: {reward})",
            "",
            "| policy | trained on | gamma | seeds | env reward | long-term return | retention "
            "| clicks | Δ env reward vs random | train s |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        order = [*REFERENCES, *(lr.label for lr in GRID[env][1])]
        for label in [x for x in order if x in rows]:
            r = rows[label]
            cs = [c for c in cells if c["env"] == env and c["label"] == label]
            trained = cs[0].get("train_reward", "—")
            gamma = cs[0].get("gamma", "—")
            vs = r.get("vs_random")
            lines.append(
                f"| {label} | {trained} | {gamma} | {r['seeds'] or '—'} "
                + " ".join(
                    f"| {r[k][0]:.3f} ± {r[k][1]:.3f}" for k in ("reward", "long_term", "retention")
                )
                + f" | {r['clicks'][0]:.2f} | "
                + (f"{vs[0]:+.3f} ± {vs[1]:.3f}" if vs else "—")
                + f" | {r['train_seconds']:.0f} |"
            )
        lines.append("")
        pairs = [
            (lr.label, f"{lr.label}-myopic")
            for lr in GRID[env][1]
            if lr.role == "long-term" and f"{lr.label}-myopic" in rows and lr.label in rows
        ]
        if pairs:
            lines += ["Long-term learner minus its myopic twin (same users, paired):", ""]
            lines += [
                "| pair | Δ env reward | Δ long-term return | Δ retention |",
                "|---|---|---|---|",
            ]
            by: dict[str, list[Cell]] = {}
            for c in cells:
                if c["env"] == env:
                    by.setdefault(c["label"], []).append(c)
            for a, b in pairs:
                ds = [compare(by[a], by[b], k) for k in ("reward", "long_term", "retention")]
                lines.append(
                    f"| {a} − {b} | " + " | ".join(f"{m:+.3f} ± {h:.3f}" for m, h in ds) + " |"
                )
            lines.append("")
    return "\n".join(lines)


def cell_path(out: Path, env: str, label: str, seed: int | None) -> Path:
    """The JSON file of one cell under ``out/cells``."""
    tag = env.split("/")[-1].replace(":", "-")
    return Path(out) / "cells" / f"{tag}__{label}__{'ref' if seed is None else seed}.json"


def _learner(env: str, label: str, steps: int | None) -> Learner:
    lr = next(x for x in GRID[env][1] if x.label == label)
    return lr if steps is None else dataclasses.replace(lr, steps=steps)


def _work(job: Job) -> tuple[str, float]:
    """Run one cell in a worker process and write its file atomically."""
    import torch

    import simrec  # noqa: F401 - registers the envs

    torch.set_num_threads(1)
    out, env, label, seed, episodes, steps = job
    t0 = time.perf_counter()
    if seed is None:
        cell = run_reference(env, label, episodes)
    else:
        cell = run_cell(env, _learner(env, label, steps), seed, episodes)
    path = cell_path(Path(out), env, label, seed)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(cell))
    tmp.replace(path)
    return path.name, time.perf_counter() - t0


def run_grid(
    out: str | Path,
    envs: list[str],
    learners: list[str] | None = None,
    seeds: int = 3,
    episodes: int = 2000,
    workers: int = 2,
    *,
    steps: int | None = None,
    run: bool = True,
) -> list[Cell]:
    """Run every missing cell of ``envs`` in worker processes; return all their cells.

    Each finished cell is written to ``out/cells`` as it ends (atomically), so a stopped run
    started again runs only the cells not yet there. ``learners`` limits the learner labels
    (references always run); ``steps`` replaces every learner's training budget.

    Raises:
        ConfigError: An unknown env or learner; a cell already in ``out`` that was run with
            other evaluation users or another training budget (results are never mixed:
            use another ``out``).
    """
    import multiprocessing as mp

    out = Path(out)
    for env in envs:
        if env not in GRID:
            raise ConfigError(f"env: unknown env {env!r}; known: {', '.join(GRID)}")
    known = {lr.label for env in envs for lr in GRID[env][1]}
    for label in learners or []:
        if label not in known:
            raise ConfigError(
                f"learner: unknown learner {label!r}; known: {', '.join(sorted(known))}"
            )
    (out / "cells").mkdir(parents=True, exist_ok=True)
    jobs: list[Job] = []
    for env in envs:
        jobs += [(str(out), env, label, None, episodes, None) for label in REFERENCES]
        for lr in GRID[env][1]:
            if learners is None or lr.label in learners:
                jobs += [(str(out), env, lr.label, s, episodes, steps) for s in range(seeds)]
    todo = []
    for job in jobs:
        path = cell_path(out, *job[1:4])
        if not path.exists():
            todo.append(job)
            continue
        cell = json.loads(path.read_text())
        want = {"episodes": episodes}
        if job[3] is not None:
            want["steps"] = _learner(job[1], job[2], steps).steps
        have = {"episodes": len(cell["outcomes"]["reward"]), "steps": cell.get("steps")}
        for key, value in want.items():
            if have[key] != value:
                raise ConfigError(
                    f"{key}: {path} was run with {key} {have[key]}, this run asks for "
                    f"{value}; use another output folder (results are never mixed)"
                )
    if run and todo:
        # Longest first (SlateQ), references last, so that the workers finish together.
        todo.sort(key=lambda j: (j[3] is None, j[2].split("-")[0] != "slateq"))
        print(f"{len(todo)} of {len(jobs)} cells to run ({workers} workers)", flush=True)
        with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
            futures = [pool.submit(_work, j) for j in todo]
            for i, f in enumerate(as_completed(futures), 1):
                name, seconds = f.result()
                print(f"  [{i}/{len(todo)}] {name} {seconds:.0f} s", flush=True)
    wanted = {cell_path(out, *j[1:4]).name for j in jobs}
    return [
        json.loads(f.read_text())
        for f in sorted((out / "cells").glob("*.json"))
        if f.name in wanted
    ]
