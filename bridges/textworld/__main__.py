"""``python -m bridges.textworld --bind tcp://127.0.0.1:5555 ...``: a TextWorld bridge server."""

import sys

from bridges.server import main

sys.exit(main(bridge="textworld"))
