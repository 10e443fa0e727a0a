"""One results folder under every command (simrec.runner.store): one test per class of failure.

Links inside --out, removal of files simrec did not write, two writers, resume dropping
finished work, a changed Python agent mixed with its old runs, a damaged run file read as
data, one command's folder taken by another.
"""

from __future__ import annotations

import dataclasses
import json
import os

import pytest

from simrec.agent import Agent
from simrec.config import from_dict, load_yaml
from simrec.config.scenario import ScenarioConfig
from simrec.errors import ResultsError
from simrec.experiments import run_ab
from simrec.report import write_report
from simrec.runner import run_scenario
from simrec.runner.store import LEDGER, MARKER, ResultsFolder
from simrec.sensitivity import run_sensitivity

TINY = {
    "world": {"items": {"n_items": 120}, "users": {"n_users": 60}},
    "simulation": {"days": 2, "tick_minutes": 60.0},
}


def scenario(**over) -> ScenarioConfig:
    data = {"name": "s", "seeds": [0], "baseline": "random",
            "agents": [{"name": "random"}, {"name": "popularity"}], **TINY, **over}  # fmt: skip
    return from_dict(ScenarioConfig, data)


def ab_scenario(**over) -> ScenarioConfig:
    return scenario(ab={"control": "random", "treatment": "popularity", "days": 1}, **over)


