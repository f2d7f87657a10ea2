#!/bin/bash
# round 1: after lane $1 of round 0 ends, race search seed $1's pick against 7 other draws, then train the winner 1000 steps, seeds 0 and 1
S=$1
while pgrep -f "race_lane.sh $S" > /dev/null; do sleep 20; done
[ "$S" = 1 ] && sleep 150
cd /work/bench_src8/benchmarks
export OMP_NUM_THREADS=1 PYTHONPATH=/work/bench_src8
PY=/work/main/.venv/bin/python
$PY search_signal.py race --dataset la --out /work/b23 --preset scnas --seeds $S --tag cost1_stem2 --race-random 7 --race-round 1
for T in 0 1; do
  $PY search_signal.py train --dataset la --out /work/b23 --preset scnas --seeds $S --tag cost1_stem2 --random 5 --train-steps 1000 --width 16 --train-seeds $T --only raced_cost1_stem2_seed${S}_round1
done
