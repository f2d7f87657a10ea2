#!/bin/bash
# issue 21: what `segnas search` gives a user by default on ISBI: 30 minutes, by training, hardware-aware, its own proxy
set -e
export PYTHONPATH=/work/bench_src25
PY=/work/main/.venv/bin/python
cd /work/s52
rm -rf isbi
$PY -m segnas plan /work/shared/data/ISBI2012_membrane_2D --work isbi --num-folds 5 > isbi_plan.txt 2>&1
$PY -m segnas preprocess --work isbi > isbi_pre.txt 2>&1
start=$(date +%s)
$PY -m segnas search --work isbi --preset scnas > isbi_search.txt 2>&1
echo "wall $(( $(date +%s) - start )) s" > isbi_wall.txt
