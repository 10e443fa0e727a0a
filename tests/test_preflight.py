"""One preflight for every command (simrec.preflight): refused before any folder exists.

One test per class of failure, each through the command line (in this process) on tiny
worlds: the memory, the caps on design sizes, the OPE study's grid and policies, an A/B
design without an interval (and never a silent NaN), report options that name metrics or
need an agent, names resolved before any folder, the options; every shipped scenario passes
the checks of its commands; and a hypothesis fuzz of the ab, ope and sensitivity blocks and
flags. Every refusal must be one ``simrec: error:`` line naming the field, with ``--out``
never created.
"""

from __future__ import annotations

import ast
import contextlib
import io
import math
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simrec.cli import main
from simrec.config import LIMITS, ScenarioConfig, from_dict, load_yaml, to_yaml
from simrec.errors import ConfigError, DependencyNotInstalled
from simrec.preflight import design_points, preflight

REPO = Path(__file__).resolve().parents[1]
WORLD = {"items": {"n_items": 60}, "users": {"n_users": 40}}

#: Tiny scenarios of each command (a success takes a second or two in this process).
BASES = {
    "run": {
        "name": "pf_run",
        "seeds": [0],
        "agents": [{"name": "random"}, {"name": "popularity"}],
        "world": WORLD,
        "simulation": {"days": 2, "tick_minutes": 120.0},
    },
    "ab": {
        "name": "pf_ab",
        "seeds": [0],
        "agents": [{"name": "random"}, {"name": "popularity"}],
        "ab": {"control": "random", "treatment": "popularity", "days": 1, "share": 0.5},
        "world": WORLD,
        "simulation": {"days": 2, "tick_minutes": 120.0},
    },
    "ope": {
        "name": "pf_ope",
        "seeds": [0],
        "agents": [
            {
                "name": "epsilon-greedy",
                "label": "log",
                "params": {"agent": "popularity", "epsilon": 0.5},
            },
            {"name": "softmax", "label": "tgt", "params": {"agent": "random"}},
        ],
        "ope": {"logging": "log", "target": "tgt"},
        "world": WORLD,
        "dynamics": {"max_session_requests": 1},
        "simulation": {"days": 1, "candidates": 5, "slate_size": 1, "tick_minutes": 120.0},
    },
    "sensitivity": {
        "name": "pf_sens",
        "seeds": [0, 1],  # a CI over seeds at every design point
        "agents": [{"name": "random"}, {"name": "popularity"}],
        "uncertain": {"retention.churn_max": [0.05, 0.4]},
        "world": WORLD,
        "simulation": {"days": 1, "tick_minutes": 120.0},
    },
}
#: Flags every command gets unless a test says otherwise.
QUIET = ["--workers", "1", "--no-progress"]


def write(folder: Path, command: str, **over) -> Path:
    data = yaml.safe_load(yaml.safe_dump(BASES[command]))
    data.update(over)
    path = folder / f"{command}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def cli(*args: str) -> tuple[int, str]:
    """``simrec ARGS`` in this process: (exit status, stderr); argparse's exits included."""
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        try:
            rc = main([str(a) for a in args])
        except SystemExit as exit_:  # argparse: a usage error naming the option
            rc = exit_.code if isinstance(exit_.code, int) else 2
    return rc, err.getvalue()


def refused(out: Path, *args: str) -> str:
    """Run a command that must be refused: one ``simrec: error:`` line, ``--out`` not created."""
    rc, err = cli(*args, "--out", out, *QUIET)
    assert rc == 2, err
    assert "simrec: error:" in err and "Traceback" not in err, err
    assert not out.exists(), f"{out} was created by a refused command"
    return err


# ----------------------------------------------------------------------------- memory


@pytest.mark.parametrize("command", ["run", "ab", "ope", "sensitivity"])
def test_every_command_checks_the_memory_before_any_folder(tmp_path, command):
    """A billion users: refused with the estimate, not a MemoryError a minute later."""
    err = refused(
        tmp_path / "out",
        command,
        write(tmp_path, command),
        "--set",
        "world.users.n_users=1000000000",
    )
    assert "world.users.n_users: a run needs at least" in err and "GB is available" in err


# ----------------------------------------------------------------------------- sizes


