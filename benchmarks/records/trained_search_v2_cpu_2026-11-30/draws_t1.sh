#!/bin/bash
# second training seed of the five tied random draws: lane $1 trains the draws listed after it
cd /work/bench_src12/benchmarks
export OMP_NUM_THREADS=1 PYTHONPATH=/work/bench_src12
shift
for i in "$@"; do
  /work/main/.venv/bin/python search_signal.py train --dataset la --out /work/b23 --preset scnas --seeds 0 1 --tag trained_tie --random 5 --train-steps 1000 --width 16 --train-seeds 1 --only random_trained_tie$i
done
