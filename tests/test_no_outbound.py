"""No phoning home: a real transcription, traced with strace (inside `unshare -n` when permitted), makes
no DNS lookup and no connection beyond what the test itself opens.

The case that made this test: onnxruntime's wheel (Silero VAD) resolved `mobile.events.data.microsoft.com`
about 9 s after the first VAD session and every 5-9 s after that, until `bot.engine.privacy` turned its
telemetry off. The child therefore stays alive `LINGER_S` after transcribing, so such a timer gets
to fire while it is traced.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
LINGER_S = 12.0  # the telemetry's first lookup came 8.6-8.9 s after the first VAD session
GUARD_S = 120  # a hang guard, not a timing assertion
TRACED = "connect,sendto,sendmsg,sendmmsg"
# The child connects here itself (from a thread): proof that the trace follows threads and is parsed.
CONTROL = ("127.0.0.1", 9)
# Sockets through which glibc resolves names: connecting to one is a lookup.
RESOLVER_SOCKETS = {"/var/run/nscd/socket", "/run/nscd/socket", "/run/systemd/resolve/io.systemd.Resolve"}

CHILD = f"""
import asyncio, json, socket, sys, threading, time
from bot.engine.local import LocalTranscriber
from bot.models import TranscriptionRequest
from tests.fixtures.engine import engine_settings, load_speech_clip

async def main():
    engine = LocalTranscriber(engine_settings())
    data, _ = load_speech_clip("espeak_en")
    transcript = await engine.complete(TranscriptionRequest(file=data, filename="espeak_en.ogg"))
    engine.close()
    return transcript.text

text = asyncio.run(main())

def control():
    with socket.socket() as s:
        s.settimeout(1)
        try:
            s.connect({CONTROL!r})
        except OSError:
            pass

t = threading.Thread(target=control)
t.start()
t.join()
time.sleep({LINGER_S})
print(json.dumps({{"text": text}}))
"""

_CALL = re.compile(r"^(connect|sendto|sendmsg|sendmmsg)\(")
_ADDRESS = re.compile(r"\{sa_family=(AF_\w+)(.*?)\}")
_PORT = re.compile(r"sin6?_port=htons\((\d+)\)")
_HOST = re.compile(r'inet_addr\("([^"]+)"\)|inet_pton\(AF_INET6, "([^"]+)"')
_PATH = re.compile(r'sun_path=@?"([^"]*)"')


def unexpected_calls(lines: list[str], allowed: set[tuple[str, int]]) -> tuple[list[str], list[str]]:
    """(calls that reach beyond the process, calls to an `allowed` (host, port)) among strace lines.

    Local are: AF_UNIX sockets other than the name resolver's (asyncio's self-pipe, syslog...) and
    AF_NETLINK (the kernel); `sendto(fd, ..., NULL, 0)` goes where its `connect` went, checked there."""
    found: list[str] = []
    control: list[str] = []
    for line in lines:
        if not _CALL.match(line):
            continue
        for family, fields in _ADDRESS.findall(line):
            if family == "AF_NETLINK":
                continue
            if family == "AF_UNIX":
                path = _PATH.search(fields)
                if path and path.group(1) in RESOLVER_SOCKETS:
                    found.append(f"DNS lookup (resolver socket): {line}")
                continue
            port = _PORT.search(fields)
            host = _HOST.search(fields)
            where = (host.group(1) or host.group(2) if host else "?", int(port.group(1)) if port else -1)
            if where in allowed:
                control.append(line)
            elif where[1] == 53:
                found.append(f"DNS lookup: {line}")
            else:
                found.append(f"connection: {line}")
    return found, control


def _works(*command: str) -> bool:
    try:
        return subprocess.run(command, capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def test_a_transcription_makes_no_lookup_and_no_connection(tmp_path: Path) -> None:
    if shutil.which("strace") is None:
        pytest.skip("strace is not installed (apt-get install strace)")
    if not _works("strace", "-qq", "-e", "trace=none", "-o", os.devnull, "true"):
        pytest.skip("strace cannot trace here (ptrace not permitted)")
    # The sandbox: only a loopback device, and that one down. Without it (no unshare, or no right to a
    # network namespace, as in unprivileged containers) the trace alone still sees every attempt.
    sandbox = ["unshare", "-n", "--"] if shutil.which("unshare") and _works("unshare", "-n", "true") else []

    env = {k: v for k, v in os.environ.items() if not k.startswith("ORT_")}  # the fix must come from voxnote
    env["PYTHONPATH"] = str(ROOT)
    trace = tmp_path / "trace"
    command = [*sandbox, "strace", "-f", "-ff", "-qq", "-e", f"trace={TRACED}", "-o", str(trace),
               sys.executable, "-c", CHILD]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=GUARD_S)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "weekly meeting" in json.loads(result.stdout.strip().splitlines()[-1])["text"].lower()

    lines = [line for path in sorted(tmp_path.glob("trace.*")) for line in path.read_text().splitlines()]
    found, control = unexpected_calls(lines, {CONTROL})
    assert control, f"the trace missed the test's own connect to {CONTROL}: is strace following threads?"
    assert not found, "unexpected network activity while transcribing:\n" + "\n".join(found[:20])


def test_the_trace_reading_knows_a_lookup_from_local_traffic() -> None:
    lines = [
        'connect(13, {sa_family=AF_UNIX, sun_path="/var/run/nscd/socket"}, 110) = -1 ENOENT (No such file)',
        'connect(12, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("10.255.255.53")}, 16) = 0',
        'sendmsg(4, {msg_name={sa_family=AF_INET6, sin6_port=htons(443), sin6_flowinfo=htonl(0), '
        'inet_pton(AF_INET6, "2603:1030::1", &sin6_addr), sin6_scope_id=0}, msg_namelen=28}, 0) = 10',
        'connect(7, {sa_family=AF_INET, sin_port=htons(9), sin_addr=inet_addr("127.0.0.1")}, 16) = -1 ENETUNREACH',
        'sendto(5, "\\0", 1, 0, NULL, 0) = 1',
        'connect(3, {sa_family=AF_UNIX, sun_path="/dev/log"}, 110) = 0',
        'sendto(6, [{nlmsg_len=20, nlmsg_type=RTM_GETADDR}], 20, 0, {sa_family=AF_NETLINK, nl_pid=0, '
        'nl_groups=00000000}, 12) = 20',
        "+++ exited with 0 +++",
    ]
    found, control = unexpected_calls(lines, {CONTROL})
    assert [f.split(":")[0] for f in found] == ["DNS lookup (resolver socket)", "DNS lookup", "connection"]
    assert control == [lines[3]]


@pytest.mark.parametrize("entry", ["bot.speakers", "bot.engine.diarize"])
def test_the_speaker_model_alone_turns_the_telemetry_off_first(entry: str) -> None:
    """The bot loads the speaker model for enrolments even with a remote engine, where bot.engine.local
    (which used to be the only one to turn onnxruntime's telemetry off) is never imported."""
    child = (f"import os, sys\nimport {entry}\nfrom bot.engine.diarize import Diarizer\nDiarizer.load()\n"
             "print(int('onnxruntime' in sys.modules), int('bot.engine.local' in sys.modules), "
             "os.environ.get('ORT_DISABLE_TELEMETRY'))")
    env = {k: v for k, v in os.environ.items() if k != "ORT_DISABLE_TELEMETRY"}
    env["PYTHONPATH"] = str(ROOT)
    out = subprocess.run([sys.executable, "-c", child], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=GUARD_S)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["1", "0", "1"], out.stdout
    assert "imported before voxnote could disable" not in out.stderr