@pytest.mark.parametrize(
    ("command", "over", "flags", "expected"),
    [
        pytest.param(
            "run",
            {
                "grid": {
                    "dynamics.drift_rate": [i / 1000 for i in range(1000)],
                    "retention.churn_max": [0.01 + i / 2000 for i in range(1000)],
                }
            },
            [],
            [
                "grid: 1,000,000 grid variants (1000 x 1000 values)",
                "limit of 1,000",
                "SIMREC_MAX_GRID_VARIANTS=1000000",
            ],
            id="grid",
        ),
        pytest.param(
            "sensitivity",
            {},
            ["--samples", "100000"],
            [
                "--samples: 200,000 design points (100,000 Morris trajectories x (1 uncertain "
                "parameters + 1))",
                "SIMREC_MAX_DESIGN_POINTS=200000",
            ],
            id="samples",
        ),
        pytest.param(
            "ab",
            {},
            ["--seeds", ",".join(map(str, range(1001)))],
            ["seeds: 1,001 seeds", "SIMREC_MAX_SEEDS=1001"],
            id="seeds",
        ),
        pytest.param(
            "run",
            {
                "agents": [
                    {
                        "name": "popularity",
                        "grid": {
                            "window_days": list(range(1, 1001)),
                            "exclude_recent": list(range(1000)),
                        },
                    }
                ]
            },
            [],
            ["agents[0].grid: 1,000,000 agents (1000 x 1000 values)", "SIMREC_MAX_AGENTS=1000000"],
            id="agents",
        ),
        pytest.param(
            "ope",
            {},
            ["--set", "dynamics.recent_items=10000000"],
            [
                "dynamics.recent_items: 10,000,000 items of history per user",
                "SIMREC_MAX_HISTORY_LENGTH=10000000",
            ],
            id="history",
        ),
    ],
)
def test_design_sizes_are_capped_naming_the_field_the_limit_and_its_variable(
    tmp_path, command, over, flags, expected
):
    """Each size a user sets is refused above its limit, before anything is expanded (a grid
    of a million variants and --samples 100000 hung; a million agents took minutes to load)."""
    err = refused(tmp_path / "out", command, write(tmp_path, command, **over), *flags)
    for text in expected:
        assert text in err


def test_the_runs_limit_and_its_variable(tmp_path, monkeypatch):
    """The runs a command does (here an A/B: three per seed) are capped too; the variable
    named in the message raises the cap, and a variable that is not a number is refused."""
    sc = load_yaml(write(tmp_path, "ab", seeds=[0, 1]))
    monkeypatch.setenv("SIMREC_MAX_RUNS", "5")
    with pytest.raises(
        ConfigError,
        match=r"6 runs \(3 per seed x 2 seeds x 1 grid variants\), "
        r"more than the limit of 5 .* SIMREC_MAX_RUNS=6",
    ):
        preflight(sc, "ab", sweep=False)
    monkeypatch.setenv("SIMREC_MAX_RUNS", "6")
    preflight(sc, "ab", sweep=False)
    monkeypatch.setenv("SIMREC_MAX_RUNS", "many")
    with pytest.raises(ConfigError, match="SIMREC_MAX_RUNS: expected a positive integer"):
        preflight(sc, "ab", sweep=False)


def test_the_design_size_is_what_salib_draws():
    pytest.importorskip("SALib")
    from simrec.sensitivity import make_design

    sc = from_dict(
        ScenarioConfig,
        BASES["sensitivity"]
        | {"uncertain": {"retention.churn_max": [0.05, 0.4], "dynamics.appeal_weight": [1.0, 3.0]}},
    )
    for method, samples in (("morris", 3), ("sobol", 4)):
        drawn = len(make_design(sc, method, samples).points)
        assert drawn == design_points(method, samples, 2), method


# ----------------------------------------------------------------------------- OPE


@pytest.mark.parametrize(
    ("over", "expected"),
    [
        ({"grid": {"dynamics.drift_rate": [0.0, 0.5]}}, "grid: `simrec ope` runs one study"),
        (
            {
                "agents": [
                    {"name": "popularity", "label": "log"},
                    {"name": "softmax", "label": "tgt", "params": {"agent": "random"}},
                ]
            },
            "ope.logging: expected a stochastic agent that returns its propensities",
        ),
        (
            {
                "agents": [
                    {"name": "epsilon-greedy", "label": "log", "params": {"agent": "random"}},
                    {"name": "popularity", "label": "tgt"},
                ]
            },
            "ope.target: expected a stochastic agent that gives the probability of any slate",
        ),
    ],
)
def test_ope_refuses_a_grid_and_policies_it_cannot_evaluate(tmp_path, over, expected):
    """`simrec ope` ran one study and ignored the grid without a word; a logging policy that
    gives no propensities failed in the run, after the folder was made."""
    pytest.importorskip("obp")
    err = refused(tmp_path / "out", "ope", write(tmp_path, "ope", **over))
    assert expected in err


