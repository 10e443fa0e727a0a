r"""``mf``: matrix factorisation on implicit feedback with the BPR loss (Rendle et al. 2009).

Score :math:`\hat y_{ui} = p_u^\top q_i + b_i`. Each retrain runs ``epochs`` passes of Adam
over the logged clicks, each click (u, i) paired with a sampled negative j (an impression
the user did not click, or an unseen item) and the loss
:math:`-\log \sigma(\hat y_{ui} - \hat y_{uj}) + \lambda \lVert\theta\rVert^2`. Parameters and
optimiser state persist between retrains (warm start); the model sees only the logs.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from simrec_agents.cf.base import CFAgent, check_params
from simrec_agents.cf.torch_util import (
    epoch_order,
    sample_training_pairs,
    seeded_generator,
    torch_setup,
)

__all__ = ["MFAgent"]


class MFAgent(CFAgent):
    """BPR matrix factorisation, retrained (warm-started) on the calendar's schedule.

    Args:
        dim: Embedding dimension.
        lr: Adam learning rate.
        weight_decay: L2 weight (lambda) on the embeddings of each batch.
        epochs: Passes over the log per retrain.
        batch_size: Clicks per optimisation step.
        max_clicks: Per-retrain training budget: each epoch trains on at most this many
            clicks, every click since the previous retrain and then a uniform replay sample of
            older ones (:func:`~simrec_agents.cf.torch_util.epoch_order`); ``None`` (default):
            every logged click.
        impression_negatives: Share of negatives drawn from impressions without click.
        loss: ``"bpr"`` (pairwise, default) or ``"bce"`` (pointwise logistic on the click
            and its negative).
        **shared: :class:`~simrec_agents.cf.base.CFAgent` options (exclusion, exploration).
    """

    name = "mf"

    def __init__(
        self,
        dim: int = 32,
        lr: float = 0.01,
        weight_decay: float = 1e-4,
        epochs: int = 3,
        batch_size: int = 1024,
        impression_negatives: float = 0.5,
        max_clicks: int | None = None,
        loss: str = "bpr",
        **shared: Any,
    ) -> None:
        super().__init__(**shared)
        if loss not in ("bpr", "bce"):
            raise ValueError(f"loss: expected 'bpr' or 'bce', got {loss!r}")
        self.loss = loss
        check_params(
            dim=(dim, "pos_int"),
            lr=(lr, "pos"),
            weight_decay=(weight_decay, "nonneg"),
            epochs=(epochs, "nonneg_int"),
            batch_size=(batch_size, "pos_int"),
            impression_negatives=(impression_negatives, "prob"),
        )
        if max_clicks is not None:
            check_params(max_clicks=(max_clicks, "pos_int"))
        self.max_clicks = max_clicks
        self.dim, self.lr, self.weight_decay = dim, lr, weight_decay
        self.epochs, self.batch_size = epochs, batch_size
        self.impression_negatives = impression_negatives

    def build(self, n_users: int, n_items: int) -> None:
        torch_setup()
        self.gen = seeded_generator(self.rng)
        scale = 0.1
        # Tensors: the private variant (dp-mf) replaces them by views of its embeddings.
        self.P: torch.Tensor = torch.nn.Parameter(
            torch.randn(n_users, self.dim, generator=self.gen) * scale
        )
        self.Q: torch.Tensor = torch.nn.Parameter(
            torch.randn(n_items, self.dim, generator=self.gen) * scale
        )
        self.b: torch.Tensor = torch.nn.Parameter(torch.zeros(n_items))
        self.opt = torch.optim.Adam([self.P, self.Q, self.b], lr=self.lr)

    def fit(self, data: dict[str, np.ndarray], now: float) -> None:
        times = data["time"][data["click"]]  # of each training pair's click
        for _ in range(self.epochs):
            u, i, j = self.training_pairs(data, now)
            order = epoch_order(times, self.last_fit, self.max_clicks, self.rng)
            for s in range(0, len(order), self.batch_size):
                idx = order[s : s + self.batch_size]
                bu = torch.from_numpy(u[idx])
                pu = self.P[bu]
                qi, bi = self.item_factors(torch.from_numpy(i[idx]))
                qj, bj = self.item_factors(torch.from_numpy(j[idx, 0]))
                pos = (pu * qi).sum(1) + bi
                neg = (pu * qj).sum(1) + bj
                reg = self.weight_decay * (pu.pow(2).sum() + qi.pow(2).sum() + qj.pow(2).sum())
                if self.loss == "bpr":
                    fit = -torch.nn.functional.logsigmoid(pos - neg).mean()
                else:
                    fit = -(
                        torch.nn.functional.logsigmoid(pos) + torch.nn.functional.logsigmoid(-neg)
                    ).mean()
                loss = fit + reg / len(idx) + self.auxiliary_loss()
                self.opt.zero_grad()
                loss.backward()
                self.opt.step()

    def training_pairs(
        self, data: dict[str, np.ndarray], now: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every logged click with one negative (:func:`sample_training_pairs`)."""
        available = np.flatnonzero(self.context.world.items.available(now))
        return sample_training_pairs(
            data,
            self.log.n_items,
            available,
            self.rng,
            1,
            self.impression_negatives,
            self.unclicked,
        )

    def auxiliary_loss(self) -> torch.Tensor | float:
        """An extra loss added to every BPR step (e.g. a knowledge-graph loss; default 0)."""
        return 0.0

    def item_factors(self, items: torch.Tensor | slice) -> tuple[torch.Tensor, torch.Tensor]:
        """Item vectors and biases of ``items`` (ids, or ``slice(None)``: the catalog)."""
        return self.Q[items], self.b[items]

    @torch.no_grad()
    def catalog_factors(self) -> tuple[np.ndarray, np.ndarray]:
        """Vectors and biases of every item, as arrays (what scoring reads)."""
        Q, b = self.item_factors(slice(None))
        return Q.detach().numpy(), b.detach().numpy()

    @torch.no_grad()
    def score(self, users: np.ndarray, pool: np.ndarray) -> np.ndarray:
        P = self.P.detach().numpy()[users]
        Q, b = self.catalog_factors()
        if pool.strides[0] == 0:
            return P @ Q[pool[0]].T + b[pool[0]][None, :]
        return np.einsum("bd,bpd->bp", P, Q[pool]) + b[pool]

    def n_params(self) -> tuple[int, int]:
        n = self.P.numel() + self.Q.numel() + self.b.numel()
        return n, n

    def score_flops(self, pool: float, batch: float) -> float:
        """A dot product and a bias per pool item."""
        return (2 * self.dim + 1) * pool
