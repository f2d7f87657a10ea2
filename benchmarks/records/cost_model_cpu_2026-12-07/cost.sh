#!/bin/bash
# The cost model after the fused cells (ops revision 3): issue 23's "within 25 %" again, SCNAS's space as in 2026-11-29's
# run (untied, full grid) and as the search by training uses it on LA (tied per cell type, half grid), each with the
# every-op-conv3 networks too. One thread, nothing else running.
export PYTHONPATH=/work/bench_src19 OMP_NUM_THREADS=1
cd /work/bench_src19/benchmarks
PY=/work/main/.venv/bin/python
$PY cost_model.py --threads 1 --presets scnas --every conv3 --json /work/s49/cost_model_scnas.json > /work/s49/cost_model_scnas.txt 2>&1
$PY cost_model.py --threads 1 --presets scnas --every conv3 --set tie=cell stem_stride=2 --json /work/s49/cost_model_scnas_tied_half.json > /work/s49/cost_model_scnas_tied_half.txt 2>&1
