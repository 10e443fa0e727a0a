"""One results folder for every command: owned, locked, confined, verified.

Every command that writes a folder (``simrec run`` and ``report``, ``ab``, ``ope``,
``sensitivity``, the grids) opens it through :class:`ResultsFolder`, so the same guarantees
hold everywhere:

* **Marker.** ``.simrec-results`` names the command that made the folder and what it holds
  (its identity); another command, or the same command for another study, is refused.
* **Ownership.** Every file simrec writes in an open folder is recorded, with its size and
  sha256, in the ledger ``.simrec-files.json`` (run folders and nested results folders
  carry their own manifests and ledgers). Only recorded files are ever removed, at any
  depth; a folder that holds anything else is refused before anything is touched.
* **Confinement.** No symbolic link is followed inside ``--out``: a folder holding one is
  refused with the link named, the lock is opened with ``O_NOFOLLOW``, and a write whose
  path would pass through a link is refused.
* **One writer.** ``flock`` on ``.simrec.lock`` (:func:`~simrec.runner.atomic.lock_folder`).
* **Atomic writes.** A file exists complete or not at all (temporary name, rename).
* **Verified units.** A finished unit (a run folder with its ``manifest.json``, or a single
  file in the ledger) counts only while its bytes match the recorded sha256.

A folder written before the ledger existed (a ``simrec run`` folder with a text marker) is
read with the name rules of its layout (:func:`simrec.runner.results.foreign_entries`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from simrec.errors import ResultsError
from simrec.runner import atomic
from simrec.runner.atomic import LOCK, atomic_write_text, lock_folder, writing

__all__ = ["LEDGER", "MARKER", "ResultsFolder", "file_sha256", "refuse_links", "verify_file"]

#: Marks a folder as simrec's: JSON naming the command and what the folder holds.
MARKER = ".simrec-results"
#: The files simrec wrote in the folder (outside run folders and nested results folders).
LEDGER = ".simrec-files.json"
#: A run folder's manifest (its own ledger).
MANIFEST = "manifest.json"
#: Markers of folders written by earlier versions (their own command's layout).
LEGACY_MARKERS = {".simrec-sensitivity": "sensitivity", "ab.json": "ab", "ope.json": "ope"}
#: The marker of a grid's root folder before the ledger existed.
LEGACY_GRID_MARKER = ".simrec-grid"

#: The folder where a run's agent writes its own files (``AgentContext.output_dir``): all
#: of it is simrec's to remove, whatever the agent put there.
AGENT_FILES = "agent-files"

_ADMIN = frozenset({MARKER, LEDGER, LOCK})
#: The commands whose folders hold results folders of their own (grid variants, the
#: sensitivity analysis' nominal and design points).
NESTING = frozenset({"grid", "ab-grid", "sensitivity"})


def _temporary(name: str) -> bool:
    return name.startswith(".") and name.endswith(".tmp")


def refuse_links(out: Path) -> None:
    """Refuse ``out`` if any entry inside it, at any depth, is a symbolic link.

    ``out`` itself may be a link (the user chose where it points); nothing inside may be,
    so that no write and no removal can leave the folder.

    Raises:
        ResultsError: Naming the first link found and where it points.
    """
    out = Path(out)
    if not out.is_dir():
        return
    for root, dirs, files in os.walk(out, followlinks=False):
        for name in sorted(dirs + files):
            path = Path(root) / name
            if path.is_symlink():
                rel = path.relative_to(out)
                target = os.readlink(path)
                raise ResultsError(
                    f"--out {out}: {rel} is a symbolic link (to {target}); simrec never writes "
                    f"through links inside its results folders: remove the link or choose "
                    f"another folder"
                )


class ResultsFolder:
    """The results folder ``out`` of one command (see the module docstring).

    Typical use::

        folder = ResultsFolder(out, "ab", "A/B test")
        folder.check()                      # before anything is made: refuses a bad --out
        with folder.open(identity, resume=resume, force=force):
            ...                             # every atomic write in ``out`` is recorded

    Args:
        out: The folder.
        command: The command that owns it (``run``, ``ab``, ``ope``, ``sensitivity``, ...).
        what: How errors name its contents ("A/B test").
    """

    def __init__(self, out: str | Path, command: str, what: str = "") -> None:
        """Name the folder; nothing is read or written."""
        self.out = Path(out)
        self.command = command
        self.what = what or f"`simrec {command}` results"
        self._ledger: dict[str, dict[str, Any]] | None = None

    # -- reading -------------------------------------------------------------------------

    def marker(self) -> dict[str, Any] | None:
        """The folder's marker (``{"command", "identity"}``), ``None`` without one."""
        path = self.out / MARKER
        for name, command in LEGACY_MARKERS.items():
            if not path.exists() and (self.out / name).is_file():
                return {"command": command, "identity": None, "legacy": name}
        if not path.exists() and (self.out / LEGACY_GRID_MARKER).is_file():
            return {"command": "grid", "identity": None, "legacy": LEGACY_GRID_MARKER}
        if path.is_symlink() or not path.exists():
            return None
        try:
            text = path.read_text()
        except (OSError, UnicodeDecodeError) as err:
            raise ResultsError(f"{path}: unreadable marker ({err})") from None
        if not text.lstrip().startswith("{"):  # written before markers said what they hold
            return {"command": "run", "identity": None, "legacy": MARKER}
        try:
            data = json.loads(text)
        except ValueError as err:
            raise ResultsError(f"{path}: damaged marker ({err})") from None
        if not isinstance(data, dict) or not isinstance(data.get("command"), str):
            raise ResultsError(f"{path}: damaged marker (no command)")
        return data

    def ledger(self) -> dict[str, dict[str, Any]]:
        """The files simrec recorded here: relative path -> ``{"bytes", "sha256"}``."""
        if self._ledger is not None:
            return self._ledger
        path = self.out / LEDGER
        if not path.is_file() or path.is_symlink():
            return {}
        try:
            data = json.loads(path.read_text())
            files = data["files"]
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise ResultsError(f"{path}: damaged ledger ({err})") from None
        return dict(files)

    def verify(self, rel: str) -> str:
        """Why the recorded file ``rel`` is not as simrec wrote it, or ``""`` if it is."""
        meta = self.ledger().get(rel)
        path = self.out / rel
        if meta is None:
            return "missing" if not path.exists() else "not written by simrec"
        try:
            size = path.lstat().st_size
        except OSError:
            return "missing"
        if not path.is_file() or path.is_symlink():
            return "not a plain file"
        if size != meta.get("bytes"):
            return f"has {size:,} bytes, the ledger says {meta.get('bytes'):,}"
        if file_sha256(path) != meta.get("sha256"):
            return "does not match its sha256 in the ledger (changed or damaged)"
        return ""

    def foreign(self) -> list[str]:
        """Entries under the folder (relative paths) that simrec did not write."""
        return self._foreign(self.ledger(), self.marker())

    def _foreign(self, ledger: Mapping[str, Any], marker: dict[str, Any] | None) -> list[str]:
        if marker is not None and marker.get("legacy") and not (self.out / LEDGER).exists():
            return _legacy_foreign(self.out, marker)
        nests = marker is not None and marker.get("command") in NESTING
        return _foreign_in(self.out, self.out, ledger, nests)

    # -- checking and opening ------------------------------------------------------------

    def check(self) -> None:
        """Refuse ``out`` before anything is created or locked.

        ``out`` must be absent, an empty folder, or a folder of this command; it must hold
        no symbolic link.

        Raises:
            ResultsError: ``out`` is a file, holds a link, holds files simrec did not write
                (and no marker), or is another command's folder.
        """
        out = self.out
        if not out.exists():
            if out.is_symlink():
                raise ResultsError(f"--out {out}: is a broken symbolic link")
            return
        if not out.is_dir():
            raise ResultsError(f"--out {out}: is a file, not a folder")
        entries = sorted(p.name for p in out.iterdir() if p.name != LOCK)
        if not entries:
            return
        refuse_links(out)
        marker = self.marker()
        if marker is None:
            shown = ", ".join(entries[:5]) + (", ..." if len(entries) > 5 else "")
            raise ResultsError(
                f"--out {out}: holds files simrec did not write ({shown}); choose an empty or "
                f"new folder (simrec writes only into folders it created)"
            )
        if marker["command"] != self.command:
            raise ResultsError(
                f"--out {out}: holds the results of `simrec {marker['command']}`, not of "
                f"`simrec {self.command}`; choose another folder"
            )

    @contextlib.contextmanager
    def open(
        self,
        identity: Mapping[str, Any] | None,
        *,
        resume: bool = False,
        force: bool = False,
        purpose: str = "",
        exists_ok: bool = False,
    ) -> Iterator[ResultsFolder]:
        """Create (if needed), lock and claim the folder for ``identity``; record writes.

        Under the lock: the folder is checked again, whole (no link, nothing foreign at any
        depth, this command's marker). A folder holding another identity is refused;
        ``force`` removes every file simrec recorded (nothing else) and starts again;
        without ``resume`` (or ``exists_ok``, for commands that only add files such as a
        report) a folder that already holds this study is refused.

        Raises:
            ResultsError: See :meth:`check`; another process holds the lock; the folder
                holds another study (without ``force``) or this one (without ``resume``).
        """
        self.check()
        with writing(f"--out {self.out}"):
            self.out.mkdir(parents=True, exist_ok=True)
        with lock_folder(self.out, purpose or f"simrec {self.command}"):
            self.check()  # again, now that no other simrec process writes here
            marker = self.marker()
            self._ledger = self.ledger()
            foreign = self._foreign(self._ledger, marker)
            if not foreign and marker is not None and marker.get("legacy"):
                self._adopt_legacy()
            if foreign:
                more = f" and {len(foreign) - 5} more" if len(foreign) > 5 else ""
                raise ResultsError(
                    f"--out {self.out}: holds files simrec did not write "
                    f"({', '.join(foreign[:5])}{more}); move them out first (neither --force "
                    f"nor --resume touches a folder holding files simrec did not write)"
                )
            self._claim(marker, identity, resume=resume, force=force, exists_ok=exists_ok)
            atomic.on_write(self.out, self._record)
            _OPEN[os.path.abspath(self.out)] = self
            try:
                yield self
            finally:
                atomic.on_write(self.out, None)
                _OPEN.pop(os.path.abspath(self.out), None)
                self._ledger = None

    def _adopt_legacy(self) -> None:
        """Record the files of a folder written before the ledger (by its layout's rules)."""
        self._ledger = {}
        for path in _owned_paths(self.out, {}, self.marker()):
            rel = path.relative_to(self.out).as_posix()
            if path.is_file() and not _in_unit(path.parent, self.out) and rel not in _ADMIN:
                data = path.read_bytes()
                self._ledger[rel] = {
                    "bytes": len(data),
                    "sha256": hashlib.sha256(data).hexdigest(),
                }
        self._save_ledger()

    def _claim(
        self,
        marker: dict[str, Any] | None,
        identity: Mapping[str, Any] | None,
        *,
        resume: bool,
        force: bool,
        exists_ok: bool,
    ) -> None:
        identity = json.loads(json.dumps(identity, sort_keys=True, default=repr))
        held = marker is not None and (
            any(p for p in self.out.iterdir() if p.name not in _ADMIN) or marker.get("legacy")
        )
        if held and not force and marker is not None:
            found = marker.get("identity")
            if identity is not None and found is not None and found != identity:
                raise ResultsError(
                    f"--out {self.out}: holds the {self.what} of another scenario or design "
                    f"({_describe(found)}); choose another folder or pass --force to replace it"
                )
            if not (resume or exists_ok):
                raise ResultsError(
                    f"--out {self.out}: already holds this {self.what}; pass --resume to keep "
                    f"its finished runs and run the rest, or --force to replace them"
                )
        if force:
            self.remove_owned()
        if identity is None and marker is not None:
            identity = marker.get("identity")  # a command that only adds files keeps it
        if marker is None or force or marker.get("legacy") or marker.get("identity") != identity:
            self._write_marker(identity)

    def _write_marker(self, identity: Any) -> None:
        data = {"command": self.command, "identity": identity}
        with writing(str(self.out / MARKER)):
            atomic_write_text(self.out / MARKER, json.dumps(data, indent=1, sort_keys=True) + "\n")
        for legacy in (*LEGACY_MARKERS, LEGACY_GRID_MARKER):
            if (self.out / legacy).is_file() and legacy != MARKER:
                (self.out / legacy).unlink()

    def remove_owned(self) -> None:
        """Delete every file simrec recorded here, and the folders it leaves empty.

        Files simrec did not write are never removed (the caller refused a folder holding
        any). The marker and the lock stay.
        """
        ledger = self.ledger() if self._ledger is None else self._ledger
        marker = self.marker()
        legacy = (
            marker if marker and marker.get("legacy") and not (self.out / LEDGER).exists() else None
        )
        for path in sorted(_owned_paths(self.out, ledger, legacy), reverse=True):
            if path.is_dir() and not path.is_symlink():
                with contextlib.suppress(OSError):
                    path.rmdir()  # empty once its owned files are gone
            else:
                path.unlink(missing_ok=True)
        self._ledger = {}
        self._save_ledger()

    # -- the ledger ----------------------------------------------------------------------

    def _record(self, path: Path, data: bytes | None) -> None:
        """Record (``data``) or forget (``None``) the file ``path`` just written/removed."""
        if self._ledger is None:
            return
        rel = Path(os.path.abspath(path)).relative_to(os.path.abspath(self.out)).as_posix()
        if rel in _ADMIN:
            return
        if data is None:
            self._ledger.pop(rel, None)
        else:
            self._ledger[rel] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        self._save_ledger()

    def _save_ledger(self) -> None:
        body = {"files": dict(sorted((self._ledger or {}).items()))}
        text = json.dumps(body, indent=1, sort_keys=True) + "\n"
        with writing(str(self.out / LEDGER)):
            atomic.write_file(self.out / LEDGER, text.encode("utf-8"))


