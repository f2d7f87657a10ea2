"""Data parallelism with PyTorch's own `torch.distributed`, launched by `torchrun` (NCCL on GPUs, gloo on CPU).

Every rank holds the whole supernet and the strategy; each trains on its shard of the cases. After
each backward pass the gradients of weights and of architecture parameters are averaged over ranks
(a parameter that got no gradient on any rank keeps none, as in one process), so identical starting
points and identical steps keep every rank's parameters identical. Only rank 0 writes files.
With SEGNAS_DEBUG_DDP=1 the architecture parameters are compared across ranks after every step.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch._utils import _flatten_dense_tensors, _unflatten_dense_tensors

from segnas.errors import SegnasError

T = TypeVar("T")


@dataclass(frozen=True)
class Group:
    """This process's place among the ranks; a single process is rank 0 of 1."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """Whether this rank writes files and shows progress."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        """Whether there is more than one rank."""
        return self.world > 1


def setup(device: str = "auto") -> Group:
    """Join the process group that `torchrun` describes in the environment (no-op without it)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Group()
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        cuda = torch.cuda.is_available() and device != "cpu"
        if cuda:
            torch.cuda.set_device(local)
        dist.init_process_group("nccl" if cuda else "gloo")
    return Group(rank, world, local)


def device_for(group: Group, name: str) -> torch.device:
    """`auto` → this rank's GPU when there is one, else CPU."""
    if name == "auto":
        return torch.device(f"cuda:{group.local_rank}" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def shard(items: Sequence[T], group: Group) -> list[T]:
    """This rank's share of `items` (every item when there are fewer items than ranks)."""
    if len(items) < group.world:
        return list(items)
    return list(items[group.rank::group.world])


def rank_seed(seed: int, group: Group) -> int:
    """The patch-sampling seed of this rank (rank 0: `seed` itself, so one process matches a plain run)."""
    return seed + 7919 * group.rank


def average_gradients(params: Iterable[torch.nn.Parameter], group: Group) -> None:
    """Average gradients over ranks in one all-reduce; parameters without a gradient on every rank keep None."""
    if not group.active:
        return
    params = [p for p in params if p.requires_grad]
    if not params:
        return
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    flat = _flatten_dense_tensors(grads)
    present = torch.tensor([float(p.grad is not None) for p in params], device=flat.device)
    dist.all_reduce(flat)
    dist.all_reduce(present)
    for p, g, n in zip(params, _unflatten_dense_tensors(flat / group.world, grads), present.tolist()):
        p.grad = g.view_as(p) if n > 0 else None


def mean(value: float, group: Group, device: torch.device | str = "cpu") -> float:
    """Mean of a number over ranks."""
    if not group.active:
        return value
    t = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return float(t) / group.world


def broadcast(obj: T, group: Group) -> T:
    """Rank 0's `obj` on every rank."""
    if not group.active:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather(obj: Any, group: Group) -> list[Any]:
    """Every rank's `obj`, in rank order."""
    if not group.active:
        return [obj]
    out: list[Any] = [None] * group.world
    dist.all_gather_object(out, obj)
    return out


def max_difference(tensors: Iterable[torch.Tensor], group: Group) -> float:
    """Largest absolute difference between this rank's tensors and rank 0's, over all ranks (0.0 alone)."""
    if not group.active:
        return 0.0
    flat = _flatten_dense_tensors([t.detach() for t in tensors])
    ref = flat.clone()
    dist.broadcast(ref, src=0)
    diff = (flat - ref).abs().max().reshape(1).double()
    dist.all_reduce(diff, op=dist.ReduceOp.MAX)
    return float(diff)


def check_identical(tensors: Iterable[torch.Tensor], group: Group, what: str) -> None:
    """In debug mode (SEGNAS_DEBUG_DDP=1), fail if `tensors` differ between ranks."""
    if group.active and os.environ.get("SEGNAS_DEBUG_DDP") == "1":
        d = max_difference(tensors, group)
        if d != 0.0:
            raise SegnasError(f"{what} differ between ranks by {d:.3g}: data-parallel steps went out of step")


def barrier(group: Group) -> None:
    """Wait for every rank."""
    if group.active:
        dist.barrier()
