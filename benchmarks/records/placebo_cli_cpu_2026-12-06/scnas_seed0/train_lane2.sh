#!/bin/bash
# one lane: pairs of (name arch seed), one after the other
export PYTHONPATH=/work/bench_src5 OMP_NUM_THREADS=1
cd /work/bench_src5/benchmarks
while [ $# -ge 3 ]; do
  /work/main/.venv/bin/python /work/b33/train_one2.py "$1" "$2" "$3" > /work/b33/train_$1_seed$3.log 2>&1
  shift 3
done
