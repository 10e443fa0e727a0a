"""The CDNOW purchase log, read from the ``lifetimes==0.11.3`` wheel on PyPI that ships it.

CDNOW was an online music retailer. Its log follows the 23,570 customers who made their first
purchase there in the first quarter of 1997 (1 January - 25 March) until 30 June 1998 (78
weeks): 69,659 rows of customer id, date, number of CDs and dollar value. Fader & Hardie
distribute it (brucehardie.com) with a 1-in-10 sample of 2,357 of the customers (6,919 rows) and
its summary for a 39-week calibration period, on which Fader, Hardie & Lee (2005) fit the BG/NBD
model (:mod:`simrec.data.bgnbd`). The ``lifetimes`` wheel (584 kB) ships all three under
``lifetimes/datasets/``: ``CDNOW_master.txt``, ``CDNOW_sample.txt`` (master id, sample id,
date, CDs, dollars; no header) and ``cdnow_customers_summary.csv`` (sample id, frequency,
recency, T; weeks, two decimals). :func:`load_cdnow` fetches the wheel once with ``pip
download`` into :func:`~simrec.data.movielens.data_dir` (as the MovieLens loaders do), checks
its SHA-256 and reads the files straight from the zip: lifetimes itself is never installed
or imported (it needs autograd, dill and ``pkg_resources``, none of them in simrec's set).

Terms: the wheel is MIT-licensed; the data's own terms are not stated. Like MovieLens, no row
of it (nor a per-customer derivative) is committed to the repository.

:func:`bgnbd_summary` turns transactions into the BG/NBD summary ``(frequency, recency, T)``
the way Fader & Hardie did: transactions on one day count as one, ``frequency`` is the
number of repeat (not first) purchase days in the calibration period, ``recency`` the time
from the first to the last of them and ``T`` the time from the first purchase to the
period's last day, in weeks. On the sample it reproduces the shipped summary (frequencies
exactly, times to its two decimals).
"""

from __future__ import annotations

import io
import zipfile
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from simrec.data.movielens import fetch_wheel
from simrec.errors import DataUnavailableError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CALIBRATION_WEEKS",
    "EXPECTED_CDNOW",
    "START",
    "WHEEL_CDNOW",
    "bgnbd_summary",
    "load_cdnow",
    "load_cdnow_summary",
]

#: The wheel that carries the data, and its SHA-256 (PyPI, checked on every load).
WHEEL_CDNOW = (
    "lifetimes==0.11.3",
    "Lifetimes-0.11.3-py3-none-any.whl",
    "261e3dc89977c2b60767ca6728aaa29d429de0c814635070a749c36555895da8",
)
PREFIX = "lifetimes/datasets/"
TERMS = "data by Fader & Hardie, shipped in an MIT-licensed wheel; not to be committed"

#: File -> (rows, customers): the master log, the 1-in-10 sample, its shipped summary.
EXPECTED_CDNOW: dict[str, tuple[int, int]] = {
    "CDNOW_master.txt": (69_659, 23_570),
    "CDNOW_sample.txt": (6_919, 2_357),
    "cdnow_customers_summary.csv": (2_357, 2_357),
}
MASTER_HEADER = ["customer_id", "date", "number_of_cds", "dollar_value"]
SUMMARY_HEADER = "ID,frequency,recency,T"

#: The first day of the data, and the length of Fader et al.'s calibration period (weeks).
START = "1997-01-01"
CALIBRATION_WEEKS = 39


def _text(archive: zipfile.ZipFile, name: str) -> str:
    try:
        return archive.read(PREFIX + name).decode("ascii")
    except KeyError:
        raise DataUnavailableError(f"{archive.filename}: no member {PREFIX + name}") from None


def _check(frame: pd.DataFrame, name: str, customer: str) -> None:
    rows, customers = EXPECTED_CDNOW[name]
    got = (len(frame), frame[customer].nunique())
    if got != (rows, customers):
        raise DataUnavailableError(
            f"{name}: {got[0]:,} rows of {got[1]:,} customers, expected {rows:,} of {customers:,}"
        )
    ids = np.sort(frame[customer].unique())
    if not np.array_equal(ids, np.arange(1, customers + 1)):
        raise DataUnavailableError(f"{name}: customer ids are not 1..{customers}")


def _transactions(text: str, names: list[str]) -> pd.DataFrame:
    import pandas as pd

    raw = pd.read_csv(io.StringIO(text), sep=r"\s+", header=None, names=names, dtype=str)
    try:
        frame = pd.DataFrame(
            {
                **{k: raw[k].astype(np.int32) for k in names if k.endswith("customer")},
                "date": pd.to_datetime(raw["date"], format="%Y%m%d"),
                "quantity": raw["quantity"].astype(np.int32),
                "amount": raw["amount"].astype(np.float64),
            }
        )
    except ValueError as err:
        raise DataUnavailableError(f"CDNOW: a field does not parse ({err})") from None
    if (frame["quantity"] < 0).any() or (frame["amount"] < 0).any():
        raise DataUnavailableError("CDNOW: negative quantities or amounts")
    return frame


