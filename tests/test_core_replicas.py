"""Two cores on one database, as two replicas run: the one that received a note posts its reply, and a
worker of the other, free meanwhile, must not post a second one while that post is on its way."""

from __future__ import annotations

import asyncio

from bot.core import Voxnote
from bot.models import AudioNote, MessageRef, Platform, Segment
from tests.fixtures.platform import RecordingPlatform
from tests.fixtures.stores import Backend
from tests.fixtures.transcriber import ScriptedTranscriber

SEGMENTS = [Segment(text="Said once.", start=0, end=1)]


class SlowPlatform(RecordingPlatform):
    """A post appears only once `posted` is set, as a Slack call takes its time (a 429 waited out, say)."""

    def __init__(self) -> None:
        super().__init__()
        self.posted = asyncio.Event()

    async def post_reply(self, note: AudioNote, text: str) -> MessageRef:
        await self.posted.wait()
        return await super().post_reply(note, text)


async def test_the_other_replica_waits_for_the_reply_being_posted(backend: Backend):
    settings = backend.settings(jobs_concurrency=1, lease_seconds=30)
    platform = SlowPlatform()
    stores = [await backend.open(), await backend.open()]
    # The receiving replica's workers are all busy (none started here); the other one's is idle.
    receiver = Voxnote(settings, stores[0], ScriptedTranscriber(SEGMENTS))
    other = Voxnote(settings, stores[1], ScriptedTranscriber(SEGMENTS))
    other.register(platform, Platform.console)
    await other.start()
    try:
        note = platform.note(b"OggS")
        assert await receiver.submit(note, platform)
        await asyncio.sleep(2.5)  # the idle worker looks for jobs every second
        platform.posted.set()
        await asyncio.wait_for(asyncio.gather(*receiver._placeholders.values()), 10)
        await other.wait_idle(timeout=20)
    finally:
        await other.stop(grace=5)
        for store in stores:
            await store.close()
    posts = platform.of("post_reply")
    assert len(posts) == 1, [p.text for p in posts]
    assert platform.texts(posts[0].ref.message_id)[-1].endswith("Said once.")
