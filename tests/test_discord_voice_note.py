"""A voice message on Discord becomes a live transcript in a reply: real discord.py, the real core and
SQLite, a fake Discord on 127.0.0.1 that records every REST call."""

from bot.models import Segment
from storage import JobStatus
from tests.fixtures.transcriber import ScriptedTranscriber
from tests.fixtures.stores import on_both_backends

OGG = b"OggS\x00\x02" + bytes(2000)
SEGMENTS = [Segment(text=f"Part {i} of the note.", start=i, end=i + 1) for i in range(5)]
FULL_TEXT = " ".join(s.text for s in SEGMENTS)
# About 5,000 characters: three messages, so the transcript continues in a thread.
LONG = [Segment(text=f"Sentence number {i} is here to make the transcript long enough to overflow.", start=i,
                end=i + 1) for i in range(64)]
LONG_TEXT = " ".join(s.text for s in LONG)


@on_both_backends
async def test_voice_message_streams_into_a_reply_at_the_edit_cadence(discord_harness, fake_discord):
    transcriber = ScriptedTranscriber(SEGMENTS, delay=0.3)
    h = await discord_harness(transcriber, min_edit_interval=1.2)
    note = await fake_discord.post_voice_message(OGG)
    reply = await h.transcribed(note)

    assert reply["message_reference"] == {"message_id": note["id"], "channel_id": note["channel_id"],
                                          "guild_id": fake_discord.guild_id}
    [post] = fake_discord.calls_to("POST", rf"/channels/{note['channel_id']}/messages")
    assert post.json["allowed_mentions"]["replied_user"] is False
    assert "Transcribing" in post.json["content"]

    edits = fake_discord.edits_of(reply["id"])
    texts = [e.json["content"] for e in edits]
    assert len(texts) >= 2 and texts[0].endswith(" …")  # at least one partial before the final text
    assert texts[-1] == FULL_TEXT == reply["content"]
    # Partials are paced per message; the final goes as soon as it is ready (the channel bucket allowing).
    gaps = [b.at - a.at for a, b in zip(edits[:-1], edits[1:-1])]
    assert all(gap >= h.bot.platform.min_edit_interval - 0.05 for gap in gaps), gaps
    # The transcriber cannot fetch URLs: the adapter downloaded the clip from the CDN.
    assert transcriber.requests[0].file == OGG
    assert fake_discord.downloads == [note["attachments"][0]["url"]]


async def test_transcriber_that_fetches_urls_gets_the_cdn_link(discord_harness, fake_discord):
    transcriber = ScriptedTranscriber(SEGMENTS, delay=0, can_fetch_urls=True)
    h = await discord_harness(transcriber)
    note = await fake_discord.post_voice_message(OGG)
    reply = await h.transcribed(note)
    assert reply["content"] == FULL_TEXT
    assert transcriber.requests[0].file_url == note["attachments"][0]["url"]
    assert fake_discord.downloads == []


async def test_long_transcript_continues_in_a_thread_from_the_note_with_a_txt(discord_harness, fake_discord):
    h = await discord_harness(ScriptedTranscriber(LONG, delay=0))
    note = await fake_discord.post_voice_message(OGG)
    reply = await h.transcribed(note)

    [create] = fake_discord.calls_to("POST", rf"/channels/{note['channel_id']}/messages/{note['id']}/threads")
    assert create.json["name"]
    thread_id = note["id"]  # a thread started from a message takes its id
    in_thread = fake_discord.messages_in(thread_id)
    texts = [m["content"] for m in in_thread if not m["attachments"]]
    files = {a["filename"]: fake_discord.attachments[a["id"]] for m in in_thread for a in m["attachments"]}
    assert len(reply["content"]) <= 2000 and all(len(t) <= 2000 for t in texts)
    assert " ".join([reply["content"], *texts]) == LONG_TEXT
    assert files["transcript.txt"].decode().strip() == LONG_TEXT
    assert "transcript.srt" in files
    # Nothing but the reply landed in the channel itself.
    assert [m["id"] for m in fake_discord.bot_messages() if m["channel_id"] == note["channel_id"]] == [reply["id"]]


@on_both_backends
async def test_same_message_delivered_twice_gets_one_reply(discord_harness, fake_discord):
    transcriber = ScriptedTranscriber(SEGMENTS, delay=0)
    h = await discord_harness(transcriber)
    note = await fake_discord.post_voice_message(OGG)
    await fake_discord.dispatch("MESSAGE_CREATE", note)
    await h.transcribed(note)
    await fake_discord.dispatch("MESSAGE_CREATE", note)
    sentinel = await fake_discord.post_voice_message(OGG)
    await h.transcribed(sentinel)
    assert len(fake_discord.replies_to(note["id"])) == 1
    assert len(transcriber.requests) == 2


