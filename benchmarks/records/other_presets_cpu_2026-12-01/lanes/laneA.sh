#!/bin/bash
cd /work/bench_src30/benchmarks
export OMP_NUM_THREADS=1
SETS="strategy=trained strategy_options={} space_settings.tie=cell space_settings.stem_stride=2 cost_weight=1 patch_size=[64,48,32]"
../.venv/bin/python search_signal.py search --dataset la --out /work/b30 --preset ronasmis --seeds 0 --minutes 30 --tag trained --set $SETS
echo SEARCH_DONE $(date)
