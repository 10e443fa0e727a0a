"""Nothing lost, nothing leaked, bad input refused before any work starts.

One test per class of fault: names that become paths, --force, --resume of another
scenario, corrupt runs, the folder lock, permissions, failed writes, non-finite numbers,
cross-field rules, the memory estimate, preflight, read-only arrays, the agent's stream,
hidden-state opt-in, YAML hazards and agent errors.
"""

from __future__ import annotations

import dataclasses
import json
import os
import resource
import subprocess
import sys
import typing
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import small_config

from simrec import Simulation
from simrec.agent import Agent, AgentContext
from simrec.cli import main
from simrec.config import (
    MAX_YAML_NODES,
    Config,
    ScenarioConfig,
    from_dict,
    load_yaml,
    parse_yaml,
    replace_path,
    to_dict,
)
from simrec.errors import AgentError, ConfigError, InvalidActionError, ResultsError, SimrecError
from simrec.resources import estimate_memory
from simrec.rng import make_streams
from simrec.runner import run_scenario
from simrec.runner.local import preflight
from simrec.runner.results import (
    LOCK,
    MARKER,
    finished_runs,
    lock_folder,
    run_dir,
    verify_run,
)

EXE = str(Path(sys.executable).parent / "simrec")

TINY = {
    "name": "tiny",
    "seeds": [0, 1],
    "baseline": "random",
    "agents": [{"name": "random"}, {"name": "popularity", "params": {"window_days": 3}}],
    "world": {"items": {"n_items": 120}, "users": {"n_users": 60}},
    "simulation": {"days": 2, "tick_minutes": 60.0},
}


def tiny(**over) -> ScenarioConfig:
    data = json.loads(json.dumps(TINY))
    data.update(over)
    return from_dict(ScenarioConfig, data)


