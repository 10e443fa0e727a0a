r"""Sequential recommenders: a small causal transformer over the user's click history.

SASRec-style (Kang & McAuley 2018): the last ``max_len`` clicked items, as input
embeddings plus learned position embeddings, go through ``layers`` pre-norm transformer
blocks with a causal mask; the hidden state at each position scores the next click by a dot
product with the (tied) item embeddings. Trained with binary cross-entropy on the next
clicked item against one sampled negative per position, on the agent's own logs, warm-started
on the calendar's schedule.

* ``seq`` -- learned item-ID embeddings (an embedding table, one row per item);
* ``lm-seq`` -- item input embeddings are the frozen language-model vectors of the item
  text passed through a trained adapter, otherwise the same architecture, so a scenario
  comparing the two isolates what the language model adds.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from simrec_agents.base import CatalogCache, dense_flops
from simrec_agents.cf.base import CFAgent, check_params
from simrec_agents.cf.torch_util import epoch_order, seeded_generator, torch_setup
from simrec_agents.lm.content import LMEncodedItems
from simrec_agents.lm.encoder import agent_encoder, place_cache
from torch import nn

from simrec.types import Cost

__all__ = [
    "LMSeqAgent",
    "SASRec",
    "SeqAgent",
    "click_sequences",
    "last_click_times",
    "sequence_users",
]


class SASRec(nn.Module):
    """Causal transformer over item sequences with tied input/output item embeddings.

    Args:
        item_embed: Module mapping item ids ``(B, L)`` (``-1`` = padding) to ``(B, L, dim)``.
        dim: Model width.
        max_len: Longest history used.
        layers: Transformer blocks.
        heads: Attention heads.
        dropout: Dropout rate.
    """

    def __init__(
        self, item_embed: nn.Module, dim: int, max_len: int, layers: int, heads: int, dropout: float
    ) -> None:
        super().__init__()
        self.item_embed = item_embed
        self.pos = nn.Embedding(max_len, dim)
        block = nn.TransformerEncoderLayer(
            dim, heads, 2 * dim, dropout, batch_first=True, norm_first=True
        )
        self.blocks = nn.TransformerEncoder(block, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.max_len, self.heads = max_len, heads
        #: Look up the position rows per sequence, ``(B, L)``, rather than once, ``(L,)``:
        #: the same values, but opacus can then attribute their gradient to each sequence.
        self.batched_positions = False

    def forward(self, seq: torch.Tensor) -> torch.Tensor:
        """Hidden states ``(B, L, dim)`` of left-padded sequences ``(B, L)``."""
        L = seq.shape[1]
        positions = torch.arange(L)
        if self.batched_positions:
            x = self.item_embed(seq) + self.pos(positions.expand(seq.shape[0], L))
        else:
            x = self.item_embed(seq) + self.pos(positions)[None]
        pad = seq < 0
        x = x.masked_fill(pad[:, :, None], 0.0)
        # Causal and padding masks in one (B * heads, L, L) mask. Every position may attend
        # to itself, so no attention row is fully masked: a fully masked row (a padded
        # position) would give NaN, which the next block spreads to the real positions.
        causal = torch.triu(torch.ones(L, L, dtype=torch.bool), diagonal=1)
        mask = (causal[None] | pad[:, None, :]) & ~torch.eye(L, dtype=torch.bool)[None]
        h = self.blocks(x, mask=mask.repeat_interleave(self.heads, dim=0))
        return self.norm(h)


class IDEmbedding(nn.Module):
    """Learned item-ID embeddings; id -1 (padding) maps to a zero vector."""

    def __init__(self, n_items: int, dim: int, gen: torch.Generator) -> None:
        super().__init__()
        self.table = nn.Parameter(torch.randn(n_items + 1, dim, generator=gen) * 0.1)
        self.n_items = n_items

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """Embeddings of ``ids`` (any shape)."""
        return self.table[torch.where(ids < 0, self.n_items, ids)]


class LMEmbedding(nn.Module):
    """Adapter over frozen language-model vectors; id -1 (padding) maps to zeros."""

    def __init__(self, vectors: np.ndarray, dim: int) -> None:
        super().__init__()
        self.vectors = vectors  # a live view: rows are filled as items are released
        self.adapter = nn.Linear(vectors.shape[1], dim)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """Adapted vectors of ``ids``."""
        idx = ids.clamp(min=0).numpy()
        e = torch.from_numpy(self.vectors[idx])
        return self.adapter(e) * (ids >= 0)[..., None]


def click_sequences(data: dict[str, np.ndarray], max_len: int) -> tuple[np.ndarray, np.ndarray]:
    """Per user with at least two clicks: (input, target) item sequences, left-padded.

    Returns:
        ``(inputs, targets)``, each ``(U, max_len)`` int64 with ``-1`` padding; ``targets``
        is ``inputs`` shifted by one click.
    """
    c = data["click"]
    users, items = data["user"][c].astype(np.int64), data["item"][c].astype(np.int64)
    order = np.argsort(users, kind="stable")  # log order is time order within a user
    users, items = users[order], items[order]
    bounds = np.flatnonzero(np.diff(users)) + 1
    inputs, targets = [], []
    for seq in np.split(items, bounds):
        if len(seq) < 2:
            continue
        seq = seq[-(max_len + 1) :]
        x = np.full(max_len, -1)
        y = np.full(max_len, -1)
        x[max_len - (len(seq) - 1) :] = seq[:-1]
        y[max_len - (len(seq) - 1) :] = seq[1:]
        inputs.append(x)
        targets.append(y)
    if not inputs:
        return np.zeros((0, max_len), np.int64), np.zeros((0, max_len), np.int64)
    return np.stack(inputs), np.stack(targets)


def sequence_users(data: dict[str, np.ndarray]) -> np.ndarray:
    """The users with at least two clicks, in user order: the rows of :func:`click_sequences`."""
    return np.flatnonzero(np.bincount(data["user"][data["click"]].astype(np.int64)) >= 2)


def last_click_times(data: dict[str, np.ndarray]) -> np.ndarray:
    """Time of the last click of each user with at least two clicks, in user order.

    The rows of :func:`click_sequences` are these users, in the same order.
    """
    c = data["click"]
    users, times = data["user"][c].astype(np.int64), data["time"][c].astype(np.float64)
    last = np.full(int(users.max()) + 1 if len(users) else 0, -np.inf)
    np.maximum.at(last, users, times)
    return last[sequence_users(data)]


class SeqAgent(CFAgent):
    """SASRec-style causal transformer over the click history, learned item-ID embeddings.

    Args:
        dim: Model width.
        max_len: History length.
        layers: Transformer blocks.
        heads: Attention heads.
        dropout: Dropout rate.
        lr: Adam learning rate.
        epochs: Passes over the users' sequences per retrain.
        batch_size: Users per step.
        max_users: Per-retrain training budget: each epoch trains on at most this many users'
            sequences, every user who clicked since the previous retrain and then a uniform
            replay sample of the others (:func:`~simrec_agents.cf.torch_util.epoch_order`);
            ``None`` (default): every user with two clicks or more.
        **shared: :class:`~simrec_agents.cf.base.CFAgent` options.
    """

    name = "seq"

    def __init__(
        self,
        dim: int = 32,
        max_len: int = 20,
        layers: int = 2,
        heads: int = 2,
        dropout: float = 0.1,
        lr: float = 0.002,
        epochs: int = 2,
        batch_size: int = 128,
        max_users: int | None = None,
        **shared: Any,
    ) -> None:
        check_params(max_len=(max_len, "pos_int"))  # before it sizes the buffer below
        shared.setdefault("recent_consumed", max(50, max_len))
        super().__init__(**shared)
        check_params(
            dim=(dim, "pos_int"),
            layers=(layers, "pos_int"),
            heads=(heads, "pos_int"),
            dropout=(dropout, "prob"),
            lr=(lr, "pos"),
            epochs=(epochs, "nonneg_int"),
            batch_size=(batch_size, "pos_int"),
        )
        if max_users is not None:
            check_params(max_users=(max_users, "pos_int"))
        self.max_users = max_users
        if dim % heads:
            raise ValueError(f"heads: expected a divisor of dim={dim}, got {heads}")
        if self.recent_consumed < max_len:
            raise ValueError(
                f"recent_consumed: expected >= max_len={max_len}, got {self.recent_consumed}"
            )
        self.dim, self.max_len, self.layers, self.heads = dim, max_len, layers, heads
        self.dropout, self.lr, self.epochs, self.batch_size = dropout, lr, epochs, batch_size

    def item_embedding(self, n_items: int) -> nn.Module:
        """The item input (and output) embedding module."""
        return IDEmbedding(n_items, self.dim, self.gen)

    def build(self, n_users: int, n_items: int) -> None:
        torch_setup()
        self.gen = seeded_generator(self.rng)
        with torch.random.fork_rng():
            torch.manual_seed(int(self.rng.integers(0, 2**62)))
            self.model = SASRec(
                self.item_embedding(n_items),
                self.dim,
                self.max_len,
                self.layers,
                self.heads,
                self.dropout,
            )
        self.opt = torch.optim.Adam(self.model.parameters(), lr=self.lr)
        self.catalog = CatalogCache()

    def fit(self, data: dict[str, np.ndarray], now: float) -> None:
        inputs, targets = click_sequences(data, self.max_len)
        if len(inputs) == 0:
            return
        available = np.flatnonzero(self.context.world.items.available(now))
        last = last_click_times(data)  # of each sequence's user
        loss_fn = nn.BCEWithLogitsLoss()
        self.model.train()
        with torch.random.fork_rng():  # dropout draws from a seeded, private stream
            torch.manual_seed(int(self.rng.integers(0, 2**62)))
            for _ in range(self.epochs):
                order = epoch_order(last, self.last_fit, self.max_users, self.rng)
                for s in range(0, len(order), self.batch_size):
                    idx = order[s : s + self.batch_size]
                    x = torch.from_numpy(inputs[idx])
                    y = torch.from_numpy(targets[idx])
                    neg = torch.from_numpy(
                        available[self.rng.integers(0, len(available), size=y.shape)]
                    )
                    h = self.model(x)
                    pos_logit = (h * self.model.item_embed(y)).sum(-1)
                    neg_logit = (h * self.model.item_embed(neg)).sum(-1)
                    mask = y >= 0
                    logits = torch.cat([pos_logit[mask], neg_logit[mask]])
                    labels = torch.cat([torch.ones(int(mask.sum())), torch.zeros(int(mask.sum()))])
                    loss = loss_fn(logits, labels)
                    self.opt.zero_grad()
                    loss.backward()
                    self.opt.step()

    def histories(self, users: np.ndarray) -> np.ndarray:
        """Each user's last ``max_len`` clicks in time order, left-padded with -1."""
        buf, nxt = self.log.consumed[users], self.log.consumed_next[users]
        Lb = buf.shape[1]
        k = np.arange(self.max_len)[None, :] - self.max_len  # -max_len .. -1
        idx = (nxt[:, None] + k) % Lb
        hist = np.take_along_axis(buf, idx, axis=1)
        valid = (nxt[:, None] + k) >= 0
        return np.where(valid, hist, -1)

    def catalog_embeddings(self) -> np.ndarray:
        """Every item's input embedding, recomputed only after a fit or new item vectors."""
        items = getattr(self, "items", None)
        key = (self.fits, items.version if items is not None else 0)
        return self.catalog.get(key, self._embed_catalog)

    @torch.no_grad()
    def _embed_catalog(self) -> np.ndarray:
        self.model.eval()
        return self.model.item_embed(torch.arange(self.log.n_items)).numpy()

    @torch.no_grad()
    def score(self, users: np.ndarray, pool: np.ndarray) -> np.ndarray:
        if self.model.training:  # eval() walks every module: only after a fit
            self.model.eval()
        h = self.model(torch.from_numpy(self.histories(users)))[:, -1].numpy()
        self.catalog.requests += len(users)
        emb = self.catalog_embeddings()
        if pool.strides[0] == 0:
            return h @ emb[pool[0]].T
        return np.einsum("bd,bpd->bp", h, emb[pool])

    def n_params(self) -> tuple[int, int]:
        n = sum(p.numel() for p in self.model.parameters())
        return n, n

    def score_flops(self, pool: float, batch: float) -> float:
        """The history pass and a dot product per pool item.

        Per block over L positions of width d: Q/K/V and output projections 8 L d^2, the
        2d-wide feed-forward 8 L d^2, attention scores and mixing 4 L^2 d.
        """
        d, L = self.dim, self.max_len
        return self.layers * (16 * L * d * d + 4 * L * L * d) + 2 * d * pool


