#!/bin/bash
# The cost model with what fused conv3 edges save (Fusion), same runs as cost.sh.
export PYTHONPATH=/work/bench_src19 OMP_NUM_THREADS=1
cd /work/bench_src19/benchmarks
PY=/work/main/.venv/bin/python
$PY cost_model.py --threads 1 --presets scnas --every conv3 --json /work/s49/cost_model_scnas_fusion.json > /work/s49/cost_model_scnas_fusion.txt 2>&1
$PY cost_model.py --threads 1 --presets scnas --every conv3 --set tie=cell stem_stride=2 --json /work/s49/cost_model_scnas_tied_half_fusion.json > /work/s49/cost_model_scnas_tied_half_fusion.txt 2>&1