# ----------------------------------------------------------------------------- A/B interval


def _share_with_one_treated_user(seed: int = 0) -> float:
    from simrec.experiments.split import assign_arms

    for share in np.linspace(0.001, 0.3, 300):
        if assign_arms(seed, 40, float(share)).sum() == 1:
            return round(float(share), 4)
    raise AssertionError("no share treats exactly one of 40 users")


def test_an_ab_design_without_an_interval_is_refused_and_never_a_silent_nan(tmp_path):
    """One treated user gave a NaN CI and a report without a word. Now the design is refused
    before any folder (arms drawn as the run draws them), and if a per-seed table without an
    interval reaches the analysis anyway (or there is one seed), the summary and the report
    say so."""
    share = _share_with_one_treated_user()
    err = refused(tmp_path / "out", "ab", write(tmp_path, "ab"), "--set", f"ab.share={share}")
    assert f"ab.share: {share} puts 1 user of the day-0 cohort (40 users) in the treatment" in err
    assert "at least 2 users in each arm" in err

    from simrec.experiments.ab import METRICS, analyse_seed, summarise
    from simrec.experiments.report import write_ab_report

    n = 30
    frame = pd.DataFrame(
        {"user": np.arange(n)}
        | {f"{w}.{m}": np.linspace(0.0, 1.0, n) for w in ("test", "end") for m in METRICS}
    )
    ab = frame.assign(treated=np.arange(n) == 0)  # one treated user
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy warning either
        per_seed = analyse_seed(ab, frame, frame).assign(seed=0)
    assert per_seed["se"].isna().all()
    summary = summarise(per_seed)
    assert summary["warning"].str.contains("one seed: no 95% CI over seeds").all()
    assert summary["warning"].str.contains(r"no test CI on seed\(s\) \[0\]").all()
    sc = load_yaml(write(tmp_path, "ab"))
    text = write_ab_report(sc, summary, per_seed, tmp_path / "report").read_text()
    assert "**Warning: one seed: no 95% CI over seeds" in text
    assert "**Warning:" in text.split("| metric |")[0]  # above the table


# ----------------------------------------------------------------------------- report names


@pytest.mark.parametrize(
    ("command", "over", "flags", "expected"),
    [
        pytest.param(
            "run",
            {"report": {"pareto": ["clicks:max", "retentoin:max"]}},
            [],
            "report.pareto[1]: 'retentoin' is not a whole-run metric (did you mean 'retention'?)",
            id="pareto-typo",
        ),
        pytest.param(
            "run",
            {"report": {"curve": ["clicks", "coverage"]}},
            [],
            "report.curve[1]: 'coverage' has daily values only",
            id="daily-only",
        ),
        pytest.param(
            "run",
            {"report": {"metrics": ["creators_active"]}},
            [],
            "report.metrics[0]: 'creators_active' is a total of the creator economy",
            id="needs-supply",
        ),
        pytest.param(
            "sensitivity",
            {},
            ["--metrics", "clicks,clickz"],
            "--metrics: 'clickz' is not a whole-run metric",
            id="sensitivity-metrics",
        ),
        pytest.param(
            "sensitivity",
            {},
            ["--metrics", "clicks@99"],
            "--metrics: 'clicks@99': expected <metric>@<days>",
            id="sensitivity-horizon",
        ),
    ],
)
def test_report_options_are_checked_against_the_registry_before_anything_runs(
    tmp_path, command, over, flags, expected
):
    """A typo in report.pareto marked every agent dominated after the whole sweep; now every
    report option that names a metric is checked against the registry (`simrec metrics`),
    the totals the agents declare, and the world the metric needs."""
    err = refused(tmp_path / "out", command, write(tmp_path, command, **over), *flags)
    assert expected in err


