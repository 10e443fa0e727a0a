"""The file primitives of a results folder: atomic writes, the folder lock, write errors.

Every command that writes a folder (``simrec run``, ``report``, the sensitivity, A/B and OPE
studies) writes through these, so one guarantee holds everywhere: a file is written under a
temporary name and renamed into place (it exists complete or not at all); one process at a
time writes a folder (:func:`lock_folder`); a failed write is one :class:`ResultsError` line
naming what was being written and what is kept (:func:`writing`). Files get the permissions
the umask gives (0644 under the usual 022).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from simrec.errors import ResultsError

__all__ = [
    "LOCK",
    "atomic_write_bytes",
    "atomic_write_text",
    "lock_folder",
    "on_write",
    "open_root",
    "umask",
    "write_file",
    "writing",
]


#: The lock file held while a run or a report writes the folder.
LOCK = ".simrec.lock"


def umask() -> int:
    """The process umask, read without changing it (Linux), else by setting it back."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def writing(what: str, kept: str = "") -> Iterator[None]:
    """Turn an ``OSError`` while writing ``what`` into a one-line :class:`ResultsError`.

    Args:
        what: What was being written (a path or a run).
        kept: A sentence on what is kept (e.g. the finished runs).
    """
    try:
        yield
    except ResultsError:
        raise
    except OSError as err:
        reason = err.strerror or str(err)
        code = errno.errorcode.get(err.errno or 0, "")
        code = f" ({code})" if code else ""
        tail = f"; {kept}" if kept else ""
        raise ResultsError(f"cannot write {what}: {reason}{code}{tail}") from err


#: Open results folders of this process (absolute path -> the callback recording a write).
_OPEN: dict[str, Callable[[Path, bytes | None], None]] = {}


def on_write(root: Path, record: Callable[[Path, bytes | None], None] | None) -> None:
    """Record every :func:`atomic_write_bytes` under ``root`` with ``record`` (``None``: stop).

    Used by :class:`simrec.runner.store.ResultsFolder` for its ledger; a write under an open
    folder is also refused if its path passes through a symbolic link.
    """
    key = os.path.abspath(root)
    if record is None:
        _OPEN.pop(key, None)
    else:
        _OPEN[key] = record


def open_root(path: Path) -> str | None:
    """The innermost open results folder (absolute path) holding ``path``, or ``None``."""
    full = os.path.abspath(path)
    roots = [root for root in _OPEN if full.startswith(root + os.sep)]
    return max(roots, key=len) if roots else None  # the innermost: nested folders own theirs


def _make_parents(root: str, path: Path) -> None:
    """Create the folders from ``root`` down to ``path``'s, refusing a link on the way."""
    folder = Path(root)
    for part in Path(os.path.abspath(path)).relative_to(root).parts[:-1]:
        folder = folder / part
        if folder.is_symlink():
            raise ResultsError(
                f"cannot write {path}: {folder} is a symbolic link (simrec never writes through "
                f"links inside its results folders)"
            )
        folder.mkdir(exist_ok=True)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and an atomic rename.

    The file gets the mode a plain ``open`` would give (``0666 & ~umask``). Under an open
    results folder (:func:`on_write`) no folder on the way may be a link, and the write is
    recorded.
    """
    root = open_root(path)
    if root is None:
        path.parent.mkdir(parents=True, exist_ok=True)
    else:
        _make_parents(root, path)
    write_file(path, data)
    if root is not None:
        _OPEN[root](Path(root) / Path(os.path.abspath(path)).relative_to(root), data)


def write_file(path: Path, data: bytes) -> None:
    """The atomic write itself (temporary file, fsync, rename); nothing recorded."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~umask())
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Write UTF-8 text atomically (see :func:`atomic_write_bytes`)."""
    atomic_write_bytes(path, text.encode("utf-8"))


@contextlib.contextmanager
def lock_folder(out: Path, purpose: str) -> Iterator[None]:
    """Hold the folder's lock (``flock`` on :data:`LOCK`) for the block.

    The lock dies with the process that holds it (even on ``kill -9``), so a killed sweep
    never leaves a stale lock.

    Raises:
        ResultsError: Another process holds the lock (the message names its pid and what
            it is doing).
    """
    path = Path(out) / LOCK
    with writing(str(path)):
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o666 & ~umask())
        except OSError as err:
            if err.errno != errno.ELOOP:
                raise
            raise ResultsError(
                f"--out {out}: {LOCK} is a symbolic link (to {os.readlink(path)}); simrec never "
                f"writes through links inside its results folders: remove it"
            ) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
            raise ResultsError(
                f"--out {out}: another simrec process is using this folder ({holder}); wait "
                f"for it to finish or choose another folder"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(
            fd,
            f"pid {os.getpid()}, {purpose}, since {time.strftime('%Y-%m-%d %H:%M:%S')}".encode(),
            0,
        )
        yield
    finally:
        os.close(fd)
