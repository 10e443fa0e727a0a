"""A fuzzer over results folders: whatever a user leaves in --out, no command loses their files.

Hypothesis builds a finished `simrec run` or `simrec ab` folder, then changes it the way a
user or an accident would (their own files at any depth, symbolic links to files and folders
outside, a damaged or deleted file of simrec's) and runs a command on it (--resume, --force,
report). The invariants: the command ends in a one-line simrec error or succeeds; a file
outside --out is never changed; a file of the user's is never changed or removed; a success
leaves a folder whose every run verifies.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simrec.config import from_dict
from simrec.config.scenario import ScenarioConfig
from simrec.errors import SimrecError
from simrec.experiments import run_ab
from simrec.report import write_report
from simrec.runner import run_scenario
from simrec.runner.store import ResultsFolder

TINY = {
    "world": {"items": {"n_items": 120}, "users": {"n_users": 60}},
    "simulation": {"days": 2, "tick_minutes": 60.0},
}
RUN = {"name": "s", "seeds": [0], "baseline": "random",
       "agents": [{"name": "random"}, {"name": "popularity"}], **TINY}  # fmt: skip
AB = {**RUN, "ab": {"control": "random", "treatment": "popularity", "days": 1}}


def scenario(data) -> ScenarioConfig:
    return from_dict(ScenarioConfig, data)


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    base = tmp_path_factory.mktemp("fuzz")
    run_scenario(scenario(RUN), base / "run", progress=False)
    write_report(base / "run")
    run_ab(scenario(AB), base / "ab", progress=False)
    return base


def files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


PLACES = st.sampled_from(["", "runs", "runs/random", "runs/random/0", "figures", "deep/er"])
CHANGES = st.lists(
    st.tuples(
        st.sampled_from(["own file", "link to file", "link to folder", "damage", "delete"]),
        PLACES,
        st.integers(0, 50),
    ),
    max_size=3,
)
COMMANDS = st.sampled_from(["resume", "force", "report"])


def check_no_command_loses_a_users_file(made, tmp_path_factory, kind, changes, command):
    root = tmp_path_factory.mktemp("case")
    out = root / "out"
    shutil.copytree(made / kind, out, symlinks=True)
    outside = root / "outside"
    outside.mkdir()
    (outside / "precious.txt").write_text("precious")
    users: dict[str, bytes] = {}
    for i, (change, place, pick) in enumerate(changes):
        folder = out / place
        if change in ("own file", "link to file", "link to folder"):
            folder.mkdir(parents=True, exist_ok=True)
            name = folder / f"mine{i}.txt"
            if change == "own file":
                name.write_text(f"mine {i}")
                users[name.relative_to(out).as_posix()] = f"mine {i}".encode()
            elif change == "link to file":
                os.symlink(outside / "precious.txt", name)
            else:
                os.symlink(outside, folder / f"linked{i}")
        else:
            owned = [p for p in sorted(out.rglob("*")) if p.is_file() and not p.is_symlink()]
            owned = [p for p in owned if p.relative_to(out).as_posix() not in users]
            if owned:
                victim = owned[pick % len(owned)]
                if change == "delete":
                    victim.unlink()
                else:
                    victim.write_bytes(victim.read_bytes()[: max(len(victim.read_bytes()) // 2, 1)])
    before_outside = files(outside)
    try:
        if command == "report":
            if kind == "run":
                write_report(out)
            else:
                with ResultsFolder(out, "ab").open(None, exists_ok=True):
                    pass
        elif kind == "run":
            run_scenario(scenario(RUN), out, progress=False, **{command: True})
        else:
            run_ab(scenario(AB), out, progress=False, **{command: True})
        succeeded = True
    except SimrecError as err:
        assert str(err).strip() and "\n" not in str(err).strip().splitlines()[0]
        succeeded = False
    assert files(outside) == before_outside, "a file outside --out changed"
    now = files(out)
    for rel, data in users.items():
        assert now.get(rel) == data, f"the user's {rel} was changed or removed"
    if succeeded and kind == "run" and command != "report":
        assert not users  # a folder holding a user's file is never written
        result = run_scenario(scenario(RUN), out, resume=True, progress=False)
        assert result.ran == 0  # every run verifies


def _fuzzer(examples: int):
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )(
        given(kind=st.sampled_from(["run", "ab"]), changes=CHANGES, command=COMMANDS)(
            check_no_command_loses_a_users_file
        )
    )


#: The fast tier's examples (SIMREC_FUZZ_EXAMPLES changes it); the slow tier runs 80.
test_no_command_loses_a_users_file = _fuzzer(int(os.environ.get("SIMREC_FUZZ_EXAMPLES", "5")))
test_no_command_loses_a_users_file_at_full_size = pytest.mark.slow(_fuzzer(80))
