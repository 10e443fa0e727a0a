r"""``lm-hybrid``: a blend of ``mf`` and ``lm-content`` that shifts with each item's data.

For user *u* and item *i* with :math:`n_i` logged impressions,

.. math:: s_{ui} = (1 - w_i)\, z^{lm}_{ui} + w_i\, z^{mf}_{ui}, \qquad w_i = \frac{n_i}{n_i + k}

where :math:`z` are each model's scores standardised over the request's pool (so the two
scales are comparable). A new item is ranked by its text; as it accumulates interactions
the collaborative signal takes over (``k`` impressions give equal weight). A user with no
click yet gets ``w = 0`` (their MF vector is untrained).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from simrec_agents.cf.base import CFAgent, check_params
from simrec_agents.cf.mf import MFAgent
from simrec_agents.lm.content import LMContentAgent

from simrec.agent import AgentContext
from simrec.types import Cost, Feedback

__all__ = ["LMHybridAgent", "blend_weight"]


def blend_weight(impressions: np.ndarray, k: float) -> np.ndarray:
    """Weight of the CF score: ``n / (n + k)``.

    >>> blend_weight(np.array([0, 50, 150]), 50.0).tolist()
    [0.0, 0.5, 0.75]
    """
    n = np.asarray(impressions, dtype=np.float64)
    return n / (n + k)


def _standardise(x: np.ndarray) -> np.ndarray:
    mu = x.mean(axis=1, keepdims=True)
    sd = x.std(axis=1, keepdims=True)
    return (x - mu) / np.where(sd > 0, sd, 1.0)


class LMHybridAgent(CFAgent):
    """Blend of mf and lm-content, shifting to CF as an item accumulates interactions.

    Args:
        k: Impressions at which the CF and content scores weigh equally.
        encoder: Encoder backend of the content part.
        mf: Options of the ``mf`` part (dim, lr, epochs, ...).
        content: Options of the ``lm-content`` part (recency_days, profile_weight, ...).
        **shared: :class:`~simrec_agents.cf.base.CFAgent` options of the blend.
    """

    name = "lm-hybrid"
    popularity_for_cold_users = False
    neutral_cold_items = False

    def __init__(
        self,
        k: float = 50.0,
        encoder: str = "minilm",
        mf: dict[str, Any] | None = None,
        content: dict[str, Any] | None = None,
        **shared: Any,
    ) -> None:
        super().__init__(**shared)
        check_params(k=(k, "pos"))
        self.k = k
        self.mf = MFAgent(**(mf or {}))
        self.content = LMContentAgent(encoder=encoder, **(content or {}))

    def setup(self, context: AgentContext) -> None:
        super().setup(context)
        self.mf.setup(context)
        self.content.setup(context)
        self.fitted = True

    def observe(self, feedback: Feedback) -> None:
        super().observe(feedback)
        self.mf.observe(feedback)
        self.content.observe(feedback)

    def retrain(self, now: float) -> None:
        self.mf.retrain(now)
        self.fits = self.mf.fits

    def on_items_released(self, items: np.ndarray, now: float) -> None:
        self.content.on_items_released(items, now)

    def score(self, users: np.ndarray, pool: np.ndarray) -> np.ndarray:
        lm = _standardise(self.content.score(users, pool))
        if not self.mf.fitted:
            return lm
        cf = _standardise(self.mf.score(users, pool))
        w = blend_weight(self.log.item_shown[pool], self.k)
        w = np.where((self.log.user_clicks[users] > 0)[:, None], w, 0.0)
        return (1.0 - w) * lm + w * cf

    def score_flops(self, pool: float, batch: float) -> float:
        """Both parts' scores, two standardisations and the blend (about 4 + 4 + 5 per item)."""
        return self.content.score_flops(pool, batch) + self.mf.score_flops(pool, batch) + 13 * pool

    def cost(self) -> Cost:
        """Both parts' parameters; the content part's encoder ledger."""
        mf, lm = self.mf.cost(), self.content.cost()
        extra = dict(lm.extra)
        extra["fits"] = self.mf.fits
        return Cost(params=mf.params + lm.params, trainable_params=mf.trainable_params, extra=extra)
