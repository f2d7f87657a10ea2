"""Timing on this device: one op of an edge (forward + backward, with the activation memory it keeps), k `conv3`
edges run together as a found network runs them, whole training steps and forward passes; op figures cached per
device, thread count, torch version and ops revision (`CostTable`, `WORK/cost/cost_<hash>.json`). What the figures
predict is `segnas.nas.cost`.
"""

from __future__ import annotations

import hashlib
import json
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import nn

from segnas.nas.arch import ZERO
from segnas.nas.spaces.mixed import FixedEdge
from segnas.nas.spaces.ops import REVISION, SLOPE, ConvNorm, conv_norms
from segnas.networks.model import memory_format, to_device
from segnas.runtime.files import read_json, write_json

FORMAT = 1  # of the cache file


def device_info(device: torch.device) -> dict[str, Any]:
    """What a measurement depends on besides the op's name: the device (with its thread count on CPU), torch and
    the revision of segnas's ops."""
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else _cpu_name()
    return {"device": f"{device.type}:{name}", "threads": torch.get_num_threads() if device.type == "cpu" else None,
            "torch": torch.__version__, "ops": REVISION}


def _cpu_name() -> str:
    """The CPU's model name (Linux), else what `platform` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cache_name(info: dict[str, Any]) -> str:
    """File name of the cache of one device: `cost_<hash>.json`."""
    return "cost_" + hashlib.sha256(json.dumps(info, sort_keys=True).encode()).hexdigest()[:12] + ".json"


def measure_op(name: str, shape: tuple[int, ...], stride: int, device: torch.device, channels_last: bool,
               repeats: int = 3) -> tuple[float, int]:
    """(milliseconds of forward + backward, bytes kept for backward) of op `name` on an edge reading `shape`."""
    dims = len(shape) - 2
    layout = memory_format(dims, channels_last)
    edge = to_device(FixedEdge("cost", name, shape[1], dims, stride), device, layout)
    x = torch.randn(shape, device=device).contiguous(memory_format=layout).requires_grad_(True)
    y, memory = forward_counting(edge, x)
    y.sum().backward()
    return 1000 * median_seconds(lambda: edge(x).sum().backward(), device, repeats), memory


def measure_fused(k: int, shape: tuple[int, ...], stride: int, device: torch.device, channels_last: bool,
                  repeats: int = 3) -> float:
    """Milliseconds of forward + backward of k `conv3` edges reading `shape` run as a found network runs them
    together (one activation, one convolution of their stacked weights, one norm)."""
    dims = len(shape) - 2
    layout = memory_format(dims, channels_last)
    ops = [cast(ConvNorm, to_device(ConvNorm(shape[1], shape[1], dims, 3, stride), device, layout)) for _ in range(k)]
    x = torch.randn(shape, device=device).contiguous(memory_format=layout).requires_grad_(True)

    def run() -> None:
        torch.stack([y.sum() for y in conv_norms(ops, F.leaky_relu(x, SLOPE))]).sum().backward()

    run()
    return 1000 * median_seconds(run, device, repeats)


def forward_counting(module: nn.Module, x: torch.Tensor) -> tuple[Any, int]:
    """`module(x)` and the bytes it keeps for backward (every saved tensor, and the output): activation memory."""
    saved = [0]

    def pack(t: torch.Tensor) -> torch.Tensor:
        saved[0] += t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        y = module(x)
    first = y[0] if isinstance(y, (list, tuple)) else y
    return y, saved[0] + first.numel() * first.element_size()


def median_seconds(fn: Callable[[], Any], device: torch.device, repeats: int = 3, least: float = 0.05, most: int = 50) -> float:
    """Median seconds of `fn()`: at least `repeats` runs, more (up to `most`) until `least` seconds are spent, so that
    millisecond ops are not timed on one noisy sample."""
    times: list[float] = []
    while len(times) < repeats or (sum(times) < least and len(times) < most):
        _sync(device)
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class CostTable:
    """Measured (ms, bytes) per op, input shape, stride and layout on one device; `WORK/cost/cost_<hash>.json`."""

    def __init__(self, folder: Path | None, device: torch.device, channels_last: bool = True, repeats: int = 3) -> None:
        self.device, self.channels_last, self.repeats = device, channels_last, repeats
        self.info = device_info(device)
        self.path = folder / cache_name(self.info) if folder is not None else None
        self.entries: dict[str, list[float]] = {}
        if self.path is not None and self.path.is_file():
            saved = read_json(self.path)
            if saved.get("format") == FORMAT and saved.get("info") == self.info:
                self.entries = saved["entries"]
        self.measured = 0  # entries measured by this table (not read from the cache)

    def get(self, name: str, shape: tuple[int, ...], stride: int, together: int = 1) -> tuple[float, int]:
        """(ms, bytes) of op `name` at this site, measured once; with `together` = k > 1, the ms of k `conv3` edges
        reading it run as one convolution (bytes not counted: 0)."""
        if name == ZERO:
            return 0.0, 0
        key = (f"{name}{f'x{together}' if together > 1 else ''}|{'x'.join(map(str, shape))}|s{stride}|"
               f"{'cl' if self.channels_last else 'c'}")
        if key not in self.entries:
            if together > 1:
                measured = [measure_fused(together, shape, stride, self.device, self.channels_last, self.repeats), 0]
            else:
                measured = list(measure_op(name, shape, stride, self.device, self.channels_last, self.repeats))
            self.entries[key] = [round(measured[0], 4), int(measured[1])]
            self.measured += 1
        ms, memory = self.entries[key]
        return float(ms), int(memory)

    def save(self) -> None:
        """Write the cache (atomically), if it has a folder."""
        if self.path is not None:
            write_json(self.path, {"format": FORMAT, "info": self.info, "entries": self.entries})


def train_step(net: nn.Module, shape: tuple[int, ...], num_classes: int, device: torch.device, channels_last: bool,
               steps: int = 3, least: float = 0.2) -> tuple[float, int]:
    """(median milliseconds, activation bytes) of a training step (forward, cross-entropy, backward, Adam) of `net`
    on inputs of `shape`: at least `steps` steps, more until `least` seconds are spent."""
    dims = len(shape) - 2
    layout = memory_format(dims, channels_last)
    net = to_device(net, device, layout)
    opt = torch.optim.Adam(net.parameters(), 1e-4)
    x = torch.randn(shape, device=device).contiguous(memory_format=layout)
    y = torch.randint(0, num_classes, (shape[0], *shape[2:]), device=device)

    def step() -> int:
        out, memory = forward_counting(net, x)
        out = out[0] if isinstance(out, (list, tuple)) else out
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(out, y).backward()
        opt.step()
        return memory

    memory = step()
    return 1000 * median_seconds(step, device, steps, least=least), memory


def forward_seconds(net: nn.Module, shape: tuple[int, ...], device: torch.device, channels_last: bool, least: float = 0.2) -> float:
    """Median seconds of one forward pass of `net` in inference mode (as in validation) on inputs of `shape`
    (B, C, *S): one pass to warm up, then at least one more, more until `least` seconds are spent."""
    layout = memory_format(len(shape) - 2, channels_last)
    net = to_device(net, device, layout).eval()
    x = torch.randn(shape, device=device).contiguous(memory_format=layout)
    with torch.inference_mode():
        net(x)
        return median_seconds(lambda: net(x), device, repeats=1, least=least)


def train_step_ms(net: nn.Module, shape: tuple[int, ...], num_classes: int, device: torch.device, channels_last: bool,
                  steps: int = 3) -> float:
    """Median milliseconds of a training step of `net` (`train_step`)."""
    return train_step(net, shape, num_classes, device, channels_last, steps)[0]
