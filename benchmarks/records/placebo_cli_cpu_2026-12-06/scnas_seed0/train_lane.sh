#!/bin/bash
export PYTHONPATH=/work/bench_src4 OMP_NUM_THREADS=1
cd /work/bench_src4/benchmarks
exec /work/main/.venv/bin/python /work/b33/train_one.py "$1" "$2"
