r"""``lm-cf``: the language model as the embedding layer of collaborative filtering.

Item embedding :math:`q_i = A(e_i)`, with :math:`e_i` the frozen encoder vector of the item's
text and :math:`A` a small trained adapter (linear, or a 2-layer MLP) -- the only item
parameters that are trained (parameter-efficient: no per-item embedding table). User
embeddings :math:`p_u` are trained with the BPR loss on the agent's own logs, exactly as in
``mf`` (same negatives, same warm-started retraining on the calendar's schedule). New items
get a meaningful embedding from their text at release.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from simrec_agents.base import CatalogCache, dense_flops
from simrec_agents.cf.mf import MFAgent
from simrec_agents.cf.torch_util import seeded_generator, torch_setup
from simrec_agents.lm.content import LMEncodedItems
from simrec_agents.lm.encoder import agent_encoder, place_cache
from torch import nn

from simrec.types import Cost
from simrec.worlds.base import ObservableWorld

__all__ = ["LMCFAgent"]


class LMCFAgent(MFAgent):
    """BPR matrix factorisation whose item side is an adapter over frozen LM vectors.

    Args:
        encoder: Encoder backend (``minilm`` or ``tfidf``).
        adapter: ``"linear"`` or ``"mlp"`` (one hidden ReLU layer of ``hidden`` units).
        hidden: Width of the MLP adapter's hidden layer.
        cache_dir: Embedding cache folder, a relative path inside the run's output folder
            (default: the shared ``$SIMREC_CACHE`` or ``~/.cache``; see ``agent_encoder``).
        **mf: :class:`~simrec_agents.cf.mf.MFAgent` options (dim, lr, epochs, ...).
    """

    name = "lm-cf"
    neutral_cold_items = False  # a new item's text gives it an embedding at once

    def __init__(
        self,
        encoder: str = "minilm",
        adapter: str = "linear",
        hidden: int = 64,
        cache_dir: str | None = None,
        **mf: Any,
    ) -> None:
        super().__init__(**mf)
        if adapter not in ("linear", "mlp"):
            raise ValueError(f"adapter: expected 'linear' or 'mlp', got {adapter!r}")
        if not isinstance(hidden, int) or hidden < 1:
            raise ValueError(f"hidden: expected a positive integer, got {hidden!r}")
        self.adapter_kind, self.hidden = adapter, hidden
        self.encoder = agent_encoder(encoder, cache_dir)

    def build(self, n_users: int, n_items: int) -> None:
        torch_setup()
        self.gen = seeded_generator(self.rng)
        w = self.context.world
        place_cache(self.encoder, self.context)
        self.items = self.make_items(w)
        self.items.add(np.flatnonzero(w.items.release_day <= 0))
        E = self.encoder.dim
        with torch.random.fork_rng():
            torch.manual_seed(int(self.rng.integers(0, 2**62)))
            self.adapter: nn.Module
            if self.adapter_kind == "linear":
                self.adapter = nn.Linear(E, self.dim)
            else:
                self.adapter = nn.Sequential(
                    nn.Linear(E, self.hidden), nn.ReLU(), nn.Linear(self.hidden, self.dim)
                )
        self.P = nn.Parameter(torch.randn(n_users, self.dim, generator=self.gen) * 0.1)
        self.opt = torch.optim.Adam([self.P, *self.adapter.parameters()], lr=self.lr)
        self.catalog = CatalogCache()

    def make_items(self, world: ObservableWorld) -> LMEncodedItems:
        """The item vectors (frozen encoder vectors, encoded as items are released)."""
        return LMEncodedItems(world, self.encoder)

    def on_items_released(self, items: np.ndarray, now: float) -> None:
        self.items.add(items)

    def item_factors(self, items: torch.Tensor | slice) -> tuple[torch.Tensor, torch.Tensor]:
        e = torch.from_numpy(self.items.vectors[items])
        q = self.adapter(e)
        return q, torch.zeros(q.shape[0])

    def catalog_factors(self) -> tuple[np.ndarray, np.ndarray]:
        """The adapter over the catalog, recomputed only after a fit or new item vectors."""
        return self.catalog.get((self.fits, self.items.version), super().catalog_factors)

    def score(self, users: np.ndarray, pool: np.ndarray) -> np.ndarray:
        self.items.add(pool)
        self.catalog.requests += len(users)
        return super().score(users, pool)

    def n_params(self) -> tuple[int, int]:
        adapter = sum(p.numel() for p in self.adapter.parameters())
        trainable = self.P.numel() + adapter
        return trainable + self.encoder.params, trainable

    def cost(self) -> Cost:
        """Trainable (users + adapter) and frozen (encoder) parameters, encoder ledger."""
        base = super().cost()
        base.extra.update(self.encoder.ledger())
        return base

    def score_flops(self, pool: float, batch: float) -> float:
        """A dot product per pool item, and the adapter over the catalog once per retrain.

        The adapter's output is cached between retrains (and recomputed when new items are
        encoded), so its cost is spread over the requests served in between.
        """
        passes = self.catalog.passes_per_request()
        return 2 * self.dim * pool + dense_flops(self.adapter) * self.log.n_items * passes
