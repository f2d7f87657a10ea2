#!/bin/bash
# the placebo of the search by training: labels shuffled across cases, same settings as the two real searches; then its export at 1000 steps
cd /work/bench_src11/benchmarks
export OMP_NUM_THREADS=1 PYTHONPATH=/work/bench_src11
PY=/work/main/.venv/bin/python
SETS="strategy=trained space_settings.tie=cell space_settings.stem_stride=2 cost_weight=1 patch_size=[64,48,32]"
$PY search_signal.py search --dataset la --out /work/b23 --preset scnas --seeds 0 --minutes 30 --tag trained_tie --placebo --set $SETS
$PY search_signal.py train --dataset la --out /work/b23 --preset scnas --seeds 0 --tag trained_tie --random 5 --train-steps 1000 --width 16 --train-seeds 0 --only placebo_trained_tie_seed0
