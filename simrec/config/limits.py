"""Caps on the sizes a user sets: how many runs, variants, design points, seeds, agents.

A scenario can ask for more work than any machine will finish (a grid of a million
variants, ``simrec sensitivity --samples 100000``, ten thousand seeds) or for a history so
long that one run crawls. Such a size is refused where it is first known -- the scenario's
own sizes when it is loaded, the sizes that depend on a command's options in
:func:`simrec.preflight.preflight` -- before anything is expanded, allocated or run. Each
:class:`Limit` has a default that leaves room for every shipped study, and an environment
variable (``SIMREC_MAX_<KEY>``) that raises it for a study that needs more; the error names
the field, the value, the limit and the variable.

>>> LIMITS["grid_variants"].env
'SIMREC_MAX_GRID_VARIANTS'
>>> LIMITS["grid_variants"].check("grid", 12)  # within the limit: nothing happens
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from dataclasses import dataclass

from simrec.config.base import FieldError
from simrec.errors import ConfigError

__all__ = ["LIMITS", "Limit", "product"]


@dataclass(frozen=True)
class Limit:
    """A cap on one kind of size.

    Attributes:
        key: Short name (``grid_variants``); the environment variable is
            ``SIMREC_MAX_<KEY>``.
        what: What is counted, as the error states it (``"grid variants"``).
        default: The cap without the environment variable.
        why: What a value beyond the cap would cost (the error's last words).
    """

    key: str
    what: str
    default: int
    why: str

    @property
    def env(self) -> str:
        """The environment variable that raises (or lowers) the cap."""
        return f"SIMREC_MAX_{self.key.upper()}"

    def value(self) -> int:
        """The cap in force: ``$SIMREC_MAX_<KEY>`` if set, else :attr:`default`.

        Raises:
            ConfigError: The variable is not a positive integer.
        """
        text = os.environ.get(self.env, "").strip()
        if not text:
            return self.default
        try:
            value = int(text.replace("_", "").replace(",", ""))
        except ValueError:
            value = 0
        if value < 1:
            raise ConfigError(f"{self.env}: expected a positive integer, got {text!r}")
        return value

    def check(self, field: str, value: int, detail: str = "") -> None:
        """Refuse ``value`` above the cap, naming ``field``.

        Args:
            field: The setting or option that sets the size (``grid``, ``--samples``).
            value: The size it sets.
            detail: How the size follows from the field (``"(10 x 10 x 10 values)"``).

        Raises:
            FieldError: ``value`` is above :meth:`value` (a :class:`ConfigError` naming
                ``field``).
        """
        limit = self.value()
        if value <= limit:
            return
        detail = f" {detail}" if detail else ""
        raise FieldError(
            field,
            f"{value:,} {self.what}{detail}, more than the limit of {limit:,} ({self.why}); "
            f"make it smaller, or raise the limit with the environment variable "
            f"{self.env}={value}",
        )


#: Every cap, by key.
LIMITS: dict[str, Limit] = {
    limit.key: limit
    for limit in (
        Limit(
            "grid_variants",
            "grid variants",
            1_000,
            "each variant is a whole scenario with its own results folder",
        ),
        Limit(
            "agents",
            "agents",
            1_000,
            "every agent runs on every seed",
        ),
        Limit("seeds", "seeds", 1_000, "every agent runs on every seed"),
        Limit(
            "design_points",
            "design points",
            5_000,
            "every point runs every agent on every seed",
        ),
        Limit(
            "runs",
            "runs",
            100_000,
            "a run of even a tiny world takes a second or more",
        ),
        Limit(
            "history_length",
            "items of history per user",
            10_000,
            "every user holds and scans the buffer on every request: 10 million made a "
            "60-user, 3-day run use 13 GB and more than two minutes",
        ),
    )
}


def product(lengths: Iterable[int]) -> int:
    """The product of ``lengths`` (1 when empty): the combinations of a grid's lists.

    >>> product([2, 3, 4]), product([])
    (24, 1)
    """
    return math.prod(lengths)
