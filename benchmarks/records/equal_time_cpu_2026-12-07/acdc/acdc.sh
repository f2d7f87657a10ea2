#!/bin/bash
# ACDC at equal wall clock: plan and preprocess once, then two lanes, the UNet beside seed 1's export, training seeds 0 and 1.
cd /work/s49
PYTHONPATH=/work/bench_src20 /work/main/.venv/bin/python -c "
import sys; sys.path.insert(0, '/work/bench_src20/benchmarks')
from pathlib import Path; from real_data import prepare; prepare('acdc', Path('/work/s49/eq'))" > /work/s49/prepare_acdc.log 2>&1
./lane_acdc.sh A monai_unet 0 export_s1_w16 1 &
./lane_acdc.sh B export_s1_w16 0 monai_unet 1 &
wait
