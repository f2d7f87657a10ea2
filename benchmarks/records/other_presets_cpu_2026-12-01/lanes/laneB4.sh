#!/bin/bash
cd /work/b30
while ! grep -q LANE_B3_DONE laneB3.log; do sleep 15; done
for n in searched_trained_seed0 random_trained0 random_trained1 random_trained2 random_trained3 random_trained4; do ./job1.sh la ronasmis trained $n 500; done
echo LANE_B4_DONE $(date)
