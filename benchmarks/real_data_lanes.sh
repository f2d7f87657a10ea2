#!/bin/bash
# real_data.py with its networks side by side: one process ("lane") per network, then one summary.
#
#   benchmarks/real_data_lanes.sh OUT DATASET "NETWORKS" [real_data.py arguments …]
#   benchmarks/real_data_lanes.sh /tmp/rd la "monai_unet monai_dynunet scnas scnas_random0" --train-steps 3000 --threads 2
#
# A work folder has one writer (segnas's lock), so each lane trains in its own copy of the prepared
# work folder (OUT/lanes/NETWORK). A random architecture's lane waits for its preset's search and
# reuses it. When every lane has ended, the finished runs and predictions are merged into
# OUT/DATASET/work and real_data.py tables the finished networks (it reuses all of them); lanes that
# failed are named, with their logs in OUT/lanes/NETWORK.log. Rerunning resumes every lane.
# PY names the interpreter (default python3); ASSEMBLE_ONLY=1 skips to the summary of what finished.
set -uo pipefail
[ $# -ge 3 ] || { sed -n 2,12p "$0"; exit 2; }
OUT=$(realpath -m "$1"); DATASET=$2; NETWORKS=$3; shift 3
PY=${PY:-python3}
cd "$(dirname "$0")"
mkdir -p "$OUT/lanes"
BUDGET=$("$PY" real_data.py --dataset "$DATASET" --out "$OUT" --prepare "$@" | tail -n 1) || exit 1
WORK=$OUT/$DATASET/work

lane() {  # NETWORK: train (and search) it in its own copy of the work folder
    local net=$1 dir=$OUT/lanes/$1
    if [ ! -d "$dir/$DATASET/work" ]; then
        mkdir -p "$dir/$DATASET/work"
        (cd "$WORK" && cp -a plan.json fingerprint.json splits.json preprocessed "$dir/$DATASET/work/")
    fi
    if [[ $net == *_random* ]]; then  # its preset's search, from the preset's lane (or searched here if none runs)
        local preset=${net%_random*}
        local src=$OUT/lanes/$preset/$DATASET/work/runs
        if [[ " $NETWORKS " == *" $preset "* ]]; then
            until compgen -G "$src/search_${preset}_*/arch.json" > /dev/null; do
                [ -f "$OUT/lanes/$preset.ended" ] && { echo "$net: the lane of $preset ended without a search" >&2; return 1; }
                sleep 5
            done
            mkdir -p "$dir/$DATASET/work/runs" && cp -a "$src"/search_"${preset}"_* "$dir/$DATASET/work/runs/"
        fi
    fi
    "$PY" real_data.py --dataset "$DATASET" --out "$dir" --networks "$net" "$@" >> "$OUT/lanes/$net.log" 2>&1
    local rc=$?
    touch "$OUT/lanes/$net.ended"
    return $rc
}

if [ -z "${ASSEMBLE_ONLY:-}" ]; then
    rm -f "$OUT"/lanes/*.ended
    for net in $NETWORKS; do lane "$net" "$@" & sleep 2; done
    wait
fi

finished=()
for net in $NETWORKS; do
    src=$OUT/lanes/$net/$DATASET/work
    if [ -f "$src/runs/$BUDGET/net_$net/summary.json" ] && [ -f "$src/predictions/$BUDGET/$net/metrics.json" ]; then
        for sub in runs predictions random baselines; do
            [ -d "$src/$sub" ] && mkdir -p "$WORK/$sub" && cp -a "$src/$sub/." "$WORK/$sub/"
        done
        finished+=("$net")
    else
        echo "not finished: $net (log: $OUT/lanes/$net.log)" >&2
    fi
done
[ ${#finished[@]} -gt 0 ] || exit 1
"$PY" real_data.py --dataset "$DATASET" --out "$OUT" --networks "${finished[@]}" "$@"
