"""Build step of the image: join the packaged base model into VOXNOTE_MODEL_CACHE_DIR, check every model
against its pinned SHA-256 and load the engine, the VAD and the speaker model once.

Done at build time so that a container starts in seconds, and a damaged or missing model fails
`docker build` instead of a user's first voice note. Run as the image's user so the files it writes
under /data belong to that user."""

from __future__ import annotations

import sys

from bot.config import Settings
from bot.engine.local import LocalTranscriber
from bot.engine.model_files import base_model_dir, tiny_en_model_dir
from bot.errors import VoxnoteError


def main() -> int:
    settings = Settings()
    try:
        joined = base_model_dir(settings.model_cache_dir)  # joins once, then checks the pinned SHA-256
        tiny_en_model_dir()  # ships whole; its digest is checked where pip put it
        engine = LocalTranscriber.from_settings(settings)
        engine.warm_sync()  # CTranslate2 can read the model, and the VAD loads
        # The image promises speaker labels: an install without them must not build.
        if engine.speaker_model() is None:
            print("error: the speaker model does not load, so this image would have no speaker labels",
                  file=sys.stderr)
            return 1
    except VoxnoteError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"models ready: {joined} (base, joined and checked), tiny.en checked, speaker model loaded")
    return 0


if __name__ == "__main__":
    sys.exit(main())
