"""Unity mode: the package's UnityCommunication against a local HTTP stand-in for the simulator."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest
from fake_unity_vh import FakeUnity
from vh_helpers import ENT_OPTIMAL, ENT_RESET_TEXT, FOOD_OPTIMAL, FOOD_RESET_TEXT, run_actions

from bridges.virtualhome.env import make_env
from bridges.virtualhome.unity import load_comm_unity


@pytest.fixture
def fake():
    server = FakeUnity()
    yield server
    server.close()


def test_food_preparation_round_trip(fake):
    env = make_env("food-preparation", mode="unity", host="127.0.0.1", port=str(fake.port), connect_timeout=5)
    obs = env.reset()
    assert obs.text == FOOD_RESET_TEXT
    assert fake.actions() == ["idle", "clear", "environment", "add_character", "environment_graph"]
    add = json.loads(fake.requests[3]["stringParams"][0])
    assert add["character_resource"] == "Chars/Female1" and add["initial_room"] == "kitchen"
    assert fake.requests[1]["intParams"] == [0] and fake.requests[2]["intParams"] == [0]
    obs = run_actions(env, FOOD_OPTIMAL)
    assert obs.done and obs.reward == 1.0 and obs.info["success"] is True
    renders = [r for r in fake.requests if r["action"] == "render_script"]
    assert [r["stringParams"][1:] for r in renders] == [
        ["<char0> [WALK] <pancake> (62)"], ["<char0> [GRAB] <pancake> (62)"], ["<char0> [WALK] <microwave> (109)"],
        ["<char0> [OPEN] <microwave> (109)"], ["<char0> [PUTIN] <pancake> (62) <microwave> (109)"],
        ["<char0> [CLOSE] <microwave> (109)"],
    ]
    params = json.loads(renders[0]["stringParams"][0])
    assert params["find_solution"] is False and params["recording"] is False and params["skip_animation"] is True
    assert params["image_synthesis"] == []
    # every script is followed by reading the graph back
    acts = fake.actions()
    assert all(acts[i + 1] == "environment_graph" for i, a in enumerate(acts) if a == "render_script")
    assert all(isinstance(r["id"], str) for r in fake.requests)
    env.close()


def test_entertainment_round_trip_uses_graph_class_names(fake):
    env = make_env("entertainment", mode="unity", port=fake.port)
    assert env.reset().text == ENT_RESET_TEXT
    obs = run_actions(env, ENT_OPTIMAL)
    assert obs.done and obs.reward == 1.0
    lines = [r["stringParams"][1] for r in fake.requests if r["action"] == "render_script"]
    assert "<char0> [SWITCHON] <tv> (297)" in lines  # <television> is the spec's cosmetic name
    env.close()


def test_failures_come_back_with_the_simulators_reason(fake):
    env = make_env("entertainment", mode="unity", port=fake.port)
    env.reset()
    assert env.check_line("[grab] <chips> (61)")[0] is False
    assert fake.actions()[-1] == "check_script"
    obs = env.execute_line("[grab] <chips> (61)")
    assert not obs.info["executed"] and "not close to <chips> (61)" in obs.info["error"]
    assert fake.actions()[-2:] == ["render_script", "environment_graph"]
    run_actions(env, [4, 9, 5, 10, 0, 7])  # both hands full at the TV
    n_before = len(fake.requests)
    obs = env.step(env.action_ids.index(13))
    assert not obs.info["executed"] and "free hand" in obs.info["error"]
    assert len(fake.requests) == n_before  # refused before asking the simulator (TWOSOME's rule)
    obs = env.execute_line("[open] <tv> (297)")
    assert not obs.info["executed"] and "can not be opened" in obs.info["error"]
    env.close()


def test_unreachable_simulator_is_a_clear_error_in_time():
    with socket.socket() as s:  # a port with nobody listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.monotonic()
    with pytest.raises(ConnectionError, match=rf"127\.0\.0\.1:{port} did not answer within 1 s"):
        make_env("food-preparation", mode="unity", port=port, connect_timeout=1)
    assert time.monotonic() - t0 < 5


def test_silent_simulator_times_out():
    """A listener that accepts but never answers is noticed within the connect timeout."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept():
        srv.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(srv.accept()[0])
            except OSError:
                pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        t0 = time.monotonic()
        with pytest.raises(ConnectionError, match="did not answer within 1.5 s"):
            make_env("food-preparation", mode="unity", port=srv.getsockname()[1], connect_timeout=1.5)
        assert time.monotonic() - t0 < 6
    finally:
        stop.set()
        thread.join()
        for c in held:
            c.close()
        srv.close()


def test_missing_executable_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="cannot start the VirtualHome Unity executable"):
        make_env("food-preparation", mode="unity", executable=str(tmp_path / "linux_exec"), connect_timeout=1)


def test_comm_unity_loads_without_opencv():
    cu = load_comm_unity()
    assert hasattr(cu, "UnityCommunication")
    import importlib.util
    import sys

    if importlib.util.find_spec("cv2") is None:
        assert "cv2" not in sys.modules  # the placeholder does not leak
        with pytest.raises(ImportError, match="opencv-python-headless"):
            cu.cv2.imdecode
