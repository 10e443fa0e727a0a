r"""The built-in components: simrec's default user model, and two more choice models.

Each wraps the pure rules of :mod:`simrec.dynamics` (where the equations are) and reads its
parameters from the run's configuration (``dynamics``, ``retention``, ``economy``):

=================  ==============================  =========================================
role               component (name)                rule
=================  ==============================  =========================================
choice             :class:`MNLChoice` (``mnl``)    multinomial logit + no-click + position
                                                   bias (:func:`~simrec.dynamics.choice.choose`)
choice             :class:`CascadeChoice`          cascade model, one click at most
                   (``cascade``)
choice             :class:`PositionBasedChoice`    position-based model, clicks independent
                   (``pbm``)
engagement         :class:`Engagement`             minutes of a click (quality x match, noise)
purchase           :class:`Purchase`               purchase on click, revenue = price x margin
drift              :class:`Drift`                  pull toward consumed topics; random walk
                                                   between visits
satisfaction       :class:`Satisfaction`           decay toward a baseline; step toward the
                                                   experienced value; no-click penalty
memory             :class:`Memory`                 the buffer of recently consumed items
fatigue            :class:`Fatigue`                per-genre fatigue: decay, exposure, clicks
session_exit       :class:`SessionExit`            exit hazard of satisfaction, fatigue and a
                                                   no-click; request and minute budgets
retention          :class:`Retention`              return gap by satisfaction; churn hazard
=================  ==============================  =========================================
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from simrec.config import Config
from simrec.dynamics import (
    choice,
    drift,
    economy,
    engagement,
    fatigue,
    retention,
    satisfaction,
    session,
)
from simrec.rng import KeyedDraws, Purpose, keyed_normal, keyed_uniform
from simrec.usermodel.arrays import equal_to_any
from simrec.usermodel.base import (
    Clicks,
    Component,
    Items,
    Request,
    RetentionComponent,
)
from simrec.usermodel.population import Population, StateVar
from simrec.usermodel.terms import BUILTIN_TERMS, UtilityInputs, UtilityTerm, sum_terms

__all__ = [
    "CascadeChoice",
    "ChoiceComponent",
    "Drift",
    "Engagement",
    "Fatigue",
    "MNLChoice",
    "Memory",
    "PositionBasedChoice",
    "Purchase",
    "Retention",
    "Satisfaction",
    "SessionExit",
]


# ----------------------------------------------------------------------------- choice


class ChoiceComponent(Component):
    """Shared part of the choice models: the item utility (no position term).

    The utility is the sum of the terms of :mod:`simrec.usermodel.terms`: the built-in ones
    (:data:`~simrec.usermodel.terms.BUILTIN_TERMS`), then those of the utility-term
    components added to the model (``added_terms``, set by the
    :class:`~simrec.usermodel.UserModel`). :meth:`item_utility` is also what the oracles'
    ground truth calls, so a choice model or a term that scores items differently is seen by
    ``myopic-oracle`` as well.
    """

    role: ClassVar[str] = "choice"
    uses = ("fatigue", "recent")
    reads = ("F", "repeat")
    writes = ("utility", "clicked", "clicks", "any_click", "n_clicks")
    #: The social world's feeds (:class:`simrec.engine.social.SocialChannel`), set by the
    #: engine: its ``boost(users, ids)`` is added to the utility. ``None`` elsewhere.
    social: Any = None

    def __init__(self) -> None:
        """The built-in terms; no added ones until a model adds them."""
        self.terms: list[UtilityTerm] = [term() for term in BUILTIN_TERMS]
        self.added_terms: list[UtilityTerm] = []

    def bind(self, config: Config) -> None:
        """Take the configuration, and give it to the built-in terms."""
        super().bind(config)
        for term in self.terms:
            term.bind(config)

    def item_utility(
        self,
        pop: Population,
        items: Items,
        users: np.ndarray,
        ids: np.ndarray,
        match: np.ndarray,
        fatigue_rows: np.ndarray | None = None,
        genres: np.ndarray | None = None,
        repeat: np.ndarray | None = None,
    ) -> np.ndarray:
        """Utility (no position term) of items ``ids (B, X)`` for ``users (B,)``, float32.

        ``fatigue_rows`` (the users' current fatigue), ``genres`` (the items' genres) and
        ``repeat`` (whether each item is among the user's recent ones) when the caller has
        them; else they are read from the population now.
        """
        x = UtilityInputs(
            pop, items, users, ids, match, fatigue_rows, genres, repeat, social=self.social
        )
        terms = self.terms + self.added_terms if self.added_terms else self.terms
        return sum_terms(terms, x)

    def _click_mask(self, r: Request) -> None:
        """Subclasses set ``r.clicked`` (the engine's output view)."""
        raise NotImplementedError

    def respond(self, r: Request) -> None:
        """Utilities, then the clicks of the model."""
        r.utility = self.item_utility(r.pop, r.items, r.u, r.S, r.match, r.F, r.genres, r.repeat)
        self._click_mask(r)
        r.clicks = Clicks(r.clicked, r.S, r.match)
        r.n_clicks = r.clicked.sum(axis=1)
        r.any_click = r.n_clicks > 0


class MNLChoice(ChoiceComponent):
    """Multinomial logit over the slate plus a no-click option, with position bias."""

    def bind(self, config: Config) -> None:
        """Precompute the position bias of the slate size."""
        super().bind(config)
        K = config.simulation.slate_size
        self.position = choice.position_bias(K, config.dynamics.position_weight)

    draws = (Purpose.CHOICE,)

    def _click_mask(self, r: Request) -> None:
        r.utility = r.utility + self.position[None, :]
        u = r.draws.uniform(Purpose.CHOICE)
        k = choice.choose(r.utility, self.config.dynamics.no_click_utility, u)
        rows = np.flatnonzero(k < r.S.shape[1])
        r.clicked[rows, k[rows]] = True


class CascadeChoice(ChoiceComponent):
    """The cascade model (see :mod:`simrec.dynamics.choice`): top-down scan, stop at a click."""

    draws = (Purpose.CHOICE,)

    def _click_mask(self, r: Request) -> None:
        a = choice.attractiveness(r.utility, self.config.dynamics.no_click_utility)
        k = choice.choose_cascade(a, r.draws.uniform(Purpose.CHOICE))
        rows = np.flatnonzero(k < r.S.shape[1])
        r.clicked[rows, k[rows]] = True


class PositionBasedChoice(ChoiceComponent):
    """The position-based model: examination by position x attractiveness, independently."""

    def bind(self, config: Config) -> None:
        """Precompute the examination probabilities of the slate positions."""
        super().bind(config)
        K = config.simulation.slate_size
        self.theta = choice.examination(K, config.dynamics.position_weight)

    def _click_mask(self, r: Request) -> None:
        a = choice.attractiveness(r.utility, self.config.dynamics.no_click_utility)
        u = r.draws.uniform(Purpose.CHOICE, None, r.S.shape[1])
        r.clicked[...] = choice.click_position_based(a, self.theta, u)


# ----------------------------------------------------------------------------- response


class Engagement(Component):
    """Minutes spent on each clicked item (:mod:`simrec.dynamics.engagement`)."""

    role: ClassVar[str] = "engagement"
    reads = ("clicks",)
    writes = ("minutes",)
    draws = (Purpose.ENGAGEMENT,)

    def respond(self, r: Request) -> None:
        """Draw the minutes of every click; write them to the impressions."""
        dyn, c = self.config.dynamics, r.clicks
        r.minutes = np.empty(len(c), dtype=np.float32)
        if not len(c):
            return
        for rank, i in c.by_rank():
            rows = c.rows[i]
            xi = r.draws.ranked_normal(Purpose.ENGAGEMENT, rows, rank)
            r.minutes[i] = engagement.engagement(
                r.items.quality[c.item[i]],
                c.match[i],
                xi,
                minutes=dyn.engagement_minutes,
                noise=dyn.engagement_noise,
                appeal=r.items.appeal[c.item[i]],
                appeal_weight=dyn.engagement_appeal_weight,
            )
        r.engaged[c.rows, c.pos] = r.minutes


class Purchase(Component):
    """Purchase on click with a probability falling with price; revenue = price x margin."""

    role: ClassVar[str] = "purchase"
    state = (StateVar("sensitivity", np.float32, doc="price sensitivity (hidden)"),)
    reads = ("clicks",)
    draws = (Purpose.PURCHASE,)

    def init_users(self, pop: Population, users: np.ndarray, truth: Any) -> None:
        """Price sensitivity from the hidden truth."""
        pop.sensitivity[users] = truth.price_sensitivity

    def respond(self, r: Request) -> None:
        """Draw the purchases of every click; write purchases and revenue."""
        eco, c = self.config.economy, r.clicks
        if not len(c):
            return
        for rank, i in c.by_rank():
            rows, item = c.rows[i], c.item[i]
            p_buy = economy.purchase_probability(
                r.items.price[item],
                r.pop.sensitivity[r.u[rows]],
                c.match[i],
                purchase_max=eco.purchase_max,
                price_scale=eco.price_scale,
            )
            bought = r.draws.ranked_uniform(Purpose.PURCHASE, rows, rank) < p_buy
            rev = economy.revenue(r.items.price[item], bought, margin=eco.margin)
            r.purchased[rows, c.pos[i]] = bought
            r.revenue[rows, c.pos[i]] = rev


# ----------------------------------------------------------------------------- state


class Drift(Component):
    """Interest drift: a pull toward each consumed topic; a random walk between visits."""

    role: ClassVar[str] = "drift"
    uses = ("interest", "keys", "visits", "last_seen")
    reads = ("clicks",)

    def respond(self, r: Request) -> None:
        """Pull the interest of each clicking user toward the clicked topic (in click order)."""
        pop, c = r.pop, r.clicks
        if not len(c):
            return
        for _, i in c.by_rank():
            cu = r.u[c.rows[i]]
            pop.interest[cu] = drift.consume(
                pop.interest[cu], r.items.topic[c.item[i]], self.config.dynamics.drift_rate
            )

    def on_session_start(self, pop: Population, users: np.ndarray, now: np.ndarray) -> None:
        """The exogenous random walk since the user was last seen."""
        sd = self.config.dynamics.random_walk_sd
        if sd > 0.0:
            xi = keyed_normal(
                pop.keys[users], Purpose.RANDOM_WALK, pop.visits[users], pop.interest.shape[1]
            )
            dt = now - pop.last_seen[users]
            pop.interest[users] = drift.random_walk(pop.interest[users], dt, xi, sd)


class Satisfaction(Component):
    """Satisfaction: decay toward a baseline, a step toward the experienced value of a click."""

    role: ClassVar[str] = "satisfaction"
    state: ClassVar[tuple[StateVar, ...]] = (
        StateVar("satisfaction", np.float32, doc="hidden satisfaction in [0, 1]"),
    )
    reads: ClassVar[tuple[str, ...]] = ("dt", "clicks")
    prepares = ("s",)
    writes = ("s_after",)

    def init_users(self, pop: Population, users: np.ndarray, truth: Any) -> None:
        """Initial satisfaction from the hidden truth."""
        pop.satisfaction[users] = truth.satisfaction

    def level(
        self,
        s: np.ndarray,
        dt: np.ndarray,
        users: np.ndarray | None = None,
        pop: Population | None = None,
    ) -> np.ndarray:
        """Satisfaction ``s`` (rows ``users`` of ``pop``) after ``dt`` days without a request.

        The default decays toward one baseline for all and reads neither.
        """
        dyn = self.config.dynamics
        return satisfaction.decay(s, dt, dyn.satisfaction_baseline, dyn.satisfaction_tau_days)

    def value(self, quality: np.ndarray, match: np.ndarray, appeal: np.ndarray) -> np.ndarray:
        """Experienced value of consuming items (what a click moves satisfaction toward)."""
        return satisfaction.experienced_value(
            quality, match, appeal, clickbait_penalty=self.config.dynamics.clickbait_penalty
        )

    def prepare(self, r: Request) -> None:
        """Decay since the last request (between visits: the satisfaction decay)."""
        r.s = self.level(r.pop.satisfaction[r.u], r.dt)
        r.s_logged[...] = r.s

    def respond(self, r: Request) -> None:
        """No-click penalty, or a step toward each click's experienced value."""
        dyn, c, items = self.config.dynamics, r.clicks, r.items
        s_after = satisfaction.on_no_click(r.s, dyn.no_click_penalty)
        current = r.s  # a later click of a request steps from where the earlier one left it
        for _, i in c.by_rank() if len(c) else ():
            rows, item = c.rows[i], c.item[i]
            value = self.value(items.quality[item], c.match[i], items.appeal[item])
            s_after[rows] = satisfaction.on_click(current[rows], value, dyn.satisfaction_rate)
            current = s_after
        r.s_after = s_after
        r.pop.satisfaction[r.u] = s_after


class Memory(Component):
    """The ring buffer of each user's recently consumed items (the repeat penalty's memory).

    Stored slot-major ``(L, N)`` so that the repeat check compares contiguous rows; int16
    when the item ids fit.
    """

    role: ClassVar[str] = "memory"
    reads = ("clicks",)
    prepares = ("repeat",)

    def state_vars(self, dims: dict[str, int]) -> tuple[StateVar, ...]:
        """The buffer, in the narrowest integer type that holds the item ids."""
        dtype = np.int16 if dims["M"] <= np.iinfo(np.int16).max else np.int32
        return (
            StateVar(
                "recent", dtype, ("L",), fill=-1, user_last=True, doc="recent items (-1: empty)"
            ),
            StateVar("recent_next", np.int64, doc="next slot of the ring buffer"),
        )

    def prepare(self, r: Request) -> None:
        """Whether each shown item is among the user's recent ones."""
        recent = r.pop.recent.take(r.u, axis=1)  # (L, B); an empty slot (-1) never
        if r.S.size * len(recent) <= 4_096:  # equals a valid id; a few requests: one compare
            r.repeat = (r.S[:, :, None] == recent.T[:, None, :]).any(axis=2)
            return
        shown = np.ascontiguousarray(r.S.T, dtype=recent.dtype)
        r.repeat = equal_to_any(shown, recent).T

    def respond(self, r: Request) -> None:
        """Append each clicked item to its user's buffer (in click order)."""
        pop, c = r.pop, r.clicks
        if not len(c):
            return
        for _, i in c.by_rank():
            cu = r.u[c.rows[i]]
            pop.recent[pop.recent_next[cu] % len(pop.recent), cu] = c.item[i]
            pop.recent_next[cu] += 1


class Fatigue(Component):
    """Per-genre fatigue: decays between requests, grows with exposure and clicks."""

    role: ClassVar[str] = "fatigue"
    state = (StateVar("fatigue", np.float32, ("G",), doc="fatigue per genre"),)
    reads = ("dt", "genres", "clicked")
    prepares = ("F",)
    writes = ("F",)

    def prepare(self, r: Request) -> None:
        """Decay since the last request."""
        r.F = fatigue.decay(r.pop.fatigue[r.u], r.dt, self.config.dynamics.fatigue_tau_days)

    def respond(self, r: Request) -> None:
        """Exposure and click fatigue of the shown genres."""
        dyn = self.config.dynamics
        r.F = fatigue.accumulate(
            r.F,
            r.genres,
            r.clicked,
            per_exposure=dyn.fatigue_exposure,
            per_click=dyn.fatigue_click,
        )
        r.pop.fatigue[r.u] = r.F


# ----------------------------------------------------------------------------- sessions


class SessionExit(Component):
    """Leaving after a request: a hazard of satisfaction, fatigue and a no-click; budgets."""

    role: ClassVar[str] = "session_exit"
    uses = ("session_requests", "session_minutes")
    reads = ("s_after", "F", "any_click")
    writes = ("ended",)
    draws = (Purpose.SESSION_EXIT,)

    def respond(self, r: Request) -> None:
        """Draw the exit (the session counters already count this request)."""
        dyn, pop = self.config.dynamics, r.pop
        p_exit = session.exit_probability(
            r.s_after,
            r.F.mean(axis=1),
            r.any_click,
            base=dyn.exit_base,
            satisfaction_weight=dyn.exit_satisfaction,
            fatigue_weight=dyn.exit_fatigue,
            no_click_weight=dyn.exit_no_click,
        )
        r.ended[...] = (r.draws.uniform(Purpose.SESSION_EXIT) < p_exit) | session.forced_exit(
            pop.session_requests[r.u],
            pop.session_minutes[r.u],
            max_requests=dyn.max_session_requests,
            budget_minutes=dyn.session_budget_minutes,
        )


class Retention(RetentionComponent):
    """Return gaps that grow as satisfaction falls; a churn hazard at each session end."""

    uses: ClassVar[tuple[str, ...]] = ("satisfaction", "keys")

    def _gaps(self, pop: Population, users: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
        ret = self.config.retention
        return retention.return_gap(
            pop.satisfaction[users],
            uniforms,
            gap_min=ret.gap_min_days,
            gap_max=ret.gap_max_days,
            shape=ret.gap_shape,
        )

    def first_visit(self, pop: Population, users: np.ndarray) -> np.ndarray:
        """The stationary renewal of the return-gap process at the initial satisfaction."""
        zero = np.zeros(len(users), dtype=np.int64)
        return self._gaps(pop, users, keyed_uniform(pop.keys[users], Purpose.FIRST_VISIT, zero))

    def hazard(self, pop: Population, users: np.ndarray) -> np.ndarray:
        """The logistic churn hazard of satisfaction."""
        ret = self.config.retention
        return retention.churn_hazard(
            pop.satisfaction[users],
            h_min=ret.churn_min,
            h_max=ret.churn_max,
            midpoint=ret.churn_midpoint,
            width=ret.churn_width,
        )

    def end_session(
        self, pop: Population, users: np.ndarray, visit: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Churn draw, then the return gap of those who stay."""
        draws = KeyedDraws(pop.keys[users], visit, (Purpose.CHURN, Purpose.RETURN_GAP))
        churn = draws.uniform(Purpose.CHURN) < self.hazard(pop, users)
        gaps = self._gaps(pop, users, draws.uniform(Purpose.RETURN_GAP))
        return churn, np.where(churn, np.inf, gaps)