class LMSeqAgent(SeqAgent):
    """The same transformer with item inputs from an adapter over frozen MiniLM vectors.

    Args:
        encoder: Encoder backend (``minilm`` or ``tfidf``).
        cache_dir: Embedding cache folder, a relative path inside the run's output folder
            (default: the shared ``$SIMREC_CACHE`` or ``~/.cache``; see ``agent_encoder``).
        **seq: :class:`SeqAgent` options.
    """

    name = "lm-seq"
    neutral_cold_items = False  # a new item has an embedding from its text

    def __init__(self, encoder: str = "minilm", cache_dir: str | None = None, **seq: Any) -> None:
        super().__init__(**seq)
        self.encoder = agent_encoder(encoder, cache_dir)

    def item_embedding(self, n_items: int) -> nn.Module:
        w = self.context.world
        place_cache(self.encoder, self.context)
        self.items = LMEncodedItems(w, self.encoder)
        self.items.add(np.flatnonzero(w.items.release_day <= 0))
        return LMEmbedding(self.items.vectors, self.dim)

    def on_items_released(self, items: np.ndarray, now: float) -> None:
        self.items.add(items)

    def score(self, users: np.ndarray, pool: np.ndarray) -> np.ndarray:
        self.items.add(pool)
        return super().score(users, pool)

    def n_params(self) -> tuple[int, int]:
        trainable = sum(p.numel() for p in self.model.parameters())
        return trainable + self.encoder.params, trainable

    def score_flops(self, pool: float, batch: float) -> float:
        """Adds the adapter over the history and over the catalog.

        The catalog pass is cached between retrains and new item vectors, so it is amortised
        over the requests served in between.
        """
        adapter = dense_flops(self.model.item_embed.get_submodule("adapter"))  # LMEmbedding's
        catalog = self.log.n_items * self.catalog.passes_per_request()
        return super().score_flops(pool, batch) + adapter * (self.max_len + catalog)

    def cost(self) -> Cost:
        """Adds the frozen encoder and its ledger."""
        base = super().cost()
        base.extra.update(self.encoder.ledger())
        return base
