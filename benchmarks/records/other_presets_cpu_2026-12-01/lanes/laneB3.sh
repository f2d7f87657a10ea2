#!/bin/bash
cd /work/b30
while ! grep -q LANE_B_DONE laneB2.log; do sleep 15; done
for n in random_trained4 random_trained3 random_trained2 random_trained1; do ./job.sh la ronasmis trained $n 500; done
echo LANE_B3_DONE $(date)
