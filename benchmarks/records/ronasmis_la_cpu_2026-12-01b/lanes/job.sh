#!/bin/bash
# job.sh NAME TRAIN_SEED SEEDARGS... : claim NAME_seedT (mkdir) and train it for 500 steps at width 16
cd /work/bench_src32/benchmarks
export OMP_NUM_THREADS=1 PYTHONPATH=/work/bench_src32
n=$1; t=$2; shift 2
mkdir /work/b32/claims/${n}_$t 2>/dev/null || exit 0
echo START $n $t $(date)
../.venv/bin/python search_signal.py train --dataset la --out /work/b32 --preset ronasmis $@ --tag trained --random 5 --train-steps 500 --width 16 --train-seeds $t --only $n > /work/b32/logs/${n}_$t.log 2>&1
echo END $n $t rc=$? $(date)
