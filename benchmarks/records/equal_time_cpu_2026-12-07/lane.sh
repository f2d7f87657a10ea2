#!/bin/bash
# One lane of equal_time.py: pairs of (network seed), one after the other; 12 minutes of training each, one thread.
export PYTHONPATH=/work/bench_src19 OMP_NUM_THREADS=1
cd /work/bench_src19/benchmarks
LANE=$1; shift
while [ $# -ge 2 ]; do
  /work/main/.venv/bin/python equal_time.py --dataset la --out /work/s49/eq --minutes 12 \
      --arch /work/s49/export_s0_w16.json /work/s49/export_s1_w16.json --only $1 --train-seeds $2 > /work/s49/lane${LANE}_$1_seed$2.log 2>&1
  shift 2
done
