"""voxnote's platform-free core: jobs, the note pipeline, live replies, rendering, commands, CLI.

Rooms inside: `engine/` (transcription), `service/` (`voxnote serve`), `summary/` (meeting summaries).
The core talks to chat platforms only through the `ChatPlatform` port (`platform.py`) and to storage
only through the `Store` interface (`storage/`); `registry.py` is the one place that names adapters."""
