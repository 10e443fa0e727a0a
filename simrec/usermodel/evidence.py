r"""A user model built on evidence: satisfaction that good consumption raises, users who differ.

Two components, chosen by name (``docs/model.md``, "A user model built on evidence"):

=================  ===============================  =========================================
role               component (name)                 rule
=================  ===============================  =========================================
satisfaction       :class:`EvidenceSatisfaction`    experiences judged against expectations
                   (``evidence``)                   (relevance x quality, letdowns, repeats,
                                                    fatigue), accumulated with saturation;
                                                    decay toward each user's own baseline
retention          :class:`FrailtyRetention`        the default return gaps and hazard, with
                   (``frailty``)                    per-user activity and loyalty (Gamma
                                                    frailties) and a newcomer's trial phase
=================  ===============================  =========================================

Their parameters live at ``user_model.params.satisfaction`` and
``user_model.params.retention``; the gap and hazard curves of satisfaction stay those of the
``retention`` section.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from simrec.config import Params, param
from simrec.dynamics import retention, satisfaction
from simrec.rng import keyed_uniform
from simrec.usermodel.base import Request
from simrec.usermodel.components import Retention, Satisfaction
from simrec.usermodel.population import Population, StateVar

__all__ = [
    "EvidenceSatisfaction",
    "EvidenceSatisfactionParams",
    "FrailtyRetention",
    "FrailtyRetentionParams",
]


@dataclass(frozen=True)
class EvidenceSatisfactionParams(Params):
    """The parameters of :class:`EvidenceSatisfaction`."""

    rate: float = param(
        0.02,
        "alpha: step of satisfaction per click, as a share of the room left toward 1 "
        "(a good experience) or 0 (a bad one)",
        "per click",
        ge=0.0,
        le=1.0,
    )
    neutral_match: float = param(
        0.0,
        "m_0: the match <u, z> of an item neither relevant nor irrelevant to the user",
        "<u, z>",
        ge=-1.0,
        le=0.99,
    )
    appeal_share: float = param(
        0.5,
        "w_a: weight of appeal, up to the item's quality, in what a relevant item gives",
        "",
        ge=0.0,
        le=10.0,
    )
    irrelevance_weight: float = param(
        0.5, "w_irr: experience lost per unit of irrelevance (-relevance)", "", ge=0.0, le=10.0
    )
    letdown_weight: float = param(
        1.0,
        "w_cb: experience lost per unit of appeal in excess of quality (a letdown)",
        "",
        ge=0.0,
        le=10.0,
    )
    repeat_weight: float = param(
        0.3,
        "experience lost when the item is among the user's recently consumed (boredom)",
        "",
        ge=0.0,
        le=10.0,
    )
    fatigue_weight: float = param(
        0.2, "experience lost per unit of fatigue of the item's genre", "", ge=0.0, le=10.0
    )
    no_click_penalty: float = param(
        0.005,
        "satisfaction lost on a request with no click on a wholly irrelevant slate (times "
        "1 - the slate's mean relevance)",
        "satisfaction",
        ge=0.0,
        le=1.0,
    )
    tau_days: float = param(
        30.0,
        "time constant of the return toward the user's own baseline between visits "
        "(hedonic adaptation)",
        "days",
        ge=1e-3,
        le=1e5,
    )


class EvidenceSatisfaction(Satisfaction):
    r"""Satisfaction from experiences judged against expectations (see the module docstring).

    Each click's net experience :math:`g`
    (:func:`simrec.dynamics.satisfaction.net_experience`, less ``repeat_weight`` for an item
    consumed recently and ``fatigue_weight`` times the fatigue of its genre) moves
    satisfaction up toward 1 when positive and down toward 0 when negative
    (:func:`~simrec.dynamics.satisfaction.on_experience`); a request with no click costs
    ``no_click_penalty``. Between visits satisfaction relaxes toward the user's own
    baseline, their initial satisfaction (``world.users.satisfaction_*``): users differ in
    how much they like the platform, which lasts.
    """

    name = "evidence"
    Params = EvidenceSatisfactionParams
    params: EvidenceSatisfactionParams
    state: ClassVar[tuple[StateVar, ...]] = (
        StateVar("satisfaction", np.float32, doc="hidden satisfaction in [0, 1]"),
        StateVar("baseline", np.float32, doc="the user's own resting satisfaction (hidden)"),
    )
    reads: ClassVar[tuple[str, ...]] = ("dt", "clicks", "repeat", "F")

    def init_users(self, pop: Population, users: np.ndarray, truth: Any) -> None:
        """Initial satisfaction and the resting level: both the user's hidden truth."""
        pop.satisfaction[users] = truth.satisfaction
        pop.baseline[users] = truth.satisfaction

    def level(
        self,
        s: np.ndarray,
        dt: np.ndarray,
        users: np.ndarray | None = None,
        pop: Population | None = None,
    ) -> np.ndarray:
        """Satisfaction ``s`` (rows ``users`` of ``pop``) after ``dt`` days without a request."""
        if users is None or pop is None:
            raise ValueError(
                "the evidence satisfaction decays toward each user's own baseline: "
                "level() needs the users and their population"
            )
        return satisfaction.decay_to(s, dt, pop.baseline[users], self.params.tau_days)

    def value(self, quality: np.ndarray, match: np.ndarray, appeal: np.ndarray) -> np.ndarray:
        """Net experience of consuming items (before repeats and fatigue): what the oracle ranks."""
        p = self.params
        return satisfaction.net_experience(
            quality,
            match,
            appeal,
            neutral_match=p.neutral_match,
            appeal_share=p.appeal_share,
            irrelevance_weight=p.irrelevance_weight,
            letdown_weight=p.letdown_weight,
        )

    def prepare(self, r: Request) -> None:
        """Decay toward the baseline since the last request."""
        r.s = self.level(r.pop.satisfaction[r.u], r.dt, r.u, r.pop)
        r.s_logged[...] = r.s

    def respond(self, r: Request) -> None:
        """No-click penalty, or each click's experience in turn."""
        p, c, items = self.params, r.clicks, r.items
        # A request with no click costs in proportion to how irrelevant its slate was.
        rho = np.maximum(satisfaction.relevance(r.match, p.neutral_match), 0.0)
        s_after = np.maximum(r.s - p.no_click_penalty * (1.0 - rho.mean(axis=1)), 0.0).astype(
            np.float32
        )
        current = r.s
        for _, i in c.by_rank() if len(c) else ():
            rows, pos, item = c.rows[i], c.pos[i], c.item[i]
            g = self.value(items.quality[item], c.match[i], items.appeal[item])
            g = g - p.repeat_weight * r.repeat[rows, pos]
            g = g - p.fatigue_weight * r.F[rows, items.genre[item]]
            s_after[rows] = satisfaction.on_experience(current[rows], np.maximum(g, -1.0), p.rate)
            current = s_after
        r.s_after = s_after
        r.pop.satisfaction[r.u] = s_after


