"""Enrolled voices on real databases (SQLite, and PostgreSQL when VOXNOTE_TEST_DATABASE_URL is set):
kept per workspace, one per name whatever its case, listed, removed, and gone with the `/voxnote forget`
of the channel their note came from."""

import math

from bot.models import AudioNote, Platform, Segment, Transcript
from storage import Voiceprint


def voice(name: str, *, ws: str = "T1", channel: str = "C1", user: str = "U0BOB", seed: float = 0.1) -> Voiceprint:
    raw = [math.sin(seed * (i + 1)) for i in range(256)]
    norm = math.sqrt(sum(v * v for v in raw))
    return Voiceprint(platform=Platform.slack, workspace_id=ws, name=name, embedding=[v / norm for v in raw],
                      user_id=user, enrolled_by="U0ADMIN", consented_by=user, channel_id=channel,
                      source_key=f"slack:{ws}:{channel}:171.0:F1")


async def test_a_voiceprint_round_trips_as_float32(store):
    bob = voice("Bob")
    await store.add_voiceprint(bob)
    [kept] = await store.list_voiceprints(Platform.slack, "T1")
    assert kept.name == "Bob" and kept.user_id == "U0BOB" and kept.consented_by == "U0BOB"
    assert kept.enrolled_by == "U0ADMIN" and kept.source_key == bob.source_key and kept.created_at > 0
    assert len(kept.embedding) == 256
    # float32 storage: equal to the float64 input within float32's precision, not bit for bit.
    assert max(abs(a - b) for a, b in zip(kept.embedding, bob.embedding, strict=True)) < 1e-6


async def test_names_are_one_per_workspace_whatever_their_case(store):
    await store.add_voiceprint(voice("Bob", seed=0.1))
    await store.add_voiceprint(voice("bob", seed=0.2, user="U0BOB2"))  # enrolled again: replaces
    await store.add_voiceprint(voice("Bob", ws="T2"))  # another workspace keeps its own
    [kept] = await store.list_voiceprints(Platform.slack, "T1")
    assert kept.name == "bob" and kept.user_id == "U0BOB2"
    assert [v.name for v in await store.list_voiceprints(Platform.slack, "T2")] == ["Bob"]
    assert await store.list_voiceprints(Platform.discord, "T1") == []


async def test_remove_deletes_one_voice_only(store):
    await store.add_voiceprint(voice("Bob"))
    await store.add_voiceprint(voice("Carol", user="U0CAROL"))
    removed = await store.remove_voiceprint(Platform.slack, "T1", "  BOB ")
    assert removed is not None and removed.name == "Bob"
    assert await store.remove_voiceprint(Platform.slack, "T1", "Bob") is None
    assert [v.name for v in await store.list_voiceprints(Platform.slack, "T1")] == ["Carol"]


async def test_forget_deletes_the_voices_enrolled_from_that_channel(store):
    await store.add_voiceprint(voice("Bob", channel="C1"))
    await store.add_voiceprint(voice("Carol", channel="C2", user="U0CAROL"))
    note = AudioNote(platform=Platform.slack, workspace_id="T1", channel_id="C1", message_id="m1",
                     attachment_id="F1", filename="a.ogg")
    await store.save_transcript(note, Transcript(text="hi", segments=[Segment(text="hi", start=0, end=1)]))
    assert await store.forget_channel(Platform.slack, "T1", "C1") == 1
    assert [v.name for v in await store.list_voiceprints(Platform.slack, "T1")] == ["Carol"]
