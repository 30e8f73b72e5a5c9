"""The numpy voice encoder against torch's own output for the same weights and input.

tests/data/voice_encoder_reference.npz holds mel windows of tests/data/dialogue.ogg and the embeddings
torch's nn.LSTM gave for them (written once by `tools/convert_voice_encoder.py --reference`), so this
checks the port without torch installed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bot.engine.voice_encoder import VoiceEncoder

REFERENCE = Path(__file__).parent / "data" / "voice_encoder_reference.npz"


@pytest.fixture(scope="module")
def encoder() -> VoiceEncoder:
    return VoiceEncoder.load()


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    with np.load(REFERENCE, allow_pickle=False) as npz:
        return {name: npz[name] for name in npz.files}


@pytest.mark.parametrize("kind", ["", "short_"])
def test_embeddings_match_torch(encoder: VoiceEncoder, reference: dict[str, np.ndarray], kind: str) -> None:
    got = encoder(reference[f"{kind}mels"])
    want = reference[f"{kind}embeddings"]
    assert got.dtype == np.float32 and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)


def test_a_window_embeds_the_same_whatever_its_batch(
    encoder: VoiceEncoder, reference: dict[str, np.ndarray]
) -> None:
    """Diarizer batches windows as they come; one window's embedding must not depend on its neighbours."""
    mels = reference["mels"]
    alone = np.concatenate([encoder(mels[i : i + 1]) for i in range(len(mels))])
    np.testing.assert_allclose(alone, encoder(mels), rtol=0, atol=1e-5)  # BLAS blocking varies by batch


def test_turns_by_one_voice_embed_closer_than_turns_by_another(
    encoder: VoiceEncoder, reference: dict[str, np.ndarray]
) -> None:
    e = encoder(reference["mels"])
    e = e / np.linalg.norm(e, axis=1, keepdims=True)
    sim = e @ e.T
    # dialogue.ogg's turns: slt, rms, slt, awb, rms.
    assert sim[0, 2] > max(sim[0, 1], sim[0, 3]) and sim[1, 4] > max(sim[1, 0], sim[1, 3])
