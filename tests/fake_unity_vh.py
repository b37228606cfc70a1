"""A local stand-in for the VirtualHome Unity simulator's HTTP interface (for tests only).

It answers the POSTed JSON requests of the package's ``UnityCommunication``
(``{"id", "action", "intParams", "stringParams"}``) with the reply shape the client parses
(``{"id", "success", "message"}``, ``message`` a JSON string where the client decodes one).
Its "physics" is the project's symbolic executor on the project's own scene, so a script
line changes the graph the way the evolving graph would. Every request is recorded.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from bridges.virtualhome.executor import GraphExecutor
from bridges.virtualhome.scene import load_scene

CHAR_ID = 1


class FakeUnity:
    """Serves on 127.0.0.1 (an OS-chosen port) in a background thread."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self._scene = load_scene()
        self._executor: GraphExecutor | None = None
        self._graph: dict = {"nodes": [], "edges": []}
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                request = json.loads(body)
                with fake._lock:
                    fake.requests.append(request)
                    status, reply = fake.answer(request)
                data = json.dumps({"id": request.get("id"), **reply}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def actions(self) -> list[str]:
        return [r["action"] for r in self.requests]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # ------------------------------------------------------------------ the simulator
    def answer(self, request: dict) -> tuple[int, dict]:
        action = request.get("action")
        if action in ("idle", "clear"):
            return 200, {"success": True, "message": ""}
        if action == "environment":
            # A freshly loaded apartment has no character until add_character.
            g = self._scene.fresh_graph()
            g["nodes"] = [n for n in g["nodes"] if n["class_name"] != "character"]
            g["edges"] = [e for e in g["edges"] if CHAR_ID not in (e["from_id"], e["to_id"])]
            self._graph, self._executor = g, None
            return 200, {"success": True, "message": ""}
        if action == "add_character":
            params = json.loads(request["stringParams"][0])
            rooms = {n["class_name"]: n["id"] for n in self._graph["nodes"] if n["category"] == "Rooms"}
            room = params.get("initial_room") or "kitchen"
            if room not in rooms:
                return 200, {"success": False, "message": f"no room {room}"}
            self._graph["nodes"].append({"id": CHAR_ID, "class_name": "character", "category": "Characters",
                                         "properties": [], "states": [], "prefab_name": params["character_resource"]})
            self._graph["edges"].append({"from_id": CHAR_ID, "relation_type": "INSIDE", "to_id": rooms[room]})
            self._executor = GraphExecutor(self._graph, self._scene.name_equivalence)
            return 200, {"success": True, "message": ""}
        if action == "environment_graph":
            graph = self._executor.graph() if self._executor else self._graph
            return 200, {"success": True, "message": json.dumps(graph)}
        if action in ("render_script", "check_script"):
            lines = request["stringParams"][1:] if action == "render_script" else request["stringParams"]
            if self._executor is None:
                return 200, {"success": False, "message": json.dumps({"0": {"message": "no character"}})}
            results, ok_all = {}, True
            for i, line in enumerate(lines):
                if not line.startswith("<char0> "):
                    return 200, {"success": False, "message": f"script line {line!r} names no character"}
                body = line[len("<char0> "):]
                ok, why = (self._executor.execute if action == "render_script" else self._executor.check)(body)
                results[str(i)] = {"message": "Success" if ok else why}
                ok_all = ok_all and ok
                if not ok:
                    break
            return 200, {"success": ok_all, "message": json.dumps(results)}
        return 400, {"success": False, "message": f"unknown action {action!r}"}
