#!/bin/bash
# issue 21: what `segnas search` gives a user by default on LA: 30 minutes, by training, hardware-aware, half grid, its own proxy
set -e
export PYTHONPATH=/work/bench_src25
PY=/work/main/.venv/bin/python
cd /work/s52
rm -rf la
$PY -m segnas plan /work/shared/data/LA2018_down2 --work la --num-folds 5 > la_plan.txt 2>&1
$PY -m segnas preprocess --work la > la_pre.txt 2>&1
start=$(date +%s)
$PY -m segnas search --work la --preset scnas > la_search.txt 2>&1
echo "wall $(( $(date +%s) - start )) s" > la_wall.txt
