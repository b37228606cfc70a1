"""World generation for Crafter, ahead of time.

Generating a Crafter world is slow (about 0.12 s with opensimplex<0.4, 0.6 s
with opensimplex 0.4.5, more on a loaded machine), so a ``WorldPool`` builds the
next worlds in a background worker (a process by default, so that generation
does not compete with the stepping thread for the GIL) while the current
episode runs. A world is a pure function of its seed: ``new_game(seed)`` gives
the same world in the worker and in this process.
"""

from __future__ import annotations

import atexit
import os
import pickle
import subprocess
import sys
import threading
from collections import OrderedDict, deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import crafter
from crafter import engine

_Textures = engine.Textures
_textures: engine.Textures | None = None
_textures_lock = threading.Lock()


def _shared_textures(directory) -> engine.Textures:
    global _textures
    if _textures is None:
        _textures = _Textures(directory)
    return _textures


class CrafterGame(crafter.Env):
    """``crafter.Env`` that skips drawing the image observation (the bridge speaks text).

    ``step`` then returns ``None`` as the observation; ``render()`` still works.
    """

    def __init__(self, *, render_images: bool = False, **kwargs):
        # crafter.Env reads its 56 texture PNGs on every construction (~0.1 s); load them once per process.
        with _textures_lock:
            engine.Textures = _shared_textures
            try:
                super().__init__(**kwargs)
            finally:
                engine.Textures = _Textures
        self.render_images = render_images

    def _obs(self):
        return self.render() if self.render_images else None

    def _balance_chunk(self, chunk, objs):
        # crafter keeps a chunk's objects in a set, ordered by memory address, and picks the creature
        # to despawn by index into it: the same seed then gives different games from run to run.
        # Ordering by position (one object per cell) makes a seed reproduce its game exactly.
        super()._balance_chunk(chunk, sorted(objs, key=lambda o: (int(o.pos[0]), int(o.pos[1]))))


def new_game(seed: int, length: int = 10000) -> CrafterGame:
    """A freshly generated Crafter world for ``seed`` (first episode of ``crafter.Env(seed=seed)``)."""
    game = CrafterGame(seed=int(seed), length=int(length))
    game.reset()
    return game


class _ThreadWorker:
    """World generation in a thread of this process (competes with stepping for the GIL)."""

    def __init__(self):
        self._ex = ThreadPoolExecutor(max_workers=1, thread_name_prefix="crafter-worldgen")

    @property
    def broken(self) -> bool:
        return False

    def submit(self, seed: int, length: int) -> Future:
        return self._ex.submit(new_game, seed, length)

    def shutdown(self) -> None:
        self._ex.shutdown(wait=False, cancel_futures=True)


class _ProcessWorker:
    """World generation in a child process (``python -m bridges.crafter.pool``).

    A plain subprocess rather than multiprocessing, so that the parent's main
    script is never re-imported in the child. Requests are ``"seed length"``
    lines; replies, in order, are a length-prefixed pickle of the game (or of
    the error text). Pickle never leaves this machine: it is the link between a
    simulator server and its own helper, not the wire protocol.
    """

    def __init__(self):
        root = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ)
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "bridges.crafter.pool"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            cwd=root,  # not the caller's folder, which may hold a file named crafter.py
        )
        self._lock = threading.Lock()
        self._queue: deque[Future] = deque()
        self._broken = False
        threading.Thread(target=self._read, name="crafter-worldgen-reader", daemon=True).start()

    @property
    def broken(self) -> bool:
        return self._broken

    def submit(self, seed: int, length: int) -> Future:
        fut: Future = Future()
        with self._lock:
            if self._broken:
                raise RuntimeError("the crafter world generation process has stopped")
            self._queue.append(fut)
            try:
                self._proc.stdin.write(f"{int(seed)} {int(length)}\n".encode())
                self._proc.stdin.flush()
            except OSError:
                self._queue.pop()
                self._broken = True
                raise RuntimeError("the crafter world generation process has stopped") from None
        return fut

    def _read(self) -> None:
        out = self._proc.stdout
        try:
            while True:
                head = out.read(8)
                if len(head) < 8:
                    break
                payload = out.read(int.from_bytes(head, "little"))
                ok, value = pickle.loads(payload)
                with self._lock:
                    fut = self._queue.popleft()
                if fut.set_running_or_notify_cancel():
                    if ok:
                        fut.set_result(value)
                    else:
                        fut.set_exception(RuntimeError(f"crafter world generation failed: {value}"))
        except Exception:  # a torn reply: treat as a dead worker
            pass
        with self._lock:
            self._broken = True
            pending, self._queue = list(self._queue), deque()
        for fut in pending:
            if fut.set_running_or_notify_cancel():
                fut.set_exception(RuntimeError("the crafter world generation process has stopped"))

    def shutdown(self) -> None:
        with self._lock:
            self._broken = True
        try:
            self._proc.stdin.close()
        except OSError:
            pass
        try:
            self._proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self._proc.kill()


