"""The agents the study compares and its results folders read back.

The declarations (family, description, encoder labels, figure styles) of the agents the
study names live here once; the tables, figures and text are generated from them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from simrec.config import ScenarioConfig, load_yaml
from simrec.errors import ResultsError
from simrec.runner import ScenarioResult, collect
from simrec.runner.results import lock_folder, read_run

__all__ = [
    "COLORS",
    "ENCODER_LABEL",
    "FAMILY",
    "FIGURE_AGENTS",
    "LM_AGENTS",
    "MARKERS",
    "WHAT",
    "Study",
    "load_study",
]

#: Registered agent name -> family in the tables and figures.
FAMILY = {
    "popularity": "reference",
    "oracle": "reference",
    "mf": "CF",
    "bpr": "CF",
    "als": "CF",
    "item-knn": "CF",
    "ncf": "CF",
    "seq": "CF",
    "lm-content": "LM",
    "lm-cf": "LM",
    "lm-ft": "LM",
    "lm-hybrid": "LM",
    "lm-seq": "LM",
}
#: What each agent is, in a few words.
WHAT = {
    "popularity": "most clicked items of the last 7 days",
    "oracle": "reads the hidden state: true utility of each item (the ideal)",
    "mf": "BPR matrix factorisation, torch, warm-started daily (the baseline)",
    "bpr": "BPR matrix factorisation from `implicit`",
    "als": "weighted ALS (Hu et al. 2008) from `implicit`",
    "item-knn": "item-item cosine neighbours of the user's clicks",
    "ncf": "neural CF (GMF + MLP)",
    "seq": "SASRec-style transformer over the click history, learned item IDs",
    "lm-content": (
        "encoder vectors of item text; user = recency-weighted clicked vectors + profile text"
    ),
    "lm-cf": "`mf` whose item embedding is an adapter over frozen encoder vectors",
    "lm-ft": "`lm-cf` with the encoder's top layer fine-tuned end to end on the logs",
    "lm-hybrid": "`mf` and `lm-content` blended, moving to CF as an item gathers data",
    "lm-seq": "`seq` with item inputs from an adapter over frozen encoder vectors",
}
LM_AGENTS = ("lm-content", "lm-cf", "lm-ft", "lm-hybrid", "lm-seq")
FIGURE_AGENTS = (
    "popularity",
    "oracle",
    "mf",
    "bpr",
    "seq",
    "lm-content",
    "lm-cf",
    "lm-ft",
    "lm-hybrid",
    "lm-seq",
)
ENCODER_LABEL = {"tfidf": "TF-IDF + SVD", "minilm": "MiniLM-L6", "mpnet": "MPNet-base", "": "—"}
MARKERS = {"": "o", "tfidf": "s", "minilm": "^", "mpnet": "D"}
COLORS = {"reference": "0.45", "CF": "C0", "LM": "C3"}


@dataclass(frozen=True)
class Study:
    """One results folder read back: the scenario, the verified runs, agent descriptions."""

    name: str
    out: Path
    scenario: ScenarioConfig
    result: ScenarioResult
    agents: pd.DataFrame  # label, name, family, encoder, params, trainable, encoder_s

    @property
    def days(self) -> int:
        """The horizon."""
        return self.scenario.simulation.days

    @property
    def labels(self) -> list[str]:
        """Agent labels in scenario order."""
        return list(self.agents["label"])

    def main_labels(self) -> list[str]:
        """One label per agent kind: MiniLM for the language models, no encoder variants."""
        return [r.label for r in self.agents.itertuples() if r.encoder in ("", "minilm")]

    def figure_labels(self) -> list[str]:
        """The agents drawn over time, ten so that each has its own colour.

        The references, the baseline, one library and one sequential CF model, and the MiniLM
        language-model agents; every agent is in the tables and the cost frontier.
        """
        return [x for x in FIGURE_AGENTS if x in set(self.labels)]


def load_study(name: str, out: Path) -> Study:
    """Read and verify a results folder of the study (every planned run must be there)."""
    if not (out / "config.yaml").is_file():
        raise ResultsError(
            f"{out}: no results ({name} part of the study); run "
            f"`python -m simrec_studies.lm_vs_cf run --results {out.parent}` first"
        )
    with lock_folder(out, "the lm_vs_cf findings"):
        scenario = load_yaml(out / "config.yaml")
        result = collect(scenario, out)
        rows = []
        for spec in scenario.agents:
            _, _, cost = read_run(out, spec.key, scenario.seeds[0])
            extra = cost.get("extra", {})
            encoder = ""
            if spec.name in LM_AGENTS:
                encoder = str(spec.params.get("encoder", "minilm"))
            rows.append(
                {
                    "label": spec.key,
                    "name": spec.name,
                    "family": FAMILY.get(spec.name, "other"),
                    "encoder": encoder,
                    "params": int(cost.get("params", 0)),
                    "trainable": int(cost.get("trainable_params", 0)),
                    "frozen": int(extra.get("frozen_params", 0)),
                }
            )
    return Study(name, out, scenario, result, pd.DataFrame(rows))
