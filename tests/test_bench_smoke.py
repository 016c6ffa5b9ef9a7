"""bench/ still starts: both servers come up, answer every scenario, and the table prints.

A smoke run only (1 s per scenario, one round, 2 connections); timings are not asserted,
the benchmark itself is not part of CI.
"""
from __future__ import annotations

import os
import subprocess
import sys

from .realparts import ROOT
from .realparts import require

SCENARIOS = ("lookup", "mint", "embed", "mixed")


def test_bench_runs_and_prints_both_servers_rows(tmp_path):
    require("wrk")
    require("node")
    figures = tmp_path / "figures.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--duration", "1", "--rounds", "1",
         "--warmup", "0", "--connections", "2", "--json", str(figures)],
        cwd=ROOT, capture_output=True, text=True, timeout=240,
        env={k: v for k, v in os.environ.items() if not k.startswith("TALK_")},
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    rows = [line.split() for line in done.stdout.splitlines()]
    for scenario in SCENARIOS:
        ours = [r for r in rows if r[:2] == [scenario, "flask-talk"]]
        reference = [r for r in rows if r[:2] == [scenario, "reference"]]
        ratio = [r for r in rows if r[:2] == [scenario, "ratio"]]
        assert len(ours) == 1 and len(reference) == 1 and len(ratio) == 1, done.stdout
        assert ours[0][-1] == "0" and reference[0][-1] == "0", "requests failed under load"
        assert float(ours[0][-6]) > 0 and float(reference[0][-6]) > 0, "no requests were served"
    assert figures.read_text().count('"req/s"') == 2 * len(SCENARIOS)
