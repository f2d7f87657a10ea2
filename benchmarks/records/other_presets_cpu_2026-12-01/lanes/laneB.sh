#!/bin/bash
cd /work/b30
for n in searched_trained_thrifty_seed0 searched_trained_thrifty_seed1 random_trained_thrifty0 random_trained_thrifty1 random_trained_thrifty2 random_trained_thrifty3 random_trained_thrifty4; do
  ./job.sh isbi thrifty trained_thrifty $n 150 1
done
while ! grep -q SEARCH_DONE laneA.log; do sleep 30; done
for n in random_trained4 random_trained3 random_trained2 random_trained1 random_trained0 searched_trained_seed0; do ./job.sh la ronasmis trained $n 1000; done
echo LANE_B_DONE $(date)
