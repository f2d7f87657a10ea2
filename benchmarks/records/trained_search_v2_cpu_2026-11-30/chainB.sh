#!/bin/bash
while pgrep -f "lane.sh 0$" > /dev/null || pgrep -f "lane.sh 0 " >/dev/null; do sleep 15; done
./lane.sh 0 placebo > laneB_placebo.log 2>&1
