"""Platform dynamics: processes with one state for the whole platform.

The user model is per user; some of a platform's dynamics are not: the trending signal
every user's clicks feed (:class:`~simrec.engine.trending.Trending`), the social world's
feeds along the follow graph (:class:`~simrec.engine.social.SocialChannel`), the creators
who publish more when their items are seen (:class:`simrec.supply.CreatorEconomy`). Each is
a :class:`Platform`, and the engine and the simulation call every platform's hooks in order
at the same points -- so a new one (advertisers, moderation) is one class, handed to
:class:`~simrec.simulation.Simulation` as ``platforms=[...]``, with no change to the engine:

=====================================  =====================================================
hook                                   called
=====================================  =====================================================
``bind(config)``                       at the start and after every intervention
``start_day(day)``                     at the start of each day, before the catalog refresh
``catalog(day, available)``            then: may withdraw items from the day's catalog
``candidates(users, cands, mask,       on each tick, before the agents see the requests
now)``                                 (may change the candidate pools)
``served(users, slates, clicked,       after each served batch (every run of a pass)
keys, req, now)``
``record(feedback)``                   after each run's batch, with that run's feedback
``daily()``, ``totals()``, ``table()`` at the end: daily columns, whole-run values and a
                                       table of its own in the run's results
=====================================  =====================================================

A platform declares what makes runs of several agents unable to share one pass
(:meth:`Platform.connects_users`: a state one user's behaviour changes and another user
sees) and the arrays it keeps (``state``: their names, for :meth:`Platform.state_arrays`).
Its draws come from a stream of its own (a ``numpy.random.Generator`` derived from the run
seed and its ``name``; :func:`platform_rng`), so adding a platform changes no other draw.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from simrec.rng import derived_purpose

if TYPE_CHECKING:
    from simrec.config import Config
    from simrec.types import Feedback

__all__ = ["Platform", "platform_rng"]


class Platform:
    """A platform-wide process (see the module docstring); every hook is optional.

    Attributes:
        name: Its name: the key of its table in a run's results, and of its stream.
        state: Names of the attributes holding its state (arrays), for inspection.
    """

    name: ClassVar[str] = ""
    state: ClassVar[tuple[str, ...]] = ()

    def connects_users(self, config: Config) -> bool:
        """Whether one user's behaviour reaches another's through it under ``config``.

        Runs of several agents share one pass only when no platform connects users (each
        agent's copy of the population would otherwise reach the others').
        """
        return False

    def bind(self, config: Config) -> None:
        """Take the (new) configuration."""

    def start_day(self, day: int) -> None:
        """The day begins (before the day's catalog is refreshed)."""

    def catalog(self, day: int, available: np.ndarray) -> np.ndarray:
        """The items available on ``day`` (a bool mask over the catalog); may withdraw some."""
        return available

    def candidates(
        self,
        users: np.ndarray,
        candidates: np.ndarray | None,
        available: np.ndarray,
        now: float,
    ) -> np.ndarray | None:
        """The candidate pools ``(B, C)`` of the tick's requests (``None``: whole catalog)."""
        return candidates

    def served(
        self,
        users: np.ndarray,
        slates: np.ndarray,
        clicked: np.ndarray,
        keys: np.ndarray,
        req: np.ndarray,
        now: float,
    ) -> None:
        """A batch of ``users`` (at least one) was served ``slates`` and ``clicked``."""

    def record(self, feedback: Feedback) -> None:
        """A run's feedback of the batch just served."""

    def daily(self) -> dict[str, np.ndarray]:
        """Columns of the run's daily metrics, one value per day."""
        return {}

    def totals(self) -> dict[str, float]:
        """Whole-run values of the run's totals."""
        return {}

    def table(self) -> dict[str, Any] | None:
        """A table of its own in the run's results (columns), or ``None``."""
        return None

    def state_arrays(self) -> dict[str, Any]:
        """Its declared state, by name."""
        return {name: getattr(self, name) for name in self.state}


def platform_rng(seed: int, name: str) -> np.random.Generator:
    """The random stream of platform ``name`` in the run of ``seed``.

    >>> platform_rng(0, "ads").random() == platform_rng(0, "ads").random()
    True
    """
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(derived_purpose(name),)))
