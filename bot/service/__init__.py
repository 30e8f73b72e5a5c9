"""`voxnote serve`: the local engine over Mistral's transcription HTTP API."""
