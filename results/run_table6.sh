#!/bin/bash
# Seed 001 Table 6 (delayed XOR) at the paper's own scale on a CPU: the grid of
#   python -m ablations.reproduce paper=roles scale=full groups=delayed_xor
# (6 variants x 8 paired seeds, 15 000 steps each), its points trained seed by seed (every variant of
# seed 0, then of seed 1, ...) so that a grid stopped part way leaves whole paired seeds, then judged.
# Each point is the exact `python -m ablations.run ...` line that `reproduce ... list=true` prints, so
# reproduce finds the runs as its own; a point already finished returns at once, one cut short resumes
# from its last epoch. Usage (from the repository root):
#   JOBS=1 nice -n 5 results/run_table6.sh            # JOBS: points trained at once (one thread each)
#   python -m ablations.reproduce paper=roles scale=full groups=delayed_xor train=false paths.runs=results/roles_full_delayed_xor
set -u
cd "$(dirname "$0")/.."
RUNS=${RUNS:-results/roles_full_delayed_xor}
JOBS=${JOBS:-1}
SEEDS=${SEEDS:+seeds=$SEEDS}   # SEEDS=0,1: only these seeds (default: the grid's)
VARIANTS=${VARIANTS:-}         # VARIANTS="vanilla no_reset": only these variants (default: the grid's)
EXTRA=${EXTRA:-}               # run overrides appended to every point (a small trial: EXTRA="train.epochs=1 ...")
export PYTHONPATH=$PWD OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 NUMBA_NUM_THREADS=1
mkdir -p "$RUNS"
python -m ablations.reproduce paper=roles scale=full groups=delayed_xor list=true "paths.runs=$RUNS" $SEEDS $EXTRA > "$RUNS/grid_commands.txt" || exit 2
# seed-major order: sort the commands by their seed, keeping the variant order inside a seed
awk '{ match($0, / seed=[0-9]+/); print substr($0, RSTART + 6, RLENGTH - 6) "\t" NR "\t" $0 }' "$RUNS/grid_commands.txt" \
  | sort -n -k1,1 -k2,2 | cut -f3- \
  | { if [ -n "$VARIANTS" ]; then grep -E " variant=(${VARIANTS// /|}) "; else cat; fi; } > "$RUNS/grid_order.txt"
echo "$(date -u +%FT%TZ) grid: $(wc -l < "$RUNS/grid_order.txt") points, $JOBS at a time"
tr '\n' '\0' < "$RUNS/grid_order.txt" | xargs -0 -P "$JOBS" -I{} bash -c '
  start=$(date +%s); echo "$(date -u +%FT%TZ) start: $1"
  eval "$1 progress=false" > /dev/null 2>&1; rc=$?
  if [ $rc -eq 0 ]; then echo "$(date -u +%FT%TZ) done in $(( $(date +%s) - start )) s: $1"
  else echo "$(date -u +%FT%TZ) FAILED (exit $rc): $1"; fi' _ {}
echo "$(date -u +%FT%TZ) grid trained; judging"
python -m ablations.reproduce paper=roles scale=full groups=delayed_xor train=false "paths.runs=$RUNS" \
  "paths.figures=$RUNS/report" progress=false $SEEDS $EXTRA
