"""The entry points of simrec's plug-in groups (agents, components, metrics), read once.

:func:`importlib.metadata.entry_points` reads the metadata of every installed distribution
on each call (about 20 ms in a full environment), and a sweep asks for the agents' group once
per run. :func:`group_entry_points` keeps each group's entry points until the import path
changes: a folder added to or removed from ``sys.path``, or a distribution installed into or
removed from one of its folders (the folder's modification time or link count changes: a
distribution's metadata is a folder), reads them again.

>>> from simrec.plugins import group_entry_points
>>> sorted(ep.name for ep in group_entry_points("simrec.agents"))[:2]
['als', 'bpr']
"""

from __future__ import annotations

import os
import sys
from importlib.metadata import EntryPoint, entry_points

__all__ = ["group_entry_points"]

_State = tuple[tuple[str, tuple[int, int] | None], ...]
_CACHE: dict[str, tuple[_State, tuple[EntryPoint, ...]]] = {}


def _path_state() -> _State:
    """Each ``sys.path`` entry with its modification time and link count (or None)."""
    state: list[tuple[str, tuple[int, int] | None]] = []
    for entry in sys.path:
        try:
            st = os.stat(entry or ".")
            state.append((entry, (st.st_mtime_ns, st.st_nlink)))
        except OSError:
            state.append((entry, None))
    return tuple(state)


def group_entry_points(group: str) -> tuple[EntryPoint, ...]:
    """The entry points registered under ``group``, in the order importlib finds them."""
    state = _path_state()
    hit = _CACHE.get(group)
    if hit is not None and hit[0] == state:
        return hit[1]
    found = tuple(entry_points(group=group))
    _CACHE[group] = (state, found)
    return found
