"""CURVE authentication over TCP: with the key in, without it out."""

from __future__ import annotations

import subprocess
import sys

import pytest
import zmq

from bridges import protocol as P
from bridges.client import BridgeError, RemoteVecEnv, handshake
from bridges.keys import add_client, load_client_keys, main as keys_main
from bridges.launch import ServerProcess, make_vec_env


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    d = tmp_path_factory.mktemp("keys")
    assert keys_main(["make", str(d)]) == 0
    names = sorted(p.name for p in d.iterdir())
    assert names == ["authorized_clients", "client.key", "client.key_secret", "server.key", "server.key_secret"]
    return d


@pytest.fixture(scope="module")
def server(keys):
    p = ServerProcess("toy", num_envs=1, transport="tcp", curve_dir=str(keys))
    p.start()
    yield p
    p.stop()


def test_client_with_key_works(server, keys) -> None:
    venv = RemoteVecEnv([server.address], seeds=[0], curve_dir=str(keys))
    try:
        assert venv.reset()[0].skills
        assert venv.step([0])[0].k == 1
    finally:
        venv.close()


def test_client_without_key_is_refused(server) -> None:
    with pytest.raises(BridgeError, match="no handshake"):
        RemoteVecEnv([server.address], handshake_timeout=1.0)
    assert server.poll() is None


def test_client_with_an_unauthorized_key_is_refused(server, keys, tmp_path) -> None:
    # a well-formed key pair that the server was never told about
    other = tmp_path / "other"
    subprocess.run([sys.executable, "-m", "bridges.keys", "make", str(other)], check=True, capture_output=True)
    (other / "server.key").write_bytes((keys / "server.key").read_bytes())  # knows the server, not authorized
    with pytest.raises(BridgeError, match="no handshake"):
        RemoteVecEnv([server.address], curve_dir=str(other), handshake_timeout=1.0)


def test_added_client_key_is_accepted_after_restart(keys) -> None:
    add_client(keys, "second")
    p = ServerProcess("toy", num_envs=1, transport="tcp", curve_dir=str(keys))
    p.start()
    try:
        public, secret, server_public = load_client_keys(keys, "second")
        ctx = zmq.Context()
        s = ctx.socket(zmq.DEALER)
        s.curve_publickey, s.curve_secretkey, s.curve_serverkey = public, secret, server_public
        s.connect(p.address)
        assert handshake(s, p.address, 5.0)["num_envs"] == 1
        s.close(0)
        ctx.term()
    finally:
        p.stop()


def test_spawned_servers_with_curve(keys) -> None:
    venv = make_vec_env("toy", num_envs=2, seed=0, transport="tcp", curve_dir=str(keys))
    try:
        assert len(venv.reset()) == 2
    finally:
        venv.close()


def test_public_bind_allowed_with_curve(keys) -> None:
    from bridges.server import BridgeServer

    srv = BridgeServer("toy", "tcp://0.0.0.0:0", curve_dir=str(keys))
    try:
        assert srv.endpoint.startswith("tcp://0.0.0.0:")
    finally:
        srv.close()


def test_keys_refuse_to_overwrite(keys) -> None:
    assert keys_main(["make", str(keys)]) == 1
    assert P.PROTOCOL_VERSION == 1


def test_secret_keys_are_written_0600_even_with_a_permissive_umask(tmp_path) -> None:
    import os
    import stat

    old = os.umask(0)  # the worst case: files would be created 0666
    try:
        d = tmp_path / "k"
        assert keys_main(["make", str(d)]) == 0
        add_client(d, "alice")
    finally:
        os.umask(old)
    mode = {p.relative_to(d).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in d.rglob("*") if p.is_file()}
    assert mode == {
        "server.key_secret": 0o600, "client.key_secret": 0o600, "alice.key_secret": 0o600,
        "server.key": 0o644, "client.key": 0o644, "alice.key": 0o644,
        "authorized_clients/client.key": 0o644, "authorized_clients/alice.key": 0o644,
    }, mode
    assert not list(d.glob(".keys-*"))  # the private work folder is gone
    # and they still work: the server and client key pairs load
    assert load_client_keys(d, "alice")[1] and load_client_keys(d)[1]


def test_a_secret_key_readable_by_others_is_named_in_a_warning(tmp_path, caplog) -> None:
    import os

    from bridges.keys import load_server_keys

    d = tmp_path / "k"
    assert keys_main(["make", str(d)]) == 0
    with caplog.at_level("WARNING", logger="bridges"):
        load_server_keys(d)
    assert "readable by others" not in caplog.text
    os.chmod(d / "server.key_secret", 0o644)  # as keys made before this fix were
    with caplog.at_level("WARNING", logger="bridges"):
        load_server_keys(d)
    assert "server.key_secret is readable by others (mode 644): run `chmod 600" in caplog.text