def tree(folder) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.is_symlink() and p.name != ".simrec.lock"  # holds the pid
    }


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished `simrec run` folder and an A/B folder (copied by the tests that change them)."""
    base = tmp_path_factory.mktemp("store")
    run_scenario(scenario(), base / "run", progress=False)
    run_ab(ab_scenario(), base / "ab", progress=False)
    return base


def copy(src, dst):
    import shutil

    shutil.copytree(src, dst, symlinks=True)
    return dst


# -- links: nothing is written or removed through a symbolic link -------------------------


@pytest.mark.parametrize("link", [".simrec.lock", "runs", "figures", "summary.csv"])
def test_a_link_inside_out_is_refused_and_its_target_untouched(finished, tmp_path, link):
    out = copy(finished / "run", tmp_path / "run")
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "thesis.tex").write_text("precious")
    target = victim / "thesis.tex" if link in (".simrec.lock", "summary.csv") else victim
    if (out / link).is_dir():
        import shutil

        shutil.rmtree(out / link)
    elif (out / link).exists():
        (out / link).unlink()
    os.symlink(target, out / link)
    for attempt in (
        lambda: run_scenario(scenario(), out, force=True, progress=False),
        lambda: run_scenario(scenario(), out, resume=True, progress=False),
        lambda: write_report(out),
    ):
        with pytest.raises(ResultsError, match="symbolic link"):
            attempt()
    assert tree(victim) == {"thesis.tex": b"precious"}


def test_a_link_inside_an_ab_folder_is_refused(finished, tmp_path):
    out = copy(finished / "ab", tmp_path / "ab")
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("mine")
    import shutil

    shutil.rmtree(out / "runs")
    os.symlink(victim, out / "runs")
    with pytest.raises(ResultsError, match="runs is a symbolic link"):
        run_ab(ab_scenario(), out, force=True, progress=False)
    assert tree(victim) == {"keep.txt": b"mine"}


# -- ownership: only files simrec wrote are removed, at any depth --------------------------


@pytest.mark.parametrize("where", ["runs/thesis.tex", "figures/notes.md", "runs/random/x.txt"])
def test_force_never_removes_a_file_simrec_did_not_write(finished, tmp_path, where):
    for kind in ("run", "ab"):
        out = copy(finished / kind, tmp_path / kind)
        (out / where).parent.mkdir(parents=True, exist_ok=True)
        (out / where).write_text("mine")
        before = tree(out)
        with pytest.raises(ResultsError, match="move them out first"):
            if kind == "run":
                run_scenario(scenario(), out, force=True, progress=False)
            else:
                run_ab(ab_scenario(), out, force=True, progress=False)
        assert tree(out) == before, kind  # nothing removed, nothing written


def test_force_on_an_own_folder_removes_exactly_what_the_ledger_lists(finished, tmp_path):
    out = copy(finished / "ab", tmp_path / "ab")
    ledger = json.loads((out / LEDGER).read_text())["files"]
    assert {"ab_summary.csv", "ab_seeds.csv", "ab_report.md", "runs/ab-seed0.parquet"} <= set(
        ledger
    )
    for rel, meta in ledger.items():  # every file's size and sha256 recorded
        assert (out / rel).stat().st_size == meta["bytes"]
    with ResultsFolder(out, "ab").open(None, exists_ok=True):
        ResultsFolder(out, "ab").remove_owned()
    assert sorted(p.name for p in out.iterdir()) == sorted([MARKER, LEDGER, ".simrec.lock"])


def test_sensitivity_force_keeps_a_file_put_inside_points(tmp_path):
    sc = scenario(uncertain={"retention.churn_max": [0.05, 0.4]}, seeds=[0, 1])
    out = tmp_path / "sens"
    run_sensitivity(sc, out, samples=2, progress=False)
    (out / "points" / "notes.txt").write_text("mine")
    with pytest.raises(ResultsError, match=r"points/notes.txt\); move them out first"):
        run_sensitivity(sc, out, samples=2, force=True, progress=False)
    assert (out / "points" / "notes.txt").read_text() == "mine"


# -- one writer ------------------------------------------------------------------------------


def test_a_second_writer_is_refused_on_every_command(finished, tmp_path):
    out = copy(finished / "ab", tmp_path / "ab")
    with ResultsFolder(out, "ab").open(None, exists_ok=True, purpose="a long A/B test"):
        with pytest.raises(ResultsError, match="another simrec process is using this folder"):
            run_ab(ab_scenario(), out, resume=True, progress=False)
    run_dir = copy(finished / "run", tmp_path / "run")
    with ResultsFolder(run_dir, "run").open(None, exists_ok=True):
        with pytest.raises(ResultsError, match="another simrec process"):
            write_report(run_dir)


# -- one folder, one command ---------------------------------------------------------------


def test_a_folder_of_one_command_is_refused_by_another(finished, tmp_path):
    ab = copy(finished / "ab", tmp_path / "ab")
    with pytest.raises(ResultsError, match=r"results of `simrec ab`, not of `simrec run`"):
        run_scenario(scenario(), ab, force=True, progress=False)
    run = copy(finished / "run", tmp_path / "run")
    with pytest.raises(ResultsError, match=r"results of `simrec run`, not of `simrec ab`"):
        run_ab(ab_scenario(), run, force=True, progress=False)


# -- resume never drops finished work ------------------------------------------------------


def test_resume_with_other_seeds_adds_them_and_summarises_all(finished, tmp_path):
    out = copy(finished / "run", tmp_path / "run")
    result = run_scenario(scenario(seeds=[1]), out, resume=True, progress=False)
    assert result.ran == 2  # only seed 1's runs
    assert sorted(set(result.totals["seed"])) == [0, 1]
    assert load_yaml(out / "config.yaml").seeds == (0, 1)
    ab = copy(finished / "ab", tmp_path / "ab")
    res = run_ab(ab_scenario(seeds=[1]), ab, resume=True, progress=False)
    assert sorted(set(res.per_seed["seed"])) == [0, 1]


def test_a_damaged_run_file_is_run_again_not_read(finished, tmp_path):
    out = copy(finished / "ab", tmp_path / "ab")
    first = run_ab(ab_scenario(), out, resume=True, progress=False)
    path = out / "runs" / "ab-seed0.parquet"
    path.write_bytes(path.read_bytes()[:-10])  # truncated: no longer what simrec wrote
    again = run_ab(ab_scenario(), out, resume=True, progress=False)
    assert again.per_seed.equals(first.per_seed)
    assert not ResultsFolder(out, "ab").verify("runs/ab-seed0.parquet")


class Counting(Agent):
    """A Python agent whose behaviour is one parameter."""

    name = "counting"

    def __init__(self, offset: int = 0) -> None:
        self.offset = offset

    def recommend(self, batch):
        import numpy as np

        k = batch.slate_size
        return (np.arange(k)[None, :] + self.offset + np.zeros((len(batch), 1), int)) % 120


def test_a_changed_python_agent_is_run_again_not_mixed(tmp_path):
    out = tmp_path / "py"
    sc = dataclasses.replace(scenario(), agents=scenario().agents[:1])
    run_scenario(sc, out, agents={"mine": Counting(0)}, progress=False)
    same = run_scenario(sc, out, agents={"mine": Counting(0)}, resume=True, progress=False)
    assert same.ran == 0
    changed = run_scenario(sc, out, agents={"mine": Counting(5)}, resume=True, progress=False)
    assert changed.ran == 1  # its parameters changed: its run is not the old one
    manifest = json.loads((out / "runs" / "mine" / "0" / "manifest.json").read_text())
    assert set(manifest["run"]["code"]) == {"agent", "agent_state"}


def test_a_folder_written_before_the_ledger_is_adopted(finished, tmp_path):
    out = copy(finished / "run", tmp_path / "run")
    (out / LEDGER).unlink()
    (out / MARKER).write_text("This folder was written by simrec.\n")  # the old text marker
    result = run_scenario(scenario(), out, resume=True, progress=False)
    assert result.ran == 0
    assert json.loads((out / MARKER).read_text())["command"] == "run"
    assert "summary.csv" in json.loads((out / LEDGER).read_text())["files"]


def test_another_study_inside_a_folder_is_not_this_folders_to_remove(finished, tmp_path):
    out = copy(finished / "run", tmp_path / "run")
    run_scenario(scenario(seeds=[3]), out / "runs" / "other", progress=False)
    inner = tree(out / "runs" / "other")
    with pytest.raises(ResultsError, match=r"runs/other/ \(another results folder\)"):
        run_scenario(scenario(), out, force=True, progress=False)
    assert tree(out / "runs" / "other") == inner


def test_a_relative_out_is_recorded_like_an_absolute_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run_scenario(scenario(), "rel", progress=False)
    write_report("rel")
    ledger = json.loads((tmp_path / "rel" / LEDGER).read_text())["files"]
    assert {"config.yaml", "summary.csv", "report.md"} <= set(ledger)
