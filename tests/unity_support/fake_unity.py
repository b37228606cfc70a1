"""A stand-in for a Unity scene that keeps the bridge's contract, for tests without Unity.

``ToyScene`` plays the C# side of docs/unity_side_channel.md the way the ML-Agents
Academy would: agents whose skills take several frames, *hold* (action 0) making an
agent request a decision again, episode ends reported as terminal infos followed by
the next episode's decision, and one text side-channel message each time an agent's
observations are collected.  It speaks real ``mlagents_envs`` protobufs, either

* in-process, through ``SceneCommunicator`` (a ``Communicator`` subclass given to
  ``UnityEnvironment``), or
* over real gRPC as a separate process (``python fake_unity.py --port P``): like the
  Unity Editor, it connects to the Python side's gRPC server and calls
  Exchange until Python answers with status 400 (close).

Runs in the Unity virtualenv (needs ``mlagents_envs`` and ``grpcio``).
"""

from __future__ import annotations

import argparse
import os
import random
import struct
import sys
import time
import uuid
from dataclasses import dataclass, field

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

from mlagents_envs.communicator import Communicator  # noqa: E402
from mlagents_envs.communicator_objects.agent_info_pb2 import AgentInfoProto  # noqa: E402
from mlagents_envs.communicator_objects.brain_parameters_pb2 import ActionSpecProto, BrainParametersProto  # noqa: E402
from mlagents_envs.communicator_objects.command_pb2 import RESET, STEP  # noqa: E402
from mlagents_envs.communicator_objects.capabilities_pb2 import UnityRLCapabilitiesProto  # noqa: E402
from mlagents_envs.communicator_objects.observation_pb2 import NONE as COMPRESSION_NONE  # noqa: E402
from mlagents_envs.communicator_objects.observation_pb2 import ObservationProto  # noqa: E402
from mlagents_envs.communicator_objects.unity_output_pb2 import UnityOutputProto  # noqa: E402
from mlagents_envs.communicator_objects.unity_rl_initialization_output_pb2 import (  # noqa: E402
    UnityRLInitializationOutputProto,
)
from mlagents_envs.communicator_objects.unity_rl_output_pb2 import UnityRLOutputProto  # noqa: E402
from mlagents_envs.environment import UnityEnvironment  # noqa: E402

from bridges.unity.side_channel import CHANNEL_ID, AgentMessage, encode_message  # noqa: E402

ENGINE_CHANNEL = uuid.UUID("e951342c-4f7e-11ea-b238-784f4387d1f7")
PARAMS_CHANNEL = uuid.UUID("534c891e-810f-11ea-a9d0-822485860400")
COLOURS = ["red", "blue", "green", "yellow", "purple", "orange", "white", "black"]


@dataclass
class ToyAgent:
    key: int
    index: int
    episode_id: int = -1
    doors: list[str] = field(default_factory=list)
    target: int = 0
    decisions: int = 0  # skills finished this episode
    frames: int = 0  # Academy steps this episode
    skill: int | None = None
    frames_left: int = 0
    k: int = 0
    reward: float = 0.0  # since the agent last reported
    successes: int = 0
    requesting: bool = False  # RequestDecision() was called: reported at the next SendInfo
    restart_in: int = -1  # frames until OnEpisodeBegin asks for a decision (-1: not waiting)


