#!/bin/bash
# after lane 0: each search's best-scoring trial network, then tied random draws 3 and 4, 1000 steps, training seed 0
while pgrep -f "lane.sh 0" > /dev/null; do sleep 15; done
cd /work/bench_src9/benchmarks
export OMP_NUM_THREADS=1 PYTHONPATH=/work/bench_src9
PY=/work/main/.venv/bin/python
for n in besttrial_trained_tie_seed0 besttrial_trained_tie_seed1 random_trained_tie3 random_trained_tie4; do
  $PY search_signal.py train --dataset la --out /work/b23 --preset scnas --seeds 0 1 --tag trained_tie --random 5 --train-steps 1000 --width 16 --train-seeds 0 --only $n
done
