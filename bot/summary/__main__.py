"""`python -m bot.summary TRANSCRIPT.json...`: summarise saved transcripts (`voxnote transcribe -f json`)
as one meeting and print the result, as the bot would post it."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from bot.config import Settings
from bot.models import Transcript
from bot.summary.chat import ChatClient
from bot.summary.render import render_discord, render_plain, render_slack
from bot.summary.service import summarize

RENDERERS = {"plain": render_plain, "slack": render_slack, "discord": render_discord}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bot.summary", description=__doc__)
    parser.add_argument("files", nargs="+", type=Path, metavar="TRANSCRIPT.json", help="in meeting order")
    parser.add_argument("--format", "-f", choices=[*RENDERERS, "json"], default="plain")
    parser.add_argument("--limit", type=int, help="character limit (default: the platform's)")
    parser.add_argument("--authors", help="comma-separated speaker names for undiarized transcripts, one per file")
    parser.add_argument("--offline", action="store_true", help="never call an LLM, even when one is configured")
    return parser.parse_args(argv)


async def run(args: argparse.Namespace) -> str:
    settings = Settings()
    transcripts = [Transcript.model_validate_json(path.read_text()) for path in args.files]
    authors = [a.strip() or None for a in args.authors.split(",")] if args.authors else None
    llm = None if args.offline else ChatClient.from_settings(settings)
    try:
        summary = await summarize(transcripts, settings, llm, authors=authors)
    finally:
        if llm is not None:
            await llm.aclose()
    if args.format == "json":
        return summary.model_dump_json(indent=2)
    render = RENDERERS[args.format]
    return render(summary, args.limit) if args.limit else render(summary)


def main(argv: list[str] | None = None) -> None:
    sys.stdout.write(asyncio.run(run(parse_args(argv))) + "\n")


if __name__ == "__main__":
    main()
