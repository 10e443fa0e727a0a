r"""Differentially private training (DP-SGD, opacus): dp-mf, dp-lm-cf, dp-seq and dp-lm-seq.

Training (every retrain): ``dp_steps`` steps of DP-SGD (Abadi et al., CCS 2016). Each step
takes a **Poisson sample** of the privacy units (each in with probability ``sample_rate``),
clips every unit's gradient to L2 norm ``max_grad_norm`` and adds Gaussian noise of standard
deviation :math:`\sigma \cdot` ``max_grad_norm`` to their sum (opacus' ``GradSampleModule``
for the per-unit gradients, ``DPOptimizer`` for clipping and noise, then Adam as
post-processing). The noise multiplier :math:`\sigma` is set once, before the run, by opacus'
``get_noise_multiplier`` so that all the run's steps -- ``dp_steps`` at every scheduled
retrain -- compose to the target ``(epsilon, delta)`` under the RDP accountant; the
accountant then records every step actually taken and the run reports the spent
:math:`\varepsilon` (``dp_epsilon_spent``), never above the target. ``dp_epsilon: null``
trains the same way (same Poisson batches, same steps) without clipping or noise: the
non-private point of the same procedure.

The privacy unit:

* ``dp-mf``, ``dp-lm-cf`` -- one logged **click** (event-level privacy): the BPR loss of the
  click against one sampled negative. The released model changes little whether or not any
  one click was in the log; a user's whole history is *not* what is protected.
* ``dp-seq``, ``dp-lm-seq`` -- one **user** (user-level privacy, the stronger notion): the
  unit's loss is the mean next-click loss over the positions of the user's sequence (their
  last ``max_len + 1`` clicks at the retrain), so everything the user clicked enters each
  step through one clipped gradient. The attention layers are opacus'
  ``DPMultiheadAttention`` (per-user gradients of its q/k/v projections) with the weights
  ``seq`` would start from, and the item-ID table an ``nn.Embedding``.

Membership inference (Yeom et al., CSF 2018): a share ``holdout`` of the units (clicks, or
users) is never trained on. At the end of the run the loss-threshold attack scores a sample
of the trained units (members) and of the held-out ones (non-members) by the model's loss
against fresh uniform negatives, and the run reports the attack's advantage
:math:`\max_t (\mathrm{TPR} - \mathrm{FPR})` (``mia_advantage``) and its AUC (``mia_auc``).
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable
from typing import Any, ClassVar, cast

import numpy as np
import torch
from simrec_agents.cf.base import CFAgent, check_params
from simrec_agents.cf.mf import MFAgent
from simrec_agents.cf.torch_util import seeded_generator
from simrec_agents.lm.cf import LMCFAgent
from simrec_agents.lm.seq import (
    IDEmbedding,
    LMSeqAgent,
    SeqAgent,
    click_sequences,
    sequence_users,
)
from torch import nn

from simrec.types import Cost, Feedback

__all__ = [
    "ClickDP",
    "DPLMCFAgent",
    "DPLMSeqAgent",
    "DPMFAgent",
    "DPSeqAgent",
    "DPTraining",
    "membership_advantage",
    "noise_multiplier",
]

#: Renyi orders of the RDP accountant: opacus' defaults and larger ones, where the optimum
#: lies for small epsilon (used both to set the noise and to report the spent epsilon).
ALPHAS = (
    [1 + x / 10.0 for x in range(1, 100)] + list(range(12, 64)) + [80, 96, 128, 192, 256, 512, 1024]
)

#: Most clicks of each side the membership attack scores at the end of a run.
ATTACK_SAMPLE = 4000


def membership_advantage(member_loss: np.ndarray, other_loss: np.ndarray) -> tuple[float, float]:
    """Loss-threshold attack: (max over thresholds of TPR - FPR, AUC), lower loss = member.

    >>> membership_advantage(np.array([0.1, 0.2]), np.array([0.3, 0.4]))
    (1.0, 1.0)
    """
    scores = np.concatenate([-member_loss, -other_loss])
    truth = np.concatenate([np.ones(len(member_loss)), np.zeros(len(other_loss))])
    order = np.argsort(-scores, kind="stable")
    tpr = np.cumsum(truth[order]) / max(len(member_loss), 1)
    fpr = np.cumsum(1 - truth[order]) / max(len(other_loss), 1)
    advantage = float(max(0.0, (tpr - fpr).max()))
    ranks = np.empty(len(scores))
    ranks[np.argsort(scores, kind="stable")] = np.arange(1, len(scores) + 1)
    n1, n0 = len(member_loss), len(other_loss)
    auc = float((ranks[truth == 1].sum() - n1 * (n1 + 1) / 2) / max(n1 * n0, 1))
    return advantage, auc


@functools.lru_cache(maxsize=64)
def noise_multiplier(epsilon: float, delta: float, sample_rate: float, steps: int) -> float:
    """The noise multiplier of ``steps`` Poisson-sampled steps at (``epsilon``, ``delta``).

    Opacus' search under the RDP accountant over :data:`ALPHAS`: a second or two, kept per
    settings (every run of a sweep asks the same).
    """
    from opacus.accountants.utils import get_noise_multiplier

    return get_noise_multiplier(
        target_epsilon=epsilon,
        target_delta=delta,
        sample_rate=sample_rate,
        steps=steps,
        accountant="rdp",
        alphas=ALPHAS,
    )


class DPTraining(CFAgent):
    """The DP-SGD part shared by every private agent (see the module docstring).

    Mixed in before the agent it makes private: subclasses build ``self.net`` (an
    ``nn.Module`` holding every trained parameter), call :meth:`dp_setup`, train through
    :meth:`dp_train` and implement :meth:`attack`. (A :class:`CFAgent` itself, so that the
    agent's parts it uses are typed; the private agents' method resolution order is the
    same.)

    Args:
        dp_epsilon: Target epsilon of the whole run (``None``: the same training without
            clipping or noise).
        dp_delta: Target delta.
        max_grad_norm: Clipping norm C of each unit's gradient.
        sample_rate: Poisson sampling probability q of each unit per step.
        dp_steps: DP-SGD steps per retrain.
        holdout: Share of the units never trained on (the attack's non-members).
        **agent: The private agent's own options.
    """

    #: check_agent: 5 DP-SGD steps per retrain (the accounting and the steps are the same
    #: code at any count).
    check_agent_params: ClassVar[dict[str, Any]] = {"dp_steps": 5}
    #: Built by the private agent: the module holding every trained parameter.
    net: nn.Module
    #: The private agent's Adam learning rate.
    lr: float
    #: The whole-run totals :meth:`privacy_report` adds to a run's results, where they are
    #: named ``agent.<name>`` (report options may name them: simrec.preflight checks).
    run_totals: ClassVar[tuple[str, ...]] = (
        "dp_epsilon_spent",
        "dp_epsilon_target",
        "dp_delta",
        "dp_noise_multiplier",
        "dp_steps_taken",
        "mia_advantage",
        "mia_auc",
        "mia_members",
        "mia_nonmembers",
    )

    def __init__(
        self,
        dp_epsilon: float | None = 4.0,
        dp_delta: float = 1e-5,
        max_grad_norm: float = 1.0,
        sample_rate: float = 0.01,
        dp_steps: int = 20,
        holdout: float = 0.2,
        **agent: Any,
    ) -> None:
        super().__init__(**agent)
        epsilon, delta = dp_epsilon, dp_delta
        if epsilon is not None:
            check_params(dp_epsilon=(epsilon, "pos"))
        check_params(
            dp_delta=(delta, "prob"),
            max_grad_norm=(max_grad_norm, "pos"),
            sample_rate=(sample_rate, "prob"),
            dp_steps=(dp_steps, "pos_int"),
            holdout=(holdout, "prob"),
        )
        if not 0 < sample_rate < 1:
            raise ValueError(f"sample_rate: expected a number in (0, 1), got {sample_rate!r}")
        if not 0 < delta < 1:
            raise ValueError(f"dp_delta: expected a number in (0, 1), got {delta!r}")
        self.target_epsilon, self.dp_delta, self.max_grad_norm = epsilon, delta, max_grad_norm
        self.sample_rate, self.dp_steps, self.holdout = sample_rate, dp_steps, holdout

    def cost(self) -> Cost:
        """The agent's cost report with the privacy report as run totals."""
        base = super().cost()
        return Cost(
            params=base.params,
            trainable_params=base.trainable_params,
            extra=dict(base.extra) | {"totals": self.privacy_report()},
        )

    def planned_steps(self) -> int:
        """DP-SGD steps of the whole run if every scheduled retrain trains (an upper bound)."""
        ctx = self.context
        days = ctx.config.simulation.days if ctx.config is not None else 1
        every = ctx.retrain_every_days or days
        return self.dp_steps * max(1, math.ceil(days / every))

    def dp_setup(self) -> None:
        """Wrap ``self.net`` for per-unit gradients and set the noise for the target."""
        from opacus import GradSampleModule
        from opacus.accountants import RDPAccountant
        from opacus.optimizers import DPOptimizer

        self.steps_taken = 0
        self.accountant = RDPAccountant()
        params = [p for p in self.net.parameters() if p.requires_grad]
        self.dp_opt: torch.optim.Optimizer  # opacus' DPOptimizer around Adam when private
        if self.target_epsilon is None:
            self.noise_multiplier = 0.0
            self.dp_opt = torch.optim.Adam(params, lr=self.lr)
            return
        self.noise_multiplier = noise_multiplier(
            self.target_epsilon, self.dp_delta, self.sample_rate, self.planned_steps()
        )
        self.gsm = GradSampleModule(self.net, loss_reduction="mean")
        self.dp_opt = DPOptimizer(
            torch.optim.Adam(params, lr=self.lr),
            noise_multiplier=self.noise_multiplier,
            max_grad_norm=self.max_grad_norm,
            expected_batch_size=1,
            loss_reduction="mean",
            generator=seeded_generator(self.rng),
        )

    def dp_train(self, n: int, loss: Callable[[nn.Module, np.ndarray], torch.Tensor]) -> None:
        """``dp_steps`` DP-SGD steps, each on a Poisson sample of the ``n`` trained units.

        Args:
            n: Number of units trained on at this retrain (rows ``0 .. n - 1``).
            loss: ``loss(module, rows)``: the mean over ``rows`` of each unit's own loss,
                computed through ``module`` (the per-unit gradient wrapper when private).
        """
        private = self.target_epsilon is not None
        if private:  # a DPOptimizer (dp_setup); opacus ships no types
            self.dp_opt.expected_batch_size = max(1, round(self.sample_rate * n))  # type: ignore[attr-defined]
        module = self.gsm if private else self.net
        module.train()
        for _ in range(self.dp_steps):
            idx = np.flatnonzero(self.rng.random(n) < self.sample_rate)
            if private:  # the mechanism ran, with or without a sampled unit
                self.accountant.step(
                    noise_multiplier=self.noise_multiplier, sample_rate=self.sample_rate
                )
            self.steps_taken += 1
            if idx.size == 0:
                continue
            value = loss(module, idx)
            self.dp_opt.zero_grad()
            with warnings.catch_warnings():  # opacus' hooks on embeddings of integer inputs
                warnings.filterwarnings("ignore", message="Full backward hook is firing")
                value.backward()
            self.dp_opt.step()

    def attack_units(
        self, data: dict[str, np.ndarray]
    ) -> tuple[np.ndarray, Callable[[np.ndarray, np.random.Generator], np.ndarray]]:
        """The attack's units in the log: (trained on, per unit), and their losses.

        Returns:
            ``(kept, losses)``: ``kept[r]`` whether unit ``r`` was trained on, and
            ``losses(rows, rng)`` the model's loss of each unit in ``rows`` against fresh
            uniform negatives drawn from ``rng``.
        """
        raise NotImplementedError

    @torch.no_grad()
    def attack(self) -> tuple[float, float, int, int]:
        """The loss-threshold membership attack: (advantage, AUC, members, non-members).

        Scores up to :data:`ATTACK_SAMPLE` trained units (members) and as many held-out ones
        by their loss; NaN when either side is empty.
        """
        data = self.log.columns()
        if not data["click"].any():
            return float("nan"), float("nan"), 0, 0
        kept, unit_losses = self.attack_units(data)
        rng = np.random.default_rng(int(self.rng.integers(0, 2**63)))
        self.net.eval()
        losses: list[np.ndarray] = []
        for side in (kept, ~kept):
            rows = np.flatnonzero(side)
            if len(rows) > ATTACK_SAMPLE:
                rows = rng.choice(rows, ATTACK_SAMPLE, replace=False)
            losses.append(unit_losses(rows, rng) if len(rows) else np.zeros(0))
        members, others = losses
        if min(len(members), len(others)) == 0:
            return float("nan"), float("nan"), len(members), len(others)
        adv, auc = membership_advantage(members, others)
        return adv, auc, len(members), len(others)

    def privacy_report(self) -> dict[str, float]:
        """Spent epsilon, the settings and the attack, as run totals."""
        spent = (
            self.accountant.get_epsilon(self.dp_delta, alphas=ALPHAS)
            if self.target_epsilon is not None and self.steps_taken
            else (0.0 if self.target_epsilon is not None else math.inf)
        )
        adv, auc, members, others = self.attack()
        return {
            "dp_epsilon_spent": float(spent),
            "dp_epsilon_target": math.inf
            if self.target_epsilon is None
            else float(self.target_epsilon),
            "dp_delta": float(self.dp_delta),
            "dp_noise_multiplier": float(self.noise_multiplier),
            "dp_steps_taken": float(self.steps_taken),
            "mia_advantage": adv,
            "mia_auc": auc,
            "mia_members": float(members),
            "mia_nonmembers": float(others),
        }


class ClickDP(DPTraining, MFAgent):
    """Event-level DP-SGD on the BPR loss of logged clicks (``dp-mf``, ``dp-lm-cf``).

    Subclasses implement :meth:`pair_scores`. (An :class:`MFAgent`: the ``mf`` training
    pairs; the private agents' method resolution order is the same.)
    """

    def dp_setup(self) -> None:
        super().dp_setup()
        self.kept = GrowingMask()  # per logged impression: trained on (True) or held out

    def observe(self, feedback: Feedback) -> None:
        """Log the impressions, each assigned to training or to the held-out set."""
        n = int(np.asarray(feedback.slates).size)
        self.kept.extend(self.rng.random(n) >= self.holdout)
        super().observe(feedback)

    def kept_clicks(self, data: dict[str, np.ndarray]) -> np.ndarray:
        """Per logged click (log order): whether it is trained on."""
        return self.kept.view()[: len(data["click"])][data["click"]]

    def fit(self, data: dict[str, np.ndarray], now: float) -> None:
        u, i, j = self.training_pairs(data, now)
        keep = self.kept_clicks(data)
        u, i, j = u[keep], i[keep], j[:, 0][keep]
        if len(u) == 0:
            return

        def loss(module: nn.Module, idx: np.ndarray) -> torch.Tensor:
            pos, neg = self.pair_scores(module, u[idx], i[idx], j[idx])
            return -nn.functional.logsigmoid(pos - neg).mean()

        self.dp_train(len(u), loss)

    def pair_scores(
        self, module: nn.Module, u: np.ndarray, i: np.ndarray, j: np.ndarray
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Scores of (user, clicked item) and (user, negative item) pairs through ``module``."""
        raise NotImplementedError

    def attack_units(
        self, data: dict[str, np.ndarray]
    ) -> tuple[np.ndarray, Callable[[np.ndarray, np.random.Generator], np.ndarray]]:
        """The logged clicks: BPR loss against one uniform negative each."""
        c = data["click"]
        users, items = data["user"][c].astype(np.int64), data["item"][c].astype(np.int64)
        available = np.flatnonzero(self.context.world.items.available(float(data["time"].max())))

        def losses(rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
            neg = available[rng.integers(0, len(available), size=len(rows))]
            pos, other = self.pair_scores(self.net, users[rows], items[rows], neg)
            return (-nn.functional.logsigmoid(pos - other)).numpy()

        return self.kept_clicks(data), losses


class GrowingMask:
    """A boolean array appended to in chunks, with amortised O(1) appends.

    >>> m = GrowingMask()
    >>> m.extend(np.array([True, False])); m.extend(np.array([True]))
    >>> m.view().tolist()
    [True, False, True]
    """

    def __init__(self) -> None:
        self.data = np.zeros(1024, dtype=bool)
        self.n = 0

    def extend(self, values: np.ndarray) -> None:
        """Append ``values``."""
        need = self.n + len(values)
        if need > len(self.data):
            grown = np.zeros(max(need, 2 * len(self.data)), dtype=bool)
            grown[: self.n] = self.data[: self.n]
            self.data = grown
        self.data[self.n : need] = values
        self.n = need

    def view(self) -> np.ndarray:
        """The values appended so far (a view: valid until the next append)."""
        return self.data[: self.n]


class _MFNet(nn.Module):
    """``dp-mf``'s trained parameters as embeddings (opacus computes their per-click gradients).

    User vectors, item vectors and item biases; no forward of its own.
    """

    def __init__(self, users: nn.Embedding, items: nn.Embedding, bias: nn.Embedding) -> None:
        super().__init__()
        self.users, self.items, self.bias = users, items, bias


class DPMFAgent(ClickDP, MFAgent):
    """``mf`` trained with DP-SGD (opacus): (epsilon, delta) per logged click, accounted.

    Options: :class:`DPTraining`'s, then :class:`~simrec_agents.cf.mf.MFAgent`'s.
    """

    name = "dp-mf"
    net: _MFNet

    def build(self, n_users: int, n_items: int) -> None:
        super().build(n_users, n_items)
        net = _MFNet(
            nn.Embedding.from_pretrained(self.P.detach().clone(), freeze=False),
            nn.Embedding.from_pretrained(self.Q.detach().clone(), freeze=False),
            nn.Embedding.from_pretrained(self.b.detach().clone()[:, None], freeze=False),
        )
        self.net = net
        # Scoring reads P, Q and b: views of the trained embeddings.
        self.P: torch.Tensor = net.users.weight
        self.Q: torch.Tensor = net.items.weight
        self.b: torch.Tensor = net.bias.weight[:, 0]
        self.dp_setup()

    def pair_scores(
        self, module: nn.Module, u: np.ndarray, i: np.ndarray, j: np.ndarray
    ) -> tuple[torch.Tensor, torch.Tensor]:
        # One call per (module, side): opacus sums a layer's per-click gradients over calls.
        # ``module`` is the net, or opacus' wrapper of it (the net is its ``_module``).
        m = cast(_MFNet, module._module if hasattr(module, "_module") else module)
        pu = m.users(torch.from_numpy(u))
        ti, tj = torch.from_numpy(i), torch.from_numpy(j)
        pos = (pu * m.items(ti)).sum(1) + m.bias(ti)[:, 0]
        neg = (pu * m.items(tj)).sum(1) + m.bias(tj)[:, 0]
        return pos, neg

    def item_factors(self, items: torch.Tensor | slice) -> tuple[torch.Tensor, torch.Tensor]:
        return self.net.items.weight[items], self.net.bias.weight[items, 0]


class _LMCFNet(nn.Module):
    """``dp-lm-cf``'s trained parameters: the user embedding and the item adapter.

    opacus computes their per-click gradients; no forward of its own.
    """

    def __init__(self, users: nn.Embedding, adapter: nn.Module) -> None:
        super().__init__()
        self.users, self.adapter = users, adapter


class DPLMCFAgent(ClickDP, LMCFAgent):
    """``lm-cf`` (frozen text vectors, trained adapter) trained with DP-SGD (opacus).

    Options: :class:`DPTraining`'s, then :class:`~simrec_agents.lm.cf.LMCFAgent`'s.
    """

    name = "dp-lm-cf"
    net: _LMCFNet

    def build(self, n_users: int, n_items: int) -> None:
        super().build(n_users, n_items)
        net = _LMCFNet(
            nn.Embedding.from_pretrained(self.P.detach().clone(), freeze=False), self.adapter
        )
        self.net = net
        self.P: torch.Tensor = net.users.weight
        self.dp_setup()

    def pair_scores(
        self, module: nn.Module, u: np.ndarray, i: np.ndarray, j: np.ndarray
    ) -> tuple[torch.Tensor, torch.Tensor]:
        # ``module`` is the net, or opacus' wrapper of it (the net is its ``_module``).
        m = cast(_LMCFNet, module._module if hasattr(module, "_module") else module)
        pu = m.users(torch.from_numpy(u))
        self.items.add(np.unique(np.concatenate([i, j])))
        qi = m.adapter(torch.from_numpy(self.items.vectors[i]))
        qj = m.adapter(torch.from_numpy(self.items.vectors[j]))
        return (pu * qi).sum(1), (pu * qj).sum(1)


def causal_attention(attn: nn.MultiheadAttention) -> nn.Module:
    """A per-user-gradient copy of ``seq``'s attention layer (same weights).

    opacus' ``DPMultiheadAttention`` holds q/k/v/output projections as ``nn.Linear`` layers,
    whose per-sample gradients opacus computes; its own forward (opacus 1.6) checks a 2-D or
    3-D ``attn_mask`` against the batch size rather than the sequence length when
    ``batch_first``, so this subclass computes the attention itself: the same arithmetic as
    ``nn.MultiheadAttention`` with a ``(B * heads, L, S)`` mask, boolean or additive.
    """
    from opacus.layers import DPMultiheadAttention

    class CausalDPAttention(DPMultiheadAttention):
        def forward(
            self,
            query: torch.Tensor,
            key: torch.Tensor,
            value: torch.Tensor,
            key_padding_mask: torch.Tensor | None = None,
            need_weights: bool = False,
            attn_mask: torch.Tensor | None = None,
            is_causal: bool = False,
        ) -> tuple[torch.Tensor, None]:
            if key_padding_mask is not None or need_weights or is_causal:
                raise NotImplementedError("only attn_mask is supported")
            B, L, E = query.shape
            h = self.num_heads
            q, k, v = (
                lin(x).view(B, -1, h, E // h).transpose(1, 2)
                for lin, x in ((self.qlinear, query), (self.klinear, key), (self.vlinear, value))
            )
            w = (q * (E // h) ** -0.5) @ k.transpose(-1, -2)
            if attn_mask is not None:  # nn.TransformerEncoder passes it additive (0 / -inf)
                mask = attn_mask.view(B, h, L, -1)
                w = w.masked_fill(mask, float("-inf")) if mask.dtype == torch.bool else w + mask
            out = self.dropout(w.softmax(-1)) @ v
            return self.out_proj(out.transpose(1, 2).reshape(B, L, E)), None

    dp = CausalDPAttention(attn.embed_dim, attn.num_heads, dropout=attn.dropout, batch_first=True)
    dp.load_state_dict(attn.state_dict())
    return dp


class TableEmbedding(nn.Module):
    """``seq``'s item-ID table as an ``nn.Embedding`` (opacus computes its per-user gradients).

    Args:
        ids: The :class:`~simrec_agents.lm.seq.IDEmbedding` to copy (its rows, padding last).
    """

    def __init__(self, ids: IDEmbedding) -> None:
        super().__init__()
        self.table = nn.Embedding.from_pretrained(ids.table.detach().clone(), freeze=False)
        self.n_items = ids.n_items

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """Embeddings of ``ids`` (any shape); -1 is the padding row."""
        return self.table(torch.where(ids < 0, self.n_items, ids))


class DPSeqAgent(DPTraining, SeqAgent):
    """``seq`` trained with DP-SGD (opacus): (epsilon, delta) per **user**, accounted.

    The unit of sampling, clipping and membership is a user's click sequence; the default
    ``sample_rate`` is 0.05 of the users a step (users are fewer than clicks). ``epochs``,
    ``batch_size`` and ``max_users`` of ``seq`` are not used: ``dp_steps`` Poisson-sampled
    steps replace them.

    Options: :class:`DPTraining`'s, then :class:`~simrec_agents.lm.seq.SeqAgent`'s.
    """

    name = "dp-seq"

    def __init__(self, sample_rate: float = 0.05, **options: Any) -> None:
        super().__init__(sample_rate=sample_rate, **options)

    def build(self, n_users: int, n_items: int) -> None:
        super().build(n_users, n_items)
        model = self.model
        if isinstance(model.item_embed, IDEmbedding):
            model.item_embed = TableEmbedding(model.item_embed)
        for layer in model.blocks.layers:  # the same starting weights, per-user gradients
            layer.self_attn = causal_attention(layer.self_attn)
        model.batched_positions = True  # position rows per user: a per-user gradient
        self.net = model
        self.kept_users = self.rng.random(n_users) >= self.holdout
        self.dp_setup()

    def sequences(self, data: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(users, inputs, targets) of every user with two clicks or more, in user order."""
        return sequence_users(data), *click_sequences(data, self.max_len)

    def user_losses(
        self, module: nn.Module, x: np.ndarray, y: np.ndarray, neg: np.ndarray
    ) -> torch.Tensor:
        """Each user's mean binary cross-entropy over their positions (next click vs a negative)."""
        xt, yt, negt = torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(neg)
        h = module(xt)
        embed = self.model.item_embed
        pos_logit = (h * embed(yt)).sum(-1)
        neg_logit = (h * embed(negt)).sum(-1)
        bce = nn.functional.softplus(-pos_logit) + nn.functional.softplus(neg_logit)
        mask = (yt >= 0).to(bce.dtype)
        return (bce * mask).sum(1) / mask.sum(1).clamp(min=1.0)

    def fit(self, data: dict[str, np.ndarray], now: float) -> None:
        users, inputs, targets = self.sequences(data)
        keep = self.kept_users[users]
        inputs, targets = inputs[keep], targets[keep]
        if len(inputs) == 0:
            return
        available = np.flatnonzero(self.context.world.items.available(now))

        def loss(module: nn.Module, idx: np.ndarray) -> torch.Tensor:
            neg = available[self.rng.integers(0, len(available), size=targets[idx].shape)]
            return self.user_losses(module, inputs[idx], targets[idx], neg).mean()

        with torch.random.fork_rng():  # dropout draws from a seeded, private stream
            torch.manual_seed(int(self.rng.integers(0, 2**62)))
            self.dp_train(len(inputs), loss)

    def attack_units(
        self, data: dict[str, np.ndarray]
    ) -> tuple[np.ndarray, Callable[[np.ndarray, np.random.Generator], np.ndarray]]:
        """The users with a sequence: mean loss over their positions, a negative at each."""
        users, inputs, targets = self.sequences(data)
        available = np.flatnonzero(self.context.world.items.available(float(data["time"].max())))

        def losses(rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
            neg = available[rng.integers(0, len(available), size=targets[rows].shape)]
            return self.user_losses(self.net, inputs[rows], targets[rows], neg).numpy()

        return self.kept_users[users], losses


class DPLMSeqAgent(DPSeqAgent, LMSeqAgent):
    """``lm-seq`` (frozen text vectors, trained adapter and transformer) trained with DP-SGD.

    Options: :class:`DPSeqAgent`'s, then :class:`~simrec_agents.lm.seq.LMSeqAgent`'s.
    """

    name = "dp-lm-seq"
