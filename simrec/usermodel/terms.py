r"""The choice utility as a sum of terms.

The utility of item :math:`i` for user :math:`j` (before the position term of the choice
model) is a sum of terms, each a :class:`UtilityTerm`:

.. math::

   v_{ji} = b_{int}\langle u_j, z_i\rangle + b_{app} a_i - b_{fat} F_{j,g(i)}
            - b_{rep}[i \in R_j] + b_{trend} T_i + \text{social}_{ji} + \dots

The built-in terms (:data:`BUILTIN_TERMS`: ``interest``, ``appeal``, ``fatigue``, ``repeat``,
``trend``, ``social``) read their weights from ``dynamics``; a component added to the model
(``user_model.add``) that is a :class:`UtilityTerm` adds its own term after them, and so is
seen by the choice model and by ``myopic-oracle``'s ground truth alike. A term returns its
value ``(B, X)`` (or a row ``(1, X)`` that broadcasts), or ``None`` when it adds nothing;
``sign = -1`` subtracts it. Each partial sum is rounded to float32, so the arithmetic is
exactly that of the closed formula it replaces (:func:`simrec.dynamics.choice.utility`).
"""

from __future__ import annotations

from functools import cached_property
from typing import Any, ClassVar

import numpy as np

from simrec.usermodel.arrays import row_membership
from simrec.usermodel.base import Component, Items
from simrec.usermodel.population import Population

__all__ = [
    "BUILTIN_TERMS",
    "AppealTerm",
    "FatigueTerm",
    "InterestTerm",
    "RepeatTerm",
    "SocialTerm",
    "TrendTerm",
    "UtilityInputs",
    "UtilityTerm",
    "sum_terms",
]


class UtilityInputs:
    r"""What the utility terms of one scoring read: users, items, and their signals.

    Attributes:
        pop: The population state.
        items: The item columns.
        users: Population rows of the requests ``(B,)``.
        ids: Item ids ``(B, X)`` (a broadcast view when every row scores the same pool).
        pool: ``ids[:1]`` for such a broadcast view (item columns gathered once, as rows
            ``(1, X)``), else ``ids``.
        match: True match :math:`\langle u_j, z_i\rangle` ``(B, X)``.
        social: The social world's feeds (see :class:`ChoiceComponent`), or ``None``.
    """

    def __init__(
        self,
        pop: Population,
        items: Items,
        users: np.ndarray,
        ids: np.ndarray,
        match: np.ndarray,
        fatigue_rows: np.ndarray | None = None,
        genres: np.ndarray | None = None,
        repeat: np.ndarray | None = None,
        social: Any = None,
    ) -> None:
        """Bind the inputs; what the caller already has (fatigue, genres, repeats) is reused."""
        self.pop, self.items, self.users, self.ids, self.match = pop, items, users, ids, match
        self.social = social
        self.pool = ids[:1] if ids.ndim == 2 and ids.strides[0] == 0 else ids
        self._fatigue_rows, self._genres = fatigue_rows, genres
        if repeat is not None:
            self.repeat = repeat

    @cached_property
    def fatigue(self) -> np.ndarray:
        """The users' fatigue of each item's genre ``(B, X)``."""
        F = self.pop.fatigue[self.users] if self._fatigue_rows is None else self._fatigue_rows
        if self.pool is not self.ids:
            return F[:, self.items.genre[self.ids[0]]]
        B, G = F.shape  # F[b, genre[ids[b, x]]] as one flat gather
        g = self.items.genre[self.ids] if self._genres is None else self._genres
        return np.take(np.ascontiguousarray(F).ravel(), g + np.arange(0, B * G, G)[:, None])

    @cached_property
    def repeat(self) -> np.ndarray:
        """Whether each item is among the user's recently consumed ``(B, X)`` bool."""
        return row_membership(self.ids, self.pop.recent.T[self.users], self.items.n)


class UtilityTerm(Component):
    """A term of the choice utility (see the module docstring).

    A built-in term is a part of the choice component; a term with state of its own (a
    per-user memory, like docs/model.md's boredom example) is a component added to the
    model, with the hooks of any component.
    """

    #: +1 adds the term's value, -1 subtracts it.
    sign: ClassVar[int] = 1

    def utility(self, x: UtilityInputs) -> np.ndarray | None:
        """The term's value ``(B, X)`` or ``(1, X)``, or ``None`` (adds nothing)."""
        raise NotImplementedError


class InterestTerm(UtilityTerm):
    r""":math:`b_{int}\langle u_j, z_i\rangle` (``dynamics.interest_weight``)."""

    def utility(self, x: UtilityInputs) -> np.ndarray:
        """Interest weight x true match."""
        return self.config.dynamics.interest_weight * x.match


class AppealTerm(UtilityTerm):
    """:math:`b_{app} a_i` (``dynamics.appeal_weight``)."""

    def utility(self, x: UtilityInputs) -> np.ndarray:
        """Appeal weight x the items' appeal."""
        return self.config.dynamics.appeal_weight * x.items.appeal[x.pool]


class FatigueTerm(UtilityTerm):
    """:math:`-b_{fat} F_{j,g(i)}` (``dynamics.fatigue_weight``)."""

    sign = -1

    def utility(self, x: UtilityInputs) -> np.ndarray:
        """Fatigue weight x the user's fatigue of the item's genre."""
        return self.config.dynamics.fatigue_weight * x.fatigue


class RepeatTerm(UtilityTerm):
    """:math:`-b_{rep}` for an item among the user's recently consumed (``repeat_penalty``)."""

    sign = -1

    def utility(self, x: UtilityInputs) -> np.ndarray:
        """The penalty where the item repeats (float64, as the closed formula had it)."""
        return self.config.dynamics.repeat_penalty * x.repeat


class TrendTerm(UtilityTerm):
    r""":math:`b_{trend} T_i`, social proof (``dynamics.trend_weight``; docs/experiments.md)."""

    def utility(self, x: UtilityInputs) -> np.ndarray | None:
        """Trend weight x the items' trending signal, where one is kept."""
        weight = self.config.dynamics.trend_weight
        if not weight or x.items.trend is None:
            return None
        return np.float32(weight) * x.items.trend[x.pool]


class SocialTerm(UtilityTerm):
    """The boost of items the user's followees shared (the social world only)."""

    def utility(self, x: UtilityInputs) -> np.ndarray | None:
        """The feeds' boost of ``ids`` for ``users``."""
        return None if x.social is None else x.social.boost(x.users, x.ids)


#: The built-in terms, in the order they are summed.
BUILTIN_TERMS: tuple[type[UtilityTerm], ...] = (
    InterestTerm,
    AppealTerm,
    FatigueTerm,
    RepeatTerm,
    TrendTerm,
    SocialTerm,
)


def sum_terms(terms: list[UtilityTerm], x: UtilityInputs) -> np.ndarray:
    """The float32 sum of the terms' values, in order (each partial sum rounded to float32)."""
    v: np.ndarray | None = None
    for term in terms:
        value = term.utility(x)
        if value is None:
            continue
        if v is None:
            v = value if term.sign > 0 else -value
        elif term.sign > 0:
            v = v + value
        else:
            v = v - value
        v = v.astype(np.float32, copy=False)
    if v is None:
        return np.zeros(x.ids.shape, dtype=np.float32)
    return np.broadcast_to(v, x.ids.shape) if v.shape != x.ids.shape else v
