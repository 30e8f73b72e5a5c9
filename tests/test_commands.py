"""/voxnote commands through the shared core, on a real store: each backend in turn (tests/fixtures/stores.py)."""

import pytest

from bot.commands import HELP, CommandContext, run_command
from bot.errors import CommandError, NotAllowed
from bot.models import Platform


ADMIN = CommandContext(Platform.slack, "T1", "C1", "U1", is_admin=True)
USER = CommandContext(Platform.slack, "T1", "C1", "U2", is_admin=False)


async def test_help_and_settings_for_everyone(store):
    assert await run_command(store, USER, "help") == HELP
    assert await run_command(store, USER, "") == HELP
    assert "language: auto" in await run_command(store, USER, "settings")


async def test_admin_changes_each_setting(store):
    assert "en" in await run_command(store, ADMIN, "language EN")
    await run_command(store, ADMIN, "bias add Kubernetes, pull request, kubernetes")
    await run_command(store, ADMIN, "diarize on")
    await run_command(store, ADMIN, "timestamps yes")
    await run_command(store, ADMIN, "auto off")
    await run_command(store, ADMIN, "summary 5")
    s = await store.get_settings(Platform.slack, "T1", "C1")
    assert s.language == "en" and s.context_bias == ["Kubernetes", "pull request"]
    assert s.diarize and s.timestamps and not s.auto_transcribe and s.summary_threshold_s == 300
    await run_command(store, ADMIN, "bias remove KUBERNETES")
    await run_command(store, ADMIN, "language auto")
    await run_command(store, ADMIN, "summary off")
    s = await store.get_settings(Platform.slack, "T1", "C1")
    assert s.context_bias == ["pull request"] and s.language is None and s.summary_threshold_s is None
    assert "pull request" in await run_command(store, USER, "bias list")
    await run_command(store, ADMIN, "bias clear")
    assert (await store.get_settings(Platform.slack, "T1", "C1")).context_bias == []
    # Other channels are untouched.
    assert (await store.get_settings(Platform.slack, "T1", "C2")).language is None


@pytest.mark.parametrize("text", ["language xx", "language", "diarize maybe", "bias add", "bias frob x",
                                  "summary soon", "frobnicate", "bias add " + "x" * 101])
async def test_bad_arguments_are_explained(store, text):
    with pytest.raises(CommandError) as err:
        await run_command(store, ADMIN, text)
    assert str(err.value)


async def test_non_admin_is_refused_and_nothing_changes(store):
    with pytest.raises(NotAllowed):
        await run_command(store, USER, "language fr")
    assert (await store.get_settings(Platform.slack, "T1", "C1")).language is None


async def test_bias_limit(store):
    await run_command(store, ADMIN, "bias add " + ", ".join(f"term{i}" for i in range(100)))
    with pytest.raises(CommandError):
        await run_command(store, ADMIN, "bias add one more")


async def test_forget_deletes_only_this_channels_transcripts_and_needs_admin(store):
    from bot.models import AudioNote, Transcript

    def note(channel: str, mid: str) -> AudioNote:
        return AudioNote(platform=Platform.slack, workspace_id="T1", channel_id=channel, message_id=mid,
                         filename="a.ogg")

    for channel, mid in (("C1", "1"), ("C1", "2"), ("C2", "3")):
        await store.save_transcript(note(channel, mid), Transcript(text="secret"))
    with pytest.raises(NotAllowed):
        await run_command(store, USER, "forget")
    assert "Deleted 2 stored transcripts" in await run_command(store, ADMIN, "forget")
    assert await store.get_transcript(note("C1", "1").idempotency_key) is None
    assert await store.get_transcript(note("C2", "3").idempotency_key) is not None
