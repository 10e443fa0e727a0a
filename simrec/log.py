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
  arrived, users alive, mean hidden satisfaction of alive users and of the day-0 cohort
  (churned users at their level when they left), mean interest drift
  :math:`1 - \langle u_j(t), u_j(0)\rangle` of alive users, items available;
* ``users`` -- one row per user: arrival day (static);
* ``items`` -- one row per item: release and expiry day, genre, creator, the hidden topic and
  the reference popularity (static);
* ``pairs`` -- the user pairs homogenization follows (static).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

__all__ = [
    "DAY_SCHEMA",
    "IMPRESSION_SCHEMA",
    "SESSION_SCHEMA",
    "Constant",
    "Counts",
    "EventLog",
    "Table",
]

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
    # The serving policy's probabilities (NaN when it does not say; see simrec.types.Propensities)
    "pscore": np.float64,
    "pscore_item": np.float64,
    "pscore_cascade": np.float64,
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
    "satisfaction_cohort": np.float64,
    "interest_drift": np.float64,
    "available_items": np.int64,
}


#: Rows of the first chunk of a table that spills to disk.
SPILL_ROWS = 1 << 20
#: In-memory chunks double in size up to this many rows: a small run allocates little, a
#: large one appends into fewer chunks. (Columns stay under the 4 MiB at which numpy asks for
#: transparent huge pages: on this project's machine their compaction stalls cost more than
#: the page faults they save.)
MAX_CHUNK_ROWS = 1 << 18


_BACKGROUND: ThreadPoolExecutor | None = None


def _touch(chunk: dict[str, np.ndarray], columns: frozenset[str] | None = None) -> None:
    for k, col in chunk.items():
        if columns is None or k in columns:
            col.fill(0)  # numpy releases the GIL here: the page faults run beside the engine


def _background() -> ThreadPoolExecutor:
    """The one thread that faults in new chunks and writes spilled ones, in order."""
    global _BACKGROUND
    if _BACKGROUND is None:
        _BACKGROUND = ThreadPoolExecutor(1, thread_name_prefix="simrec-log")
    return _BACKGROUND


def _prefault(chunk: dict[str, np.ndarray], columns: frozenset[str] | None = None) -> Future:
    """Fault the pages of a new chunk (of ``columns`` of it) in on the background thread."""
    return _background().submit(_touch, chunk, columns)


class Constant(NamedTuple):
    """A column of a full chunk that holds one value in all its ``rows`` (no buffer)."""

    value: Any
    rows: int

    def __len__(self) -> int:
        """Rows of the chunk."""
        return self.rows

    def array(self, dtype: DTypeLike) -> np.ndarray:
        """The column as an array."""
        return np.full(self.rows, self.value, dtype=dtype)


def _save(folder: Path, index: int, chunk: dict[str, np.ndarray]) -> None:
    for k, col in chunk.items():
        np.save(folder / f"{k}.{index:06d}.npy", col)  # the file write releases the GIL


