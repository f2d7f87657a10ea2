#!/bin/bash
while pgrep -f acdc.sh > /dev/null; do sleep 20; done
cd /work/bench_src28/benchmarks
export PYTHONPATH=/work/bench_src28 OMP_NUM_THREADS=1
PY=/work/main/.venv/bin/python
date > /work/s53/isbi_start.txt
$PY minutes_race.py --dataset isbi --side race --minutes 60 --min-unit-steps 100 --out /work/s53/isbi > /work/s53/isbi_race.log 2>&1 &
$PY minutes_race.py --dataset isbi --side unet --minutes 60 --out /work/s53/isbi > /work/s53/isbi_unet.log 2>&1 &
wait
$PY minutes_race.py --dataset isbi --report --out /work/s53/isbi > /work/s53/isbi_report.txt 2>&1
date > /work/s53/isbi_end.txt
