"""``agent-runtime eval --video PATH``: one evaluation episode as an animated GIF (or MP4), one frame per
primitive step, the chosen skill and its probability drawn under each frame.

The simulator draws itself (``bridges/frames.py``: the salad kitchen, Crafter, BabyAI) and keeps a
frame before each primitive step while asked to; the frames come over the bridge with the protocol's
``frames`` request after every decision. ``EpisodeVideo`` sits between the one rollout loop and the
environment: as a sink it sees each decision (skill, probability), as the environment it fetches the
frames the step made and labels them with that decision.
"""

from __future__ import annotations

import importlib.util
import logging
import textwrap
from pathlib import Path
from typing import Any

import numpy as np

from agent_runtime.config import Config
from agent_runtime.envs import make_env
from agent_runtime.prompt import PromptBuilder
from agent_runtime.rollout import Collector
from agent_runtime.sinks import Sink
from bridges.spec import Observation, VecEnv

log = logging.getLogger("agent_runtime")

MIN_WIDTH = 384  # frames are scaled up (nearest) to at least this width, so the caption fits
FRAME_MS = 150  # GIF frame duration; MP4 runs at 1000 / FRAME_MS frames per second


class VideoError(ValueError):
    """The simulator draws no frames, or the output format is not available."""


class EpisodeVideo(Sink):
    """The environment (one) seen through: each step's frames, labelled with the decision that made them."""

    def __init__(self, venv: VecEnv):
        if venv.num_envs != 1:
            raise ValueError(f"a video follows one environment, got {venv.num_envs}")
        if not hasattr(venv, "frames"):
            raise VideoError(f"{type(venv).__name__} cannot fetch frames")
        self.venv = venv
        self.num_envs = 1
        self.frames: list[tuple[np.ndarray, str]] = []  # (RGB frame, caption)
        self._label = ""
        self._primitive = 0

    # ---- the rollout loop's environment
    def reset(self, seeds: list[int] | None = None) -> list[Observation]:
        obs = self.venv.reset(seeds)
        self._fetch(record=True)  # turn recording on (whatever a reset drew is not a step)
        self.frames.clear()
        self._primitive = 0
        return obs

    def step(self, actions: list[int]) -> list[Observation]:
        out = self.venv.step(actions)
        for f in self._fetch(record=not out[0].ended):
            self._primitive += 1
            self.frames.append((f, f"t={self._primitive}  {self._label}"))
        return out

    def close(self) -> None:
        self.venv.close()

    def _fetch(self, record: bool) -> list[np.ndarray]:
        try:
            raw = self.venv.frames(0, record=record)  # type: ignore[attr-defined]
        except Exception as e:  # noqa: BLE001 - BridgeError or ValueError: this simulator draws nothing
            raise VideoError(f"no frames from the simulator: {e}") from None
        return [np.frombuffer(f["rgb"], np.uint8).reshape(f["h"], f["w"], 3) for f in raw]

    # ---- the rollout loop's sink
    def decision(self, event: dict[str, Any]) -> None:
        if event["env"] == 0:
            p = event["probs"][event["action"]]
            self._label = f"decision {event['episode_step'] + 1}: {event['action_text']}  (p={p:.2f})"


class LiveFrames:
    """The environments, plus env 0's picture after every reset and step published on the telemetry socket
    (``telemetry.frames``; the TUI shows it). Turns itself off, with one log line, when the simulator draws
    nothing."""

    def __init__(self, venv: VecEnv, telemetry: Any):
        self.venv = venv
        self.telemetry = telemetry
        self.num_envs = venv.num_envs
        self.on = hasattr(venv, "frames")
        if not self.on:
            log.info("telemetry.frames: %s cannot fetch pictures; the TUI shows none", type(venv).__name__)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.venv, name)

    def reset(self, seeds: list[int] | None = None) -> list[Observation]:
        out = self.venv.reset(seeds)
        self._publish()
        return out

    def step(self, actions: list[int]) -> list[Observation]:
        out = self.venv.step(actions)
        self._publish()
        return out

    def close(self) -> None:
        self.venv.close()

    def _publish(self) -> None:
        if not self.on:
            return
        try:
            frames = self.venv.frames(0, record=False, now=True)  # type: ignore[attr-defined]
        except Exception as e:  # noqa: BLE001 - a simulator without pictures: say so once, go on training
            self.on = False
            log.info("telemetry.frames: no pictures from the simulator (%s); the TUI shows none", e)
            return
        if frames:
            self.telemetry.publish_frame({"env": 0, **frames[-1]})


