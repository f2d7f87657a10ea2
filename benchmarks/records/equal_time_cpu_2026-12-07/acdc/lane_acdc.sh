#!/bin/bash
# One lane of equal_time.py on ACDC (the LA searches' exports transferred): pairs of (network seed), one after the
# other; 12 minutes of training each, one thread, patch 128x128x16 (as the 60-minute ACDC run trained).
export PYTHONPATH=/work/bench_src20 OMP_NUM_THREADS=1
cd /work/bench_src20/benchmarks
LANE=$1; shift
while [ $# -ge 2 ]; do
  /work/main/.venv/bin/python equal_time.py --dataset acdc --out /work/s49/eq --minutes 12 --patch 128 128 16 \
      --arch /work/s49/export_s0_w16.json /work/s49/export_s1_w16.json --only $1 --train-seeds $2 > /work/s49/acdc_lane${LANE}_$1_seed$2.log 2>&1
  shift 2
done
