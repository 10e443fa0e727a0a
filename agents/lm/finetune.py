r"""``lm-ft``: ``lm-cf`` whose encoder's top layers are fine-tuned end to end on the agent's logs.

Yuan et al. (SIGIR 2023, "Where to go next for recommender systems? ID- vs. modality-based
recommender models revisited") find that a text-based recommender matches an ID-based one on
warm items only when its text encoder is trained end to end with the recommendation loss;
frozen text features lag, and text wins on cold items. ``lm-cf`` is the frozen-feature
version; this agent is the end-to-end one, so the simulator can test that pattern.

Item embedding :math:`q_i = A(\mathrm{norm}(\mathrm{pool}(T_\theta(h_i))))`: :math:`h_i` are the
token states of the item's text entering the encoder's top ``top_layers`` transformer layers
(computed once per item by the frozen lower layers and cached), :math:`T_\theta` those top
layers, trainable, then the encoder's own mean pooling and normalisation, and the ``lm-cf``
adapter :math:`A`. Every ``finetune_every_days`` days the retrain first runs
``finetune_steps`` Adam steps of the BPR loss through :math:`T_\theta`, :math:`A` and the user
embeddings jointly (batches of ``finetune_batch`` clicks with ``mf``'s negatives; the top
layers at ``encoder_lr``), then re-encodes the catalog with the new layers; the daily retrain
in between is ``lm-cf``'s on those vectors. Items released later are encoded by the current
layers. Dropout stays off (the steps are deterministic given the agent's seed).

Only BERT-family encoders (``minilm``) are supported: their layers take the hidden states
and an additive attention mask, which this module checks reproduces the frozen encoder.
"""

from __future__ import annotations

import copy
import time
from typing import Any, ClassVar

import numpy as np
import torch
from simrec_agents.cf.base import check_params
from simrec_agents.lm.cf import LMCFAgent
from simrec_agents.lm.content import LMEncodedItems, item_text
from simrec_agents.lm.encoder import SentenceEncoder
from torch import nn

from simrec.errors import ConfigError
from simrec.types import Cost
from simrec.worlds.base import ObservableWorld

__all__ = ["FineTunedItems", "LMFineTunedAgent", "TopLayers"]


class TopLayers(nn.Module):
    """The top ``k`` layers of a BERT-family sentence encoder over cached lower-layer states.

    Args:
        encoder: A loaded-on-demand sentence encoder (``minilm``).
        k: Number of top transformer layers to train.
        max_tokens: Truncation length of the item texts (tokens).
    """

    #: The frozen encoder's transformers model (its layers are looked up by name).
    bert: Any

    def __init__(self, encoder: SentenceEncoder, k: int, max_tokens: int) -> None:
        super().__init__()
        st = encoder._load()
        # sentence-transformers' Transformer module; what is read of it (the transformers
        # model's config, layers and tokenizer) is looked up by name, untyped.
        transformer: Any = st[0]
        bert = transformer.auto_model
        if bert.config.model_type != "bert":
            raise ConfigError(
                f"encoder: fine-tuning needs a BERT-family encoder (minilm), got "
                f"{encoder.name!r} ({bert.config.model_type})"
            )
        n = bert.config.num_hidden_layers
        if not 1 <= k <= n:
            raise ConfigError(f"top_layers: expected 1 to {n} (the encoder's layers), got {k}")
        self.tokenizer, self.split = transformer.tokenizer, n - k
        # The frozen encoder is used, not owned: kept out of this module's parameters.
        self.__dict__["bert"] = bert
        self.max_tokens = min(max_tokens, transformer.max_seq_length)
        self.layers = nn.ModuleList(copy.deepcopy(layer) for layer in bert.encoder.layer[n - k :])
        self.layers.eval()  # no dropout
        self.states: dict[int, torch.Tensor] = {}

    @torch.no_grad()
    def cache(self, items: list[int], texts: list[str], batch: int = 64) -> None:
        """Store each text's token states entering the top layers (frozen lower layers)."""
        self.bert.eval()
        for s in range(0, len(items), batch):
            tok = self.tokenizer(
                texts[s : s + batch],
                padding=True,
                truncation=True,
                max_length=self.max_tokens,
                return_tensors="pt",
            )
            out = self.bert(**tok, output_hidden_states=True)
            h = out.hidden_states[self.split]  # the input of layer `split`
            lengths = tok["attention_mask"].sum(1).tolist()
            for i, state, n in zip(items[s : s + batch], h, lengths, strict=True):
                self.states[i] = state[:n].clone()

    def forward(self, items: np.ndarray) -> torch.Tensor:
        """Unit vectors ``(n, dim)`` of cached ``items`` through the (trainable) top layers."""
        states = [self.states[int(i)] for i in items]
        T = max(s.shape[0] for s in states)
        h = torch.zeros(len(states), T, states[0].shape[1])
        mask = torch.zeros(len(states), T)
        for r, s in enumerate(states):
            h[r, : s.shape[0]], mask[r, : s.shape[0]] = s, 1.0
        additive = (1.0 - mask)[:, None, None, :] * torch.finfo(h.dtype).min
        for layer in self.layers:
            out = layer(h, attention_mask=additive)
            h = out[0] if isinstance(out, tuple) else out
        pooled = (h * mask[:, :, None]).sum(1) / mask.sum(1, keepdim=True)
        return nn.functional.normalize(pooled, dim=1)

    def flops_per_token(self) -> float:
        """Forward FLOPs of the top layers per token (dense layers; attention is small)."""
        return 2.0 * sum(
            m.weight.numel() for m in self.layers.modules() if isinstance(m, nn.Linear)
        )