def test_a_metric_that_needs_the_ideal_agent_is_refused_when_it_does_not_run(tmp_path):
    """`simrec run filter_bubble --agents random,mf` ran everything, then failed at the
    report (its table needs the oracle); `simrec report` on a folder whose config names an
    unknown metric is refused before it writes anything."""
    err = refused(
        tmp_path / "out",
        "run",
        REPO / "scenarios" / "filter_bubble.yaml",
        "--smoke",
        "--agents",
        "random,mf",
    )
    assert "report.metrics[0]: 'homogenization_vs_ideal' compares each agent with the ideal" in err
    assert "agents: random, mf" in err and "add the agent named 'oracle'" in err

    folder = tmp_path / "results"
    folder.mkdir()
    sc = load_yaml(write(tmp_path, "run", report={"pareto": ["clicks:max", "retentoin:max"]}))
    (folder / "config.yaml").write_text(to_yaml(sc))
    rc, err = cli("report", folder, "--format", "png")
    assert rc == 2 and "report.pareto[1]: 'retentoin'" in err, err
    assert sorted(p.name for p in folder.iterdir()) == ["config.yaml"]


# ----------------------------------------------------------------------------- names


@pytest.mark.parametrize("command", ["run", "ab", "ope", "sensitivity"])
@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("world.kind=synthetc", "world.kind: unknown world 'synthetc'"),
        ("user_model.satisfaction=bord", "user_model.satisfaction: unknown component 'bord'"),
    ],
)
def test_names_are_resolved_before_any_folder(tmp_path, command, setting, expected):
    """A world or component name that does not resolve is refused before --out exists (`simrec
    ab --set world.kind=synthetc` made the folder, and the folder then blocked the corrected
    command)."""
    err = refused(tmp_path / "out", command, write(tmp_path, command), "--set", setting)
    assert expected in err


def test_an_agent_typo_leaves_no_folder_to_block_the_corrected_command(tmp_path):
    out = tmp_path / "out"
    bad = write(
        tmp_path,
        "ab",
        agents=[{"name": "random"}, {"name": "popularty"}],
        ab={"control": "random", "treatment": "popularty", "days": 1},
    )
    err = refused(out, "ab", bad)
    assert "agents[1] 'popularty' (preflight): agent 'popularty' is not registered" in err
    bad_param = write(
        tmp_path, "ab", agents=[{"name": "random"}, {"name": "popularity", "params": {"foo": 1}}]
    )
    assert "agents.popularity.params.foo: unknown parameter" in refused(out, "ab", bad_param)
    rc, err = cli("ab", write(tmp_path, "ab"), "--out", out, *QUIET)
    assert rc == 0, err
    assert (out / "ab_summary.csv").is_file()


# ----------------------------------------------------------------------------- options


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["run", "{run}", "--format", "jpg"], "--format: expected one or more of png"),
        (["run", "{run}", "--dpi", "0"], "--dpi: expected an integer in [30, 1200], got 0"),
        (["run", "{run}", "--events", "2"], "--events: expected a share in [0, 1]"),
        (["sensitivity", "{sensitivity}", "--dpi", "5000"], "--dpi: expected an integer"),
        (["sensitivity", "{sensitivity}", "--design-seed", "-1"], "--design-seed: expected"),
        (["sensitivity", "{sensitivity}", "--levels", "3"], "--levels: expected an even"),
        (["ab", "{ab}", "--workers", "0"], "--workers: expected a positive integer"),
    ],
)
def test_options_are_checked_before_any_folder(tmp_path, args, expected):
    """--format and --dpi were checked by the report, after every run had been written."""
    files = {c: str(write(tmp_path, c)) for c in BASES}
    rc, err = cli(*[a.format(**files) for a in args], "--out", tmp_path / "out", "--no-progress")
    assert rc == 2 and expected in err, err
    assert not (tmp_path / "out").exists()


def test_calibrate_and_report_check_their_options_first(tmp_path):
    rc, err = cli("calibrate", "--fraction", "0.00001")  # was a KeyError traceback
    assert rc == 2 and "--fraction: expected a share in [0.01, 0.99]" in err, err
    rc, err = cli("calibrate", "--seed", "-1")
    assert rc == 2 and "--seed: expected an integer in [0, 2**63 - 1]" in err, err
    rc, err = cli("report", tmp_path / "nothing", "--dpi", "0")
    assert rc == 2 and "--dpi" in err, err


# ----------------------------------------------------------------------------- no false alarms


