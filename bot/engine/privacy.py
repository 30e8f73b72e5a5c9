"""Keep the engine's libraries from phoning home: voxnote talks to the chat platforms and the endpoints
it is configured with, nothing else.

onnxruntime (run by faster-whisper for Silero VAD) ships with Microsoft's 1DS telemetry on in its
official Linux wheels: after the first InferenceSession it resolves and posts to
`mobile.events.data.microsoft.com` every few seconds, and keeps a device id and an event queue in
~/.cache/Microsoft/DeveloperTools/.onnxruntime. Its documented switch is `ORT_DISABLE_TELEMETRY=1`,
read once when onnxruntime is imported; setting it later, or calling
`onnxruntime.disable_telemetry_events()`, still lets the lookups through (checked with strace).
So this runs when `bot.engine.local` is imported, before anything imports onnxruntime.
"""

from __future__ import annotations

import logging
import os
import sys

log = logging.getLogger(__name__)


def disable_library_telemetry() -> None:
    """Turn off onnxruntime's telemetry for this process (and its children). Idempotent."""
    os.environ["ORT_DISABLE_TELEMETRY"] = "1"
    if "onnxruntime" in sys.modules:
        log.warning(
            "onnxruntime was imported before voxnote could disable its telemetry: it may contact "
            "mobile.events.data.microsoft.com; set ORT_DISABLE_TELEMETRY=1 in the environment"
        )
