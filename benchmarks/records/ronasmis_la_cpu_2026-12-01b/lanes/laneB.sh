#!/bin/bash
cd /work/b32
./search.sh --seeds 2
./job.sh searched_trained_seed2 0 --seeds 2
./job.sh searched_trained_seed2 1 --seeds 2
./search.sh --seeds 0 --placebo
./job.sh placebo_trained_seed0 0 --seeds 0
./job.sh placebo_trained_seed0 1 --seeds 0
echo LANE_B_DONE $(date)
