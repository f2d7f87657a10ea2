#!/bin/bash
# After the first three rounds: training seeds 2 and 3 of the UNet and seed 1's export (declared before their results).
cd /work/s49
while pgrep -f "lane.sh" > /dev/null; do sleep 10; done
./lane.sh A monai_unet 2 export_s1_w16 3 > laneA2.out 2>&1 &
./lane.sh B export_s1_w16 2 monai_unet 3 > laneB2.out 2>&1 &
wait
