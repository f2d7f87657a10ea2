#!/bin/bash
# One 1000-step training (search_signal's recipe, training seed 0) of a 30-minute search's export; fold 0's validation cases scored.
export PYTHONPATH=/work/bench_src6 OMP_NUM_THREADS=1
cd /work/bench_src6/benchmarks
/work/main/.venv/bin/python /work/b33/train_one2.py "$1" "$2" 0 > /work/b34/train_$1.log 2>&1
