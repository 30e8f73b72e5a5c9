"""The benchmarks run end to end on tiny inputs so they never rot (no timing is asserted)."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_benchmark_runs_and_writes_json(tmp_path):
    results = tmp_path / "results"
    env = {**os.environ, "VOXNOTE_BENCH_RESULTS": str(results)}
    result = subprocess.run([sys.executable, "-m", "bench.run", "--quick"], cwd=ROOT, capture_output=True,
                            text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "| bench | metric |" in result.stdout
    for name in ("overhead", "first_partial", "live_latency", "engine_speed", "accuracy", "diarization", "chaos",
                 "replicas", "summaries", "search", "named_speakers"):
        data = json.loads((results / f"{name}.json").read_text())
        assert data["rows"] and all(r["value"] == r["value"] for r in data["rows"])  # no NaN
    overhead = json.loads((results / "overhead.json").read_text())
    lost = next(r for r in overhead["rows"] if r["metric"] == "notes lost or doubled")
    assert lost["value"] == 0
    live = json.loads((results / "live_latency.json").read_text())
    assert all(r["value"] == 0 for r in live["rows"] if r["metric"].endswith("rate-limited answers"))
    chaos = json.loads((results / "chaos.json").read_text())
    assert chaos["rows"][0]["value"] == 0, chaos["notes"]
    if os.environ.get("VOXNOTE_TEST_DATABASE_URL"):  # two replicas need PostgreSQL
        scale = json.loads((results / "replicas.json").read_text())["rows"]
        assert any(r["metric"].startswith("throughput, 2 replicas") and r["ratio"] for r in scale), scale
    summary_rows = json.loads((results / "summaries.json").read_text())["rows"]
    assert any(r["metric"] == "held-out: action-item precision" for r in summary_rows)
