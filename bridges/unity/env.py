"""Unity ML-Agents as skill environments: N thin SkillEnv views onto one UnityEnvironment.

Runs in the Unity virtualenv (``mlagents_envs`` 1.1.0; see setup_venv.sh).  The
contract with the Unity side is in docs/unity_side_channel.md; in short:

* the behaviour has one discrete action branch (more are zero-filled) of size S+1:
  action 0 = *hold* (no new skill: do nothing, request a decision again), action
  i+1 = run skill i of the list the agent last sent;
* element 0 of an agent's vector observation is its *key*: a small integer, stable
  across episodes and unique within the behaviour (ML-Agents' agent id changes
  every episode, so it cannot tie an agent to an env slot);
* each decision request comes with one message on the text side channel
  (bridges.unity.side_channel): key, text, goal, valid skills, k, success.
  Reward and episode end come from ML-Agents' DecisionSteps/TerminalSteps.

Several agents of one behaviour map to several environments: ``make_env`` called N
times for the same port returns N views sharing one ``UnityHub``; view i drives the
agent with the i-th smallest key.  Whichever view is stepping holds the Unity lock
and advances Unity for everybody: each Academy step sends every action that is
pending for an agent waiting on a decision, and *hold* to the others, until its own
agent reports back.  So a server may step its views one after another (skills then
run one at a time) or from several threads (pending actions are batched into the same
Academy steps); neither can deadlock.
"""

from __future__ import annotations

import atexit
import logging
import threading
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

try:
    import grpc
    from mlagents_envs.base_env import ActionTuple
except ImportError as e:  # the runtime's own environment: the bridge lives in its own venv
    raise ImportError(
        f"the unity bridge needs mlagents-envs 1.1.0 and grpcio ({e}); make its virtualenv with "
        "`bash bridges/unity/setup_venv.sh` and run the server with it (config env.python: .venv-unity/bin/python)"
    ) from e
from mlagents_envs.communicator import Communicator
from mlagents_envs.communicator_objects.unity_to_external_pb2_grpc import add_UnityToExternalProtoServicer_to_server
from mlagents_envs.environment import UnityEnvironment
from mlagents_envs.exception import (
    UnityCommunicatorStoppedException,
    UnityEnvironmentException,
    UnityException,
    UnityTimeOutException,
    UnityWorkerInUseException,
)
from mlagents_envs.rpc_communicator import RpcCommunicator, UnityToExternalServicerImplementation
from mlagents_envs.side_channel.engine_configuration_channel import EngineConfigurationChannel
from mlagents_envs.side_channel.environment_parameters_channel import EnvironmentParametersChannel
from mlagents_envs.side_channel.side_channel import SideChannel

from bridges.spec import Observation, SkillError
from bridges.unity.side_channel import CHANNEL_ID, AgentMessage, SideChannelFormatError, decode_message

log = logging.getLogger(__name__)

HOLD = 0  # the discrete action that means "no new skill yet"
MAX_KEY = 1 << 24  # keys travel as float32: integers up to 2**24 are exact

CommunicatorFactory = Callable[[int, int, float], Communicator]


class UnityBridgeError(RuntimeError):
    """The Unity side broke the contract, went away, or cannot be reached."""


class UnityConnectionError(UnityBridgeError):
    """No Unity process answered on the expected port in time, or the port is taken."""


class UnknownBehaviourError(UnityBridgeError):
    """The task names a behaviour that the Unity scene does not have."""


# --------------------------------------------------------------------------- transport


class TextSideChannel(SideChannel):
    """Collects the raw agent messages of one Unity output; parsing happens in the hub."""

    def __init__(self) -> None:
        super().__init__(CHANNEL_ID)
        self.inbox: list[bytes] = []

    def on_message_received(self, msg) -> None:
        self.inbox.append(bytes(msg.get_raw_bytes()))

    def drain(self) -> list[AgentMessage]:
        raw, self.inbox = self.inbox, []
        return [decode_message(b) for b in raw]


