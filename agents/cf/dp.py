r"""Differentially private training (DP-SGD, opacus) of mf and lm-cf: ``dp-mf``, ``dp-lm-cf``.

The privacy unit is one logged **click** (event-level differential privacy): the released
model -- and so every slate served after a retrain -- changes little whether or not any one
click was in the log. (User-level privacy, a whole history per unit, is stronger and not
what is accounted here.)

Training (every retrain): ``dp_steps`` steps of DP-SGD (Abadi et al., CCS 2016) on the
BPR loss of the logged clicks, each with one sampled negative. Each step takes a **Poisson
sample** of the clicks (each in with probability ``sample_rate``), clips every click's
gradient to L2 norm ``max_grad_norm`` and adds Gaussian noise of standard deviation
:math:`\sigma \cdot` ``max_grad_norm`` to their sum (opacus' ``GradSampleModule`` for the
per-click gradients, ``DPOptimizer`` for clipping and noise, then Adam as post-processing).
The noise multiplier :math:`\sigma` is set once, before the run, by opacus'
``get_noise_multiplier`` so that all the run's steps -- ``dp_steps`` at every scheduled
retrain -- compose to the target ``(epsilon, delta)`` under the RDP accountant; the
accountant then records every step actually taken and the run reports the spent
:math:`\varepsilon` (``dp_epsilon_spent``), never above the target. ``dp_epsilon: null`` trains the
same way (same Poisson batches, same steps) without clipping or noise: the
non-private point of the same procedure.

Membership inference (Yeom et al., CSF 2018): a share ``holdout`` of the logged clicks is
never trained on. At the end of the run the loss-threshold attack scores a sample of the
trained clicks (members) and of the held-out ones (non-members) by the model's BPR loss
against a fresh uniform negative, and the run reports the attack's advantage
:math:`\max_t (\mathrm{TPR} - \mathrm{FPR})` (``mia_advantage``) and its AUC (``mia_auc``).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch
from simrec_agents.cf.base import check_params
from simrec_agents.cf.mf import MFAgent
from simrec_agents.cf.torch_util import seeded_generator
from simrec_agents.lm.cf import LMCFAgent
from torch import nn

from simrec.types import Cost, Feedback

__all__ = [
    "DPLMCFAgent",
    "DPMFAgent",
    "DPTraining",
    "membership_advantage",
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


class DPTraining:
    """The DP-SGD part shared by ``dp-mf`` and ``dp-lm-cf`` (see the module docstring).

    Mixed in before the agent it makes private: subclasses build ``self.net`` (an
    ``nn.Module`` holding every trained parameter), call :meth:`dp_setup`, and implement
    :meth:`pair_scores`.

    Args:
        dp_epsilon: Target epsilon of the whole run (``None``: the same training without
            clipping or noise).
        dp_delta: Target delta.
        max_grad_norm: Clipping norm C of each click's gradient.
        sample_rate: Poisson sampling probability q of each click per step.
        dp_steps: DP-SGD steps per retrain.
        holdout: Share of logged clicks never trained on (the attack's non-members).
        **agent: The private agent's own options (``mf``'s or ``lm-cf``'s).
    """

    def __init__(
        self,
        dp_epsilon: float | None = 4.0,
        dp_delta: float = 1e-5,
        max_grad_norm: float = 1.0,
        sample_rate: float = 0.01,
        dp_steps: int = 20,
        holdout: float = 0.2,
        **agent,
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

    def observe(self, feedback: Feedback) -> None:
        """Log the impressions, each assigned to training or to the held-out set."""
        self.dp_observe(feedback)
        super().observe(feedback)

    def fit(self, data: dict[str, np.ndarray], now: float) -> None:
        self.dp_fit(data, now)

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
        """Wrap ``self.net`` for per-click gradients and set the noise for the target."""
        from opacus import GradSampleModule
        from opacus.accountants import RDPAccountant
        from opacus.accountants.utils import get_noise_multiplier
        from opacus.optimizers import DPOptimizer

        self.kept: list[np.ndarray] = []  # per logged row: trained on (True) or held out
        self.steps_taken = 0
        self.accountant = RDPAccountant()
        params = [p for p in self.net.parameters() if p.requires_grad]
        if self.target_epsilon is None:
            self.noise_multiplier = 0.0
            self.dp_opt = torch.optim.Adam(params, lr=self.lr)
            return
        self.noise_multiplier = get_noise_multiplier(
            target_epsilon=self.target_epsilon,
            target_delta=self.dp_delta,
            sample_rate=self.sample_rate,
            steps=self.planned_steps(),
            accountant="rdp",
            alphas=ALPHAS,
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

    def dp_observe(self, feedback: Feedback) -> None:
        """Assign each new logged impression to training or to the attack's held-out set."""
        n = int(np.asarray(feedback.slates).size)
        self.kept.append(self.rng.random(n) >= self.holdout)

    def kept_clicks(self, data: dict[str, np.ndarray]) -> np.ndarray:
        """Per logged click (log order): whether it is trained on."""
        kept = np.concatenate(self.kept) if self.kept else np.zeros(0, dtype=bool)
        return kept[: len(data["click"])][data["click"]]

    def dp_fit(self, data: dict[str, np.ndarray], now: float) -> None:
        """``dp_steps`` DP-SGD steps on Poisson samples of the trained clicks."""
        u, i, j = self.training_pairs(data, now)
        keep = self.kept_clicks(data)
        u, i, j = u[keep], i[keep], j[:, 0][keep]
        if len(u) == 0:
            return
        private = self.target_epsilon is not None
        if private:
            self.dp_opt.expected_batch_size = max(1, round(self.sample_rate * len(u)))
        module = self.gsm if private else self.net
        module.train()
        for _ in range(self.dp_steps):
            idx = np.flatnonzero(self.rng.random(len(u)) < self.sample_rate)
            if private:  # the mechanism ran, with or without a sampled click
                self.accountant.step(
                    noise_multiplier=self.noise_multiplier, sample_rate=self.sample_rate
                )
            self.steps_taken += 1
            if idx.size == 0:
                continue
            pos, neg = self.pair_scores(module, u[idx], i[idx], j[idx])
            loss = -nn.functional.logsigmoid(pos - neg).mean()
            self.dp_opt.zero_grad()
            with warnings.catch_warnings():  # opacus' hooks on embeddings of integer inputs
                warnings.filterwarnings("ignore", message="Full backward hook is firing")
                loss.backward()
            self.dp_opt.step()

    @torch.no_grad()
    def attack(self) -> tuple[float, float, int, int]:
        """The loss-threshold membership attack over trained vs held-out clicks."""
        data = self.log.columns()
        c = data["click"]
        if not c.any():
            return float("nan"), float("nan"), 0, 0
        keep = self.kept_clicks(data)
        users, items = data["user"][c].astype(np.int64), data["item"][c].astype(np.int64)
        available = np.flatnonzero(self.context.world.items.available(float(data["time"].max())))
        rng = np.random.default_rng(int(self.rng.integers(0, 2**63)))
        losses = []
        for side in (keep, ~keep):
            rows = np.flatnonzero(side)
            if len(rows) > ATTACK_SAMPLE:
                rows = rng.choice(rows, ATTACK_SAMPLE, replace=False)
            neg = available[rng.integers(0, len(available), size=len(rows))]
            self.net.eval()
            pos, other = self.pair_scores(self.net, users[rows], items[rows], neg)
            losses.append((-nn.functional.logsigmoid(pos - other)).numpy())
        if min(len(x) for x in losses) == 0:
            return float("nan"), float("nan"), len(losses[0]), len(losses[1])
        adv, auc = membership_advantage(*losses)
        return adv, auc, len(losses[0]), len(losses[1])

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


class DPMFAgent(DPTraining, MFAgent):
    """``mf`` trained with DP-SGD (opacus): (epsilon, delta) per logged click, accounted.

    Options: :class:`DPTraining`'s, then :class:`~simrec_agents.cf.mf.MFAgent`'s.
    """

    name = "dp-mf"

    def build(self, n_users: int, n_items: int) -> None:
        super().build(n_users, n_items)
        net = nn.Module()
        net.users = nn.Embedding.from_pretrained(self.P.detach().clone(), freeze=False)
        net.items = nn.Embedding.from_pretrained(self.Q.detach().clone(), freeze=False)
        net.bias = nn.Embedding.from_pretrained(self.b.detach().clone()[:, None], freeze=False)
        self.net = net
        # Scoring reads P, Q and b: views of the trained embeddings.
        self.P, self.Q = net.users.weight, net.items.weight
        self.b = net.bias.weight[:, 0]
        self.dp_setup()

    def pair_scores(self, module, u, i, j) -> tuple[torch.Tensor, torch.Tensor]:
        # One call per (module, side): opacus sums a layer's per-click gradients over calls.
        m = module._module if hasattr(module, "_module") else module
        pu = m.users(torch.from_numpy(u))
        ti, tj = torch.from_numpy(i), torch.from_numpy(j)
        pos = (pu * m.items(ti)).sum(1) + m.bias(ti)[:, 0]
        neg = (pu * m.items(tj)).sum(1) + m.bias(tj)[:, 0]
        return pos, neg

    def item_factors(self, items):
        return self.net.items.weight[items], self.net.bias.weight[items, 0]


class DPLMCFAgent(DPTraining, LMCFAgent):
    """``lm-cf`` (frozen text vectors, trained adapter) trained with DP-SGD (opacus).

    Options: :class:`DPTraining`'s, then :class:`~simrec_agents.lm.cf.LMCFAgent`'s.
    """

    name = "dp-lm-cf"

    def build(self, n_users: int, n_items: int) -> None:
        super().build(n_users, n_items)
        net = nn.Module()
        net.users = nn.Embedding.from_pretrained(self.P.detach().clone(), freeze=False)
        net.adapter = self.adapter
        self.net = net
        self.P = net.users.weight
        self.dp_setup()

    def pair_scores(self, module, u, i, j) -> tuple[torch.Tensor, torch.Tensor]:
        m = module._module if hasattr(module, "_module") else module
        pu = m.users(torch.from_numpy(u))
        self.items.add(np.unique(np.concatenate([i, j])))
        qi = m.adapter(torch.from_numpy(self.items.vectors[i]))
        qj = m.adapter(torch.from_numpy(self.items.vectors[j]))
        return (pu * qi).sum(1), (pu * qj).sum(1)