@dataclass(frozen=True)
class FrailtyRetentionParams(Params):
    """The parameters of :class:`FrailtyRetention`."""

    activity_shape: float = param(
        0.7,
        "Gamma shape of each user's activity rate (mean 1; it divides the mean return gap); "
        "small: very unequal users; inf: all alike",
        "",
        gt=0.0,
        allow_inf=True,
        le=1e6,
    )
    loyalty_shape: float = param(
        0.5,
        "Gamma shape of each user's churn frailty (mean 1; it multiplies the churn hazard); "
        "small: a few fickle users and many loyal ones; inf: all alike",
        "",
        gt=0.0,
        allow_inf=True,
        le=1e6,
    )
    activity_link: float = param(
        1.5,
        "c: the churn hazard per session is multiplied by activity^-c (0: per session alike, "
        "so the active, having more sessions, leave sooner; 1: per day alike; above 1: the "
        "active stay longer, as early engagement predicts retention)",
        "",
        ge=0.0,
        le=10.0,
    )
    trial_hazard: float = param(
        0.35,
        "h_1: extra churn probability at the end of a newcomer's first session (the trial)",
        "probability",
        ge=0.0,
        le=1.0,
    )
    trial_sessions: float = param(
        3.0,
        "k_T: sessions over which a newcomer's extra hazard falls by a factor e",
        "sessions",
        gt=0.0,
        le=1e4,
    )
    trial_gap_factor: float = param(
        0.3,
        "f: a newcomer's first return gap is f times an established user's (returning over "
        "the trial sessions to 1 as the trial hazard fades)",
        "",
        gt=0.0,
        le=100.0,
    )


