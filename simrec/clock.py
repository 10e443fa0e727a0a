"""The simpy calendar: day boundaries, interventions, retraining and engine ticks.

Simulated time runs in integer ticks (``1440 / tick_minutes`` per day) so that day
boundaries are exact. Four kinds of process share one :class:`simpy.Environment`; events that
fall on the same tick run in this order: day boundary (close the previous day, open the new
one: catalog releases) -> interventions of that day -> agent retraining -> the engine tick.
The tick process skips ahead over idle stretches (no open session and no visit due), so
a sparse population costs only the ticks where something happens. There is one process per
kind, never one per user.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import Protocol

import simpy

from simrec.config import Intervention, SimulationConfig

__all__ = ["Calendar", "CalendarHooks"]

_DAY, _INTERVENTION, _RETRAIN, _TICK = (simpy.events.EventPriority(p) for p in range(4))


class CalendarHooks(Protocol):
    """Callbacks the calendar drives (times in days)."""

    def on_day_start(self, day: int) -> None:
        """A new day begins (releases, arrivals)."""

    def on_day_end(self, day: int) -> None:
        """A day ends (collect the day's aggregates)."""

    def on_intervention(self, intervention: Intervention) -> None:
        """Apply a scheduled parameter change."""

    def on_retrain(self, now: float) -> None:
        """Retrain the agent."""

    def on_tick(self, now: float) -> float | None:
        """Serve one tick; return the next time anything is due if no session is open."""


class _Wake(simpy.events.Event):
    """A timeout with an explicit priority among events of the same tick."""

    def __init__(
        self, env: simpy.Environment, delay: float, priority: simpy.events.EventPriority
    ) -> None:
        super().__init__(env)
        self._ok = True
        self._value = None
        env.schedule(self, priority, delay)


class Calendar:
    """The run's calendar.

    Args:
        config: Horizon, tick length and retraining period.

    ``tick_minutes`` divides a day into whole ticks (:class:`SimulationConfig` checks it).

    >>> Calendar(SimulationConfig(days=2, tick_minutes=60.0)).ticks_per_day
    24
    """

    def __init__(self, config: SimulationConfig) -> None:
        self.config = config
        self.ticks_per_day = round(1440.0 / config.tick_minutes)
        self.days = config.days
        every = config.retrain_every_days
        self.retrain_ticks = max(1, round(every * self.ticks_per_day)) if every > 0 else 0

    def run(self, hooks: CalendarHooks) -> None:
        """Run the whole horizon, calling ``hooks`` in calendar order."""
        env = simpy.Environment()
        env.process(self._days(env, hooks))
        for iv in self.config.interventions:
            if iv.day < self.days:
                env.process(self._intervention(env, hooks, iv))
        if self.retrain_ticks:
            env.process(self._retrain(env, hooks))
        env.process(self._ticks(env, hooks))
        env.run(until=self.days * self.ticks_per_day + 1)

    def _days(self, env: simpy.Environment, hooks: CalendarHooks) -> Generator:
        for day in range(self.days):
            if day > 0:
                hooks.on_day_end(day - 1)
            hooks.on_day_start(day)
            yield _Wake(env, self.ticks_per_day, _DAY)
        hooks.on_day_end(self.days - 1)

    def _intervention(
        self, env: simpy.Environment, hooks: CalendarHooks, iv: Intervention
    ) -> Generator:
        yield _Wake(env, iv.day * self.ticks_per_day, _INTERVENTION)
        hooks.on_intervention(iv)

    def _retrain(self, env: simpy.Environment, hooks: CalendarHooks) -> Generator:
        end = self.days * self.ticks_per_day
        while env.now + self.retrain_ticks < end:
            yield _Wake(env, self.retrain_ticks, _RETRAIN)
            hooks.on_retrain(env.now / self.ticks_per_day)

    def _ticks(self, env: simpy.Environment, hooks: CalendarHooks) -> Generator:
        end = self.days * self.ticks_per_day
        # Start after the day-0 boundary has run.
        yield _Wake(env, 0, _TICK)
        while env.now < end:
            due = hooks.on_tick(env.now / self.ticks_per_day)
            nxt = env.now + 1
            if due is not None and math.isfinite(due):
                nxt = max(nxt, math.ceil(due * self.ticks_per_day))
            elif due is not None:
                nxt = end
            if nxt >= end:
                break
            yield _Wake(env, nxt - env.now, _TICK)
