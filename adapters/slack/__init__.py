"""Slack adapter: voice notes in, live transcripts in the note's thread (slack-bolt, Socket Mode or HTTP)."""

from adapters.slack.platform import SlackPlatform
from adapters.slack.runner import SlackBot, run_slack

__all__ = ["SlackBot", "SlackPlatform", "run_slack"]