class ToyScene:
    """Agents picking the door that hides the key; skills take 1-3 frames."""

    def __init__(
        self,
        keys: list[int] | None = None,
        behaviour: str = "DoorSkills?team=0",
        extra_behaviours: tuple[str, ...] = (),
        num_doors: int = 3,
        max_skills: int = 8,
        decisions_per_episode: int = 2,
        max_frames: int = 0,
        restart_delay: int = 0,
        seed: int = 0,
        fault: str = "",
        fault_at: int = 1,
        ray_sensor: bool = False,
    ):
        self.behaviour = behaviour
        self.extra_behaviours = extra_behaviours
        self.num_doors = num_doors
        self.max_skills = max_skills
        self.decisions_per_episode = decisions_per_episode
        self.max_frames = max_frames
        self.restart_delay = restart_delay
        self.rng = random.Random(seed)
        self.fault = fault
        self.fault_at = fault_at
        self.ray_sensor = ray_sensor  # another vector sensor whose name sorts before "VectorSensor"
        self.agents = [ToyAgent(key=k, index=i) for i, k in enumerate(keys if keys is not None else [100, 101])]
        self._next_episode_id = 1000
        self._last_decided: list[ToyAgent] = []
        self._terminal: list[tuple[ToyAgent, AgentInfoProto, bytes]] = []
        self.outputs = 0
        self._specs_sent = False
        # What the Python side sent, for the tests to check.
        self.seed: int | None = None
        self.time_scale: float | None = None
        self.params: dict[str, float] = {}
        self.skill_log: list[tuple[int, int, int]] = []  # (academy step, key, skill) for every skill started
        self.resets = 0

    # -- the Academy ------------------------------------------------------------------

    def _begin_episode(self, a: ToyAgent) -> None:
        a.episode_id = self._next_episode_id
        self._next_episode_id += 1
        n = int(self.params.get("num_doors", self.num_doors))
        a.doors = self.rng.sample(COLOURS, n)
        a.target = self.rng.randrange(n)
        a.decisions = a.frames = a.successes = 0
        a.skill, a.frames_left, a.k, a.reward = None, 0, 0, 0.0
        if self.restart_delay:
            a.restart_in = self.restart_delay
        else:
            a.requesting = True

    def _text(self, a: ToyAgent) -> str:
        return (
            f"You are in a hall with {len(a.doors)} doors: {', '.join(a.doors)}. "
            f"The key is behind the {a.doors[a.target]} door. You should"
        )

    def _message(self, a: ToyAgent, success: bool = False) -> AgentMessage:
        return AgentMessage(key=a.key, text=self._text(a), goal="find the key",
                            skills=[f"open the {c} door" for c in a.doors], k=a.k, success=success)

    def _info(self, a: ToyAgent, done: bool = False, interrupted: bool = False) -> AgentInfoProto:
        key = 0.5 if self.fault == "bad_key" and self.outputs >= self.fault_at else float(a.key)
        obs = [ObservationProto(
            float_data=ObservationProto.FloatData(data=[key, float(a.target), float(a.decisions)]),
            shape=[3], compression_type=COMPRESSION_NONE, name="VectorSensor_size3",
        )]
        if self.ray_sensor:  # ML-Agents orders sensors by name: this one comes first
            obs.insert(0, ObservationProto(float_data=ObservationProto.FloatData(data=[0.25, 0.75]), shape=[2],
                                           compression_type=COMPRESSION_NONE, name="RayPerceptionSensor"))
        return AgentInfoProto(reward=a.reward, done=done, max_step_reached=interrupted, id=a.episode_id,
                              observations=obs)

    def _frame(self, step_no: int) -> None:
        """AgentAct: run every agent's skill for one frame."""
        for a in self.agents:
            if a.restart_in > 0:
                a.restart_in -= 1
                if a.restart_in == 0:
                    a.restart_in = -1
                    a.requesting = True
                continue
            a.frames += 1
            if a.skill is not None:
                a.frames_left -= 1
                a.k += 1
                if a.frames_left == 0:
                    hit = a.skill == a.target
                    a.reward += 1.0 if hit else 0.0
                    a.successes += int(hit)
                    a.decisions += 1
                    a.skill = None
                    if a.decisions >= self.decisions_per_episode:
                        self._end(a, interrupted=False, success=a.successes == a.decisions)
                        continue
                    a.target = self.rng.randrange(len(a.doors))
                    a.requesting = True
            if self.max_frames and a.frames >= self.max_frames and a.episode_id >= 0:
                self._end(a, interrupted=True, success=False)

    def _end(self, a: ToyAgent, interrupted: bool, success: bool) -> None:
        """NotifyAgentDone (collects observations: the final message) then OnEpisodeBegin."""
        self._terminal.append((a, self._info(a, done=True, interrupted=interrupted),
                               encode_message(self._message(a, success=success))))
        a.requesting = False
        self._begin_episode(a)

    def _output(self) -> UnityOutputProto:
        """SendInfo + DecideAction: the batch Python gets."""
        self.outputs += 1
        infos: list[AgentInfoProto] = []
        channel = bytearray()
        for _, info, msg in self._terminal:
            infos.append(info)
            channel += _frame_message(CHANNEL_ID, msg)
        self._terminal = []
        self._last_decided = [a for a in self.agents if a.requesting]
        for i, a in enumerate(self._last_decided):
            a.requesting = False
            infos.append(self._info(a))
            msg = encode_message(self._message(a))
            if i == 0 and self.outputs >= self.fault_at:
                if self.fault == "truncate":
                    msg = msg[:-3]
                elif self.fault == "version":
                    msg = struct.pack("<i", 99) + msg[4:]
                elif self.fault == "too_many_skills":
                    m = self._message(a)
                    m.skills = [f"skill {j}" for j in range(self.max_skills + 1)]
                    msg = encode_message(m)
            if not (self.fault == "missing" and i == 0 and self.outputs >= self.fault_at):
                channel += _frame_message(CHANNEL_ID, msg)
            a.reward = 0.0
            a.k = 0
        agent_infos = {self.behaviour: UnityRLOutputProto.ListAgentInfoProto(value=infos)}
        out = UnityOutputProto()
        if not self._specs_sent and infos:
            # Like the C# communicator: a behaviour's spec travels with its first agent infos.
            self._specs_sent = True
            out.rl_initialization_output.CopyFrom(UnityRLInitializationOutputProto(brain_parameters=self._brains()))
            for b in self.extra_behaviours:  # one idle agent each, so that Python registers them
                agent_infos[b] = UnityRLOutputProto.ListAgentInfoProto(value=[self._info(self.agents[0])])
        out.rl_output.CopyFrom(UnityRLOutputProto(agentInfos=agent_infos, side_channel=bytes(channel)))
        return out

    def _brains(self) -> list[BrainParametersProto]:
        spec = ActionSpecProto(num_discrete_actions=1, discrete_branch_sizes=[self.max_skills + 1])
        return [BrainParametersProto(brain_name=b, is_training=True, action_spec=spec)
                for b in (self.behaviour, *self.extra_behaviours)]

    # -- Python -> Unity ----------------------------------------------------------------

    def initialize_output(self) -> UnityOutputProto:
        """Academy initialization: versions and capabilities; no behaviour specs yet (as in C#)."""
        caps = UnityRLCapabilitiesProto(baseRLCapabilities=True, concatenatedPngObservations=True,
                                        compressedChannelMapping=True, hybridActions=True,
                                        trainingAnalytics=True, variableLengthObservation=True,
                                        multiAgentGroups=True)
        init = UnityRLInitializationOutputProto(
            name="ToyScene", communication_version=UnityEnvironment.API_VERSION,
            package_version="toy", log_path="", capabilities=caps,
        )
        return UnityOutputProto(rl_initialization_output=init)

    def on_initialize_input(self, unity_input) -> None:
        self.seed = unity_input.rl_initialization_input.seed
        self.rng.seed(self.seed)

    def handle(self, rl_input) -> UnityOutputProto:
        self._read_side_channels(bytes(rl_input.side_channel))
        step_no = self.outputs
        if rl_input.command == RESET:
            self.resets += 1
            for a in self.agents:
                self._begin_episode(a)
                a.restart_in, a.requesting = -1, True
            self._terminal = []
            return self._output()
        assert rl_input.command == STEP, rl_input.command
        actions = list(rl_input.agent_actions[self.behaviour].value) if self.behaviour in rl_input.agent_actions else []
        if actions and len(actions) != len(self._last_decided):
            raise AssertionError(f"{len(actions)} actions for {len(self._last_decided)} deciding agents")
        for a, act in zip(self._last_decided, actions):
            v = int(act.discrete_actions[0])
            if v == 0:
                a.requesting = True  # hold: OnActionReceived(0) -> RequestDecision()
                continue
            skill = v - 1
            if not 0 <= skill < len(a.doors):
                raise AssertionError(f"agent key {a.key} got skill {skill} but offered {len(a.doors)}")
            self.skill_log.append((step_no, a.key, skill))
            a.skill, a.frames_left, a.k = skill, 1 + (skill + a.index) % 3, 0
        self._frame(step_no)
        return self._output()

    def _read_side_channels(self, data: bytes) -> None:
        off = 0
        while off < len(data):
            cid = uuid.UUID(bytes_le=data[off:off + 16])
            (n,) = struct.unpack_from("<i", data, off + 16)
            body = data[off + 20:off + 20 + n]
            off += 20 + n
            if cid == ENGINE_CHANNEL:
                (kind,) = struct.unpack_from("<i", body, 0)
                if kind == 2:  # TIME_SCALE
                    (self.time_scale,) = struct.unpack_from("<f", body, 4)
            elif cid == PARAMS_CHANNEL:
                (klen,) = struct.unpack_from("<i", body, 0)
                key = body[4:4 + klen].decode("ascii")
                kind, value = struct.unpack_from("<if", body, 4 + klen)
                if kind == 0:
                    self.params[key] = value


