r"""Language-model vs collaborative-filtering recommenders over six months: the study.

``python -m simrec_studies.lm_vs_cf run --results DIR`` runs the study's three parts, each
resumable, into ``DIR/synthetic`` (``scenarios/lm_vs_cf_long_term.yaml``: 17 agents x 4 seeds
x 180 days), ``DIR/movielens`` (``scenarios/lm_vs_cf_movielens.yaml``, the MovieLens-100K
world) and ``DIR/sensitivity`` (``simrec sensitivity`` over the synthetic scenario's
``uncertain`` ranges, for the headline agents), recording the wall time of every invocation in
``DIR/timings.json``. ``... report --results DIR --doc docs/findings/lm_vs_cf.md`` writes the
findings document and its figures from those folders alone (verified runs only), so every
number in the document is read from them; ``... all`` and ``make lm-vs-cf`` do both.

The document's statements are generated from the numbers with fixed rules (a difference is
"higher" or "lower" only when its 95% CI over seeds excludes zero), so a re-run with other
results rewrites them consistently. matplotlib is imported lazily, through
:mod:`simrec.report`.

Modules: :mod:`~simrec_studies.lm_vs_cf.run` (the parts and their timings),
:mod:`~simrec_studies.lm_vs_cf.study` (the agents compared, a results folder read back),
:mod:`~simrec_studies.lm_vs_cf.tables`, :mod:`~simrec_studies.lm_vs_cf.answer` (the
statements), :mod:`~simrec_studies.lm_vs_cf.figures`,
:mod:`~simrec_studies.lm_vs_cf.document` (the findings document) and
:mod:`~simrec_studies.lm_vs_cf.cli`. The statistics are :mod:`simrec.report.stats`.
"""

from simrec_studies.lm_vs_cf.cli import main
from simrec_studies.lm_vs_cf.document import write_findings
from simrec_studies.lm_vs_cf.run import PARTS, run_study

__all__ = ["PARTS", "main", "run_study", "write_findings"]