def _serve() -> None:
    """The child's loop: one world per request line, replies in order on stdout."""
    out = sys.stdout.buffer
    sys.stdout = sys.stderr  # stray prints must not corrupt the replies
    for line in sys.stdin.buffer:
        reply: tuple[bool, CrafterGame | str]
        try:
            seed, length = (int(v) for v in line.split())
            reply = (True, new_game(seed, length))
        except Exception as exc:  # reported to the parent, which then builds the world itself
            reply = (False, f"{type(exc).__name__}: {exc}")
        data = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
        out.write(len(data).to_bytes(8, "little") + data)
        out.flush()


_workers: dict[str, _ThreadWorker | _ProcessWorker] = {}
_workers_lock = threading.Lock()


def shared_worker(backend: str) -> _ThreadWorker | _ProcessWorker:
    """One background world generator per process and backend, shared by all environments in it."""
    if backend not in ("process", "thread"):
        raise ValueError(f"prefetch backend must be 'process' or 'thread', got {backend!r}")
    with _workers_lock:
        worker = _workers.get(backend)
        if worker is None or worker.broken:
            worker = _ProcessWorker() if backend == "process" else _ThreadWorker()
            _workers[backend] = worker
        return worker


@atexit.register
def _shutdown_workers() -> None:
    with _workers_lock:
        for worker in _workers.values():
            worker.shutdown()
        _workers.clear()


class WorldPool:
    """Worlds for the seeds an environment is expected to ask for next, built in the background.

    ``prefetch(seed)`` queues a world; ``get(seed)`` returns it (waiting if it is
    still being built) or builds it here and now when it was not queued.
    At most ``depth`` worlds are kept queued; the oldest guesses are dropped.
    """

    def __init__(self, length: int = 10000, depth: int = 2, backend: str = "process"):
        if depth < 1:
            raise ValueError(f"prefetch depth must be >= 1, got {depth}")
        self.length = int(length)
        self.depth = depth
        self.backend = backend
        shared_worker(backend)  # start it now: the child process takes a moment to import crafter
        self._pending: OrderedDict[int, Future] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def prefetch(self, seed: int) -> None:
        """Start building the world for ``seed`` unless it is already queued."""
        seed = int(seed)
        if seed in self._pending:
            return
        while len(self._pending) >= self.depth:
            _, old = self._pending.popitem(last=False)
            old.cancel()
        try:
            self._pending[seed] = shared_worker(self.backend).submit(seed, self.length)
        except RuntimeError:  # the worker is gone (shutting down): get() builds the world itself
            pass

    def get(self, seed: int) -> CrafterGame:
        """The world for ``seed``: the prefetched one if queued, else built now."""
        seed = int(seed)
        fut = self._pending.pop(seed, None)
        if fut is not None and not fut.cancelled():
            try:
                game = fut.result()
                self.hits += 1
                return game
            except Exception:  # a dead worker must not kill the episode: build it here
                pass
        self.misses += 1
        return new_game(seed, self.length)

    def close(self) -> None:
        for fut in self._pending.values():
            fut.cancel()
        self._pending.clear()


if __name__ == "__main__":
    # Run the loop from the module under its real name, so pickles name bridges.crafter.pool.CrafterGame.
    from bridges.crafter import pool

    pool._serve()
