"""The import rules of docs/architecture.md, checked on the source."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# What the runtime may import from bridges/: the client side, the spec, the launcher, the registry.
RUNTIME_MAY_IMPORT = {"bridges", "bridges.spec", "bridges.launch", "bridges.registry", "bridges.client",
                      "bridges.protocol", "bridges.server", "bridges.keys", "tui.app", "tui.web", "bridges.telemetry_wire"}


def imports(path: Path) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
    return out


def test_simulator_side_and_tui_import_neither_the_runtime_nor_torch():
    bad = []
    for folder in ("bridges", "skills", "tui"):
        for f in (ROOT / folder).rglob("*.py"):
            for m in imports(f):
                if m.split(".")[0] in ("agent_runtime", "torch", "transformers", "peft"):
                    bad.append(f"{f.relative_to(ROOT)} imports {m}")
    assert not bad, bad


def test_runtime_core_imports_no_simulator_module_and_only_adapters_imports_peft():
    bad = []
    for f in (ROOT / "agent_runtime").rglob("*.py"):
        for m in imports(f):
            top = m.split(".")[0]
            if top in ("bridges", "tui", "skills") and m not in RUNTIME_MAY_IMPORT:
                bad.append(f"{f.relative_to(ROOT)} imports {m}")
            if top == "peft" and f.name != "adapters.py":
                bad.append(f"{f.relative_to(ROOT)} imports {m}")
    assert not bad, bad
