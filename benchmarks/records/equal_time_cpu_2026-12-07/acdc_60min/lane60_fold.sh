#!/bin/bash
# One lane of equal_time.py on ACDC: one (network, fold), training seed 0, 60 minutes, one thread, patch 128x128x16;
# seed 1's LA export transferred unsearched, against MONAI's UNet, on folds 1 and 2 (fold 0 ran first, both seeds).
export PYTHONPATH=/work/bench_src23 OMP_NUM_THREADS=1
cd /work/bench_src23/benchmarks
/work/main/.venv/bin/python equal_time.py --dataset acdc --out /work/s49/eq --minutes 60 --patch 128 128 16 \
    --arch /work/s49/export_s1_w16.json --only $1 --train-seeds 0 --folds $2 > /work/s50/acdc60_$1_fold$2.log 2>&1
