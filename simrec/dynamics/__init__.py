"""User dynamics: one small pure vectorised function per rule.

The rules never import each other; :class:`simrec.engine.Engine` composes them in this
order for each request: session start (satisfaction and fatigue decay, interest random walk)
-> choice -> engagement -> purchase/revenue -> interest drift -> satisfaction -> fatigue ->
session exit -> (at session end) return gap and churn. The equations are in each module's
docstring and in ``docs/model.md``.
"""

from simrec.dynamics import (
    choice,
    drift,
    economy,
    engagement,
    fatigue,
    retention,
    satisfaction,
    session,
)

__all__ = [
    "choice",
    "drift",
    "economy",
    "engagement",
    "fatigue",
    "retention",
    "satisfaction",
    "session",
]