#: The folders open in this process (absolute path -> folder).
_OPEN: dict[str, ResultsFolder] = {}


def verify_file(path: Path) -> str:
    """Why ``path`` is not a file simrec wrote and recorded, or ``""`` if it is.

    The innermost open results folder holding ``path`` answers from its ledger; a path in
    no open folder only has to be a plain file.
    """
    root = atomic.open_root(path)  # the folders open here are the ones recording writes
    if root is None:
        return "" if Path(path).is_file() and not Path(path).is_symlink() else "missing"
    return _OPEN[root].verify(Path(os.path.abspath(path)).relative_to(root).as_posix())


def _describe(identity: Any) -> str:
    if isinstance(identity, dict):
        name = identity.get("scenario")
        sha = str(identity.get("sha256", ""))[:12]
        return ", ".join(
            x for x in (repr(name) if name else "", f"sha256 {sha}" if sha else "") if x
        )
    return "another identity"


def file_sha256(path: Path) -> str:
    """sha256 (hex) of the file at ``path``, read in blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _run_folder_owned(folder: Path) -> bool:
    """Whether ``folder`` is a run folder whose manifest lists every file in it."""
    try:
        listed = set(json.loads((folder / MANIFEST).read_text())["files"])
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return all(p.name in listed or p.name == MANIFEST for p in folder.iterdir() if p.is_file())


def _foreign_in(
    root: Path, folder: Path, ledger: Mapping[str, Any], nests: bool = False
) -> list[str]:
    """Entries of ``folder`` (under results folder ``root``) simrec did not write.

    ``nests``: ``root`` holds results folders of its own (:data:`NESTING`); elsewhere a
    results folder inside is another study's, not this one's to remove.
    """
    foreign = []
    for entry in sorted(folder.iterdir()):
        rel = entry.relative_to(root).as_posix()
        if (folder == root and entry.name in _ADMIN) or _temporary(entry.name):
            continue
        if folder == root and entry.name == AGENT_FILES and entry.is_dir():
            continue  # the agents' own files (no link inside: refuse_links)
        if entry.is_dir() and not entry.is_symlink():
            if (entry / MARKER).is_file() and not (entry / MARKER).is_symlink():
                if not nests:
                    foreign.append(f"{rel}/ (another results folder)")
                    continue
                nested = ResultsFolder(entry, "")  # a nested results folder answers for itself
                foreign += [f"{rel}/{x}" for x in nested.foreign()]
            elif (entry / MANIFEST).is_file():
                if not _run_folder_owned(entry):
                    foreign += _unlisted(entry, root)
            else:
                foreign += _foreign_in(root, entry, ledger, nests)
        elif rel not in ledger:
            foreign.append(rel)
    return foreign


def _unlisted(run: Path, root: Path) -> list[str]:
    try:
        listed = set(json.loads((run / MANIFEST).read_text())["files"])
    except (OSError, ValueError, KeyError, TypeError):
        listed = set()
    return [
        p.relative_to(root).as_posix()
        for p in sorted(run.iterdir())
        if p.name not in listed and p.name != MANIFEST and not _temporary(p.name)
    ]


def _owned_paths(
    root: Path, ledger: Mapping[str, Any], legacy: dict[str, Any] | None
) -> list[Path]:
    """Every file and folder under ``root`` simrec wrote (folders listed after their files).

    ``legacy``: the marker of a folder written before the ledger (its layout's rules apply).
    """
    out: list[Path] = []
    legacy_foreign = set(_legacy_foreign(root, legacy)) if legacy else set()
    for dirpath, dirs, files in os.walk(root, topdown=True, followlinks=False):
        here = Path(dirpath)
        for name in files:
            path = here / name
            rel = path.relative_to(root).as_posix()
            if here == root and name in (MARKER, LOCK):
                continue
            agents = rel.startswith(AGENT_FILES + "/")
            if (
                rel in ledger
                or _temporary(name)
                or agents
                or (here != root and _in_unit(here, root))
            ):
                out.append(path)
            elif legacy and rel not in legacy_foreign:
                out.append(path)
        for name in dirs:
            path = here / name
            if not path.is_symlink():
                out.append(path)
    return out


def _in_unit(folder: Path, root: Path) -> bool:
    """Whether ``folder`` is (inside) a run folder or a nested results folder under ``root``."""
    while folder != root:
        if (folder / MANIFEST).is_file() or (folder / MARKER).is_file():
            return True
        folder = folder.parent
    return False


def _legacy_foreign(out: Path, marker: dict[str, Any]) -> list[str]:
    from simrec.runner.results import foreign_entries

    if marker.get("command") == "run":
        return foreign_entries(out)
    if marker.get("command") == "grid":  # grid.csv and the variants (each answers for itself)
        return _foreign_in(out, out, {"grid.csv": {}, LEGACY_GRID_MARKER: {}}, nests=True)
    raise ResultsError(
        f"--out {out}: holds `simrec {marker['command']}` results written by an earlier simrec "
        f"(marker {marker.get('legacy')}, no ledger of what it wrote); simrec cannot tell its "
        f"files from yours there: choose a new folder"
    )
