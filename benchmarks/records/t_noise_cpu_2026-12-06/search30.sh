#!/bin/bash
# the 30-minute side-by-side searches of stop 40, with the t-noise posterior (seeds 0 then 1)
cd /work/bench_src7
S="--preset scnas --strategy trained --set space_settings.tie=cell --set space_settings.stem_stride=2 --set cost_weight=1 --set workers=1 --set patch_size=[64,48,32]"
for seed in 0 1; do
  /usr/bin/time -v env PYTHONPATH=/work/bench_src7 NO_COLOR=1 COLUMNS=160 .venv/bin/python -m segnas search --work /work/b35/s$seed --minutes 30 $S --set seed=$seed --set strategy_options.side_by_side=2 > /work/b35/s$seed.log 2>&1
done
