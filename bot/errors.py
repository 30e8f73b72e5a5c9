"""Error types the core turns into one plain chat message each (`user_message`)."""

from __future__ import annotations


class VoxnoteError(Exception):
    """Base class; `user_message` is what a person sees in chat or on the terminal."""

    user_message = "something went wrong"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail or self.user_message)
        self.detail = detail or self.user_message

    def __str__(self) -> str:
        return self.detail


class AudioError(VoxnoteError):
    """The audio itself is unusable: retrying will not help."""


class UnsupportedAudio(AudioError):
    user_message = "this file is not audio I can read"


class EmptyAudio(AudioError):
    user_message = "the file is empty"


class CorruptAudio(AudioError):
    user_message = "the audio file is damaged or truncated"


class NoSpeech(AudioError):
    user_message = "no speech found in this recording"


class AudioTooLarge(AudioError):
    user_message = "the file is too large"


class AudioTooLong(AudioError):
    user_message = "the recording is too long"


class Temporary(VoxnoteError):
    """A failure worth retrying later (the job queue reschedules it); `retry_after` is the earliest
    time the other side allows, in seconds, when it said."""

    retry_after: float | None = None


class Deferred(Temporary):
    """Not a failure: a platform budget (a rate limit) says to come back in `retry_after` seconds. The job
    waits in the queue, freeing its worker, and spends no attempt; nobody is told."""

    def __init__(self, detail: str, *, retry_after: float) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class FetchFailed(VoxnoteError):
    """The bot cannot get the audio bytes from the platform (permissions, deleted file, expired URL
    after a refresh): final."""

    user_message = "couldn't download the audio"


class FetchUnavailable(Temporary):
    """The platform's file server failed for now (5XX, 429, a timeout, a reset): retried later."""

    user_message = "couldn't download the audio yet"

    def __init__(self, detail: str | None = None, *, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class TranscriptionError(VoxnoteError):
    """The transcription service failed."""

    user_message = "the transcription service failed"

    def __init__(self, detail: str | None = None, *, status: int | None = None, body: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.body = body


class TranscriptionUnavailable(TranscriptionError, Temporary):
    """Connect errors, timeouts, 429 and 5XX after the retry budget: worth retrying later."""

    user_message = "the transcription service is unavailable"

    def __init__(self, detail: str | None = None, *, status: int | None = None, body: str | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(detail, status=status, body=body)
        self.retry_after = retry_after


class TranscriptionRejected(TranscriptionError):
    """A 4XX other than 429: the request itself is wrong; never retried."""

    user_message = "the transcription service rejected the audio"


class BadSpeakerReference(TranscriptionRejected):
    """A `speaker_references` recording is no usable audio or holds too little speech."""

    user_message = "a speaker reference could not be used"


class StreamInterrupted(TranscriptionUnavailable):
    """An SSE stream ended before `transcription.done`."""

    user_message = "the transcription stream was cut off"


class CommandError(VoxnoteError):
    """A slash command with bad arguments; the message says how to fix it."""


class NotAllowed(VoxnoteError):
    user_message = "you are not allowed to change this channel's settings"


class ConfigError(VoxnoteError):
    """The configuration cannot work (or would be unsafe): the process refuses to start and says why."""

    user_message = "the configuration is not valid"
