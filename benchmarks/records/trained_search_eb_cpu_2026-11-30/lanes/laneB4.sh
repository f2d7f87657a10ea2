#!/bin/bash
# lane B: after the LA v3 seed-1 search: ISBI scnas trainings, seed 1 (all), then seed 0 (searched, random0..1)
cd /work/bench_src14/benchmarks
export OMP_NUM_THREADS=1
PY=../.venv/bin/python
while kill -0 12130 2>/dev/null; do sleep 10; done
T="--dataset isbi --out /work/b28 --seeds 0 1 --random 5 --train-steps 150 --width 16"
$PY search_signal.py train $T --train-seeds 1 --preset scnas --tag trained --only searched_trained_seed0 searched_trained_seed1 random_trained0 random_trained1 random_trained2 random_trained3 random_trained4 > /work/b28/t_scnas_ts1.log 2>&1
$PY search_signal.py train $T --train-seeds 0 --preset scnas --tag trained --only searched_trained_seed0 searched_trained_seed1 random_trained0 random_trained1 > /work/b28/t_scnas_ts0_b.log 2>&1
echo done B
