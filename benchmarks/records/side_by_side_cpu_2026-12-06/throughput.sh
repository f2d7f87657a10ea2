#!/bin/bash
# Four trials of SCNAS's tied half-grid space on LA: one process with the machine's threads, then two processes side by side.
export PYTHONPATH=/work/bench_src6
S="--preset scnas --strategy trained --set seed=0 --set space_settings.tie=cell --set space_settings.stem_stride=2 --set cost_weight=1 --set workers=1 --set patch_size=[64,48,32] --set strategy_options.trials=4"
cd /work/b34
for n in 1 2; do
  start=$(date +%s.%N)
  /work/main/.venv/bin/python -m segnas search --work /work/b34/tp$n $S --set strategy_options.side_by_side=$n > tp$n.log 2>&1
  end=$(date +%s.%N)
  echo "side_by_side=$n: $(echo "$end - $start" | bc) s wall (torch threads $(/work/main/.venv/bin/python -c 'import torch; print(torch.get_num_threads())'))" | tee -a throughput.txt
done
