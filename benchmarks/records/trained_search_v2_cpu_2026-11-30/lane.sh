#!/bin/bash
# one lane: a 30-minute search by training (code of bench_src12: Dice posterior + separate step model), seed $1 [placebo if $2=placebo], then its export trained 1000 steps (training seed 0)
S=$1; P=${2:-}
cd /work/bench_src12/benchmarks
export OMP_NUM_THREADS=1 PYTHONPATH=/work/bench_src12
PY=/work/main/.venv/bin/python
SETS="strategy=trained space_settings.tie=cell space_settings.stem_stride=2 cost_weight=1 patch_size=[64,48,32]"
if [ "$P" = placebo ]; then
  $PY search_signal.py search --dataset la --out /work/b23 --preset scnas --seeds $S --minutes 30 --tag trained_v2 --placebo --set $SETS
  NAME=placebo_trained_v2_seed$S
else
  $PY search_signal.py search --dataset la --out /work/b23 --preset scnas --seeds $S --minutes 30 --tag trained_v2 --set $SETS
  NAME=searched_trained_v2_seed$S
fi
$PY search_signal.py train --dataset la --out /work/b23 --preset scnas --seeds $S --tag trained_v2 --random 5 --train-steps 1000 --width 16 --train-seeds 0 --only $NAME
