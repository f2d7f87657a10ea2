#!/bin/bash
cd /work/b30
for n in searched_trained_seed0 random_trained0 random_trained1 random_trained2 random_trained3 random_trained4; do ./job.sh la ronasmis trained $n 500; done
echo LANE_A_DONE $(date)
