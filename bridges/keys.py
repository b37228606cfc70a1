"""CURVE key files for authenticated bridges over TCP.

``python -m bridges.keys make DIR`` writes, with ``zmq.auth``:

    DIR/server.key  DIR/server.key_secret        the server's key pair
    DIR/client.key  DIR/client.key_secret        a client key pair
    DIR/authorized_clients/client.key            public keys the server accepts

Secret key files are written mode 0600 (made in a private 0700 folder, then
moved into DIR), so they are never readable by others, not even for a moment.
Give the server host DIR minus ``client.key_secret``; give the runtime host DIR
minus ``server.key_secret``.  More clients: ``python -m bridges.keys add-client
DIR NAME`` and copy ``NAME.key`` into ``authorized_clients/`` on the server.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path

import zmq.auth

log = logging.getLogger("bridges")


def make_keys(directory: str | os.PathLike) -> Path:
    """Create the server and client key pairs in ``directory``; return it."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    for name in ("server", "client"):
        if (d / f"{name}.key_secret").exists():
            raise FileExistsError(f"{d / (name + '.key_secret')} exists; refusing to overwrite keys")
    _create_pair(d, "server")
    add_client(d, "client")
    return d


def _create_pair(d: Path, name: str) -> tuple[Path, Path]:
    """``name.key`` (public, 0644) and ``name.key_secret`` (0600) in ``d``; returns their paths."""
    with tempfile.TemporaryDirectory(dir=d, prefix=".keys-") as tmp:  # 0700: nobody else can look inside
        public, secret = zmq.auth.create_certificates(tmp, name)
        os.chmod(secret, 0o600)
        os.chmod(public, 0o644)
        out_public, out_secret = d / Path(public).name, d / Path(secret).name
        os.replace(secret, out_secret)
        os.replace(public, out_public)
    return out_public, out_secret


def add_client(directory: str | os.PathLike, name: str) -> Path:
    """Create one more client key pair and authorize it; return its secret key file."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    public, secret = _create_pair(d, name)
    auth = d / "authorized_clients"
    auth.mkdir(exist_ok=True)
    shutil.copy(public, auth / public.name)
    return secret


def _need(path: Path) -> Path:
    if not path.exists():
        raise FileNotFoundError(f"CURVE key file {path} is missing (make keys with `python -m bridges.keys make DIR`)")
    return path


def _warn_if_shared(secret_file: Path) -> None:
    """A secret key that others can read (keys made before secret files were written 0600): say so."""
    mode = secret_file.stat().st_mode & 0o777
    if mode & 0o077:
        log.warning(
            "CURVE secret key %s is readable by others (mode %o): run `chmod 600 %s`", secret_file, mode, secret_file
        )


def load_server_keys(directory: str | os.PathLike) -> tuple[bytes, bytes, str]:
    """(public, secret, authorized_clients dir) for a server."""
    d = Path(directory)
    public, secret = zmq.auth.load_certificate(_need(d / "server.key_secret"))
    _warn_if_shared(d / "server.key_secret")
    auth = _need(d / "authorized_clients")
    if secret is None:
        raise ValueError(f"{d / 'server.key_secret'} holds no secret key")
    return public, secret, str(auth)


def load_client_keys(directory: str | os.PathLike, name: str = "client") -> tuple[bytes, bytes, bytes]:
    """(client public, client secret, server public) for a client."""
    d = Path(directory)
    public, secret = zmq.auth.load_certificate(_need(d / f"{name}.key_secret"))
    _warn_if_shared(d / f"{name}.key_secret")
    server_public, _ = zmq.auth.load_certificate(_need(d / "server.key"))
    if secret is None:
        raise ValueError(f"{d / (name + '.key_secret')} holds no secret key")
    return public, secret, server_public


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bridges.keys", description="Make CURVE keys for bridge servers.")
    sub = p.add_subparsers(dest="cmd", required=True)
    mk = sub.add_parser("make", help="server + client key pairs in DIR")
    mk.add_argument("dir")
    ac = sub.add_parser("add-client", help="one more authorized client key pair in DIR")
    ac.add_argument("dir")
    ac.add_argument("name")
    args = p.parse_args(argv)
    try:
        if args.cmd == "make":
            d = make_keys(args.dir)
            print(f"keys written to {d}: server.key(_secret), client.key(_secret), authorized_clients/")
        else:
            print(f"client key written: {add_client(args.dir, args.name)}")
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
