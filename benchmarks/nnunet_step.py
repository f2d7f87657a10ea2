"""Seconds per training iteration of nnU-Net v2's 3d_fullres network for LA on this machine (network only:
forward, deep-supervision outputs, backward, SGD step; no data loading). Run with nnU-Net's own venv after
`nnunet_peer.py --stop-after plan` has written its plans:

    /work/nnunet_venv/bin/python benchmarks/nnunet_step.py /work/nnunet/nnUNet_preprocessed/Dataset501_LA/nnUNetPlans.json
"""

import json
import sys
import time

import torch
from dynamic_network_architectures.architectures.unet import PlainConvUNet


def main() -> None:
    threads = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    torch.set_num_threads(threads)
    config = json.load(open(sys.argv[1]))["configurations"]["3d_fullres"]
    k = config["architecture"]["arch_kwargs"]
    net = PlainConvUNet(1, k["n_stages"], k["features_per_stage"], torch.nn.Conv3d, k["kernel_sizes"], k["strides"],
                        k["n_conv_per_stage"], 2, k["n_conv_per_stage_decoder"], True, torch.nn.InstanceNorm3d,
                        {"eps": 1e-5, "affine": True}, None, None, torch.nn.LeakyReLU, {"inplace": True}, deep_supervision=True)
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.99, nesterov=True)
    x = torch.randn(config["batch_size"], 1, *config["patch_size"])
    times = []
    for _ in range(4):
        t = time.perf_counter()
        loss = sum(o.float().mean() for o in net(x))
        opt.zero_grad()
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - t)
    print(json.dumps({"threads": threads, "batch": config["batch_size"], "patch": config["patch_size"],
                      "seconds_per_iteration": [round(t, 2) for t in times]}))


if __name__ == "__main__":
    main()
