#!/usr/bin/env bash
# Every benchmark, one after another on an otherwise idle machine; outputs next to this script.
# Usage (from the repo root): bash docs/results/benchmarks/run.sh
set -uo pipefail
OUT=docs/results/benchmarks
python benchmarks/scoring.py --repeats 3 > $OUT/scoring.txt 2>/dev/null
python benchmarks/scoring.py --repeats 3 --dtype bf16 > $OUT/scoring-bf16.txt 2>/dev/null
python benchmarks/bridge.py > $OUT/bridge.txt 2>/dev/null
python benchmarks/overcooked.py > $OUT/overcooked.txt 2>/dev/null
python benchmarks/crafter.py > $OUT/crafter.txt 2>/dev/null
python benchmarks/telemetry.py --trainer --decisions 256 --repeats 3 > $OUT/telemetry.txt 2>/dev/null
python benchmarks/ppo_update.py > $OUT/ppo_update.txt 2>/dev/null
python benchmarks/learning_loop.py --decisions 128 2>/dev/null | grep -v -i "warn\|loading" > $OUT/learning_loop.txt
python benchmarks/data_parallel.py > $OUT/data_parallel.txt 2>/dev/null
grep -h RESULT $OUT/*.txt