class LoopbackRpcCommunicator(RpcCommunicator):
    """ML-Agents' gRPC server, bound to ``host`` (loopback by default, not every interface)."""

    def __init__(self, worker_id: int, base_port: int, timeout_wait: float, host: str = "localhost"):
        self._host = host
        super().__init__(worker_id, base_port, timeout_wait)

    def create_server(self) -> None:
        self.check_port(self.port)
        self.server = grpc.server(thread_pool=ThreadPoolExecutor(max_workers=4))
        self.unity_to_external = UnityToExternalServicerImplementation()
        add_UnityToExternalProtoServicer_to_server(self.unity_to_external, self.server)
        try:
            bound = self.server.add_insecure_port(f"{self._host}:{self.port}")
        except RuntimeError:
            bound = 0
        if not bound:
            raise UnityWorkerInUseException(self.worker_id)
        self.server.start()
        self.is_open = True


class _BridgeUnityEnvironment(UnityEnvironment):
    """UnityEnvironment whose communicator comes from a factory (loopback gRPC, or a test peer)."""

    def __init__(self, communicator_factory: CommunicatorFactory, **kwargs: Any):
        self._communicator_factory = communicator_factory
        try:
            super().__init__(**kwargs)
        except BaseException:
            # UnityEnvironment registers its own close at exit before it connects.
            atexit.unregister(self._close)
            raise

    def _get_communicator(self, worker_id, base_port, timeout_wait):  # type: ignore[override]
        return self._communicator_factory(worker_id, base_port, timeout_wait)


# --------------------------------------------------------------------------- slots


@dataclass
class _Slot:
    """Book-keeping for one env slot (one view, one Unity agent at a time)."""

    index: int
    key: int | None = None
    agent_id: int | None = None  # ML-Agents agent id of the current episode (changes every episode)
    state: str = "new"  # new | idle | pending | acting
    msg: AgentMessage | None = None  # last decision message the view was shown
    vector: list[float] = field(default_factory=list)
    reward: float = 0.0  # collected since the last observation handed out
    action: int | None = None
    sent_at: int = 0  # Academy step when the action went to Unity
    result: Observation | None = None  # answer to an in-flight step
    next_obs: Observation | None = None  # first observation of an episode that began in Unity
    next_msg: AgentMessage | None = None
    next_vector: list[float] = field(default_factory=list)
    ended_obs: Observation | None = None  # episode ended while the view held its observation
    interrupted: str = ""  # a full reset replaced this slot's episode behind the view's back
    attached: bool = True


