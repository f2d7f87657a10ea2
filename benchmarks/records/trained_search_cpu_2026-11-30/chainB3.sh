#!/bin/bash
# after chainB2: seed 1's pick and best trials with training seed 1
while pgrep -f "chainB2.sh" > /dev/null; do sleep 15; done
cd /work/bench_src9/benchmarks
export OMP_NUM_THREADS=1 PYTHONPATH=/work/bench_src9
PY=/work/main/.venv/bin/python
for n in searched_trained_tie_seed1 besttrial_trained_tie_seed0 besttrial_trained_tie_seed1; do
  $PY search_signal.py train --dataset la --out /work/b23 --preset scnas --seeds 0 1 --tag trained_tie --random 5 --train-steps 1000 --width 16 --train-seeds 1 --only $n
done
