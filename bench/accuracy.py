"""Accuracy: word error rate of each model on the speech clips shipped with their reference text, and
the rare-term clip with and without context_bias. Baseline: base without bias."""

from __future__ import annotations

import argparse
import asyncio
import re

import jiwer

from bench.audio import ROOT
from bench.common import Report
from bot.config import Settings
from bot.engine.local import LocalTranscriber
from bot.models import TranscriptionRequest

BIAS_CLIP = "kubernetes"
BIAS = ["Kubernetes"]


def normalize(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[^\w\s']", " ", text.lower())).strip()


def clips() -> list[tuple[str, bytes, str]]:
    paths = [ROOT / "samples" / "voice-note.ogg", *sorted((ROOT / "tests" / "data").glob("*.ogg"))]
    return [(p.stem, p.read_bytes(), p.with_suffix(".txt").read_text()) for p in paths if p.with_suffix(".txt").exists()]


async def wer_of(engine: LocalTranscriber, data: bytes, reference: str, bias: list[str] | None = None) -> float:
    request = TranscriptionRequest(file=data, filename="clip.ogg", language="en", context_bias=bias or [])
    hypothesis = (await engine.complete(request)).text
    return jiwer.wer(normalize(reference), normalize(hypothesis))


async def run(models: list[str], quick: bool) -> Report:
    report = Report("accuracy")
    items = clips()
    if quick:
        items = [c for c in items if c[0] in ("voice-note", BIAS_CLIP)]
    per_model: dict[str, float] = {}
    for model in models:
        engine = LocalTranscriber.from_settings(Settings(model=model, _env_file=None))
        await engine.warm()
        refs, hyps = [], []
        for name, data, reference in items:
            request = TranscriptionRequest(file=data, filename=f"{name}.ogg", language="en")
            refs.append(normalize(reference))
            hyps.append(normalize((await engine.complete(request)).text))
        per_model[model] = jiwer.wer(refs, hyps)
        bias_clip = next(c for c in items if c[0] == BIAS_CLIP)
        plain = await wer_of(engine, bias_clip[1], bias_clip[2])
        biased = await wer_of(engine, bias_clip[1], bias_clip[2], BIAS)
        report.add(f"{model} WER, {len(items)} clips", per_model[model], "", per_model.get("base"))
        report.add(f"{model} WER, '{BIAS_CLIP}' clip with context_bias", biased, "", plain)
        await engine.aclose()
    report.notes.append(
        "WER over all clips pooled (jiwer), text lower-cased without punctuation; language en; beam 1; "
        "bias rows: baseline = the same clip without context_bias; model rows: baseline = base"
    )
    return report


def main(argv: list[str] | None = None) -> Report:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    report = asyncio.run(run(["tiny.en"] if args.quick else ["base", "tiny.en"], args.quick))
    report.write()
    return report


if __name__ == "__main__":
    from bench.common import table

    print(table([main()]))
