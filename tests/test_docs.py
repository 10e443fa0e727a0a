"""Runnable artefacts are tests: README code blocks run, docs stay in sync with the code."""

import importlib.util
import re
from pathlib import Path

import pytest

from simrec.config import markdown_tables

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "path",
    [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))],
    ids=lambda p: p.name,
)
def test_readme_and_docs_python_blocks_run(path):
    blocks = re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.S)
    for block in blocks:
        exec(compile(block, str(path), "exec"), {})


def test_readme_names_the_commands_and_ci_runs_both_test_tiers():
    text = (REPO / "README.md").read_text()
    assert "make demo" in text and "make test " in text and "make test-full" in text
    ci = (REPO / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, flags=re.M) and re.search(r"^make test-full$", ci, re.M)
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"^test: setup$", makefile, flags=re.M)
    assert re.search(r"^test-full: setup$", makefile, flags=re.M)


def test_model_doc_parameter_tables_match_the_config():
    doc = (REPO / "docs" / "model.md").read_text()
    assert markdown_tables().strip() in doc, "regenerate docs/model.md section 8"


def test_generated_docs_are_current():
    """docs/model.md's tables and docs/scenarios.md's complete scenario match the code."""
    spec = importlib.util.spec_from_file_location("regenerate", REPO / "docs" / "regenerate.py")
    regenerate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(regenerate)
    assert regenerate.model_doc() == (REPO / "docs" / "model.md").read_text()
    stale = "run python docs/regenerate.py"
    assert regenerate.scenarios_doc() == (REPO / "docs" / "scenarios.md").read_text(), stale
    assert "homogenization_vs_ideal" in regenerate.example_scenario()
    assert regenerate.metrics_doc() == (REPO / "docs" / "metrics.md").read_text(), stale


def test_ci_installs_the_wheel_and_runs_a_smoke_scenario_from_it():
    """`.ci/run` calls `make test-full`, which runs `make wheel-check`, and the target exists
    (make would silently do nothing for a missing .PHONY target)."""
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"^wheel-check: setup$", makefile, flags=re.M)
    assert "--smoke" in makefile.split("wheel-check: setup", 1)[1].split("\n\n", 1)[0]
    assert "wheel-check" in makefile.split("test-full: setup", 1)[1].split("\n\n", 1)[0]
    assert "make test-full" in (REPO / ".ci" / "run").read_text()


def test_agents_doc_names_every_field_an_agent_is_handed():
    import dataclasses

    from simrec.agent import AgentContext
    from simrec.types import Feedback, RequestBatch

    doc = (REPO / "docs" / "agents.md").read_text()
    for cls in (RequestBatch, Feedback):
        for f in dataclasses.fields(cls):
            assert f"| `{f.name}` |" in doc, (cls.__name__, f.name)
    for f in dataclasses.fields(AgentContext):
        assert f.name.startswith("_") or f"`{f.name}`" in doc, f.name
