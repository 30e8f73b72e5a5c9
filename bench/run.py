"""Run every benchmark and print one table (each also writes bench/results/<name>.json).

    python -m bench.run            # the full run behind the README's figures (about 15 minutes)
    python -m bench.run --quick    # a smoke run of every script (seconds), as CI does
"""

from __future__ import annotations

import argparse
import time

from bench import (
    accuracy, chaos, diarization, engine_speed, first_partial, live_latency, named_speakers, overhead, replicas, search,
    summaries,
)
from bench.common import RESULTS_DIR, table

BENCHES = {"overhead": overhead, "first_partial": first_partial, "live_latency": live_latency,
           "engine_speed": engine_speed, "accuracy": accuracy, "diarization": diarization, "chaos": chaos,
           "replicas": replicas, "summaries": summaries, "search": search, "named_speakers": named_speakers}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke run: tiny inputs, one repeat")
    parser.add_argument("--only", choices=sorted(BENCHES), action="append", help="run only these")
    args = parser.parse_args(argv)
    reports = []
    t0 = time.perf_counter()
    for name, module in BENCHES.items():
        if args.only and name not in args.only:
            continue
        reports.append(module.main(["--quick"] if args.quick else []))
    text = table([r for r in reports if r is not None])
    notes = "\n".join(f"- {r.name}: {n}" for r in reports if r is not None for n in r.notes)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "table.md").write_text(text + "\n\n" + notes + "\n")
    print(text)
    print()
    print(notes)
    print(f"\n({time.perf_counter() - t0:.0f} s; JSON in {RESULTS_DIR})")


if __name__ == "__main__":
    main()
