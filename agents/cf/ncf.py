r"""``ncf``: neural collaborative filtering (He et al. 2017, "Neural Collaborative Filtering").

NeuMF: a GMF tower :math:`p_u^G \odot q_i^G` and an MLP tower over
:math:`[p_u^M; q_i^M]` (ReLU layers), concatenated and mapped by a linear layer to a logit;
the output is :math:`\sigma(\cdot)`, trained with binary cross-entropy on logged clicks
(label 1) and sampled negatives (label 0: impressions without click and unseen items, the
paper's negative sampling with ``negatives`` per positive). Every input is an embedding
index that exists (all users and items are allocated at setup), so there are no undefined
inputs. Warm-started across retrains.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from simrec_agents.base import dense_flops
from simrec_agents.cf.base import CFAgent, check_params
from simrec_agents.cf.torch_util import (
    epoch_order,
    sample_training_pairs,
    seeded_generator,
    torch_setup,
)
from torch import nn

__all__ = ["NCFAgent", "NeuMF"]


class NeuMF(nn.Module):
    """GMF + MLP towers fused by a linear output layer (logits)."""

    def __init__(
        self, n_users: int, n_items: int, dim: int, layers: tuple[int, ...], gen: torch.Generator
    ) -> None:
        super().__init__()
        self.user_gmf = nn.Embedding(n_users, dim)
        self.item_gmf = nn.Embedding(n_items, dim)
        self.user_mlp = nn.Embedding(n_users, dim)
        self.item_mlp = nn.Embedding(n_items, dim)
        mlp, width = [], 2 * dim
        for out in layers:
            mlp += [nn.Linear(width, out), nn.ReLU()]
            width = out
        self.mlp = nn.Sequential(*mlp)
        self.out = nn.Linear(dim + width, 1)
        with torch.no_grad():
            for p in self.parameters():
                if p.dim() > 1:
                    p.copy_(
                        torch.randn(p.shape, generator=gen)
                        * (0.1 if p.shape[0] in (n_users, n_items) else (2.0 / p.shape[1]) ** 0.5)
                    )
                else:
                    p.zero_()

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Logits for (user, item) pairs of equal shape."""
        gmf = self.user_gmf(users) * self.item_gmf(items)
        mlp = self.mlp(torch.cat([self.user_mlp(users), self.item_mlp(items)], dim=-1))
        return self.out(torch.cat([gmf, mlp], dim=-1)).squeeze(-1)


class NCFAgent(CFAgent):
    """NeuMF trained with BCE on its own logs, retrained (warm-started) on schedule.

    Args:
        dim: Embedding dimension of each tower.
        layers: Widths of the MLP tower.
        lr: Adam learning rate.
        epochs: Passes over the logged clicks per retrain.
        negatives: Sampled negatives per click.
        batch_size: Clicks per step (each with its negatives).
        max_clicks: Per-retrain training budget: each epoch trains on at most this many
            clicks, every click since the previous retrain and then a uniform replay sample of
            older ones (:func:`~simrec_agents.cf.torch_util.epoch_order`); ``None`` (default):
            every logged click.
        impression_negatives: Share of negatives drawn from impressions without click.
        **shared: :class:`~simrec_agents.cf.base.CFAgent` options.
    """

    name = "ncf"

    def __init__(
        self,
        dim: int = 16,
        layers: tuple[int, ...] | list[int] = (32, 16),
        lr: float = 0.005,
        epochs: int = 2,
        negatives: int = 4,
        batch_size: int = 512,
        impression_negatives: float = 0.5,
        max_clicks: int | None = None,
        **shared: Any,
    ) -> None:
        super().__init__(**shared)
        check_params(
            dim=(dim, "pos_int"),
            lr=(lr, "pos"),
            epochs=(epochs, "nonneg_int"),
            negatives=(negatives, "pos_int"),
            batch_size=(batch_size, "pos_int"),
            impression_negatives=(impression_negatives, "prob"),
        )
        if max_clicks is not None:
            check_params(max_clicks=(max_clicks, "pos_int"))
        self.max_clicks = max_clicks
        layers = tuple(layers)
        if not layers or not all(isinstance(w, int) and w > 0 for w in layers):
            raise ValueError(
                f"layers: expected a non-empty list of positive integers, got {list(layers)!r}"
            )
        self.dim, self.layers, self.lr = dim, layers, lr
        self.epochs, self.negatives, self.batch_size = epochs, negatives, batch_size
        self.impression_negatives = impression_negatives

    def build(self, n_users: int, n_items: int) -> None:
        torch_setup()
        self.gen = seeded_generator(self.rng)
        self.model = NeuMF(n_users, n_items, self.dim, self.layers, self.gen)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=self.lr)

    def fit(self, data: dict[str, np.ndarray], now: float) -> None:
        available = np.flatnonzero(self.context.world.items.available(now))
        loss_fn = nn.BCEWithLogitsLoss()
        times = data["time"][data["click"]]  # of each training pair's click
        self.model.train()
        for _ in range(self.epochs):
            u, i, j = sample_training_pairs(
                data,
                self.log.n_items,
                available,
                self.rng,
                self.negatives,
                self.impression_negatives,
                self.unclicked,
            )
            order = epoch_order(times, self.last_fit, self.max_clicks, self.rng)
            for s in range(0, len(order), self.batch_size):
                idx = order[s : s + self.batch_size]
                n = len(idx)
                users = np.repeat(u[idx], 1 + self.negatives)
                items = np.concatenate([i[idx][:, None], j[idx]], axis=1).ravel()
                labels = np.zeros((n, 1 + self.negatives), dtype=np.float32)
                labels[:, 0] = 1.0
                logits = self.model(torch.from_numpy(users), torch.from_numpy(items))
                loss = loss_fn(logits, torch.from_numpy(labels.ravel()))
                self.opt.zero_grad()
                loss.backward()
                self.opt.step()

    @torch.no_grad()
    def score(self, users: np.ndarray, pool: np.ndarray) -> np.ndarray:
        if self.model.training:  # eval() walks every module: only after a fit
            self.model.eval()
        B, P = pool.shape
        u = torch.from_numpy(np.repeat(users.astype(np.int64), P))
        i = torch.from_numpy(np.array(pool, dtype=np.int64).ravel())
        return self.model(u, i).numpy().reshape(B, P)

    def n_params(self) -> tuple[int, int]:
        n = sum(p.numel() for p in self.model.parameters())
        return n, n

    def score_flops(self, pool: float, batch: float) -> float:
        """Per pool item: the GMF product and the MLP tower plus output layer."""
        return (self.dim + dense_flops(self.model)) * pool
