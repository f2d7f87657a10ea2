#!/bin/bash
# wait for a training to end, then a 30-minute budgeted ENAS search (single paths) on the same space, then rank its supernet
wait_pid=$1; seed=$2
while kill -0 $wait_pid 2>/dev/null; do sleep 10; done
echo "training before enas $seed ended $(date)" >> /work/b25/chain.log
sleep $((seed * 90))
cd /work/bench_src6/benchmarks
export OMP_NUM_THREADS=1 PYTHONPATH=/work/bench_src6
PY=/work/main/.venv/bin/python
$PY search_signal.py search --dataset la --out /work/b23 --preset scnas --minutes 30 --seeds $seed \
  --set strategy=enas strategy_options={} cost_weight=1 cost_width=16 space_settings.stem_stride=2 --tag enas_stem2 > /work/b25/search_enas_seed$seed.log 2>&1
echo "enas search $seed ended rc=$? $(date)" >> /work/b25/chain.log
/work/b25/rank.sh search_scnas_enas_stem2_seed$seed /work/b25/rank_search_scnas_enas_stem2_seed$seed.json > /work/b25/rank_enas_seed$seed.log 2>&1
echo "enas rank $seed ended rc=$? $(date)" >> /work/b25/chain.log