class Table:
    """An append-only columnar table stored in preallocated chunks.

    Args:
        schema: Column name -> numpy dtype.
        chunk_rows: Rows of the first chunk (default 65,536, or ``SPILL_ROWS`` when
            spilling); each next chunk is twice as large, up to ``max_chunk_rows``.
        spill_dir: Write each full chunk here and drop it from memory.
        max_chunk_rows: Largest chunk.
        prefault: Allocate the next chunks ahead (about twice the largest append) and have a
            background thread touch their pages, so that appending a large batch copies into
            memory that is already mapped instead of taking a page fault every 4 KiB. The
            table's contents do not depend on it.

    Full chunks stay in memory, or, with ``spill_dir``, are written there as ``.npy`` files
    (one per column and chunk) and their buffers reused, so that a huge log does not live in
    memory. A column given as one scalar for every row of a chunk so far (the time of a
    population tick, NaN propensities of an agent that gives none) is kept as that value,
    not written row by row; it is written out when a different value arrives, and read as
    an array like the others.

    >>> t = Table({"a": np.int32, "b": np.float32}, chunk_rows=2)
    >>> t.append(a=np.array([1, 2, 3]), b=np.array([0.5, 1.5, 2.5]))
    >>> len(t), t.columns()["a"].tolist()
    (3, [1, 2, 3])
    """

    def __init__(
        self,
        schema: Mapping[str, type],
        chunk_rows: int | None = None,
        spill_dir: str | Path | None = None,
        max_chunk_rows: int = MAX_CHUNK_ROWS,
        prefault: bool = False,
    ) -> None:
        self.schema = dict(schema)
        self.spill_dir = None if spill_dir is None else Path(spill_dir)
        if chunk_rows is None:
            chunk_rows = 1 << 16 if spill_dir is None else SPILL_ROWS
        if chunk_rows < 1 or max_chunk_rows < 1:
            raise ValueError(
                f"Table: expected chunk_rows, max_chunk_rows >= 1, got {chunk_rows}, "
                f"{max_chunk_rows}"
            )
        self.max_chunk_rows = max(max_chunk_rows, chunk_rows)
        if self.spill_dir is not None:
            self.spill_dir.mkdir(parents=True, exist_ok=True)
        self._full: list[dict[str, np.ndarray | Constant]] = []
        self._spilled = 0  # chunks written to the spill folder
        self._done = 0  # rows in full chunks
        self.prefault = prefault
        self._ahead: deque[tuple[dict[str, np.ndarray], Future]] = deque()
        self._writing: deque[tuple[dict[str, np.ndarray], Future]] = deque()
        self._ahead_rows = 0
        #: Columns of the chunk being filled that hold one value in all its rows so far.
        self._const: dict[str, object] = {}
        #: Columns written row by row in the last full chunk (the ones worth faulting in).
        self._dense = frozenset(self.schema)
        self._chunk = self._new_chunk(chunk_rows)
        self._fill = 0

    def _new_chunk(self, rows: int) -> dict[str, np.ndarray]:
        if self._ahead:
            chunk, touched = self._ahead.popleft()
            touched.result()
            self._ahead_rows -= len(next(iter(chunk.values())))
            return chunk
        return {k: np.empty(rows, dtype=t) for k, t in self.schema.items()}

    def _plan_ahead(self, rows: int) -> None:
        """Have at least ``rows`` rows of prefaulted chunks ready after the current one."""
        if self._ahead_rows >= rows:
            return
        size = len(next(iter((self._ahead[-1][0] if self._ahead else self._chunk).values())))
        while self._ahead_rows < rows:
            if self.spill_dir is not None and size == self.max_chunk_rows:
                return  # a spilled table at full size reuses its buffers: nothing to fault
            size = min(2 * size, self.max_chunk_rows)
            chunk: dict[str, np.ndarray] = {
                k: np.empty(size, dtype=t) for k, t in self.schema.items()
            }
            self._ahead.append((chunk, _prefault(chunk, self._dense)))
            self._ahead_rows += size

    def __getstate__(self) -> dict:
        """Pickle without the chunks prepared ahead (they hold no rows)."""
        self.flush()
        state = dict(self.__dict__)
        state["_ahead"], state["_ahead_rows"], state["_writing"] = deque(), 0, deque()
        return state

    @property
    def chunk_rows(self) -> int:
        """Rows of the chunk being filled."""
        return len(next(iter(self._chunk.values())))

    def __len__(self) -> int:
        """Number of rows."""
        return self._done + self._fill

    def _retire(self) -> None:
        """Keep the full chunk in memory, or write it to the spill folder.

        The write runs on the background thread while the next chunk fills; the written
        buffers are then filled again.
        """
        rows = self.chunk_rows
        self._done += rows
        size = min(2 * rows, self.max_chunk_rows)
        const, self._const = self._const, {}
        self._dense = frozenset(self.schema) - const.keys()
        if self.spill_dir is None:
            self._full.append(
                {k: Constant(const[k], rows) if k in const else b for k, b in self._chunk.items()}
            )
            self._chunk = self._new_chunk(size)
        else:
            for k, value in const.items():  # spilled chunks are files of whole columns
                self._chunk[k][:] = value
            written = _background().submit(_save, self.spill_dir, self._spilled, self._chunk)
            self._writing.append((self._chunk, written))
            self._spilled += 1
            if size != rows or len(self._writing) < 2:
                self._chunk = self._new_chunk(size)  # double buffering: one fills, one writes
            else:  # the oldest written chunk's buffers are filled again (no new pages)
                chunk, written = self._writing.popleft()
                written.result()
                self._chunk = chunk
        self._fill = 0

    def flush(self) -> None:
        """Wait until every spilled chunk is on disk (raises the error of a failed write)."""
        while self._writing:
            self._writing.popleft()[1].result()

    def append(self, **cols: np.ndarray | float | int) -> None:
        """Append rows; every column of the schema must be given (scalars broadcast).

        Raises:
            ValueError: A column is missing or unknown, or the lengths differ.
        """
        if cols.keys() != self.schema.keys():
            missing = sorted(self.schema.keys() - cols.keys())
            extra = sorted(cols.keys() - self.schema.keys())
            raise ValueError(f"Table.append: missing columns {missing}, unknown {extra}")
        sizes = [_size(v) for v in cols.values()]
        n = max((x for x in sizes if x >= 0), default=1)
        if self.prefault:
            self._plan_ahead(2 * n)
        start = 0
        while start < n:
            cap = self.chunk_rows
            take = min(n - start, cap - self._fill)
            end = self._fill + take
            whole = take == n  # the common case: no slice of the values
            for (k, v), size in zip(cols.items(), sizes, strict=True):
                if size < 0:
                    self._put_scalar(k, v, end)
                else:
                    self._put(k, v if whole else np.asarray(v)[start : start + take], end)
            self._fill += take
            start += take
            if self._fill == cap:
                self._retire()

    def _put(self, k: str, values: object, end: int) -> None:
        """Write rows ``[fill, end)`` of column ``k``."""
        if k in self._const:  # rows so far held one value: write them out first
            self._chunk[k][: self._fill] = self._const.pop(k)
        self._chunk[k][self._fill : end] = values

    def _put_scalar(self, k: str, value: object, end: int) -> None:
        """Rows ``[fill, end)`` of column ``k`` all hold ``value``."""
        if self._fill == 0:
            self._const[k] = value
            return
        if k in self._const:
            held = self._const[k]
            if value is held or value == held:
                return
        self._put(k, value, end)

    def append_rows(self, n: int, cols: dict[str, np.ndarray | float | int]) -> None:
        """Append ``n`` rows: every column of the schema, each ``n`` values or a scalar.

        The batch fast path of :meth:`append` (the caller vouches for the columns and the
        lengths); rows that do not fit in the chunk being filled go through :meth:`append`.
        """
        end = self._fill + n
        if end >= self.chunk_rows:
            self.append(**cols)
            return
        if self.prefault and self._ahead_rows < 2 * n:
            self._plan_ahead(2 * n)
        for k, v in cols.items():
            if isinstance(v, np.ndarray) and v.ndim:
                self._put(k, v, end)
            else:
                self._put_scalar(k, v, end)
        self._fill = end

    def columns(self) -> dict[str, np.ndarray]:
        """All rows as one numpy array per column (copies; spilled chunks read back)."""
        self.flush()
        out = {}
        for k in self.schema:
            spilled = (
                [np.load(self.spill_dir / f"{k}.{i:06d}.npy") for i in range(self._spilled)]
                if self.spill_dir is not None
                else []
            )
            dtype = self.schema[k]
            full = [
                c.array(dtype) if isinstance(c, Constant) else c for c in (f[k] for f in self._full)
            ]
            if k in self._const:
                now = Constant(self._const[k], self._fill).array(dtype)
            else:
                now = self._chunk[k][: self._fill]
            out[k] = np.concatenate([*spilled, *full, now])
        return out

    def to_frame(self):  # noqa: ANN201 - pandas is imported lazily
        """All rows as a :class:`pandas.DataFrame`."""
        import pandas as pd

        return pd.DataFrame(self.columns())


