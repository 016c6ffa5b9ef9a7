"""Real servers for multi-process tests: the demo under gunicorn, and a cookie-keeping JSON client."""
from __future__ import annotations

import http.cookiejar
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from .apps import PASSWORDS
from .apps import ROOT_URL
from .apps import SECRET
from .apps import SESSION_KEY
from .realparts import ROOT
from .realparts import free_port
from .realparts import require


class AppServer:
    """The demo app under gunicorn on a free loopback port; ``stop()`` ends it."""

    def __init__(self, instance: Path, workers: int = 1, **env: str) -> None:
        require("redis-server")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = instance / "gunicorn.log"
        instance.mkdir(parents=True, exist_ok=True)
        environ = {k: v for k, v in os.environ.items() if not k.startswith("TALK_")}
        environ.update(SECRET_KEY=SESSION_KEY, TALK_JWT_SECRET=SECRET,
                       TALK_ROOT_URL=ROOT_URL, DEMO_INSTANCE_PATH=str(instance), **env)
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-w", str(workers), "--preload", "-b",
                 f"127.0.0.1:{self.port}", "--graceful-timeout", "2", "demo:create_app()"],
                cwd=ROOT, env=environ, stdout=log, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("gunicorn exited:\n" + self.log_path.read_text()[-2000:])
            try:
                with urllib.request.urlopen(self.url + "/talk/.well-known/jwks.json", timeout=1):
                    pass
            except urllib.error.HTTPError:
                return  # 404 for HMAC keys: the app answers
            except OSError:
                time.sleep(0.1)
                continue
            return
        self.stop()
        raise RuntimeError("gunicorn did not start")

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text()
        return [int(pid) for pid in children.split()]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


class Browser:
    """A reader's cookie jar speaking JSON to any of the servers (cookies ignore ports)."""

    def __init__(self) -> None:
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.csrf = ""

    def call(self, method: str, url: str, body: dict[str, Any] | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method, headers={
            "Accept": "application/json", **({"Content-Type": "application/json"} if data else {}),
            **({"X-CSRFToken": self.csrf} if self.csrf else {}), **(headers or {})})
        try:
            with self.opener.open(request, timeout=10) as response:
                status, head, raw = response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            status, head, raw = error.code, dict(error.headers), error.read()
        try:
            return status, head, json.loads(raw)
        except ValueError:
            return status, head, raw.decode("utf-8", "replace")

    def refresh_csrf(self, server: str) -> str:
        status, _, body = self.call("GET", server + "/talk/login")
        if status == 200:
            self.csrf = body["csrf_token"]
        return self.csrf

    def login(self, server: str, username: str, password: str | None = None) -> tuple[int, dict[str, str], Any]:
        self.refresh_csrf(server)
        answer = self.call("POST", server + "/talk/login", {
            "username": username, "password": PASSWORDS[username] if password is None else password})
        self.refresh_csrf(server)
        return answer

    def token(self, server: str) -> tuple[int, Any]:
        status, _, body = self.call("POST", server + "/talk/token")
        return status, body

    def logout(self, server: str) -> tuple[int, dict[str, str], Any]:
        return self.call("POST", server + "/talk/logout")


def lookup(server: str, token: str) -> tuple[int, dict[str, str], Any]:
    return Browser().call("GET", server + "/talk/user", headers={"Authorization": "Bearer " + token})
