#!/bin/bash
cd /work/b30
while kill -0 2440 2>/dev/null; do sleep 10; done
for n in random_trained_thrifty0 random_trained_thrifty1 random_trained_thrifty2 random_trained_thrifty3 random_trained_thrifty4; do
  ./job.sh isbi thrifty trained_thrifty $n 150 1
done
echo LANE_B_DONE $(date)