class UnityHub:
    """One connected UnityEnvironment, one behaviour, shared by N ``UnityAgentEnv`` views."""

    def __init__(
        self,
        behaviour: str = "",
        *,
        file_name: str | None = None,
        worker_id: int = 0,
        base_port: int | None = None,
        no_graphics: bool = True,
        time_scale: float | None = 20.0,
        env_params: dict[str, float] | None = None,
        timeout_wait: float = 60,
        seed: int = 0,
        bind_host: str = "localhost",
        additional_args: list[str] | None = None,
        log_folder: str | None = None,
        max_substeps: int = 10_000,
        key_observation: int | None = None,
        communicator_factory: CommunicatorFactory | None = None,
    ):
        if max_substeps < 1:
            raise ValueError(f"max_substeps must be >= 1, got {max_substeps}")
        self.max_substeps = int(max_substeps)
        self._key_observation = key_observation
        self.timeout_wait = timeout_wait
        self.port = (
            base_port
            if base_port is not None
            else (UnityEnvironment.BASE_ENVIRONMENT_PORT if file_name else UnityEnvironment.DEFAULT_EDITOR_PORT)
        ) + worker_id
        self.file_name = file_name
        self.text_channel = TextSideChannel()
        channels: list[SideChannel] = [self.text_channel]
        if time_scale is not None:
            engine = EngineConfigurationChannel()
            engine.set_configuration_parameters(time_scale=float(time_scale))
            channels.append(engine)
        if env_params:
            params = EnvironmentParametersChannel()
            for k, v in env_params.items():
                try:
                    params.set_float_parameter(str(k), float(v))
                except (TypeError, ValueError):
                    raise ValueError(f"env_params[{k!r}] = {v!r}: Unity environment parameters are floats") from None
            channels.append(params)
        if communicator_factory is None:

            def communicator_factory(w: int, b: int, t: float) -> Communicator:
                return LoopbackRpcCommunicator(w, b, t, host=bind_host)

        where = f"launched from {file_name!r}" if file_name else "the Unity Editor (press Play)"
        try:
            self.env = _BridgeUnityEnvironment(
                communicator_factory,
                file_name=file_name,
                worker_id=worker_id,
                base_port=base_port,
                seed=seed,
                no_graphics=no_graphics,
                timeout_wait=timeout_wait,
                additional_args=additional_args,
                side_channels=channels,
                log_folder=log_folder,
            )
        except UnityTimeOutException as e:
            raise UnityConnectionError(
                f"no Unity environment connected on port {self.port} within timeout_wait={timeout_wait} s "
                f"(waiting for {where}; base_port={base_port}, worker_id={worker_id}). Check that the "
                f"scene runs, its agents' Behavior Type is Default and it uses port {self.port}."
            ) from e
        except UnityWorkerInUseException as e:
            raise UnityConnectionError(
                f"port {self.port} (base_port={base_port} + worker_id={worker_id}) is already in use: "
                f"another environment or process holds it; choose another worker_id or base_port. (All env "
                f"slots of one UnityEnvironment must live in one server process: envs_per_server = num_envs.)"
            ) from e
        except UnityEnvironmentException as e:
            raise UnityConnectionError(f"Unity environment on port {self.port} failed to start: {e}") from e

        self.slots: list[_Slot] = []
        self.started = False
        self.closed = False
        self._academy_steps = 0
        self._unity_lock = threading.RLock()  # whoever holds it talks to Unity
        self._mx = threading.Lock()  # guards pending actions and results between threads
        try:
            # Unity sends a behaviour's spec with the first batch of its agents, not at
            # connection: reset first (this also delivers time_scale and env_params).
            self._call(self.env.reset, "the first reset")
            self._academy_steps += 1
            self.behaviour = self._resolve(behaviour)
            spec = self.env.behavior_specs[self.behaviour]
            self._check_spec(spec)
        except BaseException:
            self._close_env()
            raise
        self.spec = spec
        self.max_skills = spec.action_spec.discrete_branches[0] - 1

    # -- setup checks --------------------------------------------------------------

    def _resolve(self, behaviour: str, patience: int = 100) -> str:
        """The full behaviour name; Unity steps (agents held) until it shows up, ``patience`` at most."""
        for _ in range(min(patience, self.max_substeps)):
            names = sorted(self.env.behavior_specs.keys())
            if not behaviour:
                if len(names) == 1:
                    return names[0]
                if len(names) > 1:
                    raise UnknownBehaviourError(
                        f"the Unity scene has {len(names)} behaviours ({', '.join(names)}); name one as the task"
                    )
            else:
                hits = [n for n in names if n == behaviour or n.split("?", 1)[0] == behaviour]
                if len(hits) == 1:
                    return hits[0]
            self._call(self.env.step, "waiting for the scene's behaviours")  # no actions set: all hold
            self._academy_steps += 1
        names = sorted(self.env.behavior_specs.keys())
        if not behaviour:
            raise UnknownBehaviourError(
                f"the Unity scene on port {self.port} showed no behaviour with agents in {patience} steps"
            )
        raise UnknownBehaviourError(
            f"unknown behaviour {behaviour!r}: the Unity scene on port {self.port} has "
            f"{', '.join(names) if names else 'no behaviour with agents'}"
        )

    def _check_spec(self, spec) -> None:
        branches = spec.action_spec.discrete_branches
        if not branches or branches[0] < 2:
            raise UnityBridgeError(
                f"behaviour {self.behaviour!r} must have a discrete action branch of size (max skills + 1) "
                f"(action 0 = hold, i+1 = skill i); it has discrete branches {tuple(branches)}"
            )
        self.key_obs = self._find_key_observation(spec.observation_specs)

    def _find_key_observation(self, specs) -> int:
        """Which observation carries the key: the CollectObservations vector (ML-Agents sorts sensors
        by name, so it is not always first), else the first vector observation."""
        shapes = [(o.name, tuple(o.shape)) for o in specs]
        if self._key_observation is not None:
            i = self._key_observation
            if not 0 <= i < len(specs) or len(specs[i].shape) != 1 or specs[i].shape[0] < 1:
                raise UnityBridgeError(
                    f"behaviour {self.behaviour!r}: key_observation={i} is not a non-empty vector observation; "
                    f"the observations are {shapes}"
                )
            return i
        vectors = [i for i, o in enumerate(specs) if len(o.shape) == 1 and o.shape[0] >= 1]
        for i in vectors:
            if specs[i].name.startswith("VectorSensor"):
                return i
        if vectors:
            return vectors[0]
        raise UnityBridgeError(
            f"behaviour {self.behaviour!r}: needs a vector observation whose element 0 is the agent key "
            f"(add it first in CollectObservations); the observations are {shapes}"
        )

    # -- views -----------------------------------------------------------------------

    def attach(self) -> UnityAgentEnv:
        """A new view on the next free slot."""
        with self._unity_lock:
            if self.closed:
                raise UnityBridgeError(f"the Unity environment on port {self.port} is closed")
            for slot in self.slots:
                if not slot.attached:
                    slot.attached = True
                    return UnityAgentEnv(self, slot)
            if self.started:
                raise UnityBridgeError(
                    f"cannot add an env slot to the running Unity environment on port {self.port}: "
                    f"its {len(self.slots)} slots were assigned at the first reset"
                )
            slot = _Slot(index=len(self.slots))
            self.slots.append(slot)
            return UnityAgentEnv(self, slot)

    def detach(self, slot: _Slot) -> None:
        with self._unity_lock:
            slot.attached = False
            if not any(s.attached for s in self.slots):
                self.close()

    def close(self) -> None:
        with self._unity_lock:
            if not self.closed:
                self.closed = True
                self._close_env()
                _forget_hub(self)

    def _close_env(self) -> None:
        try:
            self.env.close()
        except UnityException as e:  # already gone: nothing left to release
            log.debug("closing Unity environment: %s", e)

    # -- the episode API used by the views -------------------------------------------

    def reset_slot(self, slot: _Slot) -> Observation:
        with self._unity_lock:
            if not self.started:
                self._start()
            elif slot.state == "idle" and slot.next_obs is None and slot.ended_obs is None and not slot.interrupted:
                # Mid-episode: ML-Agents can only reset the whole scene.
                self._full_reset(caller=slot)
            self._advance_until(
                lambda: slot.next_obs is not None, f"the agent of env slot {slot.index} to begin an episode"
            )
            obs = slot.next_obs
            slot.msg, slot.vector = slot.next_msg, slot.next_vector
            slot.next_obs = slot.next_msg = None
            slot.ended_obs = None
            slot.interrupted = ""
            slot.state = "idle"
            assert obs is not None
            return obs

    def step_slot(self, slot: _Slot, skill: int) -> Observation:
        with self._mx:
            if slot.state != "idle" or slot.msg is None:
                raise UnityBridgeError(f"env slot {slot.index}: step() before reset(), or a step is already running")
            is_int = isinstance(skill, (int, np.integer)) and not isinstance(skill, bool)
            if not is_int or not 0 <= skill < len(slot.msg.skills):
                raise SkillError(f"skill index {skill!r} out of range: {len(slot.msg.skills)} skills are valid")
            if slot.interrupted:
                obs = self._observation(slot, slot.msg, slot.vector, truncated=True)
                obs.info["interrupted"] = slot.interrupted
                slot.state = "new"
                return obs
            if slot.ended_obs is not None:
                obs, slot.ended_obs = slot.ended_obs, None
                slot.state = "new"
                return obs
            slot.action = int(skill)
            slot.result = None
            slot.state = "pending"
        with self._unity_lock:
            self._advance_until(
                lambda: slot.result is not None,
                f"the agent of env slot {slot.index} (key {slot.key}) to finish its skill",
            )
            with self._mx:
                result, slot.result = slot.result, None
        assert result is not None
        return result

    # -- talking to Unity ------------------------------------------------------------

    def _call(self, fn: Callable[[], None], what: str) -> None:
        try:
            fn()
        except UnityTimeOutException as e:
            raise UnityConnectionError(
                f"Unity on port {self.port} did not answer within timeout_wait={self.timeout_wait} s during {what}"
            ) from e
        except UnityCommunicatorStoppedException as e:
            raise UnityConnectionError(f"Unity on port {self.port} closed the connection during {what}") from e
        except UnityEnvironmentException as e:
            raise UnityConnectionError(f"Unity on port {self.port} failed during {what}: {e}") from e

    def _start(self) -> None:
        """First reset (Unity was reset at connection): N distinct agent keys, sorted, go to the slots in order."""
        seen: dict[int, tuple[int, AgentMessage, list[float]]] = {}
        for _ in range(self.max_substeps):
            decision, terminal, msgs = self._read()
            for i, agent_id in enumerate(decision.agent_id):
                key = self._key(decision.obs[self.key_obs][i])
                if key not in msgs:
                    raise self._missing(key, "began an episode")
                seen[key] = (int(agent_id), msgs[key][-1], self._vector(decision.obs[self.key_obs][i]))
            if len(seen) >= len(self.slots):
                break
            self._send_and_step({})
        else:
            raise UnityBridgeError(
                f"behaviour {self.behaviour!r} has {len(seen)} agents requesting decisions after "
                f"{self.max_substeps} Unity steps, but {len(self.slots)} env slots need one agent each"
            )
        for slot, key in zip(self.slots, sorted(seen)):
            agent_id, msg, vector = seen[key]
            slot.key = key
            self._begin_episode(slot, agent_id, msg, vector)
        self.started = True

    def _full_reset(self, caller: _Slot) -> None:
        self._call(self.env.reset, "a reset")
        self._academy_steps += 1
        why = f"the Unity scene was reset for env slot {caller.index}"
        with self._mx:
            for slot in self.slots:
                if slot is not caller and slot.state == "idle" and slot.ended_obs is None:
                    slot.interrupted = why
                if slot.state in ("acting", "pending") and slot.msg is not None:
                    slot.result = self._observation(slot, slot.msg, slot.vector, truncated=True)
                    slot.result.info["interrupted"] = why
                    slot.state = "new"
                slot.agent_id = None
                slot.next_obs = slot.next_msg = None
                slot.reward = 0.0  # an ended_obs stays: that episode did end, its view hears so at its next step
        self._distribute(*self._read())

    def _advance_until(self, done: Callable[[], bool], what: str) -> None:
        for _ in range(self.max_substeps):
            with self._mx:
                if done():
                    return
                actions = {s.index: s.action for s in self.slots if s.state == "pending" and s.action is not None}
            self._send_and_step(actions)
            self._distribute(*self._read())
        raise UnityBridgeError(
            f"behaviour {self.behaviour!r}: waited {self.max_substeps} Unity steps (max_substeps) for {what}"
        )

    def _send_and_step(self, actions: dict[int, int]) -> None:
        """One Academy step: pending skills to agents that wait on a decision, HOLD to the rest."""
        decision, _ = self.env.get_steps(self.behaviour)
        n = len(decision)
        if n:
            spec = self.spec.action_spec
            discrete = np.zeros((n, spec.discrete_size), dtype=np.int32)
            by_agent = {s.agent_id: s for s in self.slots if s.index in actions and s.agent_id is not None}
            sent = []
            for i, agent_id in enumerate(decision.agent_id):
                slot = by_agent.get(int(agent_id))
                if slot is not None:
                    discrete[i, 0] = actions[slot.index] + 1
                    sent.append(slot)
            continuous = np.zeros((n, spec.continuous_size), dtype=np.float32)
            self.env.set_actions(self.behaviour, ActionTuple(continuous=continuous, discrete=discrete))
            with self._mx:
                for slot in sent:
                    slot.state = "acting"
                    slot.sent_at = self._academy_steps
        self._call(self.env.step, "a step")
        self._academy_steps += 1

    def _read(self):
        decision, terminal = self.env.get_steps(self.behaviour)
        try:
            messages = self.text_channel.drain()
        except SideChannelFormatError as e:
            raise UnityBridgeError(f"behaviour {self.behaviour!r}: {e}") from e
        msgs: dict[int, list[AgentMessage]] = defaultdict(list)
        for m in messages:
            msgs[m.key].append(m)
        return decision, terminal, msgs

    def _key(self, row: np.ndarray) -> int:
        v = float(row[0])
        if not (v.is_integer() and 0 <= v < MAX_KEY):
            raise UnityBridgeError(
                f"behaviour {self.behaviour!r}: element 0 of observation {self.key_obs} must be the agent key, "
                f"an integer in [0, {MAX_KEY}); got {v!r}"
            )
        return int(v)

    @staticmethod
    def _vector(row: np.ndarray) -> list[float]:
        return [float(x) for x in row[1:]]

    def _check_message(self, slot: _Slot, msg: AgentMessage, ended: bool) -> None:
        if len(msg.skills) > self.max_skills:
            raise UnityBridgeError(
                f"behaviour {self.behaviour!r}, agent key {msg.key}: {len(msg.skills)} skills, but the discrete "
                f"action branch (size {self.max_skills + 1}) allows at most {self.max_skills}"
            )
        if not ended and not msg.skills:
            raise UnityBridgeError(
                f"behaviour {self.behaviour!r}, agent key {msg.key}: requested a decision with no valid skills"
            )

    def _observation(
        self,
        slot: _Slot,
        msg: AgentMessage,
        vector: list[float],
        *,
        k: int = 0,
        done: bool = False,
        truncated: bool = False,
    ) -> Observation:
        info: dict[str, Any] = {"vector": vector, "agent_key": slot.key}
        if done or truncated:
            info["success"] = bool(msg.success)
        return Observation(
            text=msg.text,
            skills=list(msg.skills),
            goal=msg.goal,
            reward=slot.reward,
            done=done,
            truncated=truncated,
            k=k,
            info=info,
        )

    def _begin_episode(
        self, slot: _Slot, agent_id: int, msg: AgentMessage, vector: list[float], reward: float = 0.0
    ) -> None:
        """The slot's agent began an episode in Unity; its view picks it up at its next reset."""
        self._check_message(slot, msg, ended=False)
        slot.agent_id = agent_id
        slot.reward = 0.0
        slot.next_obs = self._observation(slot, msg, vector)
        slot.next_msg, slot.next_vector = msg, vector
        slot.reward = reward  # anything Unity paid before the first skill counts toward the first step

    def _missing(self, key: int | None, what: str) -> UnityBridgeError:
        return UnityBridgeError(
            f"behaviour {self.behaviour!r}, agent key {key}: {what} but sent no message on side channel "
            f"{CHANNEL_ID} in the same Unity step (see docs/unity_side_channel.md)"
        )

    def _distribute(self, decision, terminal, msgs: dict[int | None, list[AgentMessage]]) -> None:
        """Hand one Unity output to the slots: ended episodes first, then new decisions."""
        slot_by_key = {s.key: s for s in self.slots if s.key is not None}
        with self._mx:
            for i, agent_id in enumerate(terminal.agent_id):
                slot = slot_by_key.get(self._key(terminal.obs[self.key_obs][i]))
                if slot is None or slot.agent_id != int(agent_id):
                    continue  # an agent no slot drives, or an episode the slot already left
                queue = msgs.get(slot.key, [])
                # The final message comes before the next episode's first one.
                msg = queue.pop(0) if queue else slot.msg
                assert msg is not None
                self._check_message(slot, msg, ended=True)
                slot.reward += float(terminal.reward[i])
                interrupted = bool(terminal.interrupted[i])
                obs = self._observation(
                    slot,
                    msg,
                    self._vector(terminal.obs[self.key_obs][i]),
                    k=self._k(slot, msg),
                    done=not interrupted,
                    truncated=interrupted,
                )
                slot.reward = 0.0
                slot.agent_id = None
                if slot.state in ("acting", "pending"):
                    slot.result = obs
                    slot.state = "new"
                elif slot.state == "idle":
                    slot.ended_obs = obs
            for i, agent_id in enumerate(decision.agent_id):
                agent_id = int(agent_id)
                slot = slot_by_key.get(self._key(decision.obs[self.key_obs][i]))
                if slot is None:
                    continue
                queue = msgs.get(slot.key, [])
                vector = self._vector(decision.obs[self.key_obs][i])
                if slot.agent_id is None:
                    if not queue:
                        raise self._missing(slot.key, "began an episode")
                    self._begin_episode(slot, agent_id, queue[-1], vector, float(decision.reward[i]))
                    continue
                if agent_id != slot.agent_id:
                    # A new episode without a terminal step for the old one: treat the old one as cut.
                    why = f"agent key {slot.key} began a new episode without ending the old one"
                    if slot.state in ("acting", "pending") and slot.msg is not None:
                        slot.result = self._observation(slot, slot.msg, slot.vector, truncated=True)
                        slot.result.info["interrupted"] = why
                        slot.state = "new"
                    elif slot.state == "idle" and slot.ended_obs is None:
                        slot.interrupted = why
                    if not queue:
                        raise self._missing(slot.key, "began an episode")
                    self._begin_episode(slot, agent_id, queue[-1], vector)
                    continue
                slot.reward += float(decision.reward[i])
                if slot.state == "acting" and slot.sent_at < self._academy_steps:
                    if not queue:
                        raise self._missing(slot.key, "requested a decision after a skill")
                    msg = queue[-1]
                    self._check_message(slot, msg, ended=False)
                    obs = self._observation(slot, msg, vector, k=self._k(slot, msg))
                    slot.msg, slot.vector, slot.reward = msg, vector, 0.0
                    slot.result = obs
                    slot.state = "idle"

    def _k(self, slot: _Slot, msg: AgentMessage) -> int:
        # Unity's own count when it gives one, else the Academy steps the skill spanned.
        return msg.k if msg.k > 0 else max(1, self._academy_steps - slot.sent_at)


