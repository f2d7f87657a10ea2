#!/bin/bash
# lane A: after the ISBI thrifty seed-0 search: LA v3 search seed 0 (empirical Bayes), its placebo, then ISBI trainings (seed 0)
cd /work/bench_src14/benchmarks
export OMP_NUM_THREADS=1
PY=../.venv/bin/python
while kill -0 9826 2>/dev/null; do sleep 10; done
$PY search_signal.py search --dataset la --out /work/b23 --preset scnas --seeds 0 --minutes 30 --tag trained_v3 --set strategy=trained space_settings.tie=cell space_settings.stem_stride=2 cost_weight=1 "patch_size=[64,48,32]" > /work/b28/la_v3_s0.log 2>&1
$PY search_signal.py search --dataset la --out /work/b23 --preset scnas --seeds 0 --minutes 30 --tag trained_v3 --placebo --set strategy=trained space_settings.tie=cell space_settings.stem_stride=2 cost_weight=1 "patch_size=[64,48,32]" > /work/b28/la_v3_placebo.log 2>&1
T="--dataset isbi --out /work/b28 --seeds 0 1 --random 5 --train-steps 150 --width 16 --train-seeds 0"
$PY search_signal.py train $T --preset scnas --tag trained --only searched_trained_seed0 searched_trained_seed1 random_trained0 random_trained1 random_trained2 random_trained3 random_trained4 > /work/b28/t_scnas_ts0.log 2>&1
$PY search_signal.py train $T --preset thrifty --tag trained_thrifty --only searched_trained_thrifty_seed0 searched_trained_thrifty_seed1 random_trained_thrifty0 random_trained_thrifty1 random_trained_thrifty2 random_trained_thrifty3 random_trained_thrifty4 > /work/b28/t_thrifty_ts0.log 2>&1
echo done A
