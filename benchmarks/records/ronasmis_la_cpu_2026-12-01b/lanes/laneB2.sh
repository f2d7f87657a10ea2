#!/bin/bash
cd /work/b32
./search.sh --seeds 0 --placebo
./job.sh placebo_trained_seed0 0 --seeds 0
./job.sh placebo_trained_seed0 1 --seeds 0
echo LANE_B2_DONE $(date)
