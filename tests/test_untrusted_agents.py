"""Agents are untrusted code (docs/reliability.md, "Agents are untrusted code").

One test (or a few) per class of failure an adversarial review found, each with real agents
and real runs: an agent changing the configuration of later runs, an agent reporting a
built-in total, an agent ending the program (``sys.exit``, ``GeneratorExit``, a
``KeyboardInterrupt`` of its own) while the user's Ctrl-C still interrupts, an agent writing
files outside ``--out``, and a run past its time limit.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
from conftest import fake_distribution, small_config
from simrec_agents.baselines import RandomAgent

from simrec import Simulation, make_agent
from simrec.agent import AgentContext
from simrec.config import ScenarioConfig, from_dict, read_only_copy
from simrec.errors import AgentError, ConfigError, TimeLimitError
from simrec.rng import make_streams
from simrec.runner import run_scenario
from simrec.runner.results import scenario_fingerprint
from simrec.types import Cost

SET = {"dynamics.appeal_weight": 1.0}


def scenario(**over) -> ScenarioConfig:
    data = {
        "name": "untrusted",
        "seeds": [0, 1],
        "agents": [{"name": "random"}],
        "world": {"items": {"n_items": 100}, "users": {"n_users": 60}},
        "simulation": {
            "days": 3,
            "tick_minutes": 60.0,
            "interventions": [{"day": 1, "set": dict(SET)}],
        },
    } | over
    return from_dict(ScenarioConfig, data)


def cli(*args: str, path: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """``python -m simrec.cli ARGS`` in a fresh interpreter (``path`` first on its path)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(path)] * (path is not None) + [p for p in sys.path if p]
    )
    return subprocess.run(
        [sys.executable, "-m", "simrec.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


# ----------------------------------------------------------------------------- the config


class Mutator(RandomAgent):
    """Writes into the configuration it is handed (on its first run only) and records what
    each run saw."""

    isolated_state = False
    seen: ClassVar[list[tuple[int, dict, int, str]]] = []

    def setup(self, context: AgentContext) -> None:
        super().setup(context)
        cfg = context.config
        first = not Mutator.seen
        refused = ""
        if first:
            try:
                cfg.simulation.interventions[0].set["dynamics.appeal_weight"] = 99.0
            except TypeError as err:
                refused = str(err)
            # Past the guards on purpose: only this run's own copy changes.
            object.__setattr__(cfg.simulation, "days", 1)
            object.__setattr__(cfg.simulation.interventions[0], "set", {"x": 1})
        iv = cfg.simulation.interventions[0]
        Mutator.seen.append((len(Mutator.seen), dict(iv.set), cfg.simulation.days, refused))


def test_an_agent_cannot_change_the_configuration_of_later_runs(tmp_path):
    """A sweep of two seeds: the write on seed 0 raises, and seed 1 -- and the caller's
    scenario -- see the configuration unchanged, even after a write past the guards."""
    Mutator.seen = []
    sc = scenario()
    before = dataclasses.replace(sc)
    res = run_scenario(sc, tmp_path / "out", agents={"mutator": Mutator}, progress=False)
    (_, _, _, refused), *later = Mutator.seen
    assert "read-only" in refused
    # preflight's check context, then seed 1: the configuration as written in the scenario
    assert later and all(s == SET and days == 3 for _, s, days, _ in later)
    assert sc == before and dict(sc.simulation.interventions[0].set) == SET
    # the run whose agent wrote into its copy ran the scenario's 3 days all the same
    assert len(res.metrics.query("agent == 'mutator' and seed == 0")["day"].unique()) == 3


def test_the_configuration_an_agent_is_handed_is_read_only_all_the_way_down():
    cfg = small_config(days=2, interventions=[{"day": 1, "set": dict(SET)}])
    ctx = AgentContext(
        world=Simulation(cfg).build_world(0).observable,
        rng=make_streams(0).agent,
        slate_size=5,
        n_candidates=0,
        retrain_every_days=1.0,
        config=cfg,
    )
    assert ctx.config == cfg and ctx.config is not cfg
    with pytest.raises(dataclasses.FrozenInstanceError):
        ctx.config.simulation.days = 1  # type: ignore[misc]
    iv_set = ctx.config.simulation.interventions[0].set
    for write in (
        lambda: iv_set.__setitem__("dynamics.appeal_weight", 0.0),
        lambda: iv_set.update({"x": 1}),
        lambda: iv_set.pop("dynamics.appeal_weight"),
        lambda: iv_set.clear(),
    ):
        with pytest.raises(TypeError, match="read-only"):
            write()
    # every container kind, nested: mappings, lists, arrays
    frozen = read_only_copy({"a": [1, {"b": [2]}], "z": np.zeros(3)})
    with pytest.raises(TypeError, match="read-only"):
        frozen["a"][1]["b"] = 3
    with pytest.raises(AttributeError):
        frozen["a"][1]["b"].append(3)  # a tuple now
    with pytest.raises(ValueError, match="read-only"):
        frozen["z"][0] = 1.0
    # a changed copy is still built the documented way, and it is a valid config
    from simrec.config import replace_path

    assert replace_path(ctx.config, "simulation.days", 4).simulation.days == 4


# ----------------------------------------------------------------------------- the totals


class Liar(RandomAgent):
    """Reports built-in totals of its own, and one measure of its own."""

    isolated_state = False

    def cost(self) -> Cost:
        return Cost(extra={"totals": {"clicks": 1e9, "retention": 1.0, "my_measure": 3}})


def test_an_agent_cannot_replace_a_built_in_total(tmp_path):
    """totals.json's clicks is the engine's count (the random agent's on the same seed: the
    liar draws the same slates); the agent's own numbers are under agent.<key>."""
    res = run_scenario(scenario(seeds=[0]), tmp_path / "out", agents={"liar": Liar}, progress=False)
    runs = tmp_path / "out" / "runs"
    liar = json.loads((runs / "liar" / "0" / "totals.json").read_text())
    honest = json.loads((runs / "random" / "0" / "totals.json").read_text())
    assert liar["clicks"] == honest["clicks"] != 1e9
    assert liar["retention"] == honest["retention"]
    assert liar["agent.clicks"] == 1e9 and liar["agent.my_measure"] == 3.0
    summary = res.summary.set_index(["agent", "metric"])["mean"]
    assert summary["liar", "clicks"] == honest["clicks"]
    assert summary["liar", "agent.my_measure"] == 3.0


def test_agent_totals_that_are_not_numbers_are_an_agent_error():
    class Garbage(RandomAgent):
        def cost(self) -> Cost:
            return Cost(extra={"totals": {"clicks": "lots"}})

    with pytest.raises(AgentError, match=r"agent 'g' .*cost.*\['clicks'\]: expected a number"):
        Simulation(small_config(days=1)).run(Garbage(), label="g")


# ----------------------------------------------------------------------------- ending the program


class Stopper(RandomAgent):
    """Raises ``error`` in ``hook`` (on day 1 where the hook is called daily)."""

    def __init__(self, hook: str = "recommend", error: BaseException | None = None) -> None:
        self.hook, self.error = hook, error if error is not None else SystemExit(0)

    def _maybe(self, hook: str, day: float = 1.0) -> None:
        if hook == self.hook and day >= 1.0:
            raise self.error

    def setup(self, context):
        super().setup(context)
        self._maybe("setup")

    def recommend(self, batch):
        self._maybe("recommend", batch.time)
        return super().recommend(batch)

    def observe(self, feedback):
        self._maybe("observe", feedback.time)

    def retrain(self, now):
        self._maybe("retrain", now)

    def cost(self):
        self._maybe("cost")
        return super().cost()


class MyBaseException(BaseException):
    pass


@pytest.mark.parametrize(
    "error",
    [SystemExit(0), SystemExit(3), GeneratorExit(), KeyboardInterrupt(), MyBaseException("x")],
    ids=["exit-0", "exit-3", "generator-exit", "keyboard-interrupt", "base-subclass"],
)
def test_a_base_exception_from_agent_code_is_an_agent_error(error):
    with pytest.raises(AgentError) as info:
        Simulation(small_config(days=3)).run(Stopper("recommend", error), seed=7, label="stop")
    msg = str(info.value)
    assert msg.startswith("agent 'stop' (seed 7, day 1, recommend): ")
    assert type(error).__name__ in msg and "may not stop the program" in msg
    causes, cause = [], info.value.__cause__
    while cause is not None:
        causes.append(cause)
        cause = cause.__cause__
    assert error in causes  # the agent's own exception, with its traceback


@pytest.mark.parametrize("hook", ["setup", "observe", "retrain", "cost"])
def test_every_hook_is_guarded(hook):
    day = {"setup": 0, "cost": 2}.get(hook, 1)  # cost: at the end of the last day
    with pytest.raises(AgentError, match=rf"'stop' \(seed 0, day {day}, {hook}\): SystemExit"):
        Simulation(small_config(days=3)).run(Stopper(hook), label="stop")


class ExitInCheck(RandomAgent):
    def check(self, context):
        raise SystemExit(0)


class ExitInConstructor(RandomAgent):
    def __init__(self) -> None:
        raise SystemExit(0)


@pytest.mark.parametrize("cls", [ExitInCheck, ExitInConstructor])
def test_preflight_turns_an_exit_into_an_agent_error_before_any_folder(tmp_path, cls):
    with pytest.raises(AgentError, match=r"'bad' \(preflight\).*SystemExit: 0"):
        run_scenario(scenario(), tmp_path / "out", agents={"bad": cls}, progress=False)
    assert not (tmp_path / "out").exists()


QUITTER = """
import sys
from simrec_agents.baselines import RandomAgent

class Quitter(RandomAgent):
    isolated_state = False  # its runs alone: the random agent's finish first

    def retrain(self, now):
        if now >= 1:
            sys.exit(0)
"""


def test_sys_exit_in_an_agent_fails_the_sweep_and_keeps_finished_runs(tmp_path):
    """`simrec run`: exit status 2 (not 0), one line naming the agent, the other agent's
    runs kept, no summary from the partial set."""
    fake_distribution(
        tmp_path, "quitters", QUITTER, "[simrec.agents]\nquitter = quitters:Quitter\n"
    )
    path = tmp_path / "s.yaml"
    sc = {"agents": [{"name": "random"}, {"name": "quitter"}], "seeds": [0, 1]}
    path.write_text(_plain(scenario(**sc)))
    out = tmp_path / "out"
    r = cli("run", str(path), "--out", str(out), "--workers", "1", "--no-progress", path=tmp_path)
    assert r.returncode == 2, r.stderr
    lines = [x for x in r.stderr.splitlines() if x.startswith("simrec: error")]
    assert len(lines) == 1 and "agent 'quitter' (seed 0, day 1, retrain): SystemExit" in lines[0]
    assert sorted(p.name for p in (out / "runs" / "random").iterdir()) == ["0", "1"]
    assert not (out / "runs" / "quitter").exists()
    assert not (out / "summary.csv").exists()


def _plain(sc: ScenarioConfig) -> str:
    from simrec.config import to_yaml

    return to_yaml(sc)


CTRL_C = """
import os, signal, sys
sys.path.insert(0, {tests!r})
from conftest import small_config
from simrec_agents.baselines import RandomAgent
from simrec import Simulation
from simrec.errors import AgentError

class CtrlC(RandomAgent):
    swallow = False
    def recommend(self, batch):
        if batch.time >= 1:
            try:
                os.kill(os.getpid(), signal.SIGINT)  # as the terminal sends it
            except KeyboardInterrupt:
                if not self.swallow:
                    raise
        return super().recommend(batch)

class Swallow(CtrlC):
    swallow = True

for cls in (CtrlC, Swallow):
    try:
        Simulation(small_config(days=2)).run(cls())
        print(cls.__name__, "finished")
    except KeyboardInterrupt:
        print(cls.__name__, "interrupted")
    except AgentError as err:
        print(cls.__name__, "agent error", err)
"""


def test_the_users_ctrl_c_still_interrupts():
    """A SIGINT received during agent code stays a KeyboardInterrupt -- even one the agent's
    code swallowed -- while a KeyboardInterrupt the agent raises itself is an AgentError
    (test_a_base_exception_from_agent_code_is_an_agent_error)."""
    program = CTRL_C.format(tests=str(Path(__file__).parent))
    r = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120)
    assert r.stdout.split("\n")[:2] == ["CtrlC interrupted", "Swallow interrupted"], r.stderr


# ----------------------------------------------------------------------------- agent files


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"train": {"out": "/tmp/x"}}, "train.out"),
        ({"train": {"out": "../../x"}}, "train.out"),
        ({"train": {"logdir": "/tmp/tb"}}, "train.logdir"),
    ],
)
def test_sb3_writes_outside_out_are_refused_before_any_folder(tmp_path, params, field):
    out = tmp_path / "out"
    sc = scenario(agents=[{"name": "sb3-ppo", "params": params}])
    with pytest.raises(ConfigError, match=rf"{field}: expected a relative path inside") as info:
        run_scenario(sc, out, progress=False)
    value = next(iter(params["train"].values()))
    assert repr(value) in str(info.value) and "'sb3-ppo' (preflight)" in str(info.value)
    assert not out.exists() and not Path("/tmp/x").exists()