class FrailtyRetention(Retention):
    r"""The default gaps and hazard of satisfaction, for users who differ, and newcomers.

    Each user has an activity rate :math:`\lambda_j` and a churn frailty :math:`z_j`, Gamma
    with mean 1 (drawn from their key: the same in every run of a seed). The mean return gap
    is :math:`\bar g(s)/\lambda_j`; the churn probability at the end of session :math:`k`

    .. math:: 1 - (1 - \min(1, z_j h(s)))\,(1 - h_T(k)\,[\text{newcomer}])

    with the trial hazard :math:`h_T` (:func:`simrec.dynamics.retention.trial_hazard`) for
    newcomers: users who arrived after day 0, and every user a gymnasium env puts into a slot
    (an env's episode is a user's life from sign-up). Selection then does what it does in
    real cohorts: the fickle leave first, so a cohort's hazard falls with tenure.
    """

    name = "frailty"
    Params = FrailtyRetentionParams
    params: FrailtyRetentionParams
    state = (
        StateVar("activity", np.float32, fill=1.0, doc="activity rate multiplier (hidden)"),
        StateVar("frailty", np.float32, fill=1.0, doc="churn hazard multiplier (hidden)"),
    )
    uses: ClassVar[tuple[str, ...]] = ("satisfaction", "keys", "newcomer", "visits")

    def init_users(self, pop: Population, users: np.ndarray, truth: Any) -> None:
        """Draw the users' activity and frailty from their keys."""
        zero = np.zeros(len(users), dtype=np.int64)
        keys = pop.keys[users]
        pop.activity[users] = retention.gamma_multiplier(
            keyed_uniform(keys, self.purpose("activity"), zero), self.params.activity_shape
        )
        pop.frailty[users] = retention.gamma_multiplier(
            keyed_uniform(keys, self.purpose("loyalty"), zero), self.params.loyalty_shape
        )

    def _trial(self, pop: Population, users: np.ndarray) -> np.ndarray:
        """How much of the trial is left: 1 at a newcomer's first session end.

        It fades by a factor e every ``trial_sessions`` sessions; 0 for the day-0 cohort.
        """
        w = retention.trial_hazard(
            pop.visits[users], first=1.0, decay_sessions=self.params.trial_sessions
        )
        return np.where(pop.newcomer[users], w, 0.0)

    def _gaps(self, pop: Population, users: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
        gaps = super()._gaps(pop, users, uniforms) / pop.activity[users]
        f = self.params.trial_gap_factor
        if f != 1.0:
            gaps = gaps * (1.0 - (1.0 - f) * self._trial(pop, users))
        return gaps

    def hazard(self, pop: Population, users: np.ndarray) -> np.ndarray:
        """Churn probability at a session end now (frailty, and a newcomer's trial)."""
        p = self.params
        z = pop.frailty[users] * pop.activity[users] ** np.float32(-p.activity_link)
        h = np.minimum(super().hazard(pop, users) * z, 1.0)
        trial = p.trial_hazard * self._trial(pop, users)
        return 1.0 - (1.0 - h) * (1.0 - trial)
