"""The columnar table: appends of arrays and scalars, chunks, spills, constant columns."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from simrec.log import Constant, Table


def _random_appends(rng, table, steps, pickle_some):
    """Append a random mix of arrays and scalars; return the table and the expected columns."""
    want_a, want_b = [], []
    for _ in range(steps):
        n = int(rng.integers(0, 9))
        a = rng.integers(0, 3, n) if rng.random() < 0.5 else int(rng.integers(0, 3))
        b = rng.random(n) if rng.random() < 0.3 else (np.nan if rng.random() < 0.5 else 1.0)
        if np.ndim(a) == 0 and np.ndim(b) == 0:
            n = 1  # all scalars: one row
        if rng.random() < 0.5:
            table.append(a=a, b=b)
        else:
            table.append_rows(n, {"a": a, "b": b})
        want_a.append(np.broadcast_to(np.asarray(a, dtype=np.int32), (n,)))
        want_b.append(np.broadcast_to(np.asarray(b, dtype=np.float64), (n,)))
        if pickle_some and rng.random() < 0.2:
            table = pickle.loads(pickle.dumps(table))
    return table, np.concatenate(want_a), np.concatenate(want_b)


@pytest.mark.parametrize("spill", [False, True])
def test_any_mix_of_appends_reads_back_row_for_row(tmp_path, spill):
    rng = np.random.default_rng(7)
    for trial in range(150):
        table = Table(
            {"a": np.int32, "b": np.float64},
            chunk_rows=int(rng.integers(1, 7)),
            max_chunk_rows=8,
            spill_dir=tmp_path / f"t{trial}" if spill else None,
            prefault=bool(trial % 2),
        )
        table, a, b = _random_appends(rng, table, int(rng.integers(1, 12)), not spill)
        got = table.columns()
        assert len(table) == len(a) == len(got["a"])
        assert got["a"].dtype == np.int32 and got["b"].dtype == np.float64
        np.testing.assert_array_equal(got["a"], a)
        np.testing.assert_array_equal(got["b"], b)  # NaN equals NaN here


def test_a_column_of_one_value_is_kept_as_that_value():
    table = Table({"t": np.float64, "x": np.int32}, chunk_rows=4, max_chunk_rows=4)
    for tick in range(3):  # three chunks: t is one value per chunk, x changes every row
        table.append_rows(4 - (tick == 2), {"t": 0.5 * tick, "x": np.arange(4 - (tick == 2))})
    full = table._full
    assert [type(c["t"]) for c in full] == [Constant, Constant]
    assert [c["t"].value for c in full] == [0.0, 0.5]
    assert all(isinstance(c["x"], np.ndarray) for c in full)
    np.testing.assert_array_equal(table.columns()["t"], [0.0] * 4 + [0.5] * 4 + [1.0] * 3)
    # A second value in the chunk writes the first out, then the rows go on as an array.
    table.append_rows(1, {"t": 2.0, "x": np.arange(1)})
    assert "t" not in table._const
    np.testing.assert_array_equal(table.columns()["t"][-4:], [1.0, 1.0, 1.0, 2.0])
