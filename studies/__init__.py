"""simrec_studies: studies that answer a question end to end with simrec and its agents.

This folder is installed under the import name ``simrec_studies`` beside ``simrec_agents``;
it may import both, and neither imports it (an import-linter contract). Each subpackage owns
one study: the commands that produce its results folders (resumable, with the wall time of
every invocation recorded) and the document written from those folders alone, so every
number in it is traceable to them. :mod:`simrec_studies.lm_vs_cf` is the language-model vs
collaborative-filtering study (``docs/findings/lm_vs_cf.md``). The generic statistics they
use (CIs over seeds, paired differences, directions, formatting) are
:mod:`simrec.report.stats`.
"""
