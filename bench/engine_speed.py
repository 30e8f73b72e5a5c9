"""Engine throughput: real-time factor and peak RSS of the local engine (base and tiny.en, int8) on long
notes. Baseline in the same run: faster-whisper's plain `transcribe()` on the same audio and model with
our beam size and VAD filter. Each measurement runs in its own process so peak RSS is its own."""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import time

from bench.common import Report, median

def peak_rss_mb() -> float:
    """This process's own peak RSS. Not getrusage's ru_maxrss: Linux carries that over exec from the
    parent, so every child would report the benchmark runner's peak."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(config: str, seconds: float) -> dict[str, float]:
    from bench.audio import speech_of_length, wav_bytes
    from bot.config import Settings
    from bot.engine.local import LocalTranscriber
    from bot.models import TranscriptionRequest

    samples = speech_of_length(seconds)
    model = "base" if config == "plain-base" else ("tiny.en" if config == "plain-tiny.en" else config)
    settings = Settings(model=model, _env_file=None)
    engine = LocalTranscriber.from_settings(settings)
    engine.warm_sync()
    t0 = time.perf_counter()
    if config.startswith("plain-"):
        # Like for like: our beam size and Silero VAD, so the ratio measures the pipeline, not beam 5 vs 1.
        segments, _ = engine.load().transcribe(samples, language="en", beam_size=settings.beam_size, vad_filter=True)
        text = "".join(s.text for s in segments)
    else:
        request = TranscriptionRequest(file=wav_bytes(samples), filename="n.wav", language="en")
        text = asyncio.run(engine.complete(request)).text
    wall = time.perf_counter() - t0
    rss_mb = peak_rss_mb()
    return {"seconds": seconds, "wall": wall, "rss_mb": rss_mb, "chars": len(text)}


def measure(config: str, seconds: float) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.engine_speed", "--child", config, str(seconds)],
        capture_output=True, text=True, check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(lengths: list[float], repeats: int, models: list[str]) -> Report:
    report = Report("engine_speed")
    for seconds in lengths:
        label = f"{seconds:g} s" if seconds < 60 else f"{seconds / 60:g} min"
        for model in models:
            ours = [measure(model, seconds) for _ in range(repeats)]
            plain = [measure(f"plain-{model}", seconds) for _ in range(repeats)]
            rtf = median([seconds / r["wall"] for r in ours])
            base_rtf = median([seconds / r["wall"] for r in plain])
            target = ">= 25× real time" if model == "base" else ""
            report.add(f"{model} real-time factor, {label}", rtf, "× RT", base_rtf, target)
            report.add(f"{model} peak RSS, {label}", median([r["rss_mb"] for r in ours]), "MB",
                       median([r["rss_mb"] for r in plain]))
    report.notes.append(
        f"int8, 2 threads, language en; medians of {repeats}; baseline = faster-whisper transcribe() with the "
        "same beam size and vad_filter=True on the same model and audio, each run in a fresh process"
    )
    return report


def main(argv: list[str] | None = None) -> Report | None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--child", nargs=2, metavar=("CONFIG", "SECONDS"))
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child[0], float(args.child[1]))))
        return None
    if args.quick:
        report = run([5], 1, ["tiny.en"])
    else:
        report = run([60, 300], 3, ["base", "tiny.en"])
    report.write()
    return report


if __name__ == "__main__":
    from bench.common import table

    result = main()
    if result is not None:
        print(table([result]))
