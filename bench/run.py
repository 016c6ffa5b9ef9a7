#!/usr/bin/env python3
"""Load benchmark: flask-talk's demo app under a production WSGI server vs the Node reference.

Starts both servers on loopback, drives them alternately with ``wrk`` (same duration,
connections and worker count), and prints requests/s, p50/p99 latency, CPU seconds per
1,000 requests and peak memory of each server's process tree, with the ratio
flask-talk / reference for each figure. ``bench/run.sh`` installs what is missing first.

    .venv/bin/python bench/run.py                       # the recommended server, 3 rounds
    .venv/bin/python bench/run.py --flask-servers gunicorn-sync,gunicorn-gthread,granian,uwsgi
    .venv/bin/python bench/run.py --duration 1 --rounds 1 --warmup 0   # smoke run
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
BIN = Path(sys.executable).parent
LUA = BENCH / "lua" / "requests.lua"
SCENARIOS = ("lookup", "mint", "embed", "mixed")
#: The server the README recommends (the default of ``--flask-servers``).
RECOMMENDED = "uwsgi"
READER = {"id": "reader-alice", "username": "alice", "password": "alice-demo-pass"}
CLK_TCK = os.sysconf("SC_CLK_TCK")


# -- process trees: CPU and memory from /proc ---------------------------------------------

def _stat_fields(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat") as handle:
        text = handle.read()
    return text[text.rindex(")") + 2:].split()


def process_tree(root: int) -> list[int]:
    """``root`` and all its descendants (gunicorn master + workers, node primary + workers)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                children.setdefault(int(_stat_fields(int(entry))[1]), []).append(int(entry))
            except (OSError, ValueError, IndexError):
                continue
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, ()))
    return tree


def cpu_seconds(root: int) -> float:
    """User + system CPU of the tree, including reaped children of its processes."""
    total = 0
    for pid in process_tree(root):
        try:
            fields = _stat_fields(pid)
        except OSError:
            continue
        total += sum(int(value) for value in fields[11:15])
    return total / CLK_TCK


def memory_mib(root: int) -> float:
    """Proportional set size of the tree (shared pages of forked workers counted once)."""
    total = 0
    for pid in process_tree(root):
        try:
            with open(f"/proc/{pid}/smaps_rollup") as handle:
                for line in handle:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            continue
    return total / 1024


class PeakMemory:
    """Samples the tree's memory in a thread while a load run goes on; keeps the peak."""

    def __init__(self, root: int, interval: float = 0.25) -> None:
        self.root, self.interval, self.peak = root, interval, memory_mib(root)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, memory_mib(self.root))

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, memory_mib(self.root))


# -- HTTP helpers for set-up ---------------------------------------------------------------