def test_every_shipped_scenario_passes_the_checks_of_its_commands(tmp_path):
    """No refusal of what works: the options, blocks, sizes and names of every scenario (the
    DP agents' declared totals, the creator economy's, the oracle's comparisons) pass, and
    so does `simrec report` of a folder without summary.csv yet (an interrupted sweep)."""
    for path in sorted((REPO / "scenarios").glob("*.yaml")):
        sc = load_yaml(path).smoke_variant()
        preflight(sc, "run", formats=("png",), sweep=False)
        folder = tmp_path / path.stem
        folder.mkdir()
        (folder / "config.yaml").write_text(to_yaml(sc))
        preflight(None, "report", formats=("png",), folders=[folder])
        if sc.ab.enabled:
            preflight(sc, "ab", sweep=False)
        if sc.ope.enabled and not sc.grid:
            preflight(sc, "ope", sweep=False)
        if sc.uncertain and not sc.grid:
            preflight(sc, "sensitivity", sweep=False)


def test_the_dp_agents_declare_every_total_they_add():
    """``run_totals`` of the DP agents lists the keys of their privacy report (read from the
    source: no torch needed)."""
    tree = ast.parse((REPO / "agents" / "cf" / "dp.py").read_text())
    declared = reported = None
    for node in ast.walk(tree):
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == "run_totals":
            declared = {elt.value for elt in node.value.elts}
        if isinstance(node, ast.FunctionDef) and node.name == "privacy_report":
            ret = next(n for n in ast.walk(node) if isinstance(n, ast.Return))
            reported = {k.value for k in ret.value.keys}
    assert declared and declared == reported


# ----------------------------------------------------------------------------- fuzz

NASTY = st.sampled_from(
    [
        math.nan,
        math.inf,
        -1,
        0,
        1,
        2,
        0.5,
        1.5,
        10**30,
        -(10**30),
        "",
        "x",
        "random",
        None,
        True,
        [],
        [1, 2],
        {"a": 1},
        "log",
        "tgt",
        "popularity",
        "cluster",
        "user",
    ]
)


def _values(*plausible: object) -> st.SearchStrategy:
    """A field's plausible values (valid and invalid ones a user might write) or nasty ones."""
    return st.one_of(st.sampled_from(plausible), NASTY)


BOUNDS = _values([0.05, 0.4], [0.4, 0.05], [0, 1], [0.1], [1, 10**30], [0.2, 0.3], ["a", 1])
#: What the fuzz mutates in each command's scenario: block fields (set in the YAML).
BLOCKS = {
    "ab": {
        "ab.control": _values("random", "popularity", "nobody", ""),
        "ab.treatment": _values("random", "popularity", "nobody", ""),
        "ab.share": _values(0.01, 0.02, 0.1, 0.3, 0.9, 0.99, 1.0, 0.0),
        "ab.unit": _values("user", "cluster", "users"),
        "ab.days": _values(1, 2, 3, 0),
        "ab.shared_training": _values(True, False),
    },
    "ope": {
        "ope.logging": _values("log", "tgt", "nobody", ""),
        "ope.target": _values("log", "tgt", "nobody", ""),
    },
    "sensitivity": {
        "uncertain.retention.churn_max": BOUNDS,
        "uncertain.dynamics.appeal_weight": BOUNDS,
        "uncertain.world.items.clickbait_fraction": BOUNDS,
        "uncertain.nonsense.key": BOUNDS,
        "uncertain.world.kind": BOUNDS,
    },
}
#: Flags each command takes, with values the fuzz draws besides NASTY's.
FLAGS = {
    "--seeds": st.sampled_from(["0", "0,1", "-1", "0,0", "a", "", "9223372036854775808"]),
    "--days": st.sampled_from(["-1", "0", "1", "2", "3651", "x"]),
    "--workers": st.sampled_from(["0", "-3", "1", "x"]),
    "--set": st.sampled_from(
        [
            "ab.share=0.01",
            "ab.share=nan",
            "ab.days=5",
            "ope.target=log",
            "ope.logging=nobody",
            "simulation.log_impressions=0.5",
            "world.users.n_users=0",
            "world.users.n_users=1",
            "world.users.n_users=10000000000",
            "ab.unit=cluster",
            "uncertain={}",
            "grid={}",
            "grid={dynamics.drift_rate: [0.0, 0.1]}",
            "seeds=[]",
            "ab={}",
            "ope={}",
        ]
    ),
}
SENSITIVITY_FLAGS = {
    "--method": st.sampled_from(["morris", "sobol", "fast", ""]),
    "--samples": st.sampled_from(["2", "4", "3", "1", "0", "-2", "100000", "x"]),
    "--levels": st.sampled_from(["2", "4", "3", "0", "-4", "x"]),
    "--design-seed": st.sampled_from(["0", "7", "-1", "4294967296", "x"]),
    "--metrics": st.sampled_from(
        ["clicks", "clicks,retention", "clickz", "clicks@1", "clicks@99", "@", ","]
    ),
    "--format": st.sampled_from(["png", "svg", "jpg", ""]),
    "--dpi": st.sampled_from(["30", "0", "100000", "x"]),
}


