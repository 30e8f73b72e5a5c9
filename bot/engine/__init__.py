"""Transcription: audio in, text out; knows nothing of chat platforms, jobs or storage.

- `transcriber`: the `Transcriber` protocol every engine speaks (Mistral's dialect).
- `factory`: picks the implementation from the settings.
- `local`: faster-whisper on the packaged weights (`model_files`), decoding with `audio`,
  speaker labels with `diarize`.
- `mistral`: the client for Mistral's cloud or any compatible service (`voxnote serve`)."""
