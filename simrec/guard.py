"""Calls into agent code, which simrec treats as untrusted: what it raises, Ctrl-C, time limits.

* **What agent code raises.** Every call into an agent (constructor, ``check``, ``setup``,
  ``recommend``, ``observe``, ``retrain``, ``on_items_released``, ``cost``, ...) goes
  through :func:`agent_error`: an ``Exception`` becomes a :class:`~simrec.errors.SimrecError`
  naming the agent, seed, day and method (:func:`~simrec.errors.in_context`), and so does
  every other ``BaseException`` -- ``SystemExit`` (``sys.exit``), ``GeneratorExit``, a
  ``KeyboardInterrupt`` the agent raised itself, any subclass -- as an
  :class:`~simrec.errors.AgentError`. An agent cannot end a sweep as though it had
  succeeded (exit status 0, half the runs missing).
* **The user's Ctrl-C** still interrupts. A ``KeyboardInterrupt`` counts as the user's only
  when the process received ``SIGINT`` during the call: :func:`counting_interrupts`
  installs, around a run and in the main thread, a ``SIGINT`` handler that counts the
  signals and then calls the handler it replaced (Python's own raises
  ``KeyboardInterrupt``). A ``KeyboardInterrupt`` raised with no ``SIGINT`` received (by
  ``raise``, in any thread) is the agent's; a ``SIGINT`` the agent's code swallowed is
  raised again when the call returns. A ``SIGINT`` sent by the process to itself
  (``os.kill``) cannot be told from the user's: it interrupts too.
* **A run's time limit** (:class:`Deadline`): checked between calls, and -- in the main
  thread of a POSIX process -- by a ``SIGALRM`` timer that raises
  :class:`~simrec.errors.TimeLimitError` inside whatever code runs when the limit passes
  (agent code included), again every second until the run ends. A call into C that does
  not return to Python (one long BLAS call) is stopped when it returns.

These guards keep an agent's bugs and misconfigurations from passing for results; code
running in the same Python process can still defeat them on purpose (``os._exit``, catching
every exception in an endless loop): run untrusted code in a sandbox of the operating system
for that.
"""

from __future__ import annotations

import contextlib
import math
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from simrec.errors import AgentError, SimrecError, TimeLimitError, in_context
from simrec.types import Cost

__all__ = [
    "AGENT_TOTALS_PREFIX",
    "Deadline",
    "agent_error",
    "agent_totals",
    "call_agent",
    "counting_interrupts",
    "sigint_count",
    "swallowed_interrupt",
    "user_interrupted",
]

_SIGINTS = [0]  # SIGINTs received while a counting handler was installed
_REPLACED: list[Any] = []  # the handlers the counting handler replaced (a stack)


def sigint_count() -> int:
    """How many ``SIGINT`` the counting handler has seen (compare before and after a call)."""
    return _SIGINTS[0]


def _on_sigint(signum: int, frame: Any) -> None:
    _SIGINTS[0] += 1
    previous = _REPLACED[-1] if _REPLACED else signal.default_int_handler
    previous(signum, frame)


@contextlib.contextmanager
def counting_interrupts() -> Iterator[None]:
    """Count ``SIGINT`` during the block (main thread only; otherwise a no-op).

    The handler it replaces (Python's ``default_int_handler``, or a notebook kernel's) is
    called after each count and restored at the end. Nothing is installed when the current
    handler is not a Python callable (ignored, or the default action): ``SIGINT`` then
    raises no ``KeyboardInterrupt`` at all. Re-entrant.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    current = signal.getsignal(signal.SIGINT)
    if current is _on_sigint or not callable(current):
        yield
        return
    _REPLACED.append(current)
    signal.signal(signal.SIGINT, _on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, current)
        _REPLACED.pop()


def user_interrupted(err: BaseException, sigints_before: int) -> bool:
    """Whether ``err`` is the user's interrupt: a ``KeyboardInterrupt`` after a ``SIGINT``."""
    return isinstance(err, KeyboardInterrupt) and sigint_count() != sigints_before


