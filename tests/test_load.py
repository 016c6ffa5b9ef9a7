"""A bounded load run against the demo under gunicorn (-w 2), loopback only.

Threads sign readers in, mint tokens, look them up as Talk would, and sign out, while
other lookups replay the tokens already revoked; then wrk hammers one valid and one
revoked token. Asserts correctness (zero errors for valid tokens, zero 5xx, every revoked
token refused) and a flat memory; prints the figures. Each store runs about 25 seconds.
"""
from __future__ import annotations

import collections
import random
import re
import subprocess
import threading
import time
from pathlib import Path

import pytest

from .realparts import RedisServer
from .realparts import require
from .servers import AppServer
from .servers import Browser
from .servers import lookup

pytestmark = pytest.mark.slow

THREADS = 6
LOAD_SECONDS = 14.0
WARM_UP_SECONDS = 3.0
WRK_SECONDS = 3
#: Generous: a leak per request would show as tens of megabytes over thousands of requests.
RSS_GROWTH_LIMIT_KB = 30 * 1024
READERS = ("alice", "bob", "carol")


def rss_kb(pids: list[int], samples: int = 5) -> dict[int, int]:
    """Each worker's resident set, the least of a few samples (password hashing briefly takes 32 MB)."""
    sizes: dict[int, int] = {}
    for n in range(samples):
        for pid in pids:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    sizes[pid] = min(sizes.get(pid, 1 << 40), int(line.split()[1]))
        if n < samples - 1:
            time.sleep(0.1)
    return sizes


class Tally:
    """Thread-safe counts of what the run saw."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.statuses: collections.Counter[int] = collections.Counter()
        self.problems: list[str] = []
        self.revoked: list[str] = []
        self.valid_lookups = 0
        self.revoked_lookups = 0
        self.logouts = 0

    def saw(self, status: int) -> None:
        with self.lock:
            self.statuses[status] += 1

    def problem(self, text: str) -> None:
        with self.lock:
            self.problems.append(text)


def reader_loop(url: str, deadline: float, tally: Tally, seed: int) -> None:
    rng = random.Random(seed)
    while time.monotonic() < deadline:
        browser = Browser()
        status = browser.login(url, rng.choice(READERS))[0]
        tally.saw(status)
        if status != 200:
            tally.problem(f"login answered {status}")
            continue
        status, body = browser.token(url)
        tally.saw(status)
        if status != 200:
            tally.problem(f"token answered {status}")
            continue
        token = body["token"]
        for _ in range(rng.randint(10, 30)):
            status = lookup(url, token)[0]
            tally.saw(status)
            with tally.lock:
                tally.valid_lookups += 1
            if status != 200:
                tally.problem(f"valid token answered {status}")
            with tally.lock:
                replay = rng.choice(tally.revoked) if tally.revoked else None
            if replay:
                status = lookup(url, replay)[0]
                tally.saw(status)
                with tally.lock:
                    tally.revoked_lookups += 1
                if status != 401:
                    tally.problem(f"revoked token answered {status}")
        status = browser.logout(url)[0]
        tally.saw(status)
        if status != 200:
            tally.problem(f"logout answered {status}")
            continue
        with tally.lock:
            tally.revoked.append(token)
            tally.logouts += 1
        status = lookup(url, token)[0]
        tally.saw(status)
        if status != 401:
            tally.problem(f"token right after logout answered {status}")


def run_wrk(url: str, token: str) -> tuple[int, int]:
    """``(requests, non-2xx responses)`` of a short wrk run with this bearer token."""
    wrk = require("wrk")
    done = subprocess.run([wrk, "-t2", "-c8", f"-d{WRK_SECONDS}s", "--timeout", "5s",
                           "-H", f"Authorization: Bearer {token}", url + "/talk/user"],
                          capture_output=True, text=True, timeout=WRK_SECONDS + 30, check=True)
    requests = int(re.search(r"(\d+) requests in", done.stdout).group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", done.stdout)
    return requests, int(non_2xx.group(1)) if non_2xx else 0


def status_sample(url: str, token: str, count: int = 50) -> collections.Counter[int]:
    return collections.Counter(lookup(url, token)[0] for _ in range(count))


@pytest.mark.parametrize("store", ["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def test_load_lookups_and_logouts(store: str, tmp_path: Path) -> None:
    redis = RedisServer().start() if store == "redis" else None
    env = {"TALK_REDIS_URL": redis.url} if redis else {}
    server = AppServer(tmp_path / "instance", workers=2, **env)
    try:
        ready = time.monotonic() + 15
        while len(server.worker_pids()) < 2 and time.monotonic() < ready:
            time.sleep(0.1)
        workers = server.worker_pids()
        assert len(workers) == 2
        tally = Tally()
        start = time.monotonic()
        deadline = start + LOAD_SECONDS
        threads = [threading.Thread(target=reader_loop, args=(server.url, deadline, tally, n))
                   for n in range(THREADS)]
        for thread in threads:
            thread.start()
        time.sleep(WARM_UP_SECONDS)
        rss_warm = rss_kb(workers)
        for thread in threads:
            thread.join(timeout=LOAD_SECONDS + 60)
        elapsed = time.monotonic() - start

        # wrk: one valid token, then one revoked token, as fast as the server goes.
        browser = Browser()
        browser.login(server.url, "alice")
        valid = browser.token(server.url)[1]["token"]
        wrk_valid = run_wrk(server.url, valid)
        browser.logout(server.url)
        wrk_revoked = run_wrk(server.url, valid)
        rss_end = rss_kb(workers)

        # Afterwards: every revoked token is refused, by both workers.
        late = collections.Counter(lookup(server.url, token)[0] for token in tally.revoked + [valid])
        total = sum(tally.statuses.values())
        growth = {pid: rss_end[pid] - rss_warm[pid] for pid in workers}
        print(f"\n[{store}] {elapsed:.1f} s threads: {total} requests ({total / elapsed:.0f}/s), "
              f"{tally.valid_lookups} valid lookups, {tally.revoked_lookups} revoked-token lookups, "
              f"{tally.logouts} logouts, statuses {dict(tally.statuses)}")
        print(f"[{store}] wrk {WRK_SECONDS}s valid token: {wrk_valid[0]} requests, {wrk_valid[1]} non-2xx; "
              f"revoked token: {wrk_revoked[0]} requests, {wrk_revoked[1]} non-2xx")
        print(f"[{store}] after: {len(tally.revoked) + 1} revoked tokens replayed -> {dict(late)}")
        print(f"[{store}] worker RSS kB after warm-up {rss_warm} -> end {rss_end} (growth {growth})")

        assert tally.problems == [], tally.problems[:10]
        assert not any(status >= 500 for status in tally.statuses)
        assert tally.valid_lookups > 100 and tally.logouts > 5 and tally.revoked_lookups > 50
        assert wrk_valid[0] > 0 and wrk_valid[1] == 0
        assert wrk_revoked[0] > 0 and wrk_revoked[1] == wrk_revoked[0]
        assert status_sample(server.url, valid, 20) == {401: 20}
        assert late == {401: len(tally.revoked) + 1}
        assert all(value < RSS_GROWTH_LIMIT_KB for value in growth.values()), growth
    finally:
        server.stop()
        if redis:
            redis.stop()
