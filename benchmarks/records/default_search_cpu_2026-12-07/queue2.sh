#!/bin/bash
# after the LA search: full CI on a clean clone of main, then the ISBI search with the corrected default
while [ ! -f /work/s52/la_wall.txt ]; do sleep 10; done
rm -rf /tmp/ci && mkdir -p /tmp/ci && git clone -q /work/main /tmp/ci/main && ln -s /work/shared /tmp/ci/shared
cd /tmp/ci/main && git log --oneline | head -1 > /tmp/ci/commit.txt
s=$(date +%s); bash .ci/run > /tmp/ci/log.txt 2>&1; echo "rc=$? $(( $(date +%s) - s )) s" >> /tmp/ci/log.txt
/work/s52/isbi2_default.sh > /work/s52/isbi2_run.log 2>&1
