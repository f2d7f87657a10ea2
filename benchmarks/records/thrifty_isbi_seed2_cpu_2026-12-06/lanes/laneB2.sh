#!/bin/bash
cd /work/b36
for n in searched_trained_thrifty_seed1 random_trained_thrifty2 random_trained_thrifty3 random_trained_thrifty0 random_trained_thrifty1 searched_trained_thrifty_seed0; do ./job2.sh $n; done
echo LANE_B_DONE $(date)
