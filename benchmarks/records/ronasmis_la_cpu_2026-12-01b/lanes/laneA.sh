#!/bin/bash
cd /work/b32
./search.sh --seeds 1
./job.sh searched_trained_seed1 0 --seeds 1
./job.sh searched_trained_seed1 1 --seeds 1
./search.sh --seeds 3
./job.sh searched_trained_seed3 0 --seeds 3
./job.sh searched_trained_seed3 1 --seeds 3
echo LANE_A_DONE $(date)
