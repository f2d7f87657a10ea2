"""The weight optimiser a search or training config names."""

from __future__ import annotations

from typing import Any

import torch

from segnas.errors import SegnasError


def weight_optimizer(params: Any, cfg: Any) -> torch.optim.Optimizer:
    """Adam or SGD for the network weights, as a search or training config says."""
    if cfg.weight_optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.weight_lr, betas=tuple(cfg.weight_betas), weight_decay=cfg.weight_decay)
    if cfg.weight_optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.weight_lr, momentum=cfg.weight_momentum, weight_decay=cfg.weight_decay)
    raise SegnasError(f"unknown weight_optimizer {cfg.weight_optimizer!r}; known: adam, sgd")
