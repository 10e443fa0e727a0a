import pytest

from simrec.clock import Calendar
from simrec.config import Intervention, SimulationConfig
from simrec.errors import ConfigError


class Recorder:
    def __init__(self, busy_until=None, due=None):
        self.events = []
        self.busy_until = busy_until
        self.due = due

    def on_day_start(self, day):
        self.events.append(("start", day))

    def on_day_end(self, day):
        self.events.append(("end", day))

    def on_intervention(self, iv):
        self.events.append(("iv", iv.day))

    def on_retrain(self, now):
        self.events.append(("retrain", now))

    def on_tick(self, now):
        self.events.append(("tick", now))
        if self.busy_until is not None and now < self.busy_until:
            return None
        return self.due


def test_calendar_order_days_retrain_and_interventions():
    cfg = SimulationConfig(
        days=3,
        tick_minutes=360.0,
        retrain_every_days=1.0,
        interventions=(Intervention(day=1, set={}),),
    )
    rec = Recorder(busy_until=10.0)
    Calendar(cfg).run(rec)
    ev = rec.events
    assert ev[:2] == [("start", 0), ("tick", 0.0)]
    assert [e for e in ev if e[0] == "start"] == [("start", 0), ("start", 1), ("start", 2)]
    assert [e for e in ev if e[0] == "end"] == [("end", 0), ("end", 1), ("end", 2)]
    assert [e[1] for e in ev if e[0] == "retrain"] == [1.0, 2.0]
    assert len([e for e in ev if e[0] == "tick"]) == 3 * 4
    # Same-tick order at a day boundary: day end/start -> intervention -> retrain -> tick.
    i = ev.index(("end", 0))
    assert ev[i : i + 5] == [("end", 0), ("start", 1), ("iv", 1), ("retrain", 1.0), ("tick", 1.0)]
    assert ev[-1] == ("end", 2)


def test_idle_ticks_are_skipped_to_the_next_due_visit():
    cfg = SimulationConfig(days=2, tick_minutes=60.0, retrain_every_days=0.0)
    rec = Recorder(due=1.5)  # nothing open; next visit due at day 1.5
    Calendar(cfg).run(rec)
    ticks = [e[1] for e in rec.events if e[0] == "tick"]
    assert ticks[:2] == [0.0, 1.5]
    assert all(t >= 1.5 for t in ticks[1:])
    rec = Recorder(due=float("inf"))
    Calendar(cfg).run(rec)
    assert [e[1] for e in rec.events if e[0] == "tick"] == [0.0]
    assert rec.events[-1] == ("end", 1)


def test_tick_must_divide_a_day():
    with pytest.raises(ConfigError, match="tick_minutes: expected a divisor of 1440"):
        Calendar(SimulationConfig(tick_minutes=7.0))
