"""Which Slack messages become voice notes, and what the notes say about them."""

from __future__ import annotations

from adapters.slack.mrkdwn import to_mrkdwn
from adapters.slack.notes import MediaKind, SlackFile, SlackMessage, audio_notes
from bot.models import Platform


def _file(**kw: object) -> dict[str, object]:
    base: dict[str, object] = {"id": "F1", "name": "audio_message.webm", "mimetype": "audio/webm", "filetype": "webm",
                               "subtype": "slack_audio", "size": 1234, "duration_ms": 4500,
                               "url_private_download": "https://files.example/F1/download"}
    base.update(kw)
    return base


def _message(files: list[dict[str, object]], **kw: object) -> SlackMessage:
    return SlackMessage.model_validate({"type": "message", "subtype": "file_share", "user": "U1", "ts": "10.000100",
                                        "channel": "C1", "files": files, **kw})


def test_recorded_clip_becomes_a_note_replying_in_its_own_thread() -> None:
    [note] = audio_notes(_message([_file()]), team_id="T1", channel_id="C1")
    assert note.platform is Platform.slack
    assert (note.workspace_id, note.channel_id, note.message_id, note.thread_id) == ("T1", "C1", "10.000100", "10.000100")
    assert (note.attachment_id, note.filename, note.mime_type, note.size) == ("F1", "audio_message.webm", "audio/webm", 1234)
    assert note.duration == 4.5
    assert note.public_url is None  # Slack URLs are private: never handed on
    assert note.author_id == "U1"


def test_clip_posted_in_a_thread_replies_in_that_thread() -> None:
    [note] = audio_notes(_message([_file()], thread_ts="9.000001"), team_id="T1", channel_id="C1")
    assert note.thread_id == "9.000001"


def test_uploaded_audio_is_recognised_by_mime_type_or_file_type() -> None:
    mp3 = _file(id="F2", name="memo.mp3", mimetype="audio/mpeg", filetype="mp3", subtype=None)
    flac = _file(id="F3", name="x.flac", mimetype="application/octet-stream", filetype="flac", subtype=None)
    pdf = _file(id="F4", name="doc.pdf", mimetype="application/pdf", filetype="pdf", subtype=None)
    notes = audio_notes(_message([mp3, flac, pdf]), team_id="T1", channel_id="C1")
    assert [n.attachment_id for n in notes] == ["F2", "F3"]


def test_video_clips_only_when_asked_for() -> None:
    clip = _file(id="F5", name="clip.mp4", mimetype="video/mp4", filetype="mp4", subtype="slack_video")
    assert SlackFile.model_validate(clip).kind() is MediaKind.video
    assert audio_notes(_message([clip]), team_id="T1", channel_id="C1") == []
    assert len(audio_notes(_message([clip]), team_id="T1", channel_id="C1", include_video=True)) == 1


def test_bots_edits_and_deletions_are_not_notes() -> None:
    for extra in ({"bot_id": "B1"}, {"subtype": "bot_message"}, {"subtype": "message_changed"},
                  {"subtype": "message_deleted"}, {"subtype": "channel_join"}):
        assert audio_notes(_message([_file()], **extra), team_id="T1", channel_id="C1") == [], extra


def test_file_known_only_by_id_needs_files_info() -> None:
    assert SlackFile.model_validate({"id": "F9", "file_access": "check_file_info"}).incomplete
    assert not SlackFile.model_validate(_file()).incomplete


def test_mrkdwn_escapes_control_characters_and_converts_bold() -> None:
    assert to_mrkdwn("**Speaker 1**: a < b & c > d <!channel>") == "*Speaker 1*: a &lt; b &amp; c &gt; d &lt;!channel&gt;"


def test_mrkdwn_never_escapes_twice() -> None:
    assert to_mrkdwn("R&amp;D &lt;team&gt; & co") == "R&amp;D &lt;team&gt; &amp; co"