class UnityAgentEnv:
    """One env slot of a shared ``UnityHub``: a SkillEnv driving one Unity agent."""

    name = "unity"

    def __init__(self, hub: UnityHub, slot: _Slot):
        self.hub = hub
        self._slot = slot
        self.task = hub.behaviour.split("?", 1)[0]
        self._closed = False

    @property
    def slot(self) -> int:
        return self._slot.index

    def reset(self, seed: int | None = None) -> Observation:
        """The agent's next episode. Unity is seeded once, at connection (make_env's seed)."""
        self._check_open()
        return self.hub.reset_slot(self._slot)

    def step(self, skill: int) -> Observation:
        self._check_open()
        return self.hub.step_slot(self._slot, skill)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.hub.detach(self._slot)

    def _check_open(self) -> None:
        if self._closed:
            raise UnityBridgeError(f"env slot {self._slot.index} is closed")


# --------------------------------------------------------------------------- factory

_HUBS: dict[tuple[str | None, int], UnityHub] = {}
_HUBS_LOCK = threading.Lock()


def _forget_hub(hub: UnityHub) -> None:
    with _HUBS_LOCK:
        for k, v in list(_HUBS.items()):
            if v is hub:
                del _HUBS[k]


def _as_bool(name: str, v: Any) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, str) and v.strip().lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
        return v.strip().lower() in ("1", "true", "yes", "on")
    if isinstance(v, int):
        return bool(v)
    raise ValueError(f"option {name}={v!r}: expected true or false")