def call(port: int, method: str, path: str, headers: dict[str, str] | None = None,
         body: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        cookies = [v.split(";", 1)[0] for k, v in response.getheaders() if k.lower() == "set-cookie"]
        answer = {k.lower(): v for k, v in response.getheaders()}
        if cookies:
            answer["set-cookie"] = "; ".join(cookies)
        return response.status, answer, response.read()
    finally:
        conn.close()


def wait_ready(port: int, process: subprocess.Popen[bytes], log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            call(port, "GET", "/")
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"server on port {port} did not answer in {timeout:g} s:\n{log.read_text()[-3000:]}")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- the servers ---------------------------------------------------------------------------

@dataclass
class Server:
    """One server under test: how to start it, and the wrk request lists per scenario."""

    name: str
    label: str
    argv: list[str]
    env: dict[str, str]
    port: int
    log: Path
    is_reference: bool = False
    process: subprocess.Popen[bytes] | None = None
    requests: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def start(self) -> None:
        env = {**os.environ, **self.env}
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(self.argv, cwd=ROOT, env=env, stdout=log, stderr=log,
                                            stdin=subprocess.DEVNULL, start_new_session=True)
        wait_ready(self.port, self.process, self.log)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)  # our own session: server and its workers
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def flask_server(kind: str, workers: int, work: Path, secret: str, session_key: str) -> Server:
    """flask-talk's demo app (default SQLite stores, seeded readers) under ``kind``."""
    port = free_port()
    env = {
        "PYTHONPATH": os.pathsep.join([str(BENCH), str(ROOT)]),
        "SECRET_KEY": session_key,
        "TALK_JWT_SECRET": secret,
        "TALK_ROOT_URL": f"http://127.0.0.1:{port}/",
        "DEMO_INSTANCE_PATH": str(work / f"instance-{kind}"),
        "BENCH_BIND": f"127.0.0.1:{port}",
        "BENCH_WORKERS": str(workers),
    }
    app = "flask_talk_app:app"
    gunicorn = [str(BIN / "gunicorn"), "-c", str(BENCH / "gunicorn.conf.py"), app]
    kinds: dict[str, tuple[str, list[str], dict[str, str]]] = {
        "gunicorn-sync": ("gunicorn sync", gunicorn, {"BENCH_WORKER_CLASS": "sync", "BENCH_THREADS": "1"}),
        "gunicorn-gthread": ("gunicorn gthread", gunicorn,
                             {"BENCH_WORKER_CLASS": "gthread", "BENCH_THREADS": "4"}),
        "granian": ("granian wsgi", [str(BIN / "granian"), "--interface", "wsgi", "--host", "127.0.0.1",
                                     "--port", str(port), "--workers", str(workers),
                                     "--log-level", "warning", "--no-ws", app], {}),
        "uwsgi": ("uWSGI http11 threads", [
            str(BIN / "uwsgi"), "--http11-socket", f"127.0.0.1:{port}", "--module", app,
            "--processes", str(workers), "--threads", "4", "--master", "--disable-logging",
            "--die-on-term", "--need-app", "--lazy-apps"], {}),
    }
    if kind not in kinds:
        raise SystemExit(f"unknown flask server {kind!r}; choose from {', '.join(kinds)}")
    label, argv, extra = kinds[kind]
    if not Path(argv[0]).exists():
        raise SystemExit(f"{argv[0]} is missing: run bench/run.sh (installs the bench extra)")
    return Server(kind, f"flask-talk ({label})", argv, {**env, **extra}, port, work / f"{kind}.log")


def reference_server(workers: int, work: Path, secret: str) -> Server:
    node = shutil.which("node")
    if not node or not (ROOT / "node_modules" / "express-jwt").is_dir():
        raise SystemExit("node and the npm packages are needed: run bench/run.sh (npm ci)")
    port = free_port()
    env = {"PORT": str(port), "SECRET": secret, "WORKERS": str(workers), "NODE_ENV": "production",
           "JWT_ISSUER": f"http://127.0.0.1:{port}"}
    return Server("reference", "reference (node express-jwt)",
                  [node, str(BENCH / "reference" / "server.js")], env, port, work / "reference.log",
                  is_reference=True)


def prepare_flask(server: Server) -> None:
    """Sign alice in through the JSON login, then build each scenario's requests."""
    port = server.port
    accept = {"Accept": "application/json"}
    status, headers, body = call(port, "GET", "/talk/login", accept)
    cookie, csrf = headers["set-cookie"], json.loads(body)["csrf_token"]
    login = json.dumps({"username": READER["username"], "password": READER["password"]}).encode()
    status, headers, body = call(port, "POST", "/talk/login", {
        **accept, "Content-Type": "application/json", "X-CSRFToken": csrf, "Cookie": cookie}, login)
    if status != 200:
        raise SystemExit(f"flask-talk login failed: {status} {body[:200]!r}")
    cookie = headers["set-cookie"]
    status, headers, body = call(port, "GET", "/talk/login", {**accept, "Cookie": cookie})
    cookie, csrf = headers.get("set-cookie", cookie), json.loads(body)["csrf_token"]
    session = {"Cookie": cookie, "X-CSRFToken": csrf, "Accept": "application/json",
               "Content-Length": "0"}
    status, _, body = call(port, "POST", "/talk/token", session)
    if status != 200:
        raise SystemExit(f"flask-talk mint failed: {status} {body[:200]!r}")
    bearer = {"Authorization": "Bearer " + json.loads(body)["token"]}
    status, _, body = call(port, "GET", "/talk/user", bearer)
    if status != 200 or json.loads(body).get("id") != READER["id"]:
        raise SystemExit(f"flask-talk lookup failed: {status} {body[:200]!r}")
    embed_path = f"/talk/embed?asset_url=http%3A%2F%2F127.0.0.1%3A{port}%2Farticles%2Fharbour-reopens"
    status, _, body = call(port, "GET", embed_path, {"Cookie": cookie})
    if status != 200 or b'"token"' not in body:
        raise SystemExit(f"flask-talk embed has no token: {status}")
    lookup = {"method": "GET", "path": "/talk/user", "headers": bearer}
    mint = {"method": "POST", "path": "/talk/token", "headers": session}
    embed = {"method": "GET", "path": embed_path, "headers": {"Cookie": cookie}}
    server.requests = {"lookup": [lookup], "mint": [mint], "embed": [embed],
                       "mixed": [lookup, mint, lookup, embed]}


