"""Resemblyzer's GE2E voice encoder in plain numpy: 3-layer LSTM over 40 mel bands, its last hidden
state through a linear layer and a ReLU.

The weights (bot/engine/weights/voice_encoder.npz, Apache-2.0, see NOTICE there) are Resemblyzer's
own, converted by tools/convert_voice_encoder.py; the maths follows torch's nn.LSTM (gate order
i, f, g, o, two bias vectors), so the embeddings match the original to float32 rounding.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

WEIGHTS = Path(__file__).resolve().parent / "weights" / "voice_encoder.npz"
LAYERS = 3
HIDDEN = 256


class VoiceEncoder:
    """Maps a batch of mel windows (batch, frames, 40) to raw embeddings (batch, 256).

    Holds only read-only arrays and allocates its state per call, so threads may share one."""

    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        # sigmoid(x) = (1 + tanh(x / 2)) / 2: halving the i, f and o rows of the weights and biases
        # (exact in floating point) lets one tanh over all four gates serve every step.
        half = np.ones(4 * HIDDEN, dtype=np.float32)
        half[: 2 * HIDDEN] = 0.5  # i, f
        half[3 * HIDDEN :] = 0.5  # o
        self._layers = []
        for layer in range(LAYERS):
            w_ih = arrays[f"lstm.weight_ih_l{layer}"] * half[:, None]
            w_hh = arrays[f"lstm.weight_hh_l{layer}"] * half[:, None]
            bias = (arrays[f"lstm.bias_ih_l{layer}"] + arrays[f"lstm.bias_hh_l{layer}"]) * half
            # Stored transposed and contiguous: every product is then (rows, in) @ (in, 4 * HIDDEN).
            self._layers.append(
                (np.ascontiguousarray(w_ih.T, np.float32), np.ascontiguousarray(w_hh.T, np.float32),
                 bias.astype(np.float32))
            )
        self._linear_w = np.ascontiguousarray(arrays["linear.weight"].T, np.float32)
        self._linear_b = arrays["linear.bias"].astype(np.float32)

    @classmethod
    def load(cls, path: Path = WEIGHTS) -> VoiceEncoder:
        with np.load(path, allow_pickle=False) as npz:
            return cls({name: npz[name] for name in npz.files})

    def __call__(self, mels: np.ndarray) -> np.ndarray:
        batch, frames, _ = mels.shape
        # Time-major, so each step reads one contiguous (batch, features) block.
        seq = np.ascontiguousarray(np.asarray(mels, dtype=np.float32).transpose(1, 0, 2))
        for w_ih, w_hh, bias in self._layers:
            # The input's share of every step's gates, for the whole sequence in one product.
            gates_in = (seq.reshape(frames * batch, -1) @ w_ih).reshape(frames, batch, 4 * HIDDEN)
            gates_in += bias
            out = np.empty((frames, batch, HIDDEN), dtype=np.float32)
            h = np.zeros((batch, HIDDEN), dtype=np.float32)
            c = np.zeros((batch, HIDDEN), dtype=np.float32)
            gates = np.empty((batch, 4 * HIDDEN), dtype=np.float32)
            for t in range(frames):
                np.matmul(h, w_hh, out=gates)
                gates += gates_in[t]
                np.tanh(gates, out=gates)
                # i, f and o hold tanh(x/2), their rows having been halved: sigmoid = (1 + that) / 2.
                i, f, g, o = (gates[:, k * HIDDEN : (k + 1) * HIDDEN] for k in range(4))
                c *= f + 1.0
                c += (i + 1.0) * g
                c *= 0.5
                h = out[t]
                np.multiply(o + 1.0, np.tanh(c), out=h)
                h *= 0.5
            seq = out
        return np.maximum(h @ self._linear_w + self._linear_b, 0.0)
