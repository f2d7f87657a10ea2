"""Ops keep what they promise: the 1×1×1 matrix-product path is a convolution, the norm is instance norm, and
3D networks of every space stay channels-last from input to logits (layout switches cost copies and slow kernels)."""

from __future__ import annotations

import random

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from segnas.nas.spaces import SPACES
from segnas.nas.spaces.ops import OPS, Conv3d, box_mean, norm_nd
from tests.test_spaces import _settings, _size, random_selection

CL = torch.channels_last_3d


def test_pointwise_conv_of_channels_last_input_is_the_convolution() -> None:
    torch.manual_seed(0)
    conv = Conv3d(6, 5, 1, bias=True)
    x = torch.randn(2, 6, 5, 4, 3)
    x_cl = x.to(memory_format=CL).requires_grad_()
    y = conv(x_cl)
    ref = F.conv3d(x, conv.weight, conv.bias)
    assert y.is_contiguous(memory_format=CL) and not y.is_contiguous()
    torch.testing.assert_close(y, ref)
    y.square().sum().backward()
    grad_w = conv.weight.grad.clone()
    conv.weight.grad = None
    x_co = x.clone().requires_grad_()
    F.conv3d(x_co, conv.weight, conv.bias).square().sum().backward()
    torch.testing.assert_close(grad_w, conv.weight.grad)
    torch.testing.assert_close(x_cl.grad, x_co.grad)


@pytest.mark.parametrize("size", [1, 2, 5])
@pytest.mark.parametrize("dims", [2, 3])
def test_separable_average_pool_is_torchs_without_padded_voxels(dims: int, size: int) -> None:
    torch.manual_seed(0)
    shape = (2, 3, *[size + i for i in range(dims)])
    x = torch.randn(*shape, dtype=torch.float64)
    x = (x.to(memory_format=CL) if dims == 3 else x).requires_grad_()
    y = box_mean(x)
    # torch's own pool refuses inputs smaller than its kernel: the reference pads by hand and counts real voxels
    pad = [1, 1] * dims
    pool = F.avg_pool2d if dims == 2 else F.avg_pool3d
    ref_x = x.detach().clone().requires_grad_()
    ref = pool(F.pad(ref_x, pad), 3, 1) / pool(F.pad(torch.ones_like(ref_x[:1, :1]), pad), 3, 1)
    torch.testing.assert_close(y, ref)
    assert dims == 2 or y.is_contiguous(memory_format=CL)
    w = torch.randn_like(ref)
    (y * w).sum().backward()
    (ref * w).sum().backward()
    torch.testing.assert_close(x.grad, ref_x.grad)


@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("dims", [2, 3])
def test_norm_is_affine_instance_norm(dims: int, channels_last: bool) -> None:
    """Output, input gradient and parameter gradients of torch's instance norm, in either memory layout; a
    channels-last input stays channels-last."""
    torch.manual_seed(0)
    norm = norm_nd(dims, 4)
    ref = {2: nn.InstanceNorm2d, 3: nn.InstanceNorm3d}[dims](4, affine=True)
    with torch.no_grad():
        norm.weight.uniform_(0.5, 2)
        norm.bias.uniform_(-1, 1)
    ref.load_state_dict(norm.state_dict())  # the same parameters, under the same names
    x = torch.randn(3, 4, *(6,) * dims) * 3 + 1
    layout = {2: torch.channels_last, 3: CL}[dims] if channels_last else torch.contiguous_format
    x_in, x_ref = x.clone(memory_format=layout).requires_grad_(), x.clone().requires_grad_()
    grad = torch.randn_like(x)
    y = norm(x_in)
    assert y.is_contiguous(memory_format=layout)
    torch.testing.assert_close(y, ref(x_ref), atol=1e-5, rtol=1e-5)
    (y * grad).sum().backward()
    (ref(x_ref) * grad).sum().backward()
    torch.testing.assert_close(x_in.grad, x_ref.grad, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(norm.weight.grad, ref.weight.grad, atol=1e-4, rtol=1e-5)
    torch.testing.assert_close(norm.bias.grad, ref.bias.grad, atol=1e-4, rtol=1e-5)


def _assert_channels_last(net: nn.Module, run) -> None:
    """Every 5D tensor a module returns is channels-last."""
    bad: list[str] = []

    def hook(name: str):
        def check(_m: nn.Module, _i: object, out: object) -> None:
            for t in out if isinstance(out, tuple) else (out,):
                if isinstance(t, torch.Tensor) and t.dim() == 5 and not t.is_contiguous(memory_format=CL):
                    bad.append(name or type(net).__name__)
        return check

    handles = [m.register_forward_hook(hook(n)) for n, m in net.named_modules()]
    try:
        run()
    finally:
        for h in handles:
            h.remove()
    assert not bad, f"outputs not channels-last: {sorted(set(bad))[:8]}"


@pytest.mark.parametrize("name", sorted(SPACES))
def test_3d_networks_stay_channels_last(name: str) -> None:
    space = SPACES[name]
    settings = _settings(name, 3, channels=8, in_channels=2, num_classes=3)
    x = torch.randn(1, 2, *_size(3, name)).to(memory_format=CL)
    net = space.network(space.random(seed=1, **settings)).to(memory_format=CL)
    _assert_channels_last(net, lambda: net(x))
    supernet = space.supernet(**settings).to(memory_format=CL)
    selection = random_selection(space.choices(**settings), "all", random.Random(0))
    _assert_channels_last(supernet, lambda: supernet(x, selection))


@pytest.mark.parametrize("op", sorted(set(OPS) - {"zero"}))
@pytest.mark.parametrize("stride", [1, 2])
def test_every_op_keeps_channels_last(op: str, stride: int) -> None:
    module = OPS[op](4, 3, stride).to(memory_format=CL)
    x = torch.randn(1, 4, 6, 5, 4).to(memory_format=CL)
    y = module(F.leaky_relu(x) if getattr(module, "preact", False) else x)
    assert y.is_contiguous(memory_format=CL), op


@pytest.mark.parametrize("op", sorted(set(OPS) - {"zero"}))
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("dims", [2, 3])
def test_every_op_runs_on_a_single_channel(op: str, stride: int, dims: int) -> None:
    """PC-DARTS hands each op C/K channels: at width 4 and K 4, one (a strided identity once built a 0-channel conv)."""
    module = OPS[op](1, dims, stride)
    x = torch.randn(2, 1, *(6,) * dims, requires_grad=True)
    y = module(x)
    assert y.shape == (2, 1, *(6 // stride,) * dims), op
    y.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all(), op
