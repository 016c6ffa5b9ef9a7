"""Real parts the tests use: Node's jsonwebtoken (Talk's verifier) and a redis-server.

In CI (``FLASK_TALK_REQUIRE_REAL_PARTS=1``, set by scripts/test.sh) a missing part fails the
run; outside it, the test is skipped with the command that installs the part.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
TALK_JWT_JS = ROOT / "tests" / "node" / "talk_jwt.js"


def require(executable: str, hint: str = "scripts/setup.sh --full") -> str:
    """The path of ``executable``; fail (CI) or skip (elsewhere) when it is missing."""
    path = shutil.which(executable)
    if path:
        return path
    message = f"{executable} is not installed (run {hint})"
    if os.environ.get("FLASK_TALK_REQUIRE_REAL_PARTS"):
        pytest.fail(message)
    pytest.skip(message)


def talk_node(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run requests through tests/node/talk_jwt.js (Talk's own jsonwebtoken rules)."""
    node = require("node")
    if not (ROOT / "node_modules" / "jsonwebtoken").is_dir():
        message = "node_modules/jsonwebtoken missing (run scripts/setup.sh --full)"
        if os.environ.get("FLASK_TALK_REQUIRE_REAL_PARTS"):
            pytest.fail(message)
        pytest.skip(message)
    done = subprocess.run([node, str(TALK_JWT_JS)], input=json.dumps(requests), capture_output=True,
                          text=True, timeout=60, cwd=ROOT, check=True)
    return json.loads(done.stdout)


def talk_verify(env: dict[str, Any], token: str) -> dict[str, Any]:
    return talk_node([{"op": "verify", "env": env, "token": token}])[0]


def talk_sign(env: dict[str, Any], payload: dict[str, Any], **extra: Any) -> str:
    answer = talk_node([{"op": "sign", "env": env, "payload": payload, **extra}])[0]
    assert answer["ok"], answer
    return answer["token"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """A real redis-server on a free loopback port, no persistence; stop() kills it."""

    def __init__(self, port: int | None = None) -> None:
        self.executable = require("redis-server")
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.process = subprocess.Popen(
            [self.executable, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
             "--appendonly", "no", "--daemonize", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
