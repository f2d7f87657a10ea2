#!/bin/bash
# search.sh SEEDARGS... : one 30-minute search by training of RONASMIS's space on LA
cd /work/bench_src32/benchmarks
export OMP_NUM_THREADS=1 PYTHONPATH=/work/bench_src32
SETS="strategy=trained strategy_options={} space_settings.tie=cell space_settings.stem_stride=2 cost_weight=1 patch_size=[64,48,32]"
echo SEARCH $@ $(date)
../.venv/bin/python search_signal.py search --dataset la --out /work/b32 --preset ronasmis $@ --minutes 30 --tag trained --set $SETS
echo SEARCH_END $@ rc=$? $(date)