def _put(data: dict, dotted: str, value: object) -> None:
    if dotted.startswith("uncertain."):
        data.setdefault("uncertain", {})[dotted[len("uncertain.") :]] = value
        return
    head, leaf = dotted.split(".", 1)
    data.setdefault(head, {})[leaf] = value


@st.composite
def mutations(draw, command: str):
    """A scenario of ``command`` with some block fields mutated, and some flags."""
    data = yaml.safe_load(yaml.safe_dump(BASES[command]))
    names: list[str] = []
    fields = BLOCKS[command]
    for key in draw(st.lists(st.sampled_from(sorted(fields)), max_size=2, unique=True)):
        _put(data, key, draw(fields[key]))
        names.append(key)
    flags = dict(FLAGS, **(SENSITIVITY_FLAGS if command == "sensitivity" else {}))
    args: list[str] = []
    for flag in draw(st.lists(st.sampled_from(sorted(flags)), max_size=2, unique=True)):
        args += [flag, draw(flags[flag])]
        names.append(flag)
    if command == "sensitivity" and "--samples" not in args:
        args += ["--samples", "2"]
    return data, args, names


def _named(err: str, names: list[str]) -> bool:
    """Whether the error names one of the mutated fields (its path, section or flag)."""
    keys = set()
    for name in names:
        if name == "--set":
            keys |= {
                "ab",
                "ope",
                "uncertain",
                "grid",
                "seeds",
                "simulation.log_impressions",
                "world.users.n_users",
                "--set",
            }
        elif name.startswith("--"):
            keys |= {name, name[2:]}
        else:
            keys |= {name, name.split(".")[0], name.split(".")[-1]}
    return any(k in err for k in keys)


def fuzz_command(command: str, examples: int):
    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(mutations(command))
    def check(case):
        data, args, names = case
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "scenario.yaml"
            path.write_text(yaml.safe_dump(data))
            out = Path(tmp) / "out"
            rc, err = cli(command, path, *QUIET, *args, "--out", out)  # the fuzz's flags win
            if rc == 0:
                assert out.is_dir(), err
                return
            assert rc == 2, err
            assert "Traceback" not in err, err
            assert not out.exists(), f"refused ({err.strip()}) but {out} was created"
            if "simrec: error:" not in err:  # argparse's own usage error names the option
                assert "error: argument" in err, err
            assert _named(err, names), f"{names}: {err.strip()}"

    check()


@pytest.mark.parametrize("command", ["ab", "ope", "sensitivity"])
@pytest.mark.parametrize(
    "examples",
    [pytest.param(6, id="fast"), pytest.param(60, id="full", marks=pytest.mark.slow)],
)
def test_fuzzed_blocks_and_flags_end_in_a_result_or_a_named_refusal(command, examples, monkeypatch):
    """Random out-of-range and wrong-typed values in the ab, ope and sensitivity blocks and
    the commands' flags: every outcome is a finished command or one line naming the field,
    never another exception, and a refused command never creates --out. (Small limits keep
    a valid draw quick: a large design or world is refused by its cap or the memory; the
    sensitivity report, tested in test_sensitivity.py, is left out.)"""
    if command == "ope":
        pytest.importorskip("obp")
    if command == "sensitivity":
        pytest.importorskip("SALib")
    # every design of the default --samples fits (2 agents x 2 seeds x (10 Sobol points + 1)
    # over 3 parameters = 44 runs); a larger --samples is refused by the cap, naming it
    monkeypatch.setenv("SIMREC_MAX_RUNS", "44")
    monkeypatch.setenv("SIMREC_MEMORY_LIMIT_GB", "0.02")
    if command == "sensitivity":  # its report's 20 figures took 10 s of a finished analysis
        import simrec.sensitivity.report

        def no_figures(*args, **kwargs):
            raise DependencyNotInstalled("figures are not drawn in the fuzz")

        monkeypatch.setattr(simrec.sensitivity.report, "write_sensitivity_report", no_figures)
    fuzz_command(command, examples)


def test_the_limits_are_documented():
    text = (REPO / "docs" / "reliability.md").read_text()
    for limit in LIMITS.values():
        assert limit.env in text and f"{limit.default:,}" in text, limit.key
