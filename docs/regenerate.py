"""Regenerate the generated parts of the docs from the code.

- docs/model.md: the parameter tables (from the config dataclasses);
- docs/scenarios.md: the complete example scenario (every key with its default);
- docs/metrics.md: the definitions table of the metrics (from the metric registry).

Run ``python docs/regenerate.py``; ``tests/test_docs.py`` fails when any is stale.
"""

from pathlib import Path

from simrec.config import ScenarioConfig, from_dict, markdown_tables, to_yaml
from simrec.metrics import REGISTRY
from simrec.metrics.listing import markdown_table

HERE = Path(__file__).parent
MODEL_MARK = "section in sync.\n\n"
SCENARIO_MARK = "gives only what differs:\n\n"
METRICS_MARK = "<!-- generated below -->\n\n"


def example_scenario() -> str:
    """A complete scenario: every key, defaults except the scenario's own fields."""
    scenario = from_dict(
        ScenarioConfig,
        {
            "name": "example",
            "question": "Does exploration slow the homogenization CF causes?",
            "seeds": [0, 1, 2, 3],
            "baseline": "random",
            "agents": [
                {"name": "random"},
                {"name": "oracle"},
                {"name": "mf", "grid": {"epsilon": [0.0, 0.2]}},
            ],
            "report": {"metrics": ["retention", "homogenization_vs_ideal", "long_tail_share"]},
            "smoke": {"seeds": [0, 1], "simulation": {"days": 5}},
        },
    )
    return "```yaml\n" + to_yaml(scenario) + "```\n"


def model_doc() -> str:
    text = (HERE / "model.md").read_text()
    return text[: text.index(MODEL_MARK) + len(MODEL_MARK)] + markdown_tables() + "\n"


def scenarios_doc() -> str:
    text = (HERE / "scenarios.md").read_text()
    return text[: text.index(SCENARIO_MARK) + len(SCENARIO_MARK)] + example_scenario()


def metrics_doc() -> str:
    text = (HERE / "metrics.md").read_text()
    return text[: text.index(METRICS_MARK) + len(METRICS_MARK)] + markdown_table(
        REGISTRY.builtin().values()
    )


if __name__ == "__main__":
    (HERE / "model.md").write_text(model_doc())
    (HERE / "scenarios.md").write_text(scenarios_doc())
    (HERE / "metrics.md").write_text(metrics_doc())
