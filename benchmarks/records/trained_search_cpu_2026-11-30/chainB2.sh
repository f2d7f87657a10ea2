#!/bin/bash
# once seed 1's pick has its seed-0 training scored: stop lane 1 (no second training seed) and train tied random draws 0-2, seed 0
M=/work/b23/la/train/searched_trained_tie_seed1_seed0/predictions/1000steps/metrics.json
while [ ! -f $M ]; do sleep 15; done
pkill -f "lane.sh 1"; pkill -f "only searched_trained_tie_seed1"; sleep 3
cd /work/bench_src9/benchmarks
export OMP_NUM_THREADS=1 PYTHONPATH=/work/bench_src9
PY=/work/main/.venv/bin/python
for n in random_trained_tie0 random_trained_tie1 random_trained_tie2; do
  $PY search_signal.py train --dataset la --out /work/b23 --preset scnas --seeds 0 1 --tag trained_tie --random 5 --train-steps 1000 --width 16 --train-seeds 0 --only $n
done
