#!/bin/bash
# One lane of equal_time.py on ACDC: one (network, seed), 60 minutes of training, one thread, patch 128x128x16
# (the 60-minute ACDC run's patch); seed 1's LA export transferred unsearched, against MONAI's UNet.
export PYTHONPATH=/work/bench_src22 OMP_NUM_THREADS=1
cd /work/bench_src22/benchmarks
/work/main/.venv/bin/python equal_time.py --dataset acdc --out /work/s49/eq --minutes 60 --patch 128 128 16 \
    --arch /work/s49/export_s0_w16.json /work/s49/export_s1_w16.json --only $1 --train-seeds $2 > /work/s50/acdc60_$1_seed$2.log 2>&1
