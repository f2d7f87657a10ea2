#!/bin/bash
# The fresh seed-0 search's export (t noise, decided) at 1000 steps, training seeds 0 and 1 side by side (search_signal's recipe).
export PYTHONPATH=/work/bench_src6 OMP_NUM_THREADS=1
cd /work/bench_src6/benchmarks
A=/work/b35/s0/runs/search_scnas_unet_trained_fold0/arch.json
/work/main/.venv/bin/python /work/b33/train_one2.py t_s0_export $A 0 > /work/b35/train_t_s0_seed0.log 2>&1 &
/work/main/.venv/bin/python /work/b33/train_one2.py t_s0_export $A 1 > /work/b35/train_t_s0_seed1.log 2>&1 &
wait
