"""Memory a run needs, estimated from its configuration before anything is allocated.

A run holds, for its whole length, the world's tables and the engine's state: per user the
hidden interest (three copies of ``d`` float32: the world's, the live one and the day-0
one), the genre mix, profile and fatigue (``G`` float32 each), the buffer of recently
consumed items (``L`` int16 or int32) and about twenty scalar columns; per item its topic
(``d`` float32), a dozen columns and its text. :func:`estimate_memory` adds these up; it is
a *lower bound* (an agent's own model, the event log and each tick's temporaries come on
top), so a configuration it refuses could never have run. :func:`check_memory` compares it
with the memory available now and refuses with the estimate, naming the field to lower.

>>> from simrec.config import Config
>>> est = estimate_memory(Config())
>>> est.total < 50 * 2**20, sorted(est.parts)
(True, ['items', 'users'])
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from simrec.config import Config
from simrec.errors import ConfigError

__all__ = ["MemoryEstimate", "available_memory", "check_memory", "estimate_memory"]

#: Bytes per user besides the vectors: ~20 scalar float64/int64 columns of world and engine.
USER_SCALARS = 20 * 8
#: Bytes per item besides the topic: ~12 numeric columns and two short Python strings.
ITEM_SCALARS = 12 * 8 + 2 * 100


@dataclass(frozen=True)
class MemoryEstimate:
    """A lower bound of a run's resident memory, in bytes, by part.

    Attributes:
        parts: ``{"users": bytes, "items": bytes}``.
        per_user: Bytes per user.
        per_item: Bytes per item.
        n_users: Users counted (day-0 cohort plus expected arrivals).
        n_items: Items counted.
    """

    parts: dict[str, int]
    per_user: int
    per_item: int
    n_users: int
    n_items: int

    @property
    def total(self) -> int:
        """Sum of the parts (bytes)."""
        return sum(self.parts.values())


def estimate_memory(config: Config, n_users: int | None = None) -> MemoryEstimate:
    """The memory a run of ``config`` holds at least (see the module docstring).

    Args:
        config: The run configuration.
        n_users: Users held at once, if not the world's (the envs: one per sub-env).
    """
    w, dyn = config.world, config.dynamics
    d, G, L, M = w.dim, w.n_genres, dyn.recent_items, w.items.n_items
    if n_users is None:
        n_users = w.users.n_users + round(w.users.arrivals_per_day * config.simulation.days)
    per_user = 4 * 3 * d + 4 * 3 * G + 4 + (2 if M < 2**15 else 4) * L + USER_SCALARS
    per_item = 4 * d + ITEM_SCALARS
    return MemoryEstimate(
        parts={"users": n_users * per_user, "items": M * per_item},
        per_user=per_user,
        per_item=per_item,
        n_users=n_users,
        n_items=M,
    )


def available_memory() -> int:
    """Bytes of memory available to a new allocation now.

    ``$SIMREC_MEMORY_LIMIT_GB`` if set (a budget of one's own, e.g. a share of a shared
    node), else Linux's ``MemAvailable``, else the free physical pages.
    """
    limit = os.environ.get("SIMREC_MEMORY_LIMIT_GB")
    if limit:
        try:
            value = float(limit)
        except ValueError:
            value = -1.0
        if not value > 0:
            raise ConfigError(
                f"SIMREC_MEMORY_LIMIT_GB: expected a positive number of GB, got {limit!r}"
            )
        return int(value * 2**30)
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def _gb(n: float) -> str:
    return f"{n / 2**30:,.1f} GB"


def check_memory(config: Config, n_users: int | None = None, what: str = "a run") -> None:
    """Refuse a configuration whose :func:`estimate_memory` exceeds the available memory.

    Raises:
        ConfigError: Naming the field that dominates the estimate, the estimate with its
            parts and the memory available.
    """
    est = estimate_memory(config, n_users)
    have = available_memory()
    if est.total <= have:
        return
    w = config.world
    if est.parts["users"] >= est.parts["items"]:
        field = "world.users.n_users" if n_users is None else "num_envs"
        detail = f"{est.n_users:,} users x {est.per_user:,} bytes"
    else:
        field = "world.items.n_items"
        detail = f"{est.n_items:,} items x {est.per_item:,} bytes"
    raise ConfigError(
        f"{field}: {what} needs at least {_gb(est.total)} of memory ({detail}; world.dim "
        f"{w.dim}, world.n_genres {w.n_genres}), but {_gb(have)} is available; lower "
        f"{field} or world.dim"
    )
