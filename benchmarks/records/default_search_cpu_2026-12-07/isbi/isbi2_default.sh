#!/bin/bash
# issue 21: the default `segnas search` on ISBI after 5d2ef0f: 30 minutes, by training, no cost term in 2D, its own proxy
set -e
export PYTHONPATH=/work/bench_src26
PY=/work/main/.venv/bin/python
cd /work/s52
rm -rf isbi2
$PY -m segnas plan /work/shared/data/ISBI2012_membrane_2D --work isbi2 --num-folds 5 > isbi2_plan.txt 2>&1
$PY -m segnas preprocess --work isbi2 > isbi2_pre.txt 2>&1
start=$(date +%s)
$PY -m segnas search --work isbi2 --preset scnas > isbi2_search.txt 2>&1
echo "wall $(( $(date +%s) - start )) s" > isbi2_wall.txt
