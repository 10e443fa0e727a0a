r"""``kg`` and ``lm-kg``: collaborative filtering enhanced with the item knowledge graph.

After CKE (Zhang et al. 2016, "Collaborative knowledge base embedding for recommender
systems"), with TransE (Bordes et al. 2013) as the structural embedding. The item vector is

.. math:: v_i = q_i + e_i \;[+\, A(t_i)]

with :math:`q_i` a free CF offset (zero at the start), :math:`e_i` the embedding of the item's
entity in the knowledge graph, and, for ``lm-kg``, :math:`A(t_i)` a trained linear adapter over
the frozen MiniLM vector of the item's text. Users :math:`p_u` and scores
:math:`p_u^\top v_i + b_i` are trained with BPR on the agent's own logs exactly as ``mf`` (same
negatives, warm-started retraining). Each BPR step adds ``kg_weight`` times the TransE margin
loss on a batch of triples :math:`(h, r, t)`:

.. math::
    \max\big(0,\ \gamma + \lVert e_h + w_r - e_t\rVert^2
    - \lVert e_h + w_r - e_{t'}\rVert^2\big)

with :math:`t'` a uniformly drawn entity (corrupted tail). The first retrain first runs
``kg_pretrain_epochs`` passes of TransE alone over the whole graph. The graph is observable
side-information only (:func:`simrec.worlds.graph.item_graph`: the world's own graph, e.g.
Freebase for ``movielens-100k``, or the attribute graph genre / creator / release period), so
a brand-new item already has a vector that places it near its genre, creator and (Freebase)
cast.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from simrec_agents.cf.base import check_params
from simrec_agents.cf.mf import MFAgent
from simrec_agents.cf.torch_util import seeded_generator, torch_setup
from torch import nn

from simrec.types import Cost
from simrec.worlds.graph import item_graph

__all__ = ["KGAgent", "LMKGAgent", "transe_loss"]


def transe_loss(
    E: torch.Tensor,
    W: torch.Tensor,
    head: torch.Tensor,
    relation: torch.Tensor,
    tail: torch.Tensor,
    corrupt: torch.Tensor,
    margin: float,
) -> torch.Tensor:
    """Mean TransE margin loss of triples against the same triples with corrupted tails."""
    h = E[head] + W[relation]
    pos = (h - E[tail]).pow(2).sum(-1)
    neg = (h - E[corrupt]).pow(2).sum(-1)
    return torch.relu(margin + pos - neg).mean()


class KGAgent(MFAgent):
    """CKE-style BPR CF whose items add a TransE embedding of the item knowledge graph.

    Args:
        kg_weight: Weight of the TransE loss in each step.
        kg_batch: Triples per step.
        margin: TransE margin gamma.
        kg_pretrain_epochs: Passes of TransE alone over the graph before the first fit.
        **mf: :class:`~simrec_agents.cf.mf.MFAgent` options (dim, lr, epochs, ...).
    """

    name = "kg"
    neutral_cold_items = False  # a new item has a graph embedding at once

    def __init__(
        self,
        kg_weight: float = 1.0,
        kg_batch: int = 1024,
        margin: float = 1.0,
        kg_pretrain_epochs: int = 2,
        **mf: Any,
    ) -> None:
        super().__init__(**mf)
        check_params(
            kg_weight=(kg_weight, "nonneg"),
            kg_batch=(kg_batch, "pos_int"),
            margin=(margin, "pos"),
            kg_pretrain_epochs=(kg_pretrain_epochs, "nonneg_int"),
        )
        self.kg_weight, self.kg_batch, self.margin = kg_weight, kg_batch, margin
        self.kg_pretrain_epochs = kg_pretrain_epochs

    def build(self, n_users: int, n_items: int) -> None:
        torch_setup()
        self.gen = seeded_generator(self.rng)
        g = item_graph(self.context.world)
        self.graph = g
        self.triples = torch.from_numpy(np.stack([g.head, g.relation, g.tail]).astype(np.int64))
        d = self.dim
        self.P = nn.Parameter(torch.randn(n_users, d, generator=self.gen) * 0.1)
        self.Q = nn.Parameter(torch.zeros(n_items, d))
        self.b = nn.Parameter(torch.zeros(n_items))
        self.E = nn.Parameter(torch.randn(g.n_entities, d, generator=self.gen) * 0.1)
        self.W = nn.Parameter(torch.randn(len(g.relation_names), d, generator=self.gen) * 0.1)
        self.opt = torch.optim.Adam(self.parameters(), lr=self.lr)

    def parameters(self) -> list[torch.Tensor]:
        """The trained parameters."""
        return [self.P, self.Q, self.b, self.E, self.W]

    def _triple_batch(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        n = self.triples.shape[1]
        pick = torch.from_numpy(self.rng.integers(0, n, size=min(self.kg_batch, n)))
        h, r, t = self.triples[:, pick]
        corrupt = torch.from_numpy(self.rng.integers(0, self.graph.n_entities, size=len(pick)))
        return h, r, t, corrupt

    def auxiliary_loss(self) -> torch.Tensor | float:
        """``kg_weight`` x the TransE loss of one batch of triples."""
        if self.kg_weight == 0 or len(self.graph) == 0:
            return 0.0
        return self.kg_weight * transe_loss(self.E, self.W, *self._triple_batch(), self.margin)

    def fit(self, data: dict[str, np.ndarray], now: float) -> None:
        if self.fits == 0 and len(self.graph):
            steps = self.kg_pretrain_epochs * -(-len(self.graph) // self.kg_batch)
            for _ in range(steps):
                loss = transe_loss(self.E, self.W, *self._triple_batch(), self.margin)
                self.opt.zero_grad()
                loss.backward()
                self.opt.step()
        super().fit(data, now)

    def item_factors(self, items: torch.Tensor | slice) -> tuple[torch.Tensor, torch.Tensor]:
        """``q_i + e_i`` and the bias (items are the graph's first entities)."""
        if isinstance(items, slice):
            items = torch.arange(self.log.n_items)
        return self.Q[items] + self.E[items], self.b[items]

    def n_params(self) -> tuple[int, int]:
        n = sum(p.numel() for p in self.parameters())
        return n, n

    def score_flops(self, pool: float, batch: float) -> float:
        """A dot product and bias per pool item; q + e over the catalog once per call."""
        return (2 * self.dim + 1) * pool + self.dim * self.log.n_items / batch

    def cost(self) -> Cost:
        """Parameters, plus the graph's size."""
        base = super().cost()
        base.extra.update(triples=len(self.graph), entities=self.graph.n_entities)
        return base


class LMKGAgent(KGAgent):
    """The ``kg`` agent whose item vectors add a trained adapter over frozen LM text vectors.

    Args:
        encoder: Encoder backend (``minilm`` or ``tfidf``).
        cache_dir: Embedding cache folder, a relative path inside the run's output folder
            (default: the shared ``$SIMREC_CACHE`` or ``~/.cache``; see ``agent_encoder``).
        **kg: :class:`KGAgent` options.
    """

    name = "lm-kg"

    def __init__(self, encoder: str = "minilm", cache_dir: str | None = None, **kg: Any) -> None:
        super().__init__(**kg)
        from simrec_agents.lm.encoder import agent_encoder

        self.encoder = agent_encoder(encoder, cache_dir)

    def build(self, n_users: int, n_items: int) -> None:
        from simrec_agents.lm.content import LMEncodedItems
        from simrec_agents.lm.encoder import place_cache

        w = self.context.world
        place_cache(self.encoder, self.context)
        self.items = LMEncodedItems(w, self.encoder)
        self.items.add(np.flatnonzero(w.items.release_day <= 0))
        super().build(n_users, n_items)
        self.adapter = nn.Linear(self.encoder.dim, self.dim)
        with torch.no_grad():
            nn.init.normal_(
                self.adapter.weight, std=0.1 / np.sqrt(self.encoder.dim), generator=self.gen
            )
            self.adapter.bias.zero_()
        self.opt = torch.optim.Adam(self.parameters(), lr=self.lr)

    def parameters(self) -> list[torch.Tensor]:
        """KG and CF parameters plus the adapter."""
        extra = list(self.adapter.parameters()) if hasattr(self, "adapter") else []
        return super().parameters() + extra

    def on_items_released(self, items: np.ndarray, now: float) -> None:
        self.items.add(items)

    def item_factors(self, items: torch.Tensor | slice) -> tuple[torch.Tensor, torch.Tensor]:
        """``q_i + e_i + A(t_i)`` and the bias."""
        if isinstance(items, slice):
            items = torch.arange(self.log.n_items)
        v, b = super().item_factors(items)
        return v + self.adapter(torch.from_numpy(self.items.vectors[items.numpy()])), b

    def score(self, users: np.ndarray, pool: np.ndarray) -> np.ndarray:
        self.items.add(pool)
        return super().score(users, pool)

    def n_params(self) -> tuple[int, int]:
        _, trainable = super().n_params()
        return trainable + self.encoder.params, trainable

    def score_flops(self, pool: float, batch: float) -> float:
        """Adds the adapter over the catalog once per call."""
        M = self.log.n_items
        return super().score_flops(pool, batch) + 2 * self.encoder.dim * self.dim * M / batch

    def cost(self) -> Cost:
        """Adds the frozen encoder and its ledger."""
        base = super().cost()
        base.extra.update(self.encoder.ledger())
        return base
