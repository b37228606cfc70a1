"""Unity mode: drive a running VirtualHome Unity simulator with the package's UnityCommunication.

The client module (``virtualhome/simulation/unity_simulator/comm_unity.py``) is loaded from
the installed files the same way as the evolving graph (``import virtualhome`` is broken).
It imports ``requests``, ``PIL``, ``numpy`` and ``cv2`` at the top; ``cv2`` is only used to
decode camera images, which this bridge never asks for, so when OpenCV is absent a
placeholder stands in while the module loads (using images then fails with a clear error).

Each skill is sent as one script line for the character (``<char0> [walk] <kitchen> (11)``)
with ``render_script``; the graph is read back with ``environment_graph()`` and the task's
flags, text and valid skills are computed from it exactly as in symbolic mode.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from bridges.registry import VH_UNITY_OPTIONS
from bridges.virtualhome.executor import load_package_module

_PKG = "_agent_runtime_vh_unity_simulator"
UNITY_OPTIONS = VH_UNITY_OPTIONS
_PARAM = re.compile(r"<([^>]+)>\s*\((\d+)\)")
_ACTION = re.compile(r"^\s*\[(\w+)\]")


class _MissingModule(ModuleType):
    """A stand-in for an optional module; any use raises an ImportError naming the package."""

    def __init__(self, name: str, package: str, purpose: str):
        super().__init__(name)
        self._message = f"{purpose} needs the {name!r} module: pip install {package}"

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        raise ImportError(self._message)


def load_comm_unity() -> ModuleType:
    """The package's ``comm_unity`` module (``UnityCommunication`` and its exceptions)."""
    placeholder = importlib.util.find_spec("cv2") is None and "cv2" not in sys.modules
    if placeholder:
        sys.modules["cv2"] = _MissingModule("cv2", "opencv-python-headless", "decoding Unity camera images")
    try:
        return load_package_module("unity_simulator", "comm_unity", _PKG)
    except ImportError as exc:
        raise ImportError(
            f"cannot load VirtualHome's Unity client ({exc}); unity mode needs requests, pillow and numpy"
        ) from exc
    finally:
        if placeholder:
            sys.modules.pop("cv2", None)


def _reason(message: Any) -> str:
    """Text of a simulator reply message (a string, or per-line ``{"0": {"message": ...}}``)."""
    if isinstance(message, dict):
        parts = [str(v.get("message", v)) if isinstance(v, dict) else str(v) for v in message.values()]
        return "; ".join(parts)
    return str(message)


