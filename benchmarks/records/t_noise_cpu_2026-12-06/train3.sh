#!/bin/bash
# Training seed 1 of the decided export (t_s0) and of the every-op-conv3 export (side_s1), side by side, 1000 steps.
export PYTHONPATH=/work/bench_src6 OMP_NUM_THREADS=1
cd /work/bench_src6/benchmarks
/work/main/.venv/bin/python /work/b33/train_one2.py t_s0_export /work/b35/s0/runs/search_scnas_unet_trained_fold0/arch.json 1 > /work/b35/train3_t_s0_seed1.log 2>&1 &
/work/main/.venv/bin/python /work/b33/train_one2.py side_s1_export /work/b33/t/train/side_s1_export_seed0/runs/1000steps/arch.json 1 > /work/b35/train3_side_s1_seed1.log 2>&1 &
wait
echo DONE $(date)
