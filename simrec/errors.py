"""Exceptions raised by simrec.

Every error names the offending field or argument, the value received and what was
expected, so that a researcher can fix a scenario or an agent without reading the source.
All exceptions derive from :class:`SimrecError`; the ones that signal bad input also derive
from :class:`ValueError` so that generic handlers keep working.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class SimrecError(Exception):
    """Base class of every simrec exception."""


class ConfigError(SimrecError, ValueError):
    """A configuration value or key is invalid (unknown key, wrong type, out of range)."""


class InvalidActionError(SimrecError, ValueError):
    """An agent returned a slate that the engine cannot serve (shape, range, duplicates)."""


class AgentError(SimrecError):
    """An agent's own code raised; the message names the agent, seed, day and method.

    The original exception is the ``__cause__``.
    """


class TimeLimitError(SimrecError):
    """A run went past its time limit (``--time-limit``, a scenario's ``time_limit``).

    The message names the run and the limit; runs finished before are kept.
    """


class UnknownNameError(SimrecError, KeyError):
    """A world, agent or other registered name is not known.

    ``KeyError`` quotes its message; ``__str__`` is overridden so the message reads plainly.
    """

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class DependencyNotInstalled(SimrecError, ImportError):
    """An optional dependency is missing; the message names the extra to install."""


class ResultsError(SimrecError, OSError):
    """A results folder cannot be read or written."""


class DataUnavailableError(SimrecError, OSError):
    """A real dataset is neither cached nor fetchable, or its files are not what was expected."""


def in_context(err: Exception, where: str) -> SimrecError:
    """``err`` with ``where`` put in front of its message, as a :class:`SimrecError`.

    A simrec error keeps its class (an ``InvalidActionError`` stays one); any other
    exception becomes an :class:`AgentError` that names its type. Raise the result ``from
    err`` so the original traceback is kept.

    >>> str(in_context(ZeroDivisionError("my bug"), "agent 'x' (seed 0, day 1, recommend)"))
    "agent 'x' (seed 0, day 1, recommend): ZeroDivisionError: my bug"
    >>> type(in_context(InvalidActionError("slates[0]: ..."), "agent 'x'")).__name__
    'InvalidActionError'
    """
    if isinstance(err, SimrecError):
        try:
            return type(err)(f"{where}: {err}")
        except TypeError:  # a subclass with another constructor
            pass
    return AgentError(f"{where}: {type(err).__name__}: {err}")


def suggest(name: str, options: Iterable[str]) -> str:
    """Return a " (did you mean 'x'?)" hint for a mistyped name, or an empty string.

    Args:
        name: The name that was given.
        options: The valid names.

    Returns:
        A hint naming the closest valid option, or ``""`` when nothing is close.

    >>> suggest("dayz", ["days", "seeds"])
    " (did you mean 'days'?)"
    >>> suggest("zzz", ["days"])
    ''
    """
    close = difflib.get_close_matches(name, list(options), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
