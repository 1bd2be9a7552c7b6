"""Realizations of one model trained side by side in one process.

A *group* holds K members (realizations, one per seed). The trainer (regscale.train)
sees every group the same way: a batch holds one batch per member, (K, B, C, H, W),
and the output is (K, B, n_outputs).

- :class:`FCNEnsemble`: K fully connected nets as stacked ("grouped") weights. The
  members are built one by one by models.fcn under their own seeds and stacked with
  torch.func.stack_module_state, so member k starts exactly where that seed alone would.
  The forward pass is one batched matrix product per layer (torch.baddbmm) with
  activations laid out (K, features, batch): on this project's CPU it measured 1.5 to 4
  times faster than torch.func.vmap over functional_call, whose batched linear layers
  leave the large input dimension in the slow position of the weight gradient.
- :class:`SingleModel`: any nn.Module as a group of one (ResNet-18 and the ViT: batch
  statistics do not vectorise over members, and one member already fills a GPU).

:class:`MemberAdam` is Adam / AdamW with one learning rate per member.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn
from torch.func import stack_module_state
from torch.optim.adam import adam


class FCNEnsemble:
    """K fully connected nets of one architecture (models.fcn) with stacked weights."""

    stacked = True

    def __init__(self, nets: list[nn.Sequential], device: torch.device):
        params, _ = stack_module_state(nets)
        self.size = len(nets)
        self.params = {name: p.detach().to(device).requires_grad_() for name, p in params.items()}
        linear = [index for index, module in enumerate(nets[0]) if isinstance(module, nn.Linear)]
        self.layers = [(self.params[f"{i}.weight"], self.params[f"{i}.bias"]) for i in linear]

    def parameters(self) -> list[Tensor]:
        return list(self.params.values())

    def state(self) -> dict[str, Tensor]:
        """The live weights, member axis first: what a checkpoint saves."""
        return self.params

    def member_state_dict(self, member: int) -> dict[str, Tensor]:
        """One member's weights, loadable into models.fcn of the same size."""
        return {name: p[member].detach().cpu().clone() for name, p in self.params.items()}

    @staticmethod
    def member_view(values: Tensor, like: Tensor) -> Tensor:
        """(K,) values shaped to broadcast over a stacked tensor ``like``."""
        return values.view(-1, *([1] * (like.dim() - 1)))

    def train(self, mode: bool = True) -> None:
        """No dropout or batch statistics: nothing to switch."""

    def __call__(self, x: Tensor) -> Tensor:
        """x (K, B, ...): member k sees x[k]; returns (K, B, n_outputs)."""
        h = x.flatten(2).transpose(1, 2)
        for index, (weight, bias) in enumerate(self.layers):
            h = torch.baddbmm(bias.unsqueeze(-1), weight, h)
            if index < len(self.layers) - 1:
                h = torch.relu(h)
        return h.transpose(1, 2)

    def shared(self, x: Tensor) -> Tensor:
        """x (B, ...): every member sees the same batch; returns (K, B, n_outputs)."""
        weight, bias = self.layers[0]
        # One matrix product serves all members' first layers.
        h = torch.relu(torch.matmul(weight, x.flatten(1).T) + bias.unsqueeze(-1))
        for index, (weight, bias) in enumerate(self.layers[1:]):
            h = torch.baddbmm(bias.unsqueeze(-1), weight, h)
            if index < len(self.layers) - 2:
                h = torch.relu(h)
        return h.transpose(1, 2)


class SingleModel:
    """One nn.Module as a group of one member."""

    stacked = False
    size = 1

    def __init__(self, module: nn.Module, device: torch.device):
        self.module = module.to(device)

    def parameters(self) -> list[Tensor]:
        return [p for p in self.module.parameters() if p.requires_grad]

    def state(self) -> dict[str, Tensor]:
        """Parameters and buffers (batch-norm statistics), sharing the module's storage."""
        return self.module.state_dict()

    def member_state_dict(self, member: int) -> dict[str, Tensor]:
        return {name: t.detach().cpu().clone() for name, t in self.module.state_dict().items()}

    @staticmethod
    def member_view(values: Tensor, like: Tensor) -> Tensor:
        return values.reshape(())

    def train(self, mode: bool = True) -> None:
        self.module.train(mode)

    def __call__(self, x: Tensor) -> Tensor:
        return self.module(x[0]).unsqueeze(0)

    def shared(self, x: Tensor) -> Tensor:
        return self.module(x).unsqueeze(0)