async def test_note_replayed_after_a_gateway_resume_is_not_transcribed_twice(discord_harness, fake_discord):
    transcriber = ScriptedTranscriber(SEGMENTS, delay=0)
    h = await discord_harness(transcriber)
    note = await fake_discord.post_voice_message(OGG)
    await h.transcribed(note)
    await fake_discord.drop_connection(replay=[("MESSAGE_CREATE", note)])
    await fake_discord.wait_for(lambda: fake_discord.resumes)
    assert fake_discord.resumes[0]["session_id"] == fake_discord.session_id
    sentinel = await fake_discord.post_voice_message(OGG)
    await h.transcribed(sentinel)
    assert len(fake_discord.replies_to(note["id"])) == 1
    assert len(transcriber.requests) == 2


async def test_other_bots_are_ignored_unless_configured(discord_harness, fake_discord):
    h = await discord_harness(ScriptedTranscriber(SEGMENTS, delay=0))
    from_bot = await fake_discord.post_voice_message(OGG, author=fake_discord.other_bot)
    sentinel = await fake_discord.post_voice_message(OGG)
    await h.transcribed(sentinel)
    assert fake_discord.replies_to(from_bot["id"]) == []


async def test_bot_notes_transcribed_when_ignore_bots_is_off(discord_harness, fake_discord):
    h = await discord_harness(ScriptedTranscriber(SEGMENTS, delay=0), discord_ignore_bots=False)
    from_bot = await fake_discord.post_voice_message(OGG, author=fake_discord.other_bot)
    assert (await h.transcribed(from_bot))["content"] == FULL_TEXT


async def test_audio_uploads_are_notes_and_other_files_are_not(discord_harness, fake_discord):
    transcriber = ScriptedTranscriber(SEGMENTS, delay=0)
    h = await discord_harness(transcriber)
    picture = fake_discord.attachment(b"\x89PNG", "photo.png", "image/png")
    mp3 = fake_discord.attachment(b"ID3" + bytes(100), "standup.mp3", "audio/mpeg")
    mixed = await fake_discord.post_message(fake_discord.message(content="notes", attachments=[picture, mp3]))
    untyped = await fake_discord.post_message(fake_discord.audio_message(b"m4a" + bytes(50), "memo.M4A", None))
    text_only = await fake_discord.post_message(fake_discord.audio_message(b"hello", "notes.txt", "text/plain"))
    await h.transcribed(mixed)
    await h.transcribed(untyped)
    assert fake_discord.replies_to(text_only["id"]) == []
    assert sorted(r.filename for r in transcriber.requests) == ["memo.M4A", "standup.mp3"]


async def test_note_in_a_dm_is_answered_with_replies_instead_of_a_thread(discord_harness, fake_discord):
    h = await discord_harness(ScriptedTranscriber(LONG, delay=0))
    dm = fake_discord.add_dm_channel()
    note = await fake_discord.post_voice_message(OGG, channel_id=dm["id"])
    reply = await h.transcribed(note)
    assert "guild_id" not in reply["message_reference"]
    more = [m for m in fake_discord.bot_messages() if m["channel_id"] == dm["id"] and m["id"] != reply["id"]]
    # Threads are impossible in DMs: continuations and the files reply to the first answer.
    assert more and all(m["message_reference"]["message_id"] == reply["id"] for m in more)
    assert any(a["filename"] == "transcript.txt" for m in more for a in m["attachments"])
    await h.core.wait_idle()
    job = await h.store.get_job(f"discord:dm:{dm['id']}:{note['id']}:{note['attachments'][0]['id']}")
    assert job.status == JobStatus.done


async def test_note_inside_a_thread_is_answered_in_that_thread(discord_harness, fake_discord):
    thread = fake_discord.add_thread()
    h = await discord_harness(ScriptedTranscriber(LONG, delay=0))
    note = await fake_discord.post_voice_message(OGG, channel_id=thread["id"])
    reply = await h.transcribed(note)
    assert reply["channel_id"] == thread["id"]
    more = [m for m in fake_discord.bot_messages() if m["channel_id"] == thread["id"] and m["id"] != reply["id"]]
    assert more and all(m["message_reference"]["message_id"] == reply["id"] for m in more)


@on_both_backends
async def test_restart_mid_transcription_finishes_in_the_reply_already_posted(discord_harness, fake_discord):
    first = await discord_harness(ScriptedTranscriber(SEGMENTS, delay=30))
    note = await fake_discord.post_voice_message(OGG)
    [placeholder] = await fake_discord.wait_for(lambda: fake_discord.replies_to(note["id"]))
    await fake_discord.wait_for(lambda: first.transcriber.requests)
    await first.close(grace=0)

    second = await discord_harness(ScriptedTranscriber(SEGMENTS, delay=0))
    reply = await second.transcribed(note)
    assert reply["id"] == placeholder["id"] and reply["content"] == FULL_TEXT
    assert len(fake_discord.identifies) == 2


async def test_rate_limited_edit_is_waited_out_and_the_final_text_lands(discord_harness, fake_discord):
    h = await discord_harness(ScriptedTranscriber(SEGMENTS, delay=0.05))
    fake_discord.rate_limit_next("PATCH", r"/channels/\d+/messages/\d+", retry_after=0.2)
    note = await fake_discord.post_voice_message(OGG)
    reply = await h.transcribed(note)
    assert reply["content"] == FULL_TEXT
    statuses = [c.status for c in fake_discord.calls_to("PATCH", rf"/channels/\d+/messages/{reply['id']}")]
    assert statuses[0] == 429 and statuses[-1] == 200


