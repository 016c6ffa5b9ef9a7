#!/usr/bin/env python3
"""In-process cost of each benchmark scenario, without a server: µs per WSGI call, and
optionally a pyinstrument profile of where that time goes.

Calls the demo app's WSGI callable directly with the same requests ``bench/run.py`` sends,
so the figure (process CPU time) is the application's own cost (Flask, flask-talk, SQLite), and the
difference to the server-side CPU per request in ``run.py``'s table is the server's.

    .venv/bin/python bench/profile.py                 # µs per request, each scenario
    .venv/bin/python bench/profile.py --profile lookup   # plus a pyinstrument tree
"""
from __future__ import annotations

import argparse
import io
import json
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def make_app(instance: str) -> Any:
    os.environ.update({
        "SECRET_KEY": secrets.token_urlsafe(32), "TALK_JWT_SECRET": secrets.token_urlsafe(48),
        "TALK_ROOT_URL": "http://127.0.0.1:5000/", "DEMO_INSTANCE_PATH": instance,
    })
    import logging

    from demo import create_app

    app = create_app()
    logging.getLogger().setLevel(logging.WARNING)
    return app


def wsgi_call(app: Any, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> tuple[str, dict[str, str], bytes]:
    path, _, query = path.partition("?")
    environ = {
        "REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query, "SCRIPT_NAME": "",
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "5000", "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr, "wsgi.multithread": False, "wsgi.multiprocess": True,
        "wsgi.run_once": False, "wsgi.version": (1, 0), "CONTENT_LENGTH": str(len(body)),
    }
    for name, value in headers.items():
        key = name.upper().replace("-", "_")
        if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            environ[key] = value
        else:
            environ["HTTP_" + key] = value
    captured: dict[str, Any] = {}

    def start_response(status: str, response_headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        captured["status"], captured["headers"] = status, response_headers
        return lambda data: None

    result = app(environ, start_response)
    try:
        data = b"".join(result)
    finally:
        if hasattr(result, "close"):
            result.close()
    cookies = [v.split(";", 1)[0] for k, v in captured["headers"] if k.lower() == "set-cookie"]
    out = {k.lower(): v for k, v in captured["headers"]}
    if cookies:
        out["set-cookie"] = "; ".join(cookies)
    return captured["status"], out, data


def scenario_requests(app: Any) -> dict[str, list[tuple[str, str, dict[str, str]]]]:
    """Sign alice in and build the same requests as bench/run.py."""
    accept = {"Accept": "application/json"}
    _, headers, body = wsgi_call(app, "GET", "/talk/login", accept)
    cookie, csrf = headers["set-cookie"], json.loads(body)["csrf_token"]
    login = json.dumps({"username": "alice", "password": "alice-demo-pass"}).encode()
    status, headers, _ = wsgi_call(app, "POST", "/talk/login", {
        **accept, "Content-Type": "application/json", "X-CSRFToken": csrf, "Cookie": cookie}, login)
    assert status.startswith("200"), status
    cookie = headers["set-cookie"]
    _, headers, body = wsgi_call(app, "GET", "/talk/login", {**accept, "Cookie": cookie})
    cookie, csrf = headers.get("set-cookie", cookie), json.loads(body)["csrf_token"]
    session = {"Cookie": cookie, "X-CSRFToken": csrf, "Accept": "application/json"}
    status, _, body = wsgi_call(app, "POST", "/talk/token", session)
    assert status.startswith("200"), status
    bearer = {"Authorization": "Bearer " + json.loads(body)["token"]}
    lookup = ("GET", "/talk/user", bearer)
    mint = ("POST", "/talk/token", session)
    embed = ("GET", "/talk/embed?asset_url=http%3A%2F%2F127.0.0.1%3A5000%2Farticles%2Fharbour-reopens",
             {"Cookie": cookie})
    return {"lookup": [lookup], "mint": [mint], "embed": [embed], "mixed": [lookup, mint, lookup, embed]}


def per_request_us(app: Any, requests: list[tuple[str, str, dict[str, str]]], seconds: float) -> float:
    count, started, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - started < seconds:
        for method, path, headers in requests:
            status, _, _ = wsgi_call(app, method, path, headers)
            assert status[0] == "2", status
            count += 1
    return (time.process_time() - cpu) / count * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="per scenario")
    parser.add_argument("--profile", help="scenario to profile with pyinstrument")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="flask-talk-profile-") as tmp:
        app = make_app(tmp)
        scenarios = scenario_requests(app)
        for name, requests in scenarios.items():
            per_request_us(app, requests, 0.3)
            print(f"{name:<8}{per_request_us(app, requests, args.seconds):9.1f} µs CPU per request (in-process)")
        if args.profile:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0005)
            profiler.start()
            per_request_us(app, scenarios[args.profile], args.seconds)
            profiler.stop()
            print(profiler.output_text(unicode=True, color=False, short_mode=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