def _as_number(name: str, v: Any, kind: type) -> Any:
    try:
        return kind(v)
    except (TypeError, ValueError):
        raise ValueError(f"option {name}={v!r}: expected {kind.__name__}") from None


def _as_dict(name: str, v: Any) -> dict[str, float]:
    if v is None or v == "":
        return {}
    if isinstance(v, str):  # "a=1,b=2" from a command line
        out = {}
        for part in v.split(","):
            key, sep, val = part.partition("=")
            if not sep:
                raise ValueError(f"option {name}={v!r}: expected a mapping or 'key=value,key=value'")
            out[key.strip()] = val.strip()
        v = out
    if not isinstance(v, dict):
        raise ValueError(f"option {name}={v!r}: expected a mapping of parameter names to floats")
    return {str(k): _as_number(f"{name}.{k}", x, float) for k, x in v.items()}


def make_env(
    task: str = "",
    seed: int | None = None,
    file_name: str | None = None,
    worker_id: int = 0,
    base_port: int | None = None,
    no_graphics: bool = True,
    time_scale: float | None = 20.0,
    env_params: dict[str, float] | None = None,
    timeout_wait: float = 60,
    bind_host: str = "localhost",
    additional_args: list[str] | None = None,
    log_folder: str | None = None,
    max_substeps: int = 10_000,
    key_observation: int | None = None,
    communicator_factory: CommunicatorFactory | None = None,
) -> UnityAgentEnv:
    """A SkillEnv on behaviour ``task`` ("" = the only one) of a Unity environment.

    ``file_name`` None connects to the Editor (port 5004 unless ``base_port`` says
    otherwise), else launches that build (port ``base_port`` (5005) + ``worker_id``).
    Calls with the same port share one UnityEnvironment: each returns the next slot.
    ``seed`` is given to Unity once, when it connects.
    """
    file_name = file_name or None
    worker_id = _as_number("worker_id", worker_id, int)
    base_port = None if base_port in (None, "") else _as_number("base_port", base_port, int)
    port = (
        base_port
        if base_port is not None
        else (UnityEnvironment.BASE_ENVIRONMENT_PORT if file_name else UnityEnvironment.DEFAULT_EDITOR_PORT)
    ) + worker_id
    if isinstance(additional_args, str):
        additional_args = additional_args.split()
    with _HUBS_LOCK:
        hub = _HUBS.get((file_name, port))
    if hub is not None:
        if task and hub.behaviour.split("?", 1)[0] != task.split("?", 1)[0]:
            raise UnityBridgeError(
                f"port {port} already serves behaviour {hub.behaviour!r}; one UnityEnvironment serves one "
                f"behaviour per server (asked for {task!r})"
            )
        return hub.attach()
    hub = UnityHub(
        task,
        file_name=file_name,
        worker_id=worker_id,
        base_port=base_port,
        no_graphics=_as_bool("no_graphics", no_graphics),
        time_scale=None if time_scale in (None, "") else _as_number("time_scale", time_scale, float),
        env_params=_as_dict("env_params", env_params),
        timeout_wait=_as_number("timeout_wait", timeout_wait, float),
        seed=0 if seed is None else _as_number("seed", seed, int),
        bind_host=bind_host,
        additional_args=additional_args,
        log_folder=log_folder,
        max_substeps=_as_number("max_substeps", max_substeps, int),
        key_observation=None if key_observation in (None, "") else _as_number("key_observation", key_observation, int),
        communicator_factory=communicator_factory,
    )
    with _HUBS_LOCK:
        _HUBS[(file_name, port)] = hub
    return hub.attach()