def prepare_reference(server: Server) -> None:
    """The site's bootstrap token (the example's ``yarn issue``), then a reader's token."""
    done = subprocess.run([server.argv[0], server.argv[1], "--issue"], cwd=ROOT, capture_output=True,
                          env={**os.environ, **server.env}, text=True, check=True, timeout=30)
    issuer = {"Authorization": "Bearer " + done.stdout.strip(), "Content-Type": "application/json"}
    body = json.dumps({"id": READER["id"]})
    status, _, answer = call(server.port, "POST", "/", issuer, body.encode())
    if status != 201:
        raise SystemExit(f"reference mint failed: {status} {answer[:200]!r}")
    bearer = {"Authorization": "Bearer " + json.loads(answer)["token"]}
    status, _, answer = call(server.port, "GET", "/", bearer)
    if status != 200 or json.loads(answer).get("id") != READER["id"]:
        raise SystemExit(f"reference lookup failed: {status} {answer[:200]!r}")
    lookup = {"method": "GET", "path": "/", "headers": bearer}
    mint = {"method": "POST", "path": "/", "headers": issuer, "body": body}
    # A page view on a site using the reference costs the site one POST / (mint).
    server.requests = {"lookup": [lookup], "mint": [mint], "embed": [mint],
                       "mixed": [lookup, mint, lookup, mint]}


# -- load ----------------------------------------------------------------------------------

def encode_requests(requests: list[dict[str, Any]]) -> str:
    items = []
    for req in requests:
        fields = [req["method"], req["path"], req.get("body", "")]
        for name, value in req["headers"].items():
            fields += [name, value]
        items.append("\x1f".join(fields))
    return "\x1e".join(items)


@dataclass
class Run:
    """One wrk run against one server."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    cpu_s: float
    peak_mib: float
    errors: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def drive(server: Server, scenario: str, *, duration: float, connections: int) -> Run:
    assert server.process is not None
    wrk = shutil.which("wrk")
    if not wrk:
        raise SystemExit("wrk is missing: run bench/run.sh (apt-get install wrk)")
    env = {**os.environ, "BENCH_REQUESTS": encode_requests(server.requests[scenario])}
    argv = [wrk, "-t1", f"-c{connections}", f"-d{max(1, round(duration))}s", "--timeout", "10s",
            "-s", str(LUA), f"http://127.0.0.1:{server.port}"]
    before = cpu_seconds(server.process.pid)
    with PeakMemory(server.process.pid) as memory:
        done = subprocess.run(argv, env=env, capture_output=True, text=True,
                              timeout=duration + 60, check=True)
    used = cpu_seconds(server.process.pid) - before
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    errors = sum(v for k, v in summary.items() if k.startswith("errors_"))
    return Run(summary["requests"], summary["duration_us"] / 1e6, summary["p50_us"] / 1000,
               summary["p99_us"] / 1000, used, memory.peak, errors)


@dataclass
class Figures:
    """A server's figures for one scenario, over all rounds."""

    runs: list[Run] = field(default_factory=list)

    @property
    def rps(self) -> float:
        return statistics.median(r.rps for r in self.runs)

    @property
    def p50(self) -> float:
        return statistics.median(r.p50_ms for r in self.runs)

    @property
    def p99(self) -> float:
        return statistics.median(r.p99_ms for r in self.runs)

    @property
    def cpu_per_1k(self) -> float:
        count = sum(r.requests for r in self.runs)
        return 1000 * sum(r.cpu_s for r in self.runs) / count if count else float("nan")

    @property
    def peak(self) -> float:
        return max(r.peak_mib for r in self.runs)

    @property
    def errors(self) -> int:
        return sum(r.errors for r in self.runs)

    def row(self) -> list[float]:
        return [self.rps, self.p50, self.p99, self.cpu_per_1k, self.peak]


