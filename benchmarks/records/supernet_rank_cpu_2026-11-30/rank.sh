#!/bin/bash
# supernet_rank over a finished LA search: the five draws, the all-conv3 network, the searched and placebo networks
S=$1   # search folder name under /work/b23/la, e.g. search_scnas_cost1_stem2_seed0
OUTJ=$2
cd /work/bench_src6/benchmarks
export OMP_NUM_THREADS=1 PYTHONPATH=/work/bench_src6
L=/work/b23/la
A="conv3_r0=/work/b25/conv3_r0.json"
for i in 0 1 2 3 4; do A="$A random_cost1_stem2$i=$L/random/scnas_cost1_stem2_$i.json"; done
A="$A searched_cost1_stem2_seed0=$(ls $L/search_scnas_cost1_stem2_seed0/runs/*/arch.json) searched_cost1_stem2_seed1=$(ls $L/search_scnas_cost1_stem2_seed1/runs/*/arch.json)"
A="$A placebo_cost1_stem2_seed0=$(ls $L/search_scnas_cost1_stem2_seed0_placebo/runs/*/arch.json)"
/work/main/.venv/bin/python supernet_rank.py --work $L/$S --run $(ls -d $L/$S/runs/search_*) --arch $A --trained $L/train --steps 1000 --json $OUTJ
