#!/bin/bash
# The user's 30-minute search by training on this 2-core CPU, trials two at a time; seeds given as arguments, one after the other.
export PYTHONPATH=/work/bench_src6
S="--preset scnas --strategy trained --set space_settings.tie=cell --set space_settings.stem_stride=2 --set cost_weight=1 --set workers=1 --set patch_size=[64,48,32] --set strategy_options.side_by_side=2"
cd /work/b34
for s in "$@"; do
  /work/main/.venv/bin/python -m segnas search --work /work/b34/s$s --minutes 30 $S --set seed=$s > s$s.log 2>&1
done
