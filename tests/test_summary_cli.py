"""`python -m bot.summary`: the sample meeting offline, and through a configured LLM endpoint."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bot.summary.__main__ import main
from tests.fixtures.chat import FakeChat

MEETING = Path(__file__).parent / "data" / "meeting" / "meeting.json"
ROOT = Path(__file__).parent.parent


def clear_llm_env(monkeypatch) -> None:
    for name in ("MISTRAL_API_KEY", "VOXNOTE_MISTRAL_API_KEY", "VOXNOTE_LLM_API_KEY", "VOXNOTE_LLM_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(ROOT / "tests")  # no .env here


def test_offline_json(monkeypatch, capsys):
    clear_llm_env(monkeypatch)
    main([str(MEETING), "-f", "json"])
    out = json.loads(capsys.readouterr().out)
    assert out["kind"] == "extract" and len(out["action_items"]) >= 10


def test_discord_limit(monkeypatch, capsys):
    clear_llm_env(monkeypatch)
    main([str(MEETING), "-f", "discord", "--limit", "700"])
    out = capsys.readouterr().out
    assert len(out.rstrip("\n")) <= 700 and out.startswith("**Meeting summary**")


def test_a_configured_endpoint_is_used(monkeypatch, capsys, fake_chat: FakeChat):
    clear_llm_env(monkeypatch)
    monkeypatch.setenv("VOXNOTE_LLM_BASE_URL", fake_chat.url + "/v1")
    monkeypatch.setenv("VOXNOTE_LLM_MODEL", "local-llama")
    main([str(MEETING), "-f", "slack"])
    assert "_AI summary by local-llama._" in capsys.readouterr().out
    assert fake_chat.requests[0].model == "local-llama"
    main([str(MEETING), "--offline"])
    assert "Automatic extract" in capsys.readouterr().out and len(fake_chat.requests) == 1


def test_runs_as_a_module(monkeypatch):
    clear_llm_env(monkeypatch)
    done = subprocess.run([sys.executable, "-m", "bot.summary", "--offline", str(MEETING)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.startswith("Meeting summary · 5:18 · 4 speakers")