def _size(v: ArrayLike) -> int:
    """Rows of an appended column: its size, or -1 for a scalar (broadcast)."""
    if isinstance(v, np.ndarray):
        return v.size if v.ndim else -1
    return int(np.size(v)) if np.ndim(v) else -1


class Counts:
    """Exact per-day and per-(day, item) counts of every impression, logged or not.

    Args:
        n_items: M (widened if a larger id is counted).
    """

    COLUMNS = ("impressions", "clicks", "purchases", "revenue", "engagement", "dau")

    def __init__(self, n_items: int, n_users: int = 0) -> None:
        self.n_items = n_items
        self.last_day = np.full(n_users, -1, dtype=np.int64)  # last day each user was served
        self.day: dict[str, list[float]] = {k: [] for k in self.COLUMNS}
        self.item_shown: list[np.ndarray] = []
        self.item_clicks: list[np.ndarray] = []
        #: Exact per-user totals over the run (the user table of a sampled log).
        self.user = {
            k: np.zeros(n_users) for k in ("impressions", "clicks", "revenue", "engagement")
        }

    def _grow(self, day: int) -> None:
        while len(self.item_shown) <= day:
            for k in self.COLUMNS:
                self.day[k].append(0.0)
            self.item_shown.append(np.zeros(self.n_items, dtype=np.int64))
            self.item_clicks.append(np.zeros(self.n_items, dtype=np.int64))

    def add(
        self,
        day: int,
        users: np.ndarray,
        items: np.ndarray,
        clicked: np.ndarray,
        purchased: np.ndarray,
        revenue: np.ndarray,
        engagement: np.ndarray,
    ) -> None:
        """Count one batch of slates ``items (B, K)`` served to ``users (B,)`` on ``day``."""
        self._grow(day)
        flat = items.ravel()
        if flat.size and int(flat.max()) >= self.n_items:  # widen to the ids seen
            extra = int(flat.max()) + 1 - self.n_items
            self.item_shown = [np.pad(x, (0, extra)) for x in self.item_shown]
            self.item_clicks = [np.pad(x, (0, extra)) for x in self.item_clicks]
            self.n_items += extra
        self.item_shown[day] += np.bincount(flat, minlength=self.n_items)
        self.item_clicks[day] += np.bincount(flat[clicked.ravel()], minlength=self.n_items)
        d = self.day
        d["impressions"][day] += float(flat.size)
        d["clicks"][day] += float(clicked.sum())
        d["purchases"][day] += float(purchased.sum())
        d["revenue"][day] += float(revenue.sum(dtype=np.float64))
        d["engagement"][day] += float(engagement.sum(dtype=np.float64))
        if len(self.last_day) and len(users):
            u = self.user  # a batch holds each user once: plain fancy-index adds are exact
            u["impressions"][users] += items.shape[1]
            u["clicks"][users] += clicked.sum(axis=1)
            u["revenue"][users] += revenue.sum(axis=1, dtype=np.float64)
            u["engagement"][users] += engagement.sum(axis=1, dtype=np.float64)
            new = users[self.last_day[users] != day]
            d["dau"][day] += float(new.size)
            self.last_day[new] = day

    def table(self) -> dict[str, np.ndarray]:
        """The counts as columns.

        ``day``, the daily totals, ``item_shown`` and ``item_clicks`` (D, M), and
        ``user_impressions``, ``user_clicks``, ``user_revenue``, ``user_engagement`` (N,).
        """
        D = len(self.item_shown)
        out: dict[str, np.ndarray] = {"day": np.arange(D)}
        out.update({k: np.asarray(v, dtype=np.float64) for k, v in self.day.items()})
        shape = (D, self.n_items)
        out["item_shown"] = np.array(self.item_shown).reshape(shape)
        out["item_clicks"] = np.array(self.item_clicks).reshape(shape)
        for k, v in self.user.items():
            out[f"user_{k}"] = v.copy()
        return out