def _parse(path: Path, sample: bool) -> pd.DataFrame:
    with zipfile.ZipFile(path) as archive:
        if not sample:
            text = _text(archive, "CDNOW_master.txt")
            header, _, body = text.partition("\n")
            if header.split() != MASTER_HEADER:
                raise DataUnavailableError(
                    f"CDNOW_master.txt: header {header.strip()!r}, expected {MASTER_HEADER}"
                )
            frame = _transactions(body, ["customer", "date", "quantity", "amount"])
            _check(frame, "CDNOW_master.txt", "customer")
        else:
            text = _text(archive, "CDNOW_sample.txt")
            names = ["master_customer", "customer", "date", "quantity", "amount"]
            frame = _transactions(text, names)
            _check(frame, "CDNOW_sample.txt", "customer")
            frame = frame[["customer", "date", "quantity", "amount", "master_customer"]]
    first, last = frame["date"].min(), frame["date"].max()
    if (str(first.date()), str(last.date())) != (START, "1998-06-30"):
        raise DataUnavailableError(f"CDNOW: dates {first} - {last}, expected {START} - 1998-06-30")
    return frame


@lru_cache(maxsize=2)
def _load_cached(path: Path, sample: bool) -> pd.DataFrame:
    return _parse(path, sample)


def load_cdnow(
    folder: str | Path | None = None, quiet: bool = False, sample: bool = False
) -> pd.DataFrame:
    """The CDNOW transactions, one row per purchase, in the file's order (customer, date).

    Columns: ``customer`` (int32, 1..23,570; the sample: its own ids 1..2,357, those of the
    shipped summary), ``date`` (datetime, a day), ``quantity`` (CDs, int32), ``amount``
    (dollars, float64); the sample adds ``master_customer`` (the id in the master log).

    Args:
        folder: Cache folder (default :func:`~simrec.data.movielens.data_dir`).
        quiet: No message when fetching.
        sample: The 2,357-customer sample (6,919 rows) instead of the master log (69,659).

    Raises:
        DataUnavailableError: Not cached and not fetchable, or the file is not as expected.
    """
    where = None if folder is None else Path(folder)
    path = fetch_wheel(where, quiet, WHEEL_CDNOW, "CDNOW", TERMS)
    return _load_cached(path, sample).copy()


def load_cdnow_summary(folder: str | Path | None = None, quiet: bool = False) -> pd.DataFrame:
    """The summary of the 2,357-customer sample as shipped (``cdnow_customers_summary.csv``).

    Indexed by ``customer`` (the sample's id); columns ``frequency`` (int), ``recency`` and
    ``T`` (weeks, two decimals): the data Fader, Hardie & Lee (2005) fit the BG/NBD model to.

    Raises:
        DataUnavailableError: Not cached and not fetchable, or the file is not as expected.
    """
    import pandas as pd

    where = None if folder is None else Path(folder)
    path = fetch_wheel(where, quiet, WHEEL_CDNOW, "CDNOW", TERMS)
    name = "cdnow_customers_summary.csv"
    with zipfile.ZipFile(path) as archive:
        text = _text(archive, name)
    if text.partition("\n")[0].strip() != SUMMARY_HEADER:
        raise DataUnavailableError(f"{name}: header is not {SUMMARY_HEADER!r}")
    frame = pd.read_csv(io.StringIO(text)).rename(columns={"ID": "customer"})
    _check(frame, name, "customer")
    return frame.set_index("customer")


def bgnbd_summary(
    transactions: pd.DataFrame,
    start: str = START,
    calibration_weeks: float = CALIBRATION_WEEKS,
    holdout_weeks: float = CALIBRATION_WEEKS,
) -> pd.DataFrame:
    """The BG/NBD summary of each customer, as Fader, Hardie & Lee (2005) built it.

    Purchases on one day count as one transaction. The calibration period runs from ``start``
    for ``calibration_weeks``; its last day is ``start + 7 calibration_weeks - 1`` days
    (30 September 1997 for 39 weeks from 1 January), and times are measured to that day, in
    weeks: a customer who first bought on 1 January has ``T`` = 272 / 7 = 38.86 weeks, as in
    the paper's data. Customers whose first purchase is after the period are left out.

    Args:
        transactions: At least ``customer`` and ``date`` (:func:`load_cdnow`'s frame).
        start: First day of the calibration period.
        calibration_weeks: Its length.
        holdout_weeks: The length of the holdout period that follows it.

    Returns:
        A frame indexed by ``customer`` (sorted): ``frequency`` (repeat purchase days in the
        calibration period, int), ``recency`` (weeks from the first purchase to the last
        repeat one; 0 without repeats), ``T`` (weeks from the first purchase to the end of the
        period), ``first`` (the date of the first purchase) and ``holdout`` (purchase days in
        the ``holdout_weeks`` after the period, int).
    """
    import pandas as pd

    day0 = pd.Timestamp(start)
    end = day0 + pd.Timedelta(days=round(7 * calibration_weeks) - 1)
    stop = end + pd.Timedelta(days=round(7 * holdout_weeks))
    days = transactions[["customer", "date"]].drop_duplicates()
    days = days[days["date"] >= day0]
    g = days.groupby("customer")["date"]
    first = g.min()
    first = first[first <= end]
    cal = days[days["date"] <= end].groupby("customer")["date"]
    last = cal.max().reindex(first.index)
    held = days[(days["date"] > end) & (days["date"] <= stop)].groupby("customer").size()
    week = pd.Timedelta(days=7)
    return pd.DataFrame(
        {
            "frequency": (cal.size().reindex(first.index) - 1).astype(np.int64),
            "recency": (last - first) / week,
            "T": (end - first) / week,
            "first": first,
            "holdout": held.reindex(first.index, fill_value=0).astype(np.int64),
        }
    ).sort_index()
