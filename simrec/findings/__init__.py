"""Studies that answer a question end to end: run the scenarios, write the findings document.

Each module here owns one study: the commands that produce its results folders (resumable,
with the wall time of every invocation recorded) and the document written from those folders
alone, so every number in it is traceable to them. :mod:`simrec.findings.lm_vs_cf` is the
language-model vs collaborative-filtering study (``docs/findings/lm_vs_cf.md``).
"""