def caption_frames(frames: list[tuple[np.ndarray, str]]) -> list[Any]:
    """PIL images: each frame scaled up to at least MIN_WIDTH, its caption in a band under it."""
    from PIL import Image, ImageDraw, ImageFont

    try:
        font: Any = ImageFont.load_default(size=14)
    except TypeError:  # Pillow < 10.1
        font = ImageFont.load_default()
    out = []
    for rgb, text in frames:
        h, w = rgb.shape[:2]
        scale = max(1, -(-MIN_WIDTH // w))
        img = Image.fromarray(rgb).resize((w * scale, h * scale), Image.Resampling.NEAREST)
        lines = textwrap.wrap(text, width=max(20, img.width // 8)) or [""]
        band = 8 + 18 * len(lines)
        canvas = Image.new("RGB", (img.width, img.height + band), (20, 20, 20))
        canvas.paste(img, (0, 0))
        draw = ImageDraw.Draw(canvas)
        for j, line in enumerate(lines):
            draw.text((6, img.height + 4 + 18 * j), line, fill=(255, 255, 255), font=font)
        out.append(canvas)
    return out


def write_video(frames: list[tuple[np.ndarray, str]], path: Path) -> Path:
    """An animated GIF (``.gif``) or an MP4 (``.mp4``, needs imageio-ffmpeg) of the captioned frames."""
    if not frames:
        raise VideoError("the episode has no frames (no primitive step was taken)")
    images = caption_frames(frames)
    # One size for the whole video (a longer caption makes a taller band): pad to the largest.
    from PIL import Image

    width, height = max(i.width for i in images), max(i.height for i in images)
    padded = []
    for im in images:
        if im.size != (width, height):
            bg = Image.new("RGB", (width, height), (20, 20, 20))
            bg.paste(im, (0, 0))
            im = bg
        padded.append(im)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower()
    if suffix == ".gif":
        # Every frame's caption carries its primitive step, so no two frames are equal and the GIF keeps them all.
        padded[0].save(path, save_all=True, append_images=padded[1:], duration=FRAME_MS, loop=0, optimize=False)
    elif suffix == ".mp4":
        try:
            import imageio.v2 as imageio
            import imageio_ffmpeg  # noqa: F401
        except ImportError:
            raise VideoError(
                "an MP4 needs imageio-ffmpeg: pip install 'agent-runtime[video]' (or write a .gif)"
            ) from None
        even: list[Any] = [np.asarray(im)[: height - height % 2, : width - width % 2] for im in padded]
        imageio.mimwrite(path, even, fps=1000 / FRAME_MS, macro_block_size=1)
    else:
        raise VideoError(f"--video {path}: the file must end in .gif or .mp4")
    return path


def check_video_path(path: str) -> None:
    """Refuse an unknown format before any model loads."""
    suffix = Path(path).suffix.lower()
    if suffix not in (".gif", ".mp4"):
        raise VideoError(f"--video {path}: the file must end in .gif or .mp4")
    if suffix == ".mp4" and importlib.util.find_spec("imageio_ffmpeg") is None:
        raise VideoError(
            f"--video {path}: an MP4 needs imageio-ffmpeg: pip install 'agent-runtime[video]' (or write a .gif)"
        )


def record_episode(
    cfg: Config, policy_kind: str, seed: int, path: str | Path, checkpoint: str | None = None, greedy: bool = True
) -> dict[str, Any]:
    """Play one episode from ``seed`` with the evaluation policy and write it to ``path``.

    Returns the episode's record with ``video`` (the path) and ``frames`` (the frame count, which is the
    episode's ``primitive_steps``)."""
    from agent_runtime.evaluate import make_actor

    check_video_path(str(path))
    actor, guide = make_actor(cfg, policy_kind, 1, checkpoint)
    video = EpisodeVideo(make_env(cfg.env, num_envs=1))
    try:
        collector = Collector(video, actor, PromptBuilder(cfg.prompt.template), video, guide=guide, greedy=greedy)  # type: ignore[arg-type]
        episodes = collector.episodes_from([seed])
    finally:
        video.close()
        if guide:
            guide.close()
    if not episodes:
        raise VideoError(f"the episode from seed {seed} was lost (its simulator crashed): no video")
    record = dict(episodes[0].record)
    out = write_video(video.frames, Path(path))
    record.update(video=str(out), frames=len(video.frames))
    return record
