#!/bin/bash
# one lane: race search seed $1's pick against 7 fresh random draws (equal steps), then train the winner 1000 steps, seeds 0 and 1
S=$1
cd /work/bench_src7/benchmarks
export OMP_NUM_THREADS=1 PYTHONPATH=/work/bench_src7
PY=/work/main/.venv/bin/python
$PY search_signal.py race --dataset la --out /work/b23 --preset scnas --seeds $S --tag cost1_stem2 --race-random 7
for T in 0 1; do
  $PY search_signal.py train --dataset la --out /work/b23 --preset scnas --seeds $S --tag cost1_stem2 --random 5 --train-steps 1000 --width 16 --train-seeds $T --only raced_cost1_stem2_seed$S
done
