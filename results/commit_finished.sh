#!/bin/bash
# Commit the finished run records of a grid folder every INTERVAL seconds (default 900): config.yaml,
# status.json, metrics.csv, evaluation outputs and the small checkpoint of every run whose status.json
# says "finished" (a run still training is never committed). Stops when STOP_FILE exists.
#   nohup results/commit_finished.sh results/roles_full_delayed_xor > /tmp/commit_finished.log 2>&1 &
set -u
cd "$(dirname "$0")/.."
RUNS=${1:-results/roles_full_delayed_xor}
INTERVAL=${INTERVAL:-900}
STOP_FILE=${STOP_FILE:-$RUNS/.stop_committing}
while [ ! -e "$STOP_FILE" ]; do
  added=0
  for status in $(find "$RUNS" -name status.json 2>/dev/null | sort); do
    dir=$(dirname "$status")
    grep -q '"status": "finished"' "$status" || continue
    git ls-files --error-unmatch "$status" > /dev/null 2>&1 && git diff --quiet -- "$dir" && continue
    files=$(cd "$dir" && find . -type f ! -name '*.lock' ! -name '*.tmp*' | sed "s|^\./|$dir/|")
    git add -f -- $files && added=$((added + 1))
  done
  for extra in "$RUNS/grid_commands.txt" "$RUNS/grid_order.txt"; do [ -e "$extra" ] && git add -f -- "$extra"; done
  if [ "$added" -gt 0 ]; then
    git commit -q -m "Table 6 grid: finished delayed XOR run records ($(find "$RUNS" -name status.json | xargs grep -l '"status": "finished"' | wc -l) finished in $RUNS)" -- "$RUNS" \
      && echo "$(date -u +%FT%TZ) committed $added run(s)"
  fi
  sleep "$INTERVAL"
done