class EventLog:
    """The tables of one run (see the module docstring)."""

    def __init__(
        self,
        arrival_day: np.ndarray,
        items: dict[str, np.ndarray] | None = None,
        sample: float = 1.0,
        spill_dir: str | Path | None = None,
        n_items: int | None = None,
    ) -> None:
        """Create empty tables for a population with the given arrival days.

        Args:
            arrival_day: Arrival day of every user ``(N,)``.
            items: Static item columns metrics need (``release_day``, ``expire_day``,
                ``genre``, ``creator``, the hidden ``topic`` for intra-list diversity, the
                ``reference`` popularity), or ``None``.
            sample: Share of requests whose impressions are kept (the engine draws which);
                below 1 the engine also keeps exact :class:`Counts` of every impression, which
                feed the count metrics (a full log's rows are the counts: ``counts`` stays
                empty).
            spill_dir: Write full impression chunks here instead of keeping them in memory.
            n_items: M, for the exact per-item counts (default: from ``items``).
        """
        self.items = dict(items or {})
        self.sample = float(sample)
        self.impressions = Table(IMPRESSION_SCHEMA, spill_dir=spill_dir, prefault=True)
        self.sessions = Table(SESSION_SCHEMA, chunk_rows=1 << 14)
        self.days = Table(DAY_SCHEMA, chunk_rows=1 << 10)
        self.arrival_day = np.asarray(arrival_day, dtype=np.float64)
        if n_items is None:
            n_items = len(next(iter(self.items.values()))) if self.items else 0
        self.counts = Counts(n_items, len(self.arrival_day))
        #: The user pairs homogenization follows (``a``, ``b``: user ids; see
        #: :func:`simrec.metrics.reference.chaney_pairs`); empty: none.
        self.pairs: dict[str, np.ndarray] = {"a": np.zeros(0, np.int64), "b": np.zeros(0, np.int64)}

    def flush(self) -> None:
        """Wait until every spilled chunk of the impressions is written."""
        self.impressions.flush()

    def tables(self) -> dict[str, dict[str, np.ndarray]]:
        """All tables as column dicts (``users`` holds ``user`` and ``arrival_day``).

        ``pairs`` holds the user pairs homogenization follows (``a``, ``b``).

        ``counts`` holds the exact counts and ``log`` the sampling share (``sample``).
        """
        return {
            "impressions": self.impressions.columns(),
            "sessions": self.sessions.columns(),
            "days": self.days.columns(),
            "users": {
                "user": np.arange(len(self.arrival_day), dtype=np.int32),
                "arrival_day": self.arrival_day,
            },
            "items": self.items,
            "pairs": self.pairs,
            "counts": self.counts.table(),
            "log": {"sample": np.array([self.sample])},
        }