def test_lm_cache_dir_outside_out_is_refused():
    with pytest.raises(ConfigError, match=r"cache_dir: expected a relative path .* got '/etc/x'"):
        make_agent("lm-content", encoder="tfidf", cache_dir="/etc/x")


def _context(output_dir: Path | None, candidates: int = 0) -> AgentContext:
    cfg = small_config(days=2, candidates=candidates)
    return AgentContext(
        world=Simulation(cfg).build_world(0).observable,
        rng=make_streams(0).agent,
        slate_size=5,
        n_candidates=candidates,
        retrain_every_days=1.0,
        config=cfg,
        output_dir=output_dir,
    )


def test_a_symbolic_link_out_of_the_agent_folder_is_refused(tmp_path):
    """sb3-ppo's setup refuses train.out through a link that leads out, before training."""
    folder, elsewhere = tmp_path / "agent", tmp_path / "elsewhere"
    folder.mkdir()
    elsewhere.mkdir()
    (folder / "link").symlink_to(elsewhere)
    agent = make_agent("sb3-ppo", preset="scenario", timesteps=8, train={"out": "link/p"})
    with pytest.raises(ConfigError, match=r"train.out: expected a path inside .* 'link/p'"):
        agent.setup(_context(folder, candidates=10))
    assert list(elsewhere.iterdir()) == []
    ctx = _context(folder)
    assert ctx.output_path("f", "a/b") == (folder / "a" / "b").resolve()
    with pytest.raises(ConfigError, match="f: the agent was asked to write files"):
        _context(None).output_path("f", "a")


