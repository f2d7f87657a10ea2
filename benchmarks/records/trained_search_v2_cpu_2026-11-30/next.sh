#!/bin/bash
# wait for pid $1, then train tied draw $2 with training seed 1
while kill -0 $1 2>/dev/null; do sleep 10; done
cd /work/bench_src12/benchmarks
OMP_NUM_THREADS=1 PYTHONPATH=/work/bench_src12 /work/main/.venv/bin/python search_signal.py train --dataset la --out /work/b23 --preset scnas --seeds 0 1 --tag trained_tie --random 5 --train-steps 1000 --width 16 --train-seeds 1 --only random_trained_tie$2
