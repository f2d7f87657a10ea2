#!/bin/bash
cd /work/b36
for n in searched_trained_thrifty_seed0 random_trained_thrifty1 random_trained_thrifty0 random_trained_thrifty2 random_trained_thrifty3 searched_trained_thrifty_seed1; do ./job2.sh $n; done
echo LANE_A_DONE $(date)