async def test_reply_whose_id_was_lost_in_a_crash_is_found_not_posted_again(discord_harness, fake_discord):
    """The run that crashed posted the placeholder but never stored its id: the next run finds it."""
    from bot.models import AudioNote, Platform

    h = await discord_harness(ScriptedTranscriber(SEGMENTS, delay=0))
    chatter = await fake_discord.post_message(fake_discord.message(content="chatter"))
    note = await fake_discord.post_voice_message(OGG)
    await h.transcribed(note)
    [reply] = fake_discord.replies_to(note["id"])

    def audio_note(message_id: str) -> AudioNote:
        return AudioNote(platform=Platform.discord, workspace_id=fake_discord.guild_id,
                         channel_id=fake_discord.channel_id, message_id=message_id, filename="voice-message.ogg")

    found = await h.bot.platform.find_reply(audio_note(note["id"]))
    assert found is not None and found.message_id == reply["id"]
    assert await h.bot.platform.find_reply(audio_note(chatter["id"])) is None


async def test_a_burst_of_notes_in_one_channel_draws_no_429(discord_harness, fake_discord):
    """Seven notes at once: seven replies and their edits exceed Discord's 5-per-5-s channel buckets.
    The fake refuses beyond them (the harness fails on any 429); discord.py must wait on the headers."""
    h = await discord_harness(ScriptedTranscriber(SEGMENTS[:2], delay=0.05), jobs_concurrency=2, jobs_per_workspace=2)
    notes = [await fake_discord.post_voice_message(OGG) for _ in range(7)]
    for note in notes:
        await fake_discord.wait_for(lambda n=note: fake_discord.replies_to(n["id"]), timeout=30)
    await h.core.wait_idle(30)
    creates = fake_discord.calls_to("POST", rf"/channels/{notes[0]['channel_id']}/messages")
    assert len(creates) == 7 and creates[-1].at - creates[0].at >= 4.5  # paced by the bucket, not refused
    for note in notes:
        [reply] = fake_discord.replies_to(note["id"])
        assert fake_discord.messages[reply["id"]]["content"] == "Part 0 of the note. Part 1 of the note."


async def test_two_clips_in_one_message_each_find_their_own_reply_after_a_crash(discord_harness, fake_discord):
    """One job per attachment: each reply names its file, so a job that lost its reply's id adopts its
    own reply, not its sibling's (two jobs editing one reply would show one transcript twice)."""
    h = await discord_harness(ScriptedTranscriber(SEGMENTS[:1], delay=0))
    first = fake_discord.attachment(OGG, "monday.ogg", "audio/ogg")
    second = fake_discord.attachment(OGG, "tuesday.ogg", "audio/ogg")
    note = await fake_discord.post_message(fake_discord.message(attachments=[first, second]))
    await fake_discord.wait_for(lambda: len(fake_discord.replies_to(note["id"])) == 2)
    await h.core.wait_idle()
    replies = {m["content"].split("\n", 1)[0]: m for m in fake_discord.replies_to(note["id"])}
    assert set(replies) == {"-# monday.ogg", "-# tuesday.ogg"}
    assert all(m["content"].endswith(SEGMENTS[0].text) for m in replies.values())
    # The crash: the second job's reply exists, but its id was never stored; and it is long enough
    # ago that Discord forgot the nonce.
    fake_discord._nonces.clear()
    key = f"discord:{fake_discord.guild_id}:{note['channel_id']}:{note['id']}:{second['id']}"
    await h.store._db.execute(
        "UPDATE jobs SET reply_ref=NULL, reply_pending=1, status='queued', next_attempt_at=0 WHERE key=?", (key,))
    await h.store._db.execute("DELETE FROM transcripts WHERE job_key=?", (key,))
    monday_edits = len(fake_discord.edits_of(replies["-# monday.ogg"]["id"]))
    h.core._wake.set()
    await fake_discord.wait_for(lambda: len(fake_discord.edits_of(replies["-# tuesday.ogg"]["id"])) > 1)
    await h.core.wait_idle()
    assert len(fake_discord.replies_to(note["id"])) == 2
    assert len(fake_discord.edits_of(replies["-# monday.ogg"]["id"])) == monday_edits


async def test_a_reply_posted_again_right_after_a_crash_is_the_same_message(discord_harness, fake_discord):
    """Within Discord's nonce window, posting the reply again returns the one already there."""
    from bot.models import AudioNote, Platform

    h = await discord_harness(ScriptedTranscriber(SEGMENTS[:1], delay=0))
    note = await fake_discord.post_voice_message(OGG)
    reply = await h.transcribed(note)
    [att] = note["attachments"]
    audio = AudioNote(platform=Platform.discord, workspace_id=fake_discord.guild_id, channel_id=note["channel_id"],
                      message_id=note["id"], attachment_id=att["id"], filename=att["filename"])
    again = await h.bot.platform.post_reply(audio, "placeholder of the run after the crash")
    assert again.message_id == reply["id"] and len(fake_discord.replies_to(note["id"])) == 1