def _frame_message(channel: uuid.UUID, msg: bytes) -> bytes:
    return channel.bytes_le + struct.pack("<i", len(msg)) + msg


class SceneCommunicator(Communicator):
    """In-process peer: UnityEnvironment talks to a ToyScene through real protobufs."""

    def __init__(self, scene: ToyScene):
        super().__init__()
        self.scene = scene
        self.closed = False

    def initialize(self, inputs, poll_callback=None):
        out = self.scene.initialize_output()
        self.scene.on_initialize_input(inputs)
        return out

    def exchange(self, inputs, poll_callback=None):
        if self.closed:
            return None
        return self.scene.handle(inputs.rl_input)

    def close(self):
        self.closed = True


def serve_grpc(scene: ToyScene, port: int, connect_timeout: float = 30.0, host: str = "localhost",
               quit_after: int = 0) -> int:
    """Be the Unity side of a real gRPC connection; return the number of exchanges.

    ``quit_after``: after that many exchanges, leave as the Editor does when Play stops
    (an Exchange with status 400).
    """
    import grpc
    from mlagents_envs.communicator_objects.header_pb2 import HeaderProto
    from mlagents_envs.communicator_objects.unity_message_pb2 import UnityMessageProto
    from mlagents_envs.communicator_objects.unity_to_external_pb2_grpc import UnityToExternalProtoStub

    channel = grpc.insecure_channel(f"{host}:{port}")
    grpc.channel_ready_future(channel).result(timeout=connect_timeout)
    stub = UnityToExternalProtoStub(channel)
    ok = HeaderProto(status=200)
    # As the C# communicator does: the first Exchange carries the initialization output and
    # gets the initialization input; an empty second Exchange gets the first real input.
    reply = stub.Exchange(UnityMessageProto(header=ok, unity_output=scene.initialize_output()))
    scene.on_initialize_input(reply.unity_input)
    reply = stub.Exchange(UnityMessageProto(header=ok))
    exchanges = 0
    try:
        while reply.header.status == 200:
            if quit_after and exchanges >= quit_after:
                stub.Exchange(UnityMessageProto(header=HeaderProto(status=400)))
                break
            out = scene.handle(reply.unity_input.rl_input)
            reply = stub.Exchange(UnityMessageProto(header=ok, unity_output=out))
            exchanges += 1
    except grpc.RpcError as e:  # the trainer closed its side mid-exchange: a Unity player quits then too
        if e.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED):
            raise
    channel.close()
    return exchanges


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--keys", default="100,101", help="agent keys, comma-separated")
    p.add_argument("--doors", type=int, default=3)
    p.add_argument("--decisions", type=int, default=2, help="skills per episode")
    p.add_argument("--connect-timeout", type=float, default=60.0)
    p.add_argument("--quit-after", type=int, default=0, help="stop (status 400) after this many exchanges")
    a = p.parse_args(argv)
    scene = ToyScene(keys=[int(k) for k in a.keys.split(",")], num_doors=a.doors, decisions_per_episode=a.decisions)
    t0 = time.monotonic()
    n = serve_grpc(scene, a.port, a.connect_timeout, quit_after=a.quit_after)
    print(f"fake unity: {n} exchanges, {len(scene.skill_log)} skills, time_scale={scene.time_scale}, "
          f"params={scene.params}, {time.monotonic() - t0:.2f}s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