def agent_error(err: BaseException, where: str) -> SimrecError:
    """What agent code's ``err`` becomes: a :class:`SimrecError` prefixed with ``where``.

    An ``Exception`` as :func:`~simrec.errors.in_context` makes it (a simrec error keeps
    its class); any other ``BaseException`` (``SystemExit``, ``GeneratorExit``, a
    ``KeyboardInterrupt`` that is not the user's -- check :func:`user_interrupted` first)
    an :class:`AgentError` saying that an agent may not stop the program. Raise the result
    ``from err``.

    >>> str(agent_error(SystemExit(0), "agent 'x' (seed 0, day 1, retrain)"))
    "agent 'x' (seed 0, day 1, retrain): SystemExit: 0 (agent code may not stop the program)"
    """
    if isinstance(err, Exception):
        return in_context(err, where)
    return AgentError(f"{where}: {type(err).__name__}: {err} (agent code may not stop the program)")


def call_agent(where: Callable[[], str], fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
    """``fn(*args, **kw)``, agent code: what it raises as :func:`agent_error` makes it.

    ``where()`` names the call in the error (computed only on failure). The user's Ctrl-C
    passes through as ``KeyboardInterrupt``, and one the code swallowed is raised again.
    """
    before = sigint_count()
    try:
        out = fn(*args, **kw)
    except BaseException as err:
        if user_interrupted(err, before):
            raise
        raise agent_error(err, where()) from err
    swallowed_interrupt(before)
    return out


def swallowed_interrupt(sigints_before: int) -> None:
    """Raise ``KeyboardInterrupt`` where a ``SIGINT`` came and the code called swallowed it.

    That is: the count moved since ``sigints_before`` and the handler replaced is Python's
    own (which raised a ``KeyboardInterrupt`` that never came out of the call).
    """
    if sigint_count() != sigints_before and _REPLACED[-1:] == [signal.default_int_handler]:
        raise KeyboardInterrupt


class Deadline:
    """A wall-clock limit on a block of code (a run): see the module docstring.

    Args:
        seconds: The limit (``None`` or 0: none; the block runs unchanged).
        message: The error's message, built when the limit passes (it names the run).
    """

    def __init__(self, seconds: float | None, message: Callable[[], str]) -> None:
        self.seconds = float(seconds or 0.0)
        self.message = message
        self.end = math.inf
        self._alarm = False
        self._previous: Any = None

    def check(self) -> None:
        """Raise :class:`TimeLimitError` if the limit has passed."""
        if self.end != math.inf and time.perf_counter() > self.end:
            raise TimeLimitError(self.message())

    def _on_alarm(self, signum: int, frame: Any) -> None:
        raise TimeLimitError(self.message())

    def __enter__(self) -> Deadline:
        if self.seconds <= 0:
            return self
        self.end = time.perf_counter() + self.seconds
        if (
            hasattr(signal, "setitimer")
            and threading.current_thread() is threading.main_thread()
            and signal.getitimer(signal.ITIMER_REAL)[0] == 0.0  # no one else's timer running
        ):
            self._previous = signal.signal(signal.SIGALRM, self._on_alarm)
            signal.setitimer(signal.ITIMER_REAL, self.seconds, 1.0)
            self._alarm = True
        return self

    def __exit__(self, *exc: object) -> None:
        if self._alarm:
            signal.setitimer(signal.ITIMER_REAL, 0.0)
            signal.signal(signal.SIGALRM, self._previous)
            self._alarm = False
        self.end = math.inf


#: Prefix of the run totals an agent reports about itself (``Cost.extra["totals"]``).
AGENT_TOTALS_PREFIX = "agent."


def agent_totals(cost: Cost, where: str = "agent") -> dict[str, float]:
    """The whole-run measures an agent reports in ``cost.extra["totals"]``, as run totals.

    Each ``key`` becomes ``agent.<key>`` (:data:`AGENT_TOTALS_PREFIX`), so that an agent's
    own measure never takes the place of one the simulation computes (``clicks``,
    ``retention``, ...): the run's totals are the agent's under their prefixed names, then
    the simulation's over them.

    Raises:
        AgentError: ``totals`` is not a mapping of names to numbers (named with ``where``).
    """
    extra = cost.extra if isinstance(cost.extra, Mapping) else {}
    given = extra.get("totals", {})
    if not isinstance(given, Mapping):
        raise AgentError(
            f"{where}: Cost.extra['totals']: expected a mapping of names to numbers, got "
            f"{type(given).__name__}"
        )
    out = {}
    for key, value in given.items():
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise AgentError(
                f"{where}: Cost.extra['totals'][{key!r}]: expected a number, got {value!r}"
            ) from None
        out[f"{AGENT_TOTALS_PREFIX}{key}"] = number
    return out
