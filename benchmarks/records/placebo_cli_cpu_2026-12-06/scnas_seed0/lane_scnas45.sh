#!/bin/bash
# one lane of the --placebo check: $1 = extra flag (--placebo or nothing)
export PYTHONPATH=/work/bench_src4 OMP_NUM_THREADS=1
cd /work/b33
exec /work/main/.venv/bin/python -m segnas search --work /work/b33/la --preset scnas --strategy trained --minutes 45 \
  --set seed=0 --set space_settings.tie=cell --set space_settings.stem_stride=2 \
  --set cost_weight=1 --set workers=1 --set "patch_size=[64,48,32]" $1
