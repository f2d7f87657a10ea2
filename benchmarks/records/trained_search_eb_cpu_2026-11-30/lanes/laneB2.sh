#!/bin/bash
# lane B: after the scnas seed-1 search, the thrifty seed-1 search, the thrifty placebo, then seed-1 trainings
cd /work/bench_src13/benchmarks
export OMP_NUM_THREADS=1
PY=../.venv/bin/python
while kill -0 7709 2>/dev/null; do sleep 10; done
sleep 25
$PY search_signal.py search --dataset isbi --out /work/b28 --preset thrifty --seeds 1 --minutes 20 --tag trained_thrifty --set strategy=trained space_settings.tie=cell "patch_size=[128,128]" > /work/b28/s_thrifty1.log 2>&1
$PY search_signal.py search --dataset isbi --out /work/b28 --preset thrifty --seeds 0 --minutes 20 --tag trained_thrifty --placebo --set strategy=trained space_settings.tie=cell "patch_size=[128,128]" > /work/b28/s_thrifty_placebo.log 2>&1
T="--dataset isbi --out /work/b28 --seeds 0 1 --random 5 --train-steps 150 --width 16 --train-seeds 1"
$PY search_signal.py train $T --preset scnas --tag trained --only searched_trained_seed0 searched_trained_seed1 random_trained0 random_trained1 random_trained2 random_trained3 random_trained4 placebo_trained_seed0 > /work/b28/t_scnas_ts1.log 2>&1
$PY search_signal.py train $T --preset thrifty --tag trained_thrifty --only searched_trained_thrifty_seed0 searched_trained_thrifty_seed1 random_trained_thrifty0 random_trained_thrifty1 random_trained_thrifty2 random_trained_thrifty3 random_trained_thrifty4 placebo_trained_thrifty_seed0 > /work/b28/t_thrifty_ts1.log 2>&1
echo done B
