#!/bin/bash
# Each export's training step at width 16 beside MONAI UNet's, each row its own process, one thread, alone on the machine.
export PYTHONPATH=/work/bench_src6 OMP_NUM_THREADS=1
cd /work/b34
/work/main/.venv/bin/python - <<'PY'
from segnas.nas.arch import load_architecture
for src, dst in [("/work/b34/s0/runs/search_scnas_unet_trained_fold0/arch.json", "/work/b34/export_s0_w16.json"),
                 ("/work/b34/s1/runs/search_scnas_unet_trained_fold0/arch.json", "/work/b34/export_s1_w16.json"),
                 ("/work/b33/scnas_export.json", "/work/b34/export_45min_w16.json")]:
    load_architecture(src).with_settings(channels=16).save(dst)
PY
/work/main/.venv/bin/python /work/bench_src6/benchmarks/train_step.py --patch 96 80 48 --threads 1 --device cpu --repeats 5 \
    --arch /work/b34/export_s0_w16.json /work/b34/export_s1_w16.json /work/b34/export_45min_w16.json
