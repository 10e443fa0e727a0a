"""Boredom: topics like those a user has just consumed lose utility.

A user-model component added to the default model (``user_model.add``): per-user state (the
user's recent "diet", an exponential average of the topics of their clicks) and two
parameters. It is a utility term, so the choice model and ``myopic-oracle`` both see it::

    user_model:
      add: ["boredom:Boredom"]          # this file, beside the scenario
      params:
        boredom: {weight: 2.0, rate: 0.2}
"""

from dataclasses import dataclass

import numpy as np

from simrec.config import Params, param
from simrec.usermodel import Request, StateVar, UtilityInputs, UtilityTerm
from simrec.usermodel.arrays import row_scores


@dataclass(frozen=True)
class BoredomParams(Params):
    """The parameters of :class:`Boredom`."""

    weight: float = param(
        2.0, "utility lost per unit of similarity to the recent diet", "utility", ge=0.0, le=100.0
    )
    rate: float = param(0.2, "weight of each click in the recent diet", ge=0.0, le=1.0)


class Boredom(UtilityTerm):
    """``-weight * <diet_j, z_i>``: the diet moves toward the topic of every click."""

    name = "boredom"
    Params = BoredomParams
    sign = -1
    state = (StateVar("diet", np.float32, ("d",), doc="average topic of recent clicks"),)
    reads = ("clicks",)

    def utility(self, x: UtilityInputs) -> np.ndarray:
        """Weight x the similarity of each item to the user's diet."""
        return self.params.weight * row_scores(x.pop.diet[x.users], x.items.topic, x.ids)

    def respond(self, r: Request) -> None:
        """Move the diet of each clicking user toward the clicked topic (in click order)."""
        rate, c = self.params.rate, r.clicks
        for _, i in c.by_rank() if len(c) else ():
            users = r.u[c.rows[i]]
            diet = r.pop.diet[users]
            r.pop.diet[users] = diet + np.float32(rate) * (r.items.topic[c.item[i]] - diet)
