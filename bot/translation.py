"""English translations of transcripts: `/voxnote translate on`, or a 🌐 reaction on one note.

The built-in engine translates the audio itself (Whisper's translate task: it hears the speech, not
our transcript of it). A remote transcription service has no such task in Mistral's API, so then the
transcript's text goes to the configured chat endpoint, the one summaries use; with neither, the
reply says translation is not available."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from bot.engine.transcriber import Transcriber
from bot.errors import VoxnoteError
from bot.models import Transcript, TranscriptionRequest
from bot.summary import ChatClient

log = logging.getLogger(__name__)

ENGLISH = "en"
PROMPT = (
    "You translate transcripts of voice notes into English. Answer with the English translation of the "
    "user's text and nothing else: no preamble, no notes, no quotes. Keep names and numbers as they are."
)


class TranslationUnavailable(VoxnoteError):
    user_message = "translation is not available on this server"


def needs_translation(transcript: Transcript) -> bool:
    """Only notes in another language (an unknown one too) get a translation."""
    return bool(transcript.text.strip()) and transcript.language != ENGLISH


class Translator:
    def __init__(self, transcriber: Transcriber, llm: ChatClient | None) -> None:
        self.transcriber = transcriber
        self.llm = llm

    async def to_english(
        self, transcript: Transcript, audio: Callable[[], Awaitable[TranscriptionRequest]]
    ) -> str:
        """The English text; `audio` gives the note's bytes when the engine translates the speech itself."""
        translate = getattr(self.transcriber, "translate", None)
        if translate is not None:
            return str(await translate(await audio(), transcript.language))
        if self.llm is not None:
            source = f" from the language with code {transcript.language!r}" if transcript.language else ""
            answer = await self.llm.complete(
                [{"role": "system", "content": PROMPT + f" The text is{source or ' in another language'}."},
                 {"role": "user", "content": transcript.text}],
                temperature=0.0,
            )
            return answer.strip()
        raise TranslationUnavailable(
            "translation needs the built-in engine or a chat endpoint (VOXNOTE_LLM_BASE_URL)"
        )
