#!/bin/bash
# lane B: after the ISBI thrifty seed-1 search: LA v3 search seed 1 (empirical Bayes), then ISBI trainings (seed 1)
cd /work/bench_src14/benchmarks
export OMP_NUM_THREADS=1
PY=../.venv/bin/python
while kill -0 9967 2>/dev/null; do sleep 10; done
sleep 30
$PY search_signal.py search --dataset la --out /work/b23 --preset scnas --seeds 1 --minutes 30 --tag trained_v3 --set strategy=trained space_settings.tie=cell space_settings.stem_stride=2 cost_weight=1 "patch_size=[64,48,32]" > /work/b28/la_v3_s1.log 2>&1
T="--dataset isbi --out /work/b28 --seeds 0 1 --random 5 --train-steps 150 --width 16 --train-seeds 1"
$PY search_signal.py train $T --preset scnas --tag trained --only searched_trained_seed0 searched_trained_seed1 random_trained0 random_trained1 random_trained2 random_trained3 random_trained4 > /work/b28/t_scnas_ts1.log 2>&1
$PY search_signal.py train $T --preset thrifty --tag trained_thrifty --only searched_trained_thrifty_seed0 searched_trained_thrifty_seed1 random_trained_thrifty0 random_trained_thrifty1 random_trained_thrifty2 random_trained_thrifty3 random_trained_thrifty4 > /work/b28/t_thrifty_ts1.log 2>&1
echo done B
