#!/bin/bash
# lane A: after the scnas seed-0 search, the thrifty seed-0 search, the scnas placebo, then seed-0 trainings
cd /work/bench_src13/benchmarks
export OMP_NUM_THREADS=1
PY=../.venv/bin/python
$PY search_signal.py search --dataset isbi --out /work/b28 --preset scnas --seeds 0 --minutes 20 --tag trained --set strategy=trained space_settings.tie=cell "patch_size=[128,128]" > /work/b28/s_scnas0.log 2>&1
$PY search_signal.py search --dataset isbi --out /work/b28 --preset thrifty --seeds 0 --minutes 20 --tag trained_thrifty --set strategy=trained "patch_size=[128,128]" > /work/b28/s_thrifty0.log 2>&1
$PY search_signal.py search --dataset isbi --out /work/b28 --preset scnas --seeds 0 --minutes 20 --tag trained --placebo --set strategy=trained space_settings.tie=cell "patch_size=[128,128]" > /work/b28/s_scnas_placebo.log 2>&1
T="--dataset isbi --out /work/b28 --seeds 0 1 --random 5 --train-steps 150 --width 16 --train-seeds 0"
$PY search_signal.py train $T --preset scnas --tag trained --only searched_trained_seed0 searched_trained_seed1 random_trained0 random_trained1 random_trained2 random_trained3 random_trained4 placebo_trained_seed0 > /work/b28/t_scnas_ts0.log 2>&1
$PY search_signal.py train $T --preset thrifty --tag trained_thrifty --only searched_trained_thrifty_seed0 searched_trained_thrifty_seed1 random_trained_thrifty0 random_trained_thrifty1 random_trained_thrifty2 random_trained_thrifty3 random_trained_thrifty4 placebo_trained_thrifty_seed0 > /work/b28/t_thrifty_ts0.log 2>&1
echo done A
