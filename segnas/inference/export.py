"""`segnas export`: a trained model as TorchScript files that run without segnas — the network alone, checked
against the eager model, and the network with its preprocessing (`segnas.inference.standalone`)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import torch

from segnas.errors import SegnasError
from segnas.inference.standalone import Standalone
from segnas.networks.model import load_model
from segnas.runtime.files import atomic_path, write_json

STANDALONE_USE = ("labels = torch.jit.load(FILE)(torch.from_numpy(nib.load(NIFTI).get_fdata(dtype='float32')), "
                  "torch.tensor(nib.load(NIFTI).header.get_zooms()[:3]))  # (X, Y, Z) on the NIfTI's grid")


def export_model(run: str | Path, out: str | Path | None = None, which: str = "best", atol: float = 1e-4) -> dict[str, Any]:
    """Trace the model of `run` on a patch-sized input and save it (default RUN/model.ts) with `model.json`
    (input channels, patch, spacing, normalisation), and beside it `model_full.ts`: the network with its
    preprocessing and sliding window (`segnas.inference.standalone`), called on a NIfTI's voxels and voxel size;
    returns the check of the network on a second, random test volume."""
    run = Path(run)
    model = load_model(run, which, device="cpu")
    net = model.net.float().eval()
    c = model.plan.in_channels
    example = torch.randn(1, c, *model.patch_size).to(memory_format=model.layout)
    with torch.no_grad(), warnings.catch_warnings():
        # shape checks (group norm's, the small-input pooling branch) freeze at trace time; the check below
        # runs the traced model on another batch size
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        traced = torch.jit.trace(net, example, check_trace=False)
    out = Path(out) if out is not None else run / "model.ts"
    with atomic_path(out) as tmp:
        torch.jit.save(traced, str(tmp))
    loaded = torch.jit.load(str(out))
    test = torch.randn(2, c, *model.patch_size, generator=torch.Generator().manual_seed(1)).to(memory_format=model.layout)
    with torch.no_grad():
        diff = float((loaded(test) - net(test)).abs().max())
    if diff > atol:
        out.unlink()
        raise SegnasError(f"{run}: the exported model differs from the eager one by {diff:.2g} (> {atol}); nothing written")
    full_path = out.with_name(out.name.removesuffix(".ts") + "_full.ts")
    with atomic_path(full_path) as tmp:
        torch.jit.save(torch.jit.script(Standalone(loaded, model.plan, model.patch_size)), str(tmp))
    info = {"file": out.name, "with_preprocessing": {"file": full_path.name, "use": STANDALONE_USE},
            "input": f"(B, {c}, {', '.join(map(str, model.patch_size))}) preprocessed as plan.json says",
            "output": f"(B, {model.plan.num_classes}, *S) logits", "modalities": model.plan.modalities,
            "labels": model.plan.labels, "target_spacing": model.plan.target_spacing,
            "normalization": model.plan.normalization, "max_abs_difference_vs_eager": diff,
            "spatial_multiples": model.multiples}
    write_json(out.with_suffix(".json"), info)
    return info