class MemberAdam:
    """Adam, or AdamW (decoupled weight decay), with one learning rate per member.

    torch's fused Adam kernel takes one rate per call, while a plateau schedule gives every
    member its own. So the kernel, run once over the stacked tensors, writes the unit step
    -m_hat / (sqrt(v_hat) + eps) into a scratch buffer (rate 1), and each member's weights
    then move by its own rate times its slice of that step: per member the arithmetic of
    torch.optim.Adam(W), whatever the other members do. (Calling the kernel per member
    instead is 2 to 4 times slower for small nets.) A member whose rate is 0 (stopped or
    diverged) does not move; :meth:`reset` clears the moments of a diverged one, so that
    its NaNs cannot reach its weights.
    """

    def __init__(self, group, kind: str, weight_decay: float, betas=(0.9, 0.999), eps: float = 1e-8):
        if kind not in ("adam", "adamw"):
            raise ValueError(f"unknown optimizer {kind!r}; expected adam or adamw")
        self.group = group
        self.decoupled = kind == "adamw"
        self.weight_decay = weight_decay
        self.betas = betas
        self.eps = eps
        self.params = group.parameters()
        device = self.params[0].device
        self.fused = device.type in ("cpu", "cuda")
        self.exp_avg = [torch.zeros_like(p) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in self.params]
        self.unit_step = [torch.zeros_like(p) for p in self.params]
        # One counter per tensor, as the kernel wants; the members step together.
        self.steps = [torch.zeros((), dtype=torch.float32, device=device) for _ in self.params]
        self.lr = torch.zeros(group.size, dtype=torch.float32, device=device)
        self.lr_views = [group.member_view(self.lr, p) for p in self.params]
        self._rates = np.zeros(group.size)

    def set_lr(self, rates) -> None:
        """Per-member rates (K,); 0 for a member that must not move."""
        rates = np.asarray(rates, dtype=float).reshape(-1)
        if not np.array_equal(rates, self._rates):
            # non_blocking: a per-step schedule sets rates every step, and a blocking
            # host-to-GPU copy would wait for all queued work each time.
            self.lr.copy_(torch.from_numpy(rates), non_blocking=True)
            self._rates = rates

    @torch.no_grad()
    def step(self) -> None:
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in self.params]
        if self.weight_decay and self.decoupled:
            for p, lr in zip(self.params, self.lr_views):
                p.addcmul_(p, lr, value=-self.weight_decay)
        elif self.weight_decay:
            for p, g in zip(self.params, grads):
                g.add_(p, alpha=self.weight_decay)
        for buffer in self.unit_step:
            buffer.zero_()
        adam(
            self.unit_step,
            grads,
            self.exp_avg,
            self.exp_avg_sq,
            [],
            self.steps,
            fused=self.fused,
            amsgrad=False,
            beta1=self.betas[0],
            beta2=self.betas[1],
            lr=1.0,
            weight_decay=0.0,
            eps=self.eps,
            maximize=False,
        )
        for p, unit, lr in zip(self.params, self.unit_step, self.lr_views):
            p.addcmul_(unit, lr)
            p.grad = None

    @torch.no_grad()
    def reset(self, members: Tensor) -> None:
        """Clear the moments of the given members (bool (K,)), e.g. after a NaN."""
        for moment in self.exp_avg + self.exp_avg_sq:
            moment.copy_(torch.where(self.group.member_view(members, moment), 0.0, moment))

    def state_dict(self) -> dict:
        return {"exp_avg": self.exp_avg, "exp_avg_sq": self.exp_avg_sq, "steps": self.steps}

    @torch.no_grad()
    def load_state_dict(self, state: dict) -> None:
        for key in ("exp_avg", "exp_avg_sq", "steps"):
            for mine, saved in zip(getattr(self, key), state[key]):
                mine.copy_(saved)
