#!/bin/bash
# Round 2 (planned with round 1, before any result): folds 1 and 2, training seed 0, both networks; starts when round 1's lanes end.
cd /work/s51
for p in $(cat pids_r1.txt); do while kill -0 $p 2>/dev/null; do sleep 20; done; done
date > round2_start.txt
for f in 1 2; do for n in monai_unet export_s1_w16; do nohup ./lane60_la.sh $n 0 $f >/dev/null 2>&1 & echo $! >> pids_r2.txt; done; done
