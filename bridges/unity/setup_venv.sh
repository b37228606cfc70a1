#!/usr/bin/env bash
# Make the Unity bridge's own virtualenv (.venv-unity/ at the repo root), idempotently.
#
# mlagents-envs 1.1.0 declares Python <=3.10.12 and pins grpcio<=1.48.2 (no cp311 wheel),
# protobuf<3.21 and numpy<1.24, which clash with the runtime's environment. So it lives
# here, installed with --no-deps, next to the few packages it really imports:
#   protobuf 3.20.3 (pure-Python wheel), numpy 1.23.5 (has a cp311 wheel), Pillow, cloudpickle,
#   pyyaml, filelock, and a grpcio with a cp311 wheel (grpcio has no protobuf dependency;
#   the generated *_pb2_grpc module only uses the stable server API).
# gym / pettingzoo (declared, used only by mlagents_envs.envs wrappers) are left out.
# The repository itself goes on the path through a .pth file (the "light install":
# bridges/ + skills/ with pyzmq and msgpack), so no build step is needed.
#
# Usage: bash bridges/unity/setup_venv.sh [VENV_DIR]   (python: $PYTHON or python3)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${1:-$REPO/.venv-unity}"
PY="${PYTHON:-python3}"
STAMP="$VENV/.agent-runtime-unity-ok"
# Bump when the package set below changes so that existing venvs are redone.
SPEC_VERSION="1"

ready() { [[ -f "$STAMP" && "$(cat "$STAMP")" == "$SPEC_VERSION" && -x "$VENV/bin/python" ]]; }
if ready; then
    echo "unity venv ready: $VENV"
    exit 0
fi
# One maker at a time (parallel test runs); the stamp is written last, so a half-made
# venv (interrupted run) is simply completed by the next call.
mkdir -p "$REPO/.cache"
exec 9>"$REPO/.cache/unity-venv.lock"
flock 9
if ready; then
    echo "unity venv ready: $VENV"
    exit 0
fi

if [[ ! -x "$VENV/bin/python" ]]; then
    "$PY" -m venv "$VENV"
fi
VPY="$VENV/bin/python"
PIP=("$VPY" -m pip install --quiet --disable-pip-version-check --no-input)

"${PIP[@]}" \
    "protobuf==3.20.3" \
    "numpy==1.23.5" \
    "grpcio>=1.49.1,<2" \
    "Pillow>=4.2.1" \
    "cloudpickle" \
    "pyyaml>=6" \
    "filelock>=3.4" \
    "pyzmq>=25" \
    "msgpack>=1.0" \
    "pytest>=8"
# Last, so that pip has no declared-but-absent requirement to complain about.
"${PIP[@]}" --ignore-requires-python --no-deps "mlagents-envs==1.1.0"

SITE="$("$VPY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
echo "$REPO" > "$SITE/agent_runtime_repo.pth"

# Fail here, not in the first test, if the set does not import.
"$VPY" - <<'PY'
import mlagents_envs, grpc, google.protobuf, numpy, zmq, msgpack
from mlagents_envs.environment import UnityEnvironment  # noqa: F401
import bridges.spec  # noqa: F401
print("mlagents_envs", mlagents_envs.__version__, "grpcio", grpc.__version__,
      "protobuf", google.protobuf.__version__, "numpy", numpy.__version__)
PY
echo "$SPEC_VERSION" > "$STAMP"
echo "unity venv ready: $VENV"
