"""`voxnote` command line: transcribe files, run the bot, serve the engine over HTTP."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.text import Text

from pydantic import ValidationError

from bot.config import Settings, settings_error
from bot.errors import VoxnoteError
from bot.models import (
    ChannelSettings, DoneEvent, Platform, SegmentEvent, TextDeltaEvent, Transcript, TranscriptionRequest,
    parse_languages,
)
from bot.render import to_srt, to_vtt, transcript_text
from bot.terminal import LiveView, with_loading_notice
from bot.engine.factory import make_transcriber
from bot.engine.transcriber import Transcriber

log = logging.getLogger("voxnote")
FORMATS = ("text", "srt", "vtt", "json")
RUN_HELP = """Run the bot. Platforms come from the environment (or a .env file in this folder):

  Slack, Socket Mode   SLACK_BOT_TOKEN and SLACK_APP_TOKEN
  Slack, HTTP events   SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET (port VOXNOTE_SLACK_HTTP_PORT)
  Discord              DISCORD_TOKEN

With none of them set, the console adapter starts: type the path of an audio file and watch its
transcript grow. Transcription is the embedded engine unless VOXNOTE_TRANSCRIBER=mistral (then
VOXNOTE_MISTRAL_BASE_URL and MISTRAL_API_KEY). Every VOXNOTE_* setting is listed in the README."""


def format_transcript(transcript: Transcript, fmt: str, diarize: bool, timestamps: bool = False) -> str:
    if fmt == "json":
        return transcript.model_dump_json(indent=2)
    if fmt == "srt":
        return to_srt(transcript, diarize)
    if fmt == "vtt":
        return to_vtt(transcript, diarize)
    return transcript_text(transcript, ChannelSettings(diarize=diarize, timestamps=timestamps), bold="{}")


def render_outputs(outputs: list[tuple[str, Transcript]], args: argparse.Namespace) -> str:
    """One document: several files as one JSON array (each with its `file`), or text, SRT and VTT
    blocks each headed `==> name <==` (as `head` and `tail` separate files)."""
    if args.format == "json" and len(args.files) > 1:
        items = [{"file": name, **transcript.model_dump(mode="json")} for name, transcript in outputs]
        return json.dumps(items, indent=2, ensure_ascii=False) + "\n"
    blocks = []
    for name, transcript in outputs:
        body = format_transcript(transcript, args.format, args.diarize, args.timestamps).rstrip("\n") + "\n"
        blocks.append(f"==> {name} <==\n{body}" if len(args.files) > 1 else body)
    return "\n".join(blocks)


async def _transcribe_one(
    transcriber: Transcriber, path: Path, args: argparse.Namespace, err: Console
) -> Transcript:
    try:
        # "-" is standard input, as for most tools that read files.
        data = await asyncio.to_thread(sys.stdin.buffer.read if str(path) == "-" else path.read_bytes)
    except OSError as exc:
        raise VoxnoteError(f"can't read {path}: {exc.strerror}") from None
    request = TranscriptionRequest(
        file=data,
        filename="stdin" if str(path) == "-" else path.name,
        language=args.language[0] if len(args.language) == 1 else None,
        languages=args.language if len(args.language) > 1 else [],
        diarize=args.diarize,
        context_bias=args.bias or [],
        temperature=args.temperature,
        final_from_done=True,  # the live view shows the preview; the output is the final transcript
    )
    # When the result goes to this same terminal, the live view clears itself to avoid showing it twice.
    transient = sys.stdout.isatty() and not args.output and args.format == "text"
    from bot.engine.audio import declared_duration  # numpy and PyAV: not for `voxnote --version`

    duration = await asyncio.to_thread(declared_duration, data) if err.is_terminal else None
    with LiveView(err, duration, transient=transient) as view:
        async for event in transcriber.stream(request):
            if isinstance(event, TextDeltaEvent):
                view.delta(event.text)
            elif isinstance(event, SegmentEvent):
                view.reached(event.end)
            elif isinstance(event, DoneEvent):
                view.reached(duration or 0.0)
                return event.transcript()
    raise VoxnoteError("the transcription ended without a result")


async def _load_models(transcriber: Transcriber, err: Console, diarize: bool) -> None:
    """Load the local engine (and the speaker model) before the first file, so the wait is named once."""
    warm = getattr(transcriber, "warm", None)
    if warm is not None:
        await with_loading_notice(err, warm, "the speech model")
    speaker_model = getattr(transcriber, "speaker_model", None)
    if diarize and speaker_model is not None:
        await with_loading_notice(err, lambda: asyncio.to_thread(speaker_model), "the speaker model")


async def cmd_transcribe(args: argparse.Namespace, settings: Settings) -> int:
    err = Console(stderr=True, highlight=False)
    transcriber = make_transcriber(settings)
    failures = 0
    outputs: list[str] = []
    try:
        await _load_models(transcriber, err, args.diarize)
        for name in args.files:
            path = Path(name)
            if len(args.files) > 1:
                err.print(Text(f"── {path.name}", style="bold"))
            try:
                transcript = await _transcribe_one(transcriber, path, args, err)
            except VoxnoteError as exc:
                failures += 1
                err.print(Text(f"error: {path.name}: {exc}", style="red"))
                continue
            outputs.append((name, transcript))
    finally:
        await transcriber.aclose()
    result = render_outputs(outputs, args)
    if args.output:
        Path(args.output).write_text(result)
        err.print(f"wrote {args.output}")
    elif result:
        sys.stdout.write(result)
        sys.stdout.flush()
    return 1 if failures else 0


async def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    """`voxnote search <words>` over the configured database: the operator's tool, so every channel
    unless `--channel` (or `--platform`) narrows it."""
    from storage import StoreUnavailable, open_store
    from storage.search_text import MARK_END, MARK_START, search_terms

    words = " ".join(args.words)
    if not search_terms(words):
        print("usage: voxnote search <words> [--channel ID] [--platform slack|discord|console]", file=sys.stderr)
        return 2
    try:
        store = await open_store(settings.db_path,
                                 settings.database_url.get_secret_value() if settings.database_url else None)
    except StoreUnavailable as exc:  # its message never holds the password
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        hits = await store.search_transcripts(
            words, platform=Platform(args.platform) if args.platform else None,
            channel_ids=args.channel or None, limit=args.limit,
        )
    finally:
        await store.close()
    out = Console(highlight=False, soft_wrap=True)
    if not hits:
        print("no stored transcript matches", file=sys.stderr)
        return 1
    for hit in hits:
        when = datetime.fromtimestamp(hit.created_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
        out.print(Text(f"{hit.platform.value} {hit.workspace_id} #{hit.channel_id} message {hit.message_id}"
                       f" · {hit.author_id or 'someone'} · {when}", style="dim"))
        line = Text("  ")
        # The matched words bold on a terminal (plain when piped): split on the store's markers.
        for n, part in enumerate(hit.snippet.replace(MARK_END, MARK_START).split(MARK_START)):
            line.append(" ".join(part.split("\n")), style="bold" if n % 2 else "")
        out.print(line)
    return 0


async def cmd_run(settings: Settings) -> int:
    from bot.runner import run_bot

    return await run_bot(settings)


def _language(value: str) -> list[str]:
    try:
        return parse_languages(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _temperature(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not 0.0 <= number <= 1.0:
        raise argparse.ArgumentTypeError(f"{value} is outside 0-1")
    return number


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("voxnote")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="voxnote", description="Voice notes to text, live, in Slack and Discord.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--version", action="version", version=f"voxnote {_version()}")
    sub = parser.add_subparsers(dest="command")

    t = sub.add_parser("transcribe", help="transcribe audio files, showing the text as it is recognised")
    t.add_argument("files", nargs="+", metavar="FILE")
    t.add_argument("--language", "-l", type=_language, default=[],
                   help="ISO 639-1 code like en; several (en,fr) to detect among them only (default: detect any)")
    t.add_argument("--bias", "-b", action="append", metavar="PHRASE", help="a word or phrase to favour (repeat)")
    t.add_argument("--diarize", action="store_true", help="label speakers")
    t.add_argument("--timestamps", action="store_true", help="timestamps in text output")
    t.add_argument("--temperature", type=_temperature, help="decoding temperature, 0-1 (default: 0 with fallback)")
    t.add_argument("--format", "-f", choices=FORMATS, default=None,
                   help="output format (default: from the -o file's extension, else text)")
    t.add_argument("--model", "-m", help="local model: base, tiny.en, a directory, or a faster-whisper name")
    t.add_argument("--output", "-o", help="write the result to this file instead of stdout")

    sub.add_parser(
        "run",
        help="run the bot on the platforms configured in the environment (console if none)",
        description=RUN_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )

    s = sub.add_parser("serve", help="serve the local engine over the Mistral transcription API")
    s.add_argument("--host", default=None)
    s.add_argument("--port", type=int, default=None)

    f = sub.add_parser("search", help="find stored transcripts by the words in them (the configured database)")
    f.add_argument("words", nargs="+", metavar="WORD", help="words the note says (all of them; no query syntax)")
    f.add_argument("--channel", "-c", action="append", metavar="ID", help="only this channel (repeat for several)")
    f.add_argument("--platform", "-p", choices=[p.value for p in Platform], help="only this platform")
    f.add_argument("--limit", "-n", type=int, default=10, help="at most this many notes (default: 10)")

    d = sub.add_parser("discord-invite", help="print the URL that adds the bot to a Discord server")
    d.add_argument("client_id", help="the application's client id")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if args.command == "transcribe":
        output = Path(args.output) if args.output else None
        if args.format is None:
            suffix = output.suffix.lower().lstrip(".") if output else ""
            args.format = suffix if suffix in FORMATS and suffix != "text" else "text"
        if output is not None and not output.parent.is_dir():
            # Checked before transcribing: an hour of work must not end in "no such directory".
            parser.error(f"-o {args.output}: the folder {output.parent} does not exist")
    overrides: dict[str, object] = {}
    if getattr(args, "model", None):
        overrides["model"] = args.model
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        print(f"error: {settings_error(exc)}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else getattr(logging, settings.log_level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if args.command == "transcribe" and not args.verbose:
        logging.getLogger().setLevel(logging.WARNING)
    try:
        if args.command == "transcribe":
            return asyncio.run(cmd_transcribe(args, settings))
        if args.command == "run":
            return asyncio.run(cmd_run(settings))
        if args.command == "search":
            return asyncio.run(cmd_search(args, settings))
        if args.command == "serve":
            from bot.service.server import serve

            return serve(settings, host=args.host, port=args.port)
        if args.command == "discord-invite":
            from bot.registry import discord_invite_url

            print(discord_invite_url(args.client_id))
            return 0
    except VoxnoteError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 2


if __name__ == "__main__":
    sys.exit(main())
