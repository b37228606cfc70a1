"""``eval --video``: frames come over the real bridge (the protocol's ``frames`` request), one per primitive
step, and the GIF written holds exactly the episode's primitive steps, each with its caption."""

from __future__ import annotations

import numpy as np
import pytest

from agent_runtime.config import load_config
from agent_runtime.envs import make_env

SALAD = ["env.options.max_steps=24", "model.name=tiny", "model.dtype=fp32", "run.progress=false"]


def test_a_spawned_salad_server_sends_one_frame_per_primitive_step() -> None:
    cfg = load_config("overcooked-tomato-salad", SALAD)
    venv = make_env(cfg.env, num_envs=1)
    try:
        venv.reset([3])
        assert venv.frames(0, record=True) == []  # recording on; a reset draws nothing
        counts = []
        for action in (0, 1, 2):
            (obs,) = venv.step([action])
            frames = venv.frames(0)
            assert len(frames) == obs.k >= 1
            assert all(f["w"] == f["h"] == 7 * 24 and len(f["rgb"]) == f["w"] * f["h"] * 3 for f in frames)
            counts.append(len(frames))
        assert venv.frames(0, record=False) == []  # all fetched already; recording off
        venv.step([0])
        assert venv.frames(0) == []  # nothing kept while off
    finally:
        venv.close()


def test_eval_video_writes_a_gif_with_a_frame_per_primitive_step(tmp_path, capsys) -> None:
    from PIL import Image, ImageSequence

    from agent_runtime.cli import main
    from agent_runtime.evaluate import evaluate

    out = tmp_path / "salad.gif"
    sets = [x for s in SALAD for x in ("--set", s)]
    rc = main(["eval", "--config", "overcooked-tomato-salad", "--policy", "zero-shot", "--episodes", "1",
               "--seed-start", "5", "--video", str(out), *sets])  # fmt: skip
    assert rc == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("video: "))
    # The same greedy episode again, without a video: its primitive steps.
    cfg = load_config("overcooked-tomato-salad", SALAD)
    (episode,) = evaluate(cfg, "zero-shot", [5], num_envs=1).episodes
    steps = episode["primitive_steps"]
    assert steps >= episode["length"] > 1 and steps >= 24  # the step limit ends it, macros run to their end
    assert f"{steps} frames (primitive steps), {episode['length']} decisions" in line
    with Image.open(out) as gif:
        assert gif.format == "GIF" and gif.n_frames == steps
        frames = [np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(gif)]
    assert len(frames) == steps and len({f.shape for f in frames}) == 1
    kitchen = 7 * 24 * 3  # 7x7 cells of 24 px, scaled 3x to reach 384 px
    for f in frames:
        band = f[kitchen:]  # the caption under the kitchen: white text on dark grey
        assert band.shape[0] >= 20 and (band > 200).all(axis=-1).sum() > 50
    from bridges.overcooked.env import make_env as salad

    start = salad("tomato-salad", max_steps=24)
    start.reset(5)
    assert (frames[0][:kitchen] == start.render_rgb().repeat(3, 0).repeat(3, 1)).all()  # the state step 1 acts on


def test_eval_video_of_a_simulator_without_frames_is_one_line(tmp_path, capsys) -> None:
    from agent_runtime.cli import main

    rc = main(["eval", "--config", "toy", "--policy", "random", "--episodes", "1", "--video", str(tmp_path / "t.gif")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1
    assert err.startswith("agent-runtime: eval --video (toy): no frames from the simulator:")
    assert "does not draw frames" in err
    assert not (tmp_path / "t.gif").exists()


@pytest.mark.parametrize("name", ["clip.avi", "clip"])
def test_eval_video_refuses_other_formats_before_anything_runs(tmp_path, capsys, name) -> None:
    from agent_runtime.cli import main

    rc = main(["eval", "--config", "toy", "--policy", "random", "--video", str(tmp_path / name)])
    assert rc == 2
    assert "the file must end in .gif or .mp4" in capsys.readouterr().err


def test_the_frames_messages_are_validated() -> None:
    from bridges import protocol as P

    ok = {"type": "frames", "v": P.PROTOCOL_VERSION, "id": 1, "env": 0, "frames": [{"w": 2, "h": 1, "rgb": bytes(6)}]}
    assert P.decode_reply(P.encode(ok))["frames"][0]["rgb"] == bytes(6)
    short = {**ok, "frames": [{"w": 2, "h": 1, "rgb": bytes(5)}]}
    with pytest.raises(P.ProtocolError, match="each frame must be"):
        P.decode_reply(P.encode(short))
    with pytest.raises(P.ProtocolError, match="field 'record' of 'frames' must be a bool"):
        P.decode_request(P.encode({"type": "frames", "v": P.PROTOCOL_VERSION, "env": 0, "record": 1}))
