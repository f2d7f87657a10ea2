#!/bin/bash
# One lane of equal_time.py on LA: one (network, seed, fold), 60 minutes of training, one thread, the plan's patch
# (the recipe of every LA row); seed 1's export of the 30-minute SCNAS searches by training against MONAI's UNet.
# Planned before any result (2026-12-07, stop 51): round 1 fold 0 with training seeds 0 and 1, round 2 folds 1 and 2
# with training seed 0 — the design of the ACDC 60-minute rows.
export PYTHONPATH=/work/bench_src24 OMP_NUM_THREADS=1
cd /work/bench_src24/benchmarks
/work/main/.venv/bin/python equal_time.py --dataset la --out /work/s49/eq --minutes 60 \
    --arch /work/s49/export_s1_w16.json --only $1 --train-seeds $2 --folds $3 > /work/s51/la60_$1_seed$2_fold$3.log 2>&1
