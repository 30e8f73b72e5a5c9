"""`voxnote serve` start-up: where it binds, what it says about authentication, and the engine it builds."""

from __future__ import annotations

import logging

import pytest

from bot.cli import main
from bot.models import Segment
from bot.service.server import is_loopback


@pytest.fixture
def fake_run(monkeypatch, scripted_transcriber, tmp_path):
    """Replace uvicorn.run and the engine: record what `serve` would have run."""
    seen: dict = {}
    engine = scripted_transcriber([Segment(text="hi", start=0, end=1)], delay=0)
    monkeypatch.setattr("bot.service.server.build_engine", lambda settings: engine)

    def run(app, host, port, **kwargs):
        seen.update(app=app, host=host, port=port, kwargs=kwargs)

    monkeypatch.setattr("uvicorn.run", run)
    monkeypatch.delenv("VOXNOTE_API_KEYS", raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env
    seen["engine"] = engine
    return seen


def test_serve_defaults_to_loopback_and_says_there_is_no_auth(fake_run, caplog):
    with caplog.at_level(logging.INFO, logger="voxnote.service"):
        assert main(["serve"]) == 0
    assert (fake_run["host"], fake_run["port"]) == ("127.0.0.1", 8000)
    assert "no authentication, listening on loopback" in caplog.text
    assert fake_run["app"].state.service.transcriber is fake_run["engine"]
    assert fake_run["engine"].closed


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.5", "example.org"])
def test_serve_refuses_a_public_address_without_keys(fake_run, capsys, host):
    assert main(["serve", "--host", host, "--port", "9123"]) == 1
    assert "app" not in fake_run  # nothing was served
    err = capsys.readouterr().err
    assert f"refusing to serve {host} without API keys" in err
    assert "VOXNOTE_SERVICE_ALLOW_ANONYMOUS" in err and "Traceback" not in err


def test_serve_beyond_loopback_without_keys_needs_the_explicit_opt_in(fake_run, caplog, monkeypatch):
    monkeypatch.setenv("VOXNOTE_SERVICE_ALLOW_ANONYMOUS", "true")
    with caplog.at_level(logging.INFO, logger="voxnote.service"):
        assert main(["serve", "--host", "0.0.0.0", "--port", "9123"]) == 0
    assert (fake_run["host"], fake_run["port"]) == ("0.0.0.0", 9123)
    warning = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert warning and "anyone who can reach this address" in warning[0].getMessage()


@pytest.mark.parametrize("keys", [" , ", ",", "k1, ,k2 "])
def test_a_key_list_that_parses_to_nothing_is_refused(fake_run, capsys, monkeypatch, keys):
    monkeypatch.setenv("VOXNOTE_API_KEYS", keys)
    code = main(["serve"])
    if keys.strip(" ,") and "k1" in keys:
        # Blank entries between real keys are ignored: the real ones still protect the service.
        assert code == 0 and fake_run["app"].state.service.api_keys == ["k1", "k2"]
        return
    assert code == 2 and "app" not in fake_run
    err = capsys.readouterr().err
    assert err.startswith("error: VOXNOTE_API_KEYS: ") and "no entries" in err and "Traceback" not in err


def test_serve_with_keys_requires_them(fake_run, caplog, monkeypatch):
    monkeypatch.setenv("VOXNOTE_API_KEYS", "k1,k2")
    with caplog.at_level(logging.INFO, logger="voxnote.service"):
        assert main(["serve", "--host", "0.0.0.0"]) == 0
    assert "needs `Authorization: Bearer <key>`" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert "k1" not in caplog.text
    assert fake_run["app"].state.service.api_keys == ["k1", "k2"]


@pytest.mark.parametrize(("host", "loopback"), [("127.0.0.1", True), ("::1", True), ("localhost", True),
                                                ("0.0.0.0", False), ("192.168.1.5", False), ("example.org", False)])
def test_is_loopback(host, loopback):
    assert is_loopback(host) is loopback
