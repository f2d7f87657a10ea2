#!/bin/bash
cd /work/bench_src27/benchmarks
export PYTHONPATH=/work/bench_src27 OMP_NUM_THREADS=1
PY=/work/main/.venv/bin/python
for s in 1 2; do
  for side in race unet; do
    $PY minutes_race.py --dataset acdc --side $side --minutes 60 --seed $s --out /work/s53/acdc_s$s > /work/s53/acdc_s${s}_$side.log 2>&1 &
  done
done
wait
for s in 1 2; do $PY minutes_race.py --dataset acdc --report --out /work/s53/acdc_s$s > /work/s53/acdc_s${s}_report.txt 2>&1; done
