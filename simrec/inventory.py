"""What this installation of simrec holds: worlds, components, metrics, agents, scenarios.

``simrec list`` prints :func:`inventory`.
"""

from __future__ import annotations

from pathlib import Path

from simrec.errors import SimrecError

__all__ = ["inventory"]


def inventory() -> list[str]:
    """The lines of ``simrec list``, each with a one-line summary.

    Every world, user-model component, metric, agent and shipped scenario (its question).
    """
    from simrec.agent import agent_summary, available_agents
    from simrec.config import load_yaml
    from simrec.metrics import DAILY_METRICS
    from simrec.metrics.custom import custom_metrics
    from simrec.usermodel import available_components
    from simrec.worlds import WORLDS

    lines = ["worlds:"]
    lines += [f"  {name:16s} {summary}" for name, (_, _, summary) in sorted(WORLDS.items())]
    lines.append("user-model components (user_model.<role>: <name>; added: user_model.add):")
    lines += [f"  {role:16s} {', '.join(named)}" for role, named in available_components().items()]
    lines.append("daily metrics (definitions: simrec metrics; whole-run totals: summary.csv):")
    lines.append("  " + ", ".join(DAILY_METRICS))
    custom = custom_metrics()
    lines.append("custom metrics (entry-point group simrec.metrics or register_metric):")
    lines.append("  " + (", ".join(custom) if custom else "(none registered)"))
    lines.append("agents:")
    for name, info in sorted(available_agents().items()):
        extras = f" [needs simrec[{','.join(info.extras)}]]" if info.extras else ""
        lines.append(f"  {name:16s} {agent_summary(info)}{extras}")
    scen = Path(__file__).resolve().parent.parent / "scenarios"
    if scen.is_dir():
        lines.append(f"scenarios ({scen}):")
        for path in sorted(scen.glob("*.yaml")):
            question: str
            try:
                question = load_yaml(path).question
            except SimrecError as err:
                question = f"(invalid: {err})"
            lines.append(f"  {path.stem:20s} {question}")
    return lines