COLUMNS = ("req/s", "p50 ms", "p99 ms", "CPU s/1k req", "peak MiB")


def table(servers: list[Server], results: dict[tuple[str, str], Figures], scenarios: list[str]) -> str:
    reference = next(s for s in servers if s.is_reference)
    width = max(len(s.label) for s in servers) + 2
    lines = [f"{'scenario':<9}{'server':<{width}}" + "".join(f"{c:>14}" for c in COLUMNS) + f"{'errors':>8}"]
    for scenario in scenarios:
        lines.append("-" * len(lines[0]))
        ref = results[(reference.name, scenario)].row()
        for server in servers:
            figures = results[(server.name, scenario)]
            cells = "".join(f"{v:>14.{1 if i in (0, 4) else 3}f}" for i, v in enumerate(figures.row()))
            lines.append(f"{scenario:<9}{server.label:<{width}}{cells}{figures.errors:>8}")
        for server in servers:
            if server.is_reference:
                continue
            row = results[(server.name, scenario)].row()
            ratios = "".join(f"{(v / r if r else float('nan')):>13.2f}x" for v, r in zip(row, ref))
            lines.append(f"{scenario:<9}{'ratio ' + server.name + ' / ref':<{width}}{ratios}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=10, help="seconds per wrk run (default 10)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; each drives every server (default 3)")
    parser.add_argument("--warmup", type=float, default=3, help="warm-up seconds per server and scenario")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (default 16)")
    parser.add_argument("--workers", type=int, default=1,
                        help="worker processes of every server (default 1: wrk needs the other core)")
    parser.add_argument("--flask-servers", default=RECOMMENDED,
                        help="comma-separated: gunicorn-sync, gunicorn-gthread, granian, uwsgi")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    scenarios = [s for s in args.scenarios.split(",") if s]
    unknown = set(scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")

    secret, session_key = secrets.token_urlsafe(48), secrets.token_urlsafe(32)
    with tempfile.TemporaryDirectory(prefix="flask-talk-bench-") as tmp:
        work = Path(tmp)
        servers = [flask_server(kind, args.workers, work, secret, session_key)
                   for kind in args.flask_servers.split(",") if kind]
        servers.append(reference_server(args.workers, work, secret))
        results = {(s.name, sc): Figures() for s in servers for sc in scenarios}
        try:
            for server in servers:
                server.start()
                (prepare_reference if server.is_reference else prepare_flask)(server)
            print(f"bench: {len(servers)} servers, {args.workers} worker process(es) each, "
                  f"wrk -t1 -c{args.connections}, {args.duration:g} s x {args.rounds} round(s) "
                  f"per scenario, machine with {os.cpu_count()} cores", flush=True)
            if args.warmup > 0:
                for scenario in scenarios:
                    for server in servers:
                        drive(server, scenario, duration=args.warmup, connections=args.connections)
            start_memory = {s.name: memory_mib(s.process.pid) for s in servers if s.process}
            for number in range(args.rounds):
                order = servers if number % 2 == 0 else servers[::-1]
                for scenario in scenarios:
                    for server in order:
                        run = drive(server, scenario, duration=args.duration,
                                    connections=args.connections)
                        results[(server.name, scenario)].runs.append(run)
                        print(f"  round {number + 1} {scenario:<7} {server.name:<17} {run.rps:9.1f} req/s "
                              f"p99 {run.p99_ms:7.2f} ms  errors {run.errors}", flush=True)
            end_memory = {s.name: memory_mib(s.process.pid) for s in servers if s.process}
        finally:
            for server in servers:
                server.stop()
        print()
        print(table(servers, results, scenarios))
        print()
        for server in servers:
            print(f"memory {server.label}: {start_memory[server.name]:.1f} MiB after warm-up, "
                  f"{end_memory[server.name]:.1f} MiB after all rounds")
        if args.json:
            args.json.write_text(json.dumps({
                "settings": vars(args) | {"json": str(args.json)},
                "results": {f"{n}/{sc}": {k: v for k, v in zip(COLUMNS, f.row())} | {"errors": f.errors}
                            for (n, sc), f in results.items()},
            }, indent=2))
        failed = sum(f.errors for f in results.values())
        if failed:
            print(f"bench: {failed} requests failed (non-2xx or socket errors)", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
