#!/bin/bash
# lane C: after lane B: the v3 seed-1 search's export trained for 1000 steps on LA (train seeds 0, then 1)
cd /work/bench_src14/benchmarks
export OMP_NUM_THREADS=1
PY=../.venv/bin/python
while pgrep -f laneB4.sh > /dev/null; do sleep 10; done
for ts in 0 1; do
  $PY search_signal.py train --dataset la --out /work/b23 --preset scnas --seeds 0 1 --tag trained_v3 --random 5 --train-steps 1000 --width 16 --train-seeds $ts --only searched_trained_v3_seed1 > /work/b28/la_v3_train_ts$ts.log 2>&1
done
echo done C
