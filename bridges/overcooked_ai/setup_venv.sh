#!/usr/bin/env bash
# Make the overcooked-ai bridge's own virtualenv (.venv-overcooked_ai/ at the repo root), idempotently.
#
# overcooked-ai 1.1.0 needs numpy<2 (and scipy for its planners), which clashes with the runtime's
# numpy 2. Its declared requirements (gym, tqdm, ipython, pygame, ipywidgets) are mostly for
# notebooks and rendering, so it is installed with --no-deps next to what the bridge imports:
#   numpy<2, scipy (planning/search.py), gym 0.26.2 (the package's __init__ registers a gym id;
#   installed --no-deps: gym's gym_notices only prints a banner), pyzmq + msgpack (the wire),
# and the project's light install (bridges/ + skills/), editable, without dependencies.
#
# Usage: bash bridges/overcooked_ai/setup_venv.sh [VENV_DIR]   (python: $PYTHON or python3)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${1:-$REPO/.venv-overcooked_ai}"
PY="${PYTHON:-python3}"
STAMP="$VENV/.agent-runtime-overcooked_ai-ok"
# Bump when the package set below changes so that existing venvs are redone.
SPEC_VERSION="1"

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$SPEC_VERSION" && -x "$VENV/bin/python" ]]; then
    echo "overcooked_ai venv ready: $VENV"
    exit 0
fi

if [[ ! -x "$VENV/bin/python" ]]; then
    "$PY" -m venv "$VENV"
fi
VPY="$VENV/bin/python"
PIP=("$VPY" -m pip install --quiet --disable-pip-version-check --no-input)

"${PIP[@]}" "numpy>=1.21,<2" "scipy" "pyzmq>=25" "msgpack>=1.0"
"${PIP[@]}" --no-deps "overcooked-ai==1.1.0" "gym==0.26.2"
"${PIP[@]}" --no-deps -e "$REPO"

# Fail here, not in the first test, if the set does not import.
"$VPY" - <<'PY'
import numpy, scipy, zmq, msgpack
from overcooked_ai_py.mdp.overcooked_mdp import OvercookedGridworld
from overcooked_ai_py.planning.planners import MotionPlanner
import bridges.spec, skills.overcooked_ai  # noqa: F401
mdp = OvercookedGridworld.from_layout_name("cramped_room")
MotionPlanner(mdp, counter_goals=mdp.get_counter_locations())
print("overcooked_ai 1.1.0 numpy", numpy.__version__, "scipy", scipy.__version__)
PY
echo "$SPEC_VERSION" > "$STAMP"
echo "overcooked_ai venv ready: $VENV"