def write_yaml(tmp_path: Path, data: dict, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


# ----------------------------------------------------------------------------- paths


@pytest.mark.parametrize(
    "label", ["../../x", "/abs/path", "a/b", "..", ".hidden", "a b", "", "x" * 101, "ü"]
)
def test_labels_that_are_not_plain_names_are_refused(label):
    agents = [{"name": "random", "label": label}] if label else [{"name": "../x"}]
    with pytest.raises(ConfigError, match=r"agents\[0\]\.(label|name): expected a plain name"):
        tiny(agents=agents, baseline="")


def test_run_dir_refuses_a_path_even_when_called_directly(tmp_path):
    with pytest.raises(ConfigError, match="expected a plain name"):
        run_dir(tmp_path, "../escape", 0)


# ----------------------------------------------------------------------------- --force


def test_force_refuses_a_folder_simrec_did_not_write(tmp_path):
    out = tmp_path / "project"
    (out / "runs").mkdir(parents=True)
    (out / "runs" / "thesis.tex").write_text("years of work")
    with pytest.raises(ResultsError, match=r"holds files simrec did not write \(runs\)"):
        run_scenario(tiny(), out, force=True, progress=False)
    assert (out / "runs" / "thesis.tex").read_text() == "years of work"
    assert not (out / LOCK).exists() and not (out / MARKER).exists()


def test_force_removes_only_what_simrec_wrote(tmp_path):
    out = tmp_path / "r"
    run_scenario(tiny(), out, progress=False)
    assert (out / MARKER).is_file()
    note = out / "runs" / "random" / "0" / "my-notes.txt"
    note.write_text("mine")
    with pytest.raises(ResultsError, match=r"runs/random/0/my-notes\.txt"):
        run_scenario(tiny(), out, force=True, progress=False)
    assert note.exists()
    note.unlink()
    result = run_scenario(tiny(seeds=[3]), out, force=True, progress=False)
    assert finished_runs(out) == [("popularity", 3), ("random", 3)] and result.ran == 2


# ----------------------------------------------------------------------------- --resume


def test_resume_refuses_any_change_but_the_seeds_and_names_the_field(tmp_path):
    out = tmp_path / "r"
    run_scenario(tiny(seeds=[0]), out, progress=False)
    changed = tiny(seeds=[0, 1])
    changed = dataclasses.replace(
        changed,
        agents=(
            changed.agents[0],
            dataclasses.replace(changed.agents[1], params={"window_days": 1}),
        ),
    )
    with pytest.raises(ResultsError, match=r"agents\[1\]\.params\.window_days is 3 there, 1 now"):
        run_scenario(changed, out, resume=True, progress=False)
    for dotted, value in [("dynamics.appeal_weight", 2.0), ("simulation.slate_size", 4)]:
        with pytest.raises(ResultsError, match=dotted.replace(".", r"\.")):
            run_scenario(replace_path(tiny(), dotted, value), out, resume=True, progress=False)
    more = run_scenario(tiny(seeds=[0, 1], baseline="popularity"), out, resume=True, progress=False)
    assert more.ran == 2 and len(finished_runs(out)) == 4


def test_resume_adds_agents_to_a_finished_study_and_refuses_dropping_one(tmp_path):
    out = tmp_path / "r"
    one = tiny(agents=TINY["agents"][:1])
    run_scenario(one, out, progress=False)
    before = {p: p.stat().st_mtime_ns for p in (out / "runs").rglob("manifest.json")}
    both = run_scenario(tiny(seeds=[0, 1]), out, resume=True, progress=False)
    assert both.ran == 2 and len(finished_runs(out)) == 4  # only the added agent ran
    assert {p: p.stat().st_mtime_ns for p in before} == before  # the old runs untouched
    assert "popularity" in (out / "config.yaml").read_text()  # the folder is the new study's
    with pytest.raises(ResultsError, match=r"agents is .* there"):
        run_scenario(one, out, resume=True, progress=False)  # fewer agents: not a resume


def test_a_run_of_another_configuration_in_the_folder_is_never_collected(tmp_path):
    """Even with config.yaml edited by hand, each run's manifest says what it is a run of."""
    out = tmp_path / "r"
    run_scenario(tiny(seeds=[0]), out, progress=False)
    edited = replace_path(tiny(seeds=[0]), "dynamics.appeal_weight", 0.5)
    (out / "config.yaml").write_text(yaml.safe_dump(to_dict(edited)))
    resumed = run_scenario(edited, out, resume=True, progress=False)
    assert resumed.ran == 2  # both old runs were of the other configuration: run again


# ----------------------------------------------------------------------------- corrupt runs


def test_corrupt_run_is_named_by_report_and_rerun_by_resume(tmp_path, capsys, caplog, few_figures):
    out = tmp_path / "r"
    path = write_yaml(tmp_path, TINY)
    run_scenario(load_yaml(path), out, progress=False)  # as `simrec run` writes them
    daily = run_dir(out, "random", 1) / "daily.parquet"
    daily.write_bytes(daily.read_bytes()[:-10])
    assert "daily.parquet has" in verify_run(out, "random", 1)
    assert ("random", 1) not in finished_runs(out)
    capsys.readouterr()
    assert main(["report", str(out)]) == 2
    err = capsys.readouterr().err
    assert "runs/random/1 daily.parquet has" in err and "--resume" in err
    resume = ["--resume", "--no-progress", "--workers", "1"]
    assert main(["run", str(path), "--out", str(out), *resume]) == 0
    assert "runs/random/1 daily.parquet has" in caplog.text  # said before re-running it
    assert len(finished_runs(out)) == 4 and not verify_run(out, "random", 1)
    assert (out / "report.md").is_file()  # the run's report: its runs verified under its lock


def test_partial_sweep_is_reported_only_when_asked_and_says_what_is_missing(
    tmp_path, capsys, few_figures
):
    out = tmp_path / "r"
    run_scenario(tiny(), out, progress=False)
    import shutil

    shutil.rmtree(run_dir(out, "popularity", 1))
    assert main(["report", str(out)]) == 2
    assert "runs/popularity/1 missing" in capsys.readouterr().err
    assert main(["report", str(out), "--partial"]) == 0
    assert (
        "never run and are not in any number below: popularity/1" in (out / "report.md").read_text()
    )


def test_extra_file_in_a_run_folder_invalidates_it(tmp_path):
    out = tmp_path / "r"
    run_scenario(tiny(seeds=[0]), out, progress=False)
    (run_dir(out, "random", 0) / "stray.csv").write_text("x")
    assert "stray.csv" in verify_run(out, "random", 0)


# ----------------------------------------------------------------------------- lock


def test_a_second_run_on_a_locked_folder_is_refused(tmp_path):
    out = tmp_path / "r"
    run_scenario(tiny(), out, progress=False)
    path = write_yaml(tmp_path, TINY)
    with lock_folder(out, "a test holding the lock"):
        r = subprocess.run(
            [EXE, "run", str(path), "--out", str(out), "--force", "--no-progress"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert r.returncode == 2
        assert f"pid {os.getpid()}, a test holding the lock" in r.stderr
        r = subprocess.run([EXE, "report", str(out)], capture_output=True, text=True, timeout=120)
        assert r.returncode == 2 and "another simrec process is using this folder" in r.stderr
    assert len(finished_runs(out)) == 4  # the refused --force removed nothing


# ----------------------------------------------------------------------------- permissions


@pytest.mark.parametrize(
    ("umask", "file_mode", "dir_mode"), [(0o022, 0o644, 0o755), (0o027, 0o640, 0o750)]
)
def test_results_respect_the_umask(tmp_path, umask, file_mode, dir_mode):
    out = tmp_path / "r"
    old = os.umask(umask)
    try:
        run_scenario(tiny(seeds=[0]), out, progress=False)
    finally:
        os.umask(old)
    for p in out.rglob("*"):
        want = dir_mode if p.is_dir() else file_mode
        assert p.stat().st_mode & 0o777 == want, p


# ----------------------------------------------------------------------------- failed writes


def test_a_failed_write_stops_cleanly_and_keeps_finished_runs(tmp_path):
    """A real failed write: the file-size limit makes the OS refuse a run's file (its daily
    metrics, about 19 kB, or its events)."""
    out = tmp_path / "r"
    run_scenario(tiny(seeds=[0]), out, progress=False)
    before = {p: p.read_bytes() for p in (out / "runs").rglob("*") if p.is_file()}
    path = write_yaml(tmp_path, {**TINY, "seeds": [0, 1]})

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (16_000, 16_000))

    r = subprocess.run(
        [
            EXE,
            "run",
            str(path),
            "--out",
            str(out),
            "--resume",
            "--events",
            "1",
            "--no-progress",
            "--workers",
            "1",
        ],
        capture_output=True,
        text=True,
        preexec_fn=limit,
        timeout=240,
    )
    assert r.returncode == 2, r.stderr
    line = r.stderr.strip().splitlines()[-1]
    assert line.startswith("simrec: error: cannot write run ") and "File too large" in line
    assert {p: p.read_bytes() for p in (out / "runs").rglob("*") if p.is_file()} == before
    assert not list(out.rglob("*.tmp"))


# ----------------------------------------------------------------------------- numbers


def _float_fields():
    from simrec import config as c

    for cls in (
        c.ItemsConfig,
        c.UsersConfig,
        c.MovieLensConfig,
        c.DynamicsConfig,
        c.RetentionConfig,
        c.EconomyConfig,
        c.SimulationConfig,
        c.RewardConfig,
        c.EnvConfig,
    ):
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if hints[f.name] is float:
                yield cls, f


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_every_float_field_refuses_non_finite_values_unless_documented(value):
    checked = 0
    for cls, f in _float_fields():
        allowed = f.metadata.get("allow_inf") and value == float("inf")
        if allowed:
            assert "inf" in f.metadata["doc"], f"{cls.__name__}.{f.name} must say what inf means"
            from_dict(cls, {f.name: value})
        else:
            with pytest.raises(ConfigError, match=rf"{f.name}: expected a finite number"):
                from_dict(cls, {f.name: value})
        checked += 1
    assert checked > 60


def test_integers_are_bounded():
    with pytest.raises(ConfigError, match=r"world\.dim: expected an integer <= 2,147,483,647"):
        from_dict(Config, {"world": {"dim": 10**30}})
    with pytest.raises(ConfigError, match=r"simulation\.days: expected a value .*<= 3650"):
        from_dict(Config, {"simulation": {"days": 10**9}})
    with pytest.raises(ConfigError, match=r"seeds: expected distinct integers in \[0, 2\*\*63"):
        tiny(seeds=[2**64])


def test_agent_parameters_must_be_finite():
    from simrec.agent import make_agent

    with pytest.raises(
        ConfigError, match=r"agents\.popularity\.params\.window_days: expected a finite"
    ):
        make_agent("popularity", window_days=float("inf"))


# ----------------------------------------------------------------------------- cross-field


@pytest.mark.parametrize(
    ("override", "match"),
    [
        (
            {"retention": {"churn_min": 0.9, "churn_max": 0.1}},
            r"retention\.churn_max: expected >= churn_min",
        ),
        (
            {"retention": {"gap_min_days": 5.0, "gap_max_days": 1.0}},
            r"retention\.gap_max_days: expected >= gap_min_days",
        ),
        (
            {"simulation": {"slate_size": 10, "candidates": 4}},
            r"simulation\.slate_size: expected at most simulation\.candidates",
        ),
        (
            {"simulation": {"tick_minutes": 7.0}},
            r"simulation\.tick_minutes: expected a divisor of 1440",
        ),
        (
            {"simulation": {"tick_minutes": 0.5}},
            r"simulation\.tick_minutes: expected a value >= 1\.0 and <= 1440\.0",
        ),
        (
            {
                "simulation": {
                    "days": 5,
                    "interventions": [{"day": 5, "set": {"dynamics.appeal_weight": 0}}],
                }
            },
            r"simulation\.interventions\[0\]\.day: expected a day inside the horizon \(0 to 4\)",
        ),
    ],
)
def test_cross_field_rules(override, match):
    with pytest.raises(ConfigError, match=match):
        from_dict(Config, override)


def test_catalog_too_small_on_some_day_is_refused_naming_the_day():
    cfg = small_config(days=4, n_items=100)
    short = replace_path(cfg, "world.items.shelf_life_days", 1.0)
    short = replace_path(short, "world.items.initial_fraction", 0.5)
    short = replace_path(short, "world.items.release_over_days", 1.0)
    with pytest.raises(
        ConfigError,
        match=r"simulation\.slate_size: a request needs 5 items, but the catalog of seed 0 "
        r"holds only 0 on day 2",
    ):
        Simulation(short).run("random", seed=0)
    few = replace_path(cfg, "simulation.candidates", 80)
    few = replace_path(few, "world.items.initial_fraction", 0.5)
    with pytest.raises(ConfigError, match=r"simulation\.candidates: a request needs 80 items"):
        preflight(
            dataclasses.replace(tiny(), **{k: getattr(few, k) for k in ("world", "simulation")})
        )


# ----------------------------------------------------------------------------- memory


def test_memory_estimate_refuses_before_allocating(monkeypatch):
    huge = from_dict(Config, {"world": {"items": {"n_items": 10**6}, "users": {"n_users": 10**9}}})
    est = estimate_memory(huge)
    assert est.parts["users"] == 10**9 * est.per_user > 500 * 2**30
    with pytest.raises(
        ConfigError,
        match=r"world\.users\.n_users: a run needs at least [0-9,.]+ GB of memory "
        r"\(1,000,000,000 users x",
    ):
        Simulation(huge).run("random")
    # The threshold is the memory available (or a budget): both sides of it.
    small = small_config()
    need = estimate_memory(small).total
    monkeypatch.setenv("SIMREC_MEMORY_LIMIT_GB", str(need / 2**30 * 0.9))
    with pytest.raises(ConfigError, match="memory"):
        Simulation(small).run("random")
    monkeypatch.setenv("SIMREC_MEMORY_LIMIT_GB", str(need / 2**30 * 1.1))
    assert Simulation(small).run("random").totals["impressions"] > 0


def test_memory_estimate_is_a_lower_bound_of_a_real_run():
    """The estimate of the world + engine state is below the arrays they really hold."""
    from simrec.engine import Engine

    cfg = small_config(n_users=5000, n_items=2000)
    s = make_streams(0)
    from simrec.worlds import make_world

    world = make_world(cfg.world, s.world, s.arrivals, cfg.simulation.days)
    engine = Engine(world, cfg, s.behaviour, None)
    held = sum(
        v.nbytes
        for obj in (world.items, world.item_truth, world.users, world.user_truth, engine.pop)
        for v in vars(obj).values()
        if isinstance(v, np.ndarray)
    )
    est = estimate_memory(cfg)
    assert 0.5 * held < est.total < 1.5 * held + 2000 * 200


# ----------------------------------------------------------------------------- preflight


def test_preflight_refuses_before_any_run_or_folder(tmp_path):
    pytest.importorskip("stable_baselines3", reason="needs the rl extra")
    bad = tiny(
        agents=[
            {"name": "random"},
            {"name": "popularity"},
            {"name": "sb3-dqn", "params": {"timesteps": 100}},
        ],
        simulation={"days": 2, "tick_minutes": 60.0, "candidates": 20},
    )
    out = tmp_path / "never"
    with pytest.raises(
        ConfigError,
        match=r"agents\[2\] 'sb3-dqn' \(preflight\): simulation\.slate_size: this sb3-dqn policy "
        r"builds slates of 1, got 5",
    ):
        run_scenario(bad, out, progress=False)
    assert not out.exists()
    path = write_yaml(tmp_path, to_dict(bad))
    r = subprocess.run(
        [EXE, "run", str(path), "--out", str(out)], capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 2 and "sb3-dqn" in r.stderr and not out.exists()


def test_preflight_checks_every_seeds_catalog(tmp_path):
    sc = tiny(seeds=list(range(8)))
    sc = replace_path(sc, "world.items.n_items", 12)
    sc = replace_path(sc, "world.items.initial_fraction", 0.5)  # about 6 items on day 0
    with pytest.raises(ConfigError, match=r"catalog of seed \d holds only"):
        preflight(sc)


# ----------------------------------------------------------------------------- isolation


class _Writer(Agent):
    name = "writer"

    def __init__(self, target: str) -> None:
        self.target = target

    def setup(self, context: AgentContext) -> None:
        super().setup(context)
        if self.target == "price":
            context.world.items.price[:] = 1e6

    def recommend(self, batch):
        if self.target == "users":
            batch.users[:] = 0
        if self.target == "candidates_flag":
            batch.available.flags.writeable = True
        return np.tile(batch.available[: batch.slate_size], (len(batch), 1))

    def observe(self, feedback):
        if self.target == "feedback":
            feedback.clicked[:] = True


@pytest.mark.parametrize(
    ("target", "method"),
    [
        ("price", "setup"),
        ("users", "recommend"),
        ("candidates_flag", "recommend"),
        ("feedback", "observe"),
    ],
)
def test_arrays_handed_to_agents_are_read_only(target, method, small):
    with pytest.raises(
        AgentError, match=rf"agent 'writer' \(seed 0, day 0, {method}\): ValueError"
    ):
        Simulation(small).run(_Writer(target), seed=0)


def test_the_agent_stream_does_not_hold_the_seed_and_draws_as_before():
    for seed in (0, 7, 123456789):
        rng = make_streams(seed).agent
        assert seed not in np.atleast_1d(rng.bit_generator.seed_seq.entropy).tolist()
        assert rng.bit_generator.seed_seq.spawn_key == ()
        before = np.random.default_rng(np.random.SeedSequence(seed).spawn(4)[2])
        assert rng.random(5).tolist() == before.random(5).tolist()
        a, b = make_streams(seed).agent.spawn(1)[0], make_streams(seed).agent.spawn(1)[0]
        assert a.random() == b.random()  # spawning stays deterministic


class _Peek(Agent):
    name = "peek"
    reads_hidden_state = True

    def setup(self, context):
        super().setup(context)
        self.truth = context.ground_truth()

    def recommend(self, batch):
        return np.tile(batch.available[: batch.slate_size], (len(batch), 1))


def test_hidden_state_needs_an_oracle_name_or_an_explicit_opt_in(small):
    with pytest.raises(
        SimrecError, match="declares reads_hidden_state: pass allow_hidden_state=True"
    ):
        Simulation(small).run(_Peek())
    r = Simulation(small).run(_Peek(), allow_hidden_state=True)
    assert r.hidden_state_read
    assert not Simulation(small).run("random").hidden_state_read
    assert Simulation(small).run("oracle").hidden_state_read


def test_ground_truth_hands_out_read_only_answers_and_no_engine(small):
    agent = _Peek()
    Simulation(small).run(agent, allow_hidden_state=True)
    truth = agent.truth
    assert not hasattr(truth, "engine") and not hasattr(truth, "__dict__")
    users, items = np.arange(3), np.tile(np.arange(5), (3, 1))
    for answer in (
        truth.match(users, items),
        truth.value(users, items),
        truth.utility(users, items),
        truth.recent(users),
    ):
        with pytest.raises(ValueError, match="read-only"):
            answer[...] = 0


def test_results_record_which_runs_read_the_hidden_state(tmp_path):
    out = tmp_path / "r"
    run_scenario(
        tiny(seeds=[0], agents=[{"name": "random"}, {"name": "oracle"}]), out, progress=False
    )
    read = {
        a: json.loads((run_dir(out, a, 0) / "cost.json").read_text())["hidden_state_read"]
        for a in ("random", "oracle")
    }
    assert read == {"random": False, "oracle": True}


# ----------------------------------------------------------------------------- YAML


def test_yaml_hazards_are_one_line_errors(tmp_path):
    empty = tmp_path / "empty.yaml"
    empty.write_text("# only a comment\n")
    with pytest.raises(ConfigError, match="the file is empty"):
        load_yaml(empty)
    with pytest.raises(ConfigError, match="duplicate key 'seeds' at line 3 \\(first at line 1\\)"):
        parse_yaml("seeds: [0]\nname: x\nseeds: [1]\n")
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"name: caf\xe9\n")
    with pytest.raises(ConfigError, match=r"not UTF-8 text \(byte 0xe9 at offset 9\)"):
        load_yaml(latin)
    bom = tmp_path / "bom.yaml"
    bom.write_bytes(b"\xef\xbb\xbfname: ok\n")
    assert load_yaml(bom).name == "ok"
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    with pytest.raises(ConfigError, match=f"expands to more than {MAX_YAML_NODES:,} values"):
        parse_yaml("\n".join(lines))
    with pytest.raises(ConfigError, match="nested too deeply"):
        parse_yaml("[" * 20_000 + "]" * 20_000)
    deep = "".join(" " * i + f"k{i}:\n" for i in range(150))  # block style, 150 levels
    with pytest.raises(ConfigError, match=r"at line 100, column 100: nested too deeply \(more"):
        parse_yaml(deep)
    assert parse_yaml("[" * 100 + "]" * 100) is not None  # 100 levels are fine
    with pytest.raises(ConfigError, match="refers to itself"):
        parse_yaml("&a [*a]")
    with pytest.raises(ConfigError, match="malformed YAML at line 1"):
        parse_yaml("!!python/object:os.system {}")
    big = tmp_path / "big.yaml"
    big.write_bytes(b"#" * (5 * 2**20))
    with pytest.raises(ConfigError, match="larger than"):
        load_yaml(big)


def test_a_broken_smoke_block_fails_when_the_scenario_loads():
    with pytest.raises(ConfigError, match=r"smoke\.simulation\.dayz: unknown key"):
        tiny(smoke={"simulation": {"dayz": 3}})


# ----------------------------------------------------------------------------- agent errors


class _Boom(Agent):
    name = "boom"

    def __init__(self, method: str) -> None:
        self.method = method

    def recommend(self, batch):
        if self.method == "recommend" and batch.day >= 1:
            raise ZeroDivisionError("my bug")
        if self.method == "duplicate":
            return np.tile(batch.available[:1], (len(batch), batch.slate_size))
        return np.tile(batch.available[: batch.slate_size], (len(batch), 1))

    def retrain(self, now):
        if self.method == "retrain":
            raise KeyError("lost")


@pytest.mark.parametrize(
    ("method", "error", "match"),
    [
        (
            "recommend",
            AgentError,
            r"agent 'my-boom' \(seed 3, day 1, recommend\): ZeroDivisionError: my bug",
        ),
        ("retrain", AgentError, r"agent 'my-boom' \(seed 3, day 1, retrain\): KeyError: 'lost'"),
        (
            "duplicate",
            InvalidActionError,
            r"agent 'my-boom' \(seed 3, day 0, recommend\): slates\[0\] .*duplicate items",
        ),
    ],
)
def test_agent_errors_name_agent_seed_day_and_method(small, method, error, match):
    with pytest.raises(error, match=match) as info:
        Simulation(small).run(_Boom(method), seed=3, label="my-boom")
    if error is AgentError:
        assert info.value.__cause__ is not None  # the original traceback is kept
