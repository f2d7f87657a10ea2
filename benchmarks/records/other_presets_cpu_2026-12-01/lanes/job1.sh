#!/bin/bash
# job.sh DATASET PRESET TAG NAME STEPS : claim NAME (mkdir) and train it with training seed 0
cd /work/bench_src30/benchmarks
export OMP_NUM_THREADS=1
mkdir /work/b30/claims/$1_$4_ts1 2>/dev/null || exit 0
echo START $1 $4 $(date)
../.venv/bin/python search_signal.py train --dataset $1 --out /work/b30 --preset $2 --seeds 0 $6 --tag $3 --random 5 --train-steps $5 --width 16 --train-seeds 1 --only $4 > /work/b30/logs/$1_$4_ts1.log 2>&1
echo END $1 $4 rc=$? $(date)