class UnityBackend:
    """A VirtualHome Unity simulator as the backend of ``VirtualHomeEnv``."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int | str = 8080,
        executable: str | None = None,
        connect_timeout: float = 30.0,
        request_timeout: float = 120.0,
        environment: int | None = 0,
        character: str = "Chars/Female1",
        initial_room: str = "kitchen",
        x_display: str | None = None,
        no_graphics: bool = False,
    ):
        self._cu = load_comm_unity()
        self.address = f"http://{host}:{port}"
        self.environment = None if environment is None else int(environment)
        self.character = character
        self.initial_room = initial_room
        self.request_timeout = float(request_timeout)
        self._launcher = None
        if executable:
            self._launch(str(executable), str(port), x_display, bool(no_graphics))
        # The launcher is not handed to UnityCommunication: on a slow start it calls sys.exit().
        self.comm = self._cu.UnityCommunication(url=host, port=str(port), timeout_wait=self.request_timeout)
        self.description = f"unity, simulator at {self.address}"
        self.char_id = -1
        self._graph: dict = {"nodes": [], "edges": []}
        try:
            self._wait_until_up(float(connect_timeout))
        except Exception:
            self.close()
            raise

    def _launch(self, executable: str, port: str, x_display: str | None, no_graphics: bool) -> None:
        path = Path(executable).expanduser()
        candidates = [path] + [path.with_name(path.name + ext) for ext in (".x86_64", ".x86", ".exe", ".app")]
        if not any(c.exists() for c in candidates):
            raise FileNotFoundError(f"cannot start the VirtualHome Unity executable {executable!r}: no such file")
        try:
            self._launcher = self._cu.communication.UnityLauncher(
                port=port, file_name=str(path), x_display=x_display, no_graphics=no_graphics, logging=False
            )
        except Exception as exc:  # the launcher raises bare Exceptions
            raise FileNotFoundError(f"cannot start the VirtualHome Unity executable {executable!r}: {exc}") from None

    def _wait_until_up(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last = "no answer"
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ConnectionError(
                    f"the VirtualHome Unity simulator at {self.address} did not answer within {timeout:g} s "
                    f"({last}); start it first or pass executable=PATH"
                )
            proc = getattr(self._launcher, "proc", None)
            if proc is not None and proc.poll() is not None:
                raise ConnectionError(
                    f"the VirtualHome Unity executable exited with code {proc.returncode} before answering"
                )
            self.comm.timeout_wait = max(0.2, min(5.0, remaining))
            try:
                self._post({"action": "idle"})
                break
            except ConnectionError as exc:
                last = str(exc)
                time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))
        self.comm.timeout_wait = self.request_timeout

    def _post(self, request: dict) -> dict:
        request = {"id": str(time.time()), **request}
        try:
            return self.comm.post_command(request)
        except (self._cu.UnityCommunicationException, self._cu.UnityEngineException) as exc:
            raise ConnectionError(
                f"VirtualHome Unity simulator at {self.address}, action {request['action']!r}: "
                f"{getattr(exc, 'message', exc)}"
            ) from None

    def _call(self, what: str, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (self._cu.UnityCommunicationException, self._cu.UnityEngineException) as exc:
            raise ConnectionError(
                f"VirtualHome Unity simulator at {self.address}, {what}: {getattr(exc, 'message', exc)}"
            ) from None

    def _refresh(self) -> dict:
        ok, graph = self._call("environment_graph", self.comm.environment_graph)
        if not ok or not isinstance(graph, dict) or "nodes" not in graph:
            raise RuntimeError(f"the Unity simulator at {self.address} returned no environment graph")
        self._graph = graph
        return graph

    # ------------------------------------------------------------------ backend interface
    def reset(self) -> dict:
        if not self._call("reset", self.comm.reset, self.environment):
            raise RuntimeError(f"the Unity simulator at {self.address} could not load environment {self.environment}")
        if not self._call("add_character", self.comm.add_character, self.character, initial_room=self.initial_room):
            raise RuntimeError(f"the Unity simulator could not add character {self.character!r} in {self.initial_room}")
        graph = self._refresh()
        chars = [n["id"] for n in graph["nodes"] if n.get("class_name") == "character"]
        if not chars:
            raise RuntimeError("the Unity environment graph has no character after add_character")
        self.char_id = min(chars)
        return graph

    def graph(self) -> dict:
        return self._graph

    def unity_line(self, line: str) -> str:
        """The script line for character 0, object names replaced by the graph's class names."""
        classes = {n["id"]: n.get("class_name") for n in self._graph["nodes"]}
        body = _PARAM.sub(lambda m: f"<{classes.get(int(m.group(2))) or m.group(1)}> ({m.group(2)})", line.strip())
        return f"<char0> {body}"

    def _free_hand_rule(self, line: str) -> str:
        match = _ACTION.match(line)
        if match and match.group(1).upper() in ("SWITCHON", "SWITCHOFF"):
            holds = {e["relation_type"] for e in self._graph["edges"] if e["from_id"] == self.char_id}
            if {"HOLDS_RH", "HOLDS_LH"} <= holds:
                return f"<character> ({self.char_id}) does not have a free hand"
        return ""

    def execute(self, line: str) -> tuple[bool, str]:
        reason = self._free_hand_rule(line)
        if reason:
            return False, reason
        ok, message = self._call(
            "render_script",
            self.comm.render_script,
            [self.unity_line(line)],
            recording=False,
            skip_animation=True,
            image_synthesis=[],
            find_solution=False,
        )
        self._refresh()
        return (True, "") if ok else (False, _reason(message) or f"{line} is not executable")

    def check(self, line: str) -> tuple[bool, str]:
        reason = self._free_hand_rule(line)
        if reason:
            return False, reason
        ok, message = self._call("check_script", self.comm.check, [self.unity_line(line)])
        if isinstance(message, str):
            try:
                message = json.loads(message)
            except ValueError:
                pass
        return (True, "") if ok else (False, _reason(message) or f"{line} is not executable")

    def close(self) -> None:
        if self._launcher is not None:
            self._launcher.close()
            self._launcher = None
