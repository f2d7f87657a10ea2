#!/bin/bash
# one lane: a 30-minute search by training (tied ops per cell type, half grid, cost-aware) with seed $1, then its pick trained 1000 steps, seeds 0 and 1
S=$1
cd /work/bench_src9/benchmarks
export OMP_NUM_THREADS=1 PYTHONPATH=/work/bench_src9
PY=/work/main/.venv/bin/python
SETS="strategy=trained space_settings.tie=cell space_settings.stem_stride=2 cost_weight=1 patch_size=[64,48,32]"
$PY search_signal.py search --dataset la --out /work/b23 --preset scnas --seeds $S --minutes 30 --tag trained_tie --set $SETS
for T in 0 1; do
  $PY search_signal.py train --dataset la --out /work/b23 --preset scnas --seeds $S --tag trained_tie --random 5 --train-steps 1000 --width 16 --train-seeds $T --only searched_trained_tie_seed$S
done
