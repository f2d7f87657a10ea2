#!/bin/bash
# job2.sh NAME : claim NAME and train it with training seed 2 (150 steps, width 16, ISBI, thrifty)
cd /work/bench_src8/benchmarks
export OMP_NUM_THREADS=1
mkdir /work/b36/claims2/$1 2>/dev/null || exit 0
echo START $1 $(date)
../.venv/bin/python search_signal.py train --dataset isbi --out /work/b36 --preset thrifty --seeds 0 1 --tag trained_thrifty --random 5 --train-steps 150 --width 16 --train-seeds 2 --only $1 > /work/b36/logs2/$1.log 2>&1
echo END $1 rc=$? $(date)
