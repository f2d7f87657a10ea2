#!/bin/bash
A=/work/b23/la/search_scnas_trained_tie_seed0_placebo/runs/search_scnas_unet_trained_fold0/arch.json
while [ ! -f $A ]; do sleep 10; done
sleep 5
pkill -f placebo.sh; pkill -f "only placebo_trained_tie_seed0"
sleep 3
./lane.sh 1 > laneA_s1.log 2>&1
# the old placebo's export, if time allows
cd /work/bench_src11/benchmarks
OMP_NUM_THREADS=1 PYTHONPATH=/work/bench_src11 /work/main/.venv/bin/python search_signal.py train --dataset la --out /work/b23 --preset scnas --seeds 0 --tag trained_tie --random 5 --train-steps 1000 --width 16 --train-seeds 0 --only placebo_trained_tie_seed0 > /work/b27/laneA_oldplacebo.log 2>&1
