"""The population state: one numpy array per declared state variable (a struct of arrays).

Each user-model component declares the per-user state it owns as :class:`StateVar`
records; :class:`Population` allocates them, so a new state variable is added in exactly one
place -- its component's declaration -- and every user's row of it is reset in one loop.

>>> pop = Population(3, {"d": 2}, [StateVar("interest", np.float32, ("d",)),
...                                StateVar("visits", np.int64)])
>>> pop.interest.shape, pop.visits.tolist()
((3, 2), [0, 0, 0])
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

__all__ = ["Population", "StateVar"]


@dataclass(frozen=True)
class StateVar:
    """A per-user state variable.

    Attributes:
        name: Attribute name on the population (``pop.<name>``).
        dtype: numpy dtype.
        shape: Trailing shape per user; strings are dimensions resolved by the population
            (``"d"``: latent dimension, ``"G"``: genres, ``"L"``: recent-items buffer).
        fill: Value of a fresh user.
        user_last: Store the user axis last (``(*shape, N)``): rows of other users are
            contiguous, for per-slot scans (the recent-items buffer).
        doc: What the variable holds, with its unit.
    """

    name: str
    dtype: Any
    shape: tuple[int | str, ...] = ()
    fill: float = 0.0
    user_last: bool = False
    doc: str = ""


class Population:
    """Arrays of the declared state variables for ``n`` users.

    Args:
        n: Number of users N.
        dims: Sizes of the named dimensions used in the declarations.
        variables: The declarations (a name declared twice must be declared identically).

    Raises:
        ValueError: One name declared twice with different layouts.
    """

    def __init__(self, n: int, dims: dict[str, int], variables: Iterable[StateVar]) -> None:
        self.n = n
        self.dims = dict(dims)
        self.variables: dict[str, StateVar] = {}
        for var in variables:
            if var.name in self.variables:
                if self.variables[var.name] != var:
                    raise ValueError(f"state variable {var.name!r} declared twice, differently")
                continue
            self.variables[var.name] = var
            shape = tuple(self.dims[s] if isinstance(s, str) else s for s in var.shape)
            full = (*shape, n) if var.user_last else (n, *shape)
            setattr(self, var.name, np.full(full, var.fill, dtype=var.dtype))

    if TYPE_CHECKING:  # one attribute per declared state variable, set at run time

        def __getattr__(self, name: str) -> np.ndarray: ...

    def reset(self, users: np.ndarray) -> None:
        """Give ``users`` the fresh values of every state variable."""
        for var in self.variables.values():
            a = getattr(self, var.name)
            if var.user_last:
                a[..., users] = var.fill
            else:
                a[users] = var.fill

    def resize(self, var: StateVar) -> None:
        """Reallocate one variable (after a dimension changed), every user fresh."""
        shape = tuple(self.dims[s] if isinstance(s, str) else s for s in var.shape)
        full = (*shape, self.n) if var.user_last else (self.n, *shape)
        self.variables[var.name] = var
        setattr(self, var.name, np.full(full, var.fill, dtype=var.dtype))
