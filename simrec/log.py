r"""The event log: columnar, chunked, the single source of metrics.

:class:`Table` appends whole batches of columns into preallocated chunks (no per-row Python
objects, no lists of dicts) and hands back concatenated numpy columns or a pandas frame.
:class:`EventLog` groups the tables of a run:

* ``impressions`` -- one row per shown item: day, time, user, item, position, click,
  purchase, revenue, engagement, and the hidden-state snapshot metrics need (the user's
  satisfaction before the request and the true match :math:`\langle u, z\rangle`);
* ``sessions`` -- one row per finished session: user, visit number, start, end, requests,
  clicks, the gap to the next visit (days; inf after churn) and whether the user churned;
* ``days`` -- one row per simulated day, written at the day's end by the collector: users
  arrived, users alive, mean hidden satisfaction of alive users, mean interest drift
  :math:`1 - \langle u_j(t), u_j(0)\rangle` of alive users, items available;
* ``users`` -- one row per user: arrival day (static);
* ``items`` -- one row per item: release day, genre and the hidden topic (static).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

__all__ = ["DAY_SCHEMA", "IMPRESSION_SCHEMA", "SESSION_SCHEMA", "EventLog", "Table"]

IMPRESSION_SCHEMA: dict[str, type] = {
    "day": np.int32,
    "time": np.float64,
    "user": np.int32,
    "item": np.int32,
    "position": np.int16,
    "click": np.bool_,
    "purchase": np.bool_,
    "revenue": np.float32,
    "engagement": np.float32,
    "satisfaction": np.float32,
    "match": np.float32,
}

SESSION_SCHEMA: dict[str, type] = {
    "user": np.int32,
    "visit": np.int32,
    "start": np.float64,
    "end": np.float64,
    "requests": np.int32,
    "clicks": np.int32,
    "gap": np.float64,
    "churned": np.bool_,
}

DAY_SCHEMA: dict[str, type] = {
    "day": np.int32,
    "arrived": np.int64,
    "alive": np.int64,
    "satisfaction": np.float64,
    "interest_drift": np.float64,
    "available_items": np.int64,
}


class Table:
    """An append-only columnar table stored in preallocated chunks.

    Args:
        schema: Column name -> numpy dtype.
        chunk_rows: Rows per chunk.

    >>> t = Table({"a": np.int32, "b": np.float32}, chunk_rows=2)
    >>> t.append(a=np.array([1, 2, 3]), b=np.array([0.5, 1.5, 2.5]))
    >>> len(t), t.columns()["a"].tolist()
    (3, [1, 2, 3])
    """

    def __init__(self, schema: Mapping[str, type], chunk_rows: int = 1 << 16) -> None:
        self.schema = dict(schema)
        self.chunk_rows = chunk_rows
        self._full: list[dict[str, np.ndarray]] = []
        self._chunk = self._new_chunk()
        self._fill = 0

    def _new_chunk(self) -> dict[str, np.ndarray]:
        return {k: np.empty(self.chunk_rows, dtype=t) for k, t in self.schema.items()}

    def __len__(self) -> int:
        """Number of rows."""
        return len(self._full) * self.chunk_rows + self._fill

    def append(self, **cols: np.ndarray | float | int) -> None:
        """Append rows; every column of the schema must be given (scalars broadcast).

        Raises:
            ValueError: A column is missing or unknown, or the lengths differ.
        """
        if cols.keys() != self.schema.keys():
            missing = sorted(self.schema.keys() - cols.keys())
            extra = sorted(cols.keys() - self.schema.keys())
            raise ValueError(f"Table.append: missing columns {missing}, unknown {extra}")
        n = max((np.size(v) for v in cols.values() if np.ndim(v) > 0), default=1)
        start = 0
        while start < n:
            take = min(n - start, self.chunk_rows - self._fill)
            for k, v in cols.items():
                dst = self._chunk[k][self._fill : self._fill + take]
                dst[...] = v[start : start + take] if np.ndim(v) > 0 else v
            self._fill += take
            start += take
            if self._fill == self.chunk_rows:
                self._full.append(self._chunk)
                self._chunk = self._new_chunk()
                self._fill = 0

    def columns(self) -> dict[str, np.ndarray]:
        """All rows as one numpy array per column (copies)."""
        return {
            k: np.concatenate([c[k] for c in self._full] + [self._chunk[k][: self._fill]])
            for k in self.schema
        }

    def to_frame(self):  # noqa: ANN201 - pandas is imported lazily
        """All rows as a :class:`pandas.DataFrame`."""
        import pandas as pd

        return pd.DataFrame(self.columns())


class EventLog:
    """The tables of one run (see the module docstring)."""

    def __init__(self, arrival_day: np.ndarray, items: dict[str, np.ndarray] | None = None) -> None:
        """Create empty tables for a population with the given arrival days.

        Args:
            arrival_day: Arrival day of every user ``(N,)``.
            items: Static item columns metrics need (``release_day``, ``genre``, and the
                hidden ``topic`` for intra-list diversity), or ``None``.
        """
        self.items = dict(items or {})
        self.impressions = Table(IMPRESSION_SCHEMA)
        self.sessions = Table(SESSION_SCHEMA, chunk_rows=1 << 14)
        self.days = Table(DAY_SCHEMA, chunk_rows=1 << 10)
        self.arrival_day = np.asarray(arrival_day, dtype=np.float64)

    def tables(self) -> dict[str, dict[str, np.ndarray]]:
        """All tables as column dicts (``users`` holds ``user`` and ``arrival_day``)."""
        return {
            "impressions": self.impressions.columns(),
            "sessions": self.sessions.columns(),
            "days": self.days.columns(),
            "users": {
                "user": np.arange(len(self.arrival_day), dtype=np.int32),
                "arrival_day": self.arrival_day,
            },
            "items": self.items,
        }
