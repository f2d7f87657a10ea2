#!/bin/bash
# one lane of the --placebo check: $1 = extra flag (--placebo or nothing)
export PYTHONPATH=/work/bench_src2 OMP_NUM_THREADS=1
cd /work/b33
exec /work/main/.venv/bin/python -m segnas search --work /work/b33/la --preset ronasmis --strategy trained --minutes 50 \
  --set seed=3 --set "strategy_options={}" --set space_settings.tie=cell --set space_settings.stem_stride=2 \
  --set cost_weight=1 --set workers=1 --set "patch_size=[64,48,32]" $1 --resume