class Writer(RandomAgent):
    """Writes a note into its run's folder."""

    isolated_state = False

    def setup(self, context):
        super().setup(context)
        path = context.output_path("notes", "notes/n.txt")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("hello")


def test_agent_files_go_to_the_run_folder_and_nowhere_else(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    run_scenario(scenario(seeds=[0]), out, agents={"writer": Writer}, progress=False)
    assert (out / "agent-files" / "writer" / "0" / "notes" / "n.txt").read_text() == "hello"
    # the folder stays simrec's: --resume and --force accept it, --force removes the files
    run_scenario(scenario(seeds=[0]), out, agents={"writer": Writer}, resume=True, progress=False)
    run_scenario(scenario(seeds=[0]), out, agents={"writer": Writer}, force=True, progress=False)
    # from Python, without output_dir: refused, and nothing is written to the current folder
    with pytest.raises(ConfigError, match="notes: the agent was asked to write files"):
        Simulation(small_config(days=1)).run(Writer())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


# ----------------------------------------------------------------------------- time limit


class Slow(RandomAgent):
    def recommend(self, batch):
        import time

        time.sleep(0.05)
        return super().recommend(batch)


def test_a_run_past_its_time_limit_stops_with_an_error_naming_it():
    limit = r"run 'slow' \(seed 3\) stopped on day \d+: past its time limit of 0.3 s"
    with pytest.raises(TimeLimitError, match=limit):
        Simulation(small_config(days=5)).run(Slow(), seed=3, label="slow", time_limit=0.3)
    # the limit is not part of what a run is: --resume accepts a changed one
    assert scenario_fingerprint(scenario(time_limit=5)) == scenario_fingerprint(scenario())


SPINNER = """
from simrec_agents.baselines import RandomAgent

class Spinner(RandomAgent):
    isolated_state = False

    def recommend(self, batch):
        while batch.time >= 1:  # never returns: only the timer can stop it
            pass
        return super().recommend(batch)
"""


def test_time_limit_stops_agent_code_that_never_returns(tmp_path):
    """`simrec run --time-limit 1`: exit status 2 naming the run and the limit, the runs
    finished before kept, no summary."""
    fake_distribution(
        tmp_path, "spinners", SPINNER, "[simrec.agents]\nspinner = spinners:Spinner\n"
    )
    path = tmp_path / "s.yaml"
    path.write_text(_plain(scenario(agents=[{"name": "random"}, {"name": "spinner"}])))
    out = tmp_path / "out"
    r = cli(
        "run", str(path), "--out", str(out), "--workers", "1", "--no-progress",
        "--time-limit", "1", path=tmp_path, timeout=60,
    )  # fmt: skip
    assert r.returncode == 2, r.stderr
    assert "run 'spinner' (seed 0) stopped on day 1: past its time limit of 1 s" in r.stderr
    assert sorted(p.name for p in (out / "runs" / "random").iterdir()) == ["0", "1"]
    assert not (out / "summary.csv").exists()


def test_the_time_limit_and_the_agent_folder_cover_ab_runs(tmp_path):
    """`simrec ab` runs under the scenario's time limit, and its agents write (if at all)
    into <out>/agent-files/<role>/<seed>/ as under `simrec run`."""
    from simrec.experiments import run_ab
    from simrec.experiments.tasks import task_output

    ab = {"control": "random", "treatment": "popularity", "days": 1}
    agents = [{"name": "random"}, {"name": "popularity"}]
    sc = scenario(seeds=[0], ab=ab, agents=agents, time_limit=0.01)
    with pytest.raises(TimeLimitError, match=r"run 'ab:random\|popularity' \(seed 0\)"):
        run_ab(sc, tmp_path / "ab", progress=False)
    folder = task_output(str(tmp_path / "ab"), "control", 3)
    assert folder == tmp_path / "ab" / "agent-files" / "control" / "3"
    assert task_output("", "control", 3) is None