class FineTunedItems(LMEncodedItems):
    """Item vectors from the fine-tuned top layers; new items encoded as they are released."""

    def __init__(self, world: ObservableWorld, encoder: SentenceEncoder, top: TopLayers) -> None:
        super().__init__(world, encoder)
        self.top = top

    def encode_new(self, items: np.ndarray) -> None:
        """Cache the lower-layer states of new ``items`` and encode them."""
        t0 = time.perf_counter()
        self.top.cache(items.tolist(), [item_text(self.world, int(i)) for i in items])
        self.encode(items)
        self.encoder.seconds += time.perf_counter() - t0
        self.encoder.encoded += len(items)

    @torch.no_grad()
    def encode(self, items: np.ndarray, batch: int = 256) -> None:
        """Recompute the vectors of ``items`` with the current top layers."""
        for s in range(0, len(items), batch):
            chunk = items[s : s + batch]
            self.vectors[chunk] = self.top(chunk).numpy()

    def refresh(self) -> None:
        """Re-encode every known item (after fine-tuning)."""
        self.encode(np.flatnonzero(self.known))
        self.version += 1


class LMFineTunedAgent(LMCFAgent):
    """``lm-cf`` with the encoder's top transformer layers fine-tuned end to end.

    Args:
        top_layers: How many top transformer layers are trained (the rest stay frozen).
        finetune_every_days: Days between fine-tuning rounds (at the retrain).
        finetune_steps: Adam steps per round.
        finetune_batch: Clicks per step.
        encoder_lr: Learning rate of the top layers.
        max_tokens: Truncation of item texts (tokens).
        **lm_cf: :class:`~simrec_agents.lm.cf.LMCFAgent` options (encoder, adapter, dim, ...).
    """

    name = "lm-ft"
    #: check_agent: two days (one fine-tuning round) of a 60-item catalog (each run passes
    #: it through the model), a round of 3 steps on 32 clicks of texts cut to 16 tokens.
    check_agent_settings: ClassVar[dict[str, Any]] = {
        "world.items.n_items": 60,
        "simulation.days": 2,
    }
    check_agent_params: ClassVar[dict[str, Any]] = {
        "finetune_steps": 3,
        "finetune_batch": 32,
        "max_tokens": 16,
    }
    #: A transformer encoder (checked in ``__init__``) and the items its top layers encode.
    encoder: SentenceEncoder
    items: FineTunedItems

    def __init__(
        self,
        top_layers: int = 1,
        finetune_every_days: float = 14.0,
        finetune_steps: int = 10,
        finetune_batch: int = 128,
        encoder_lr: float = 1e-4,
        max_tokens: int = 64,
        **lm_cf: Any,
    ) -> None:
        super().__init__(**lm_cf)
        check_params(
            top_layers=(top_layers, "pos_int"),
            finetune_every_days=(finetune_every_days, "pos"),
            finetune_steps=(finetune_steps, "nonneg_int"),
            finetune_batch=(finetune_batch, "pos_int"),
            encoder_lr=(encoder_lr, "pos"),
            max_tokens=(max_tokens, "pos_int"),
        )
        if not isinstance(self.encoder, SentenceEncoder):
            raise ValueError(
                f"encoder: fine-tuning needs a transformer encoder (minilm), "
                f"got {self.encoder.name!r}"
            )
        self.top_layers, self.finetune_every_days = top_layers, finetune_every_days
        self.finetune_steps, self.finetune_batch = finetune_steps, finetune_batch
        self.encoder_lr, self.max_tokens = encoder_lr, max_tokens
        self.last_finetune = -np.inf
        self.rounds = 0
        self.finetune_seconds = 0.0

    def make_items(self, world: ObservableWorld) -> FineTunedItems:
        """Items encoded by the trainable top layers over cached lower-layer states."""
        self.top = TopLayers(self.encoder, self.top_layers, self.max_tokens)
        self.encoder_opt = torch.optim.Adam(self.top.parameters(), lr=self.encoder_lr)
        return FineTunedItems(world, self.encoder, self.top)

    def fit(self, data: dict[str, np.ndarray], now: float) -> None:
        """A fine-tuning round when one is due, then ``lm-cf``'s retrain on the new vectors."""
        if self.finetune_steps and now - self.last_finetune >= self.finetune_every_days - 1e-9:
            t0 = time.perf_counter()
            self.finetune(data, now)
            self.finetune_seconds += time.perf_counter() - t0
            self.last_finetune = now
        super().fit(data, now)

    def finetune(self, data: dict[str, np.ndarray], now: float) -> None:
        """BPR steps through the top layers, the adapter and the user embeddings jointly."""
        u, i, j = self.training_pairs(data, now)
        self.items.add(np.unique(np.concatenate([i, j[:, 0]])))
        for _ in range(self.finetune_steps):
            idx = self.rng.choice(len(u), size=min(self.finetune_batch, len(u)), replace=False)
            items, inverse = np.unique(np.concatenate([i[idx], j[idx, 0]]), return_inverse=True)
            q = self.adapter(self.top(items))
            qi, qj = q[inverse[: len(idx)]], q[inverse[len(idx) :]]
            pu = self.P[torch.from_numpy(u[idx])]
            diff = (pu * (qi - qj)).sum(1)
            reg = self.weight_decay * (pu.pow(2).sum() + qi.pow(2).sum() + qj.pow(2).sum())
            loss = -nn.functional.logsigmoid(diff).mean() + reg / len(idx)
            self.opt.zero_grad()
            self.encoder_opt.zero_grad()
            loss.backward()
            self.opt.step()
            self.encoder_opt.step()
        self.items.refresh()
        self.rounds += 1

    def n_params(self) -> tuple[int, int]:
        total, trainable = super().n_params()
        return total, trainable + sum(p.numel() for p in self.top.parameters())

    def cost(self) -> Cost:
        """``lm-cf``'s ledger plus the fine-tuning rounds and their seconds."""
        base = super().cost()
        base.extra.update(
            finetune_rounds=self.rounds,
            finetune_seconds=self.finetune_seconds,
            finetuned_layers=self.top_layers,
        )
        return base
