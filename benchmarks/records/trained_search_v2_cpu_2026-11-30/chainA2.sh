#!/bin/bash
# both v2 searches exported the same network: its second training seed instead of a duplicate of the first; then the old placebo's export
cd /work/bench_src12/benchmarks
export OMP_NUM_THREADS=1 PYTHONPATH=/work/bench_src12
PY=/work/main/.venv/bin/python
$PY search_signal.py train --dataset la --out /work/b23 --preset scnas --seeds 0 --tag trained_v2 --random 5 --train-steps 1000 --width 16 --train-seeds 1 --only searched_trained_v2_seed0 > /work/b27/laneA_v2s0_t1.log 2>&1
cd /work/bench_src11/benchmarks
PYTHONPATH=/work/bench_src11 $PY search_signal.py train --dataset la --out /work/b23 --preset scnas --seeds 0 --tag trained_tie --random 5 --train-steps 1000 --width 16 --train-seeds 0 --only placebo_trained_tie_seed0 > /work/b27/laneA_oldplacebo.log 2>&1
