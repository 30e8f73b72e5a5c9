"""Convert Resemblyzer's voice-encoder weights (`pretrained.pt`) to bot/engine/weights/voice_encoder.npz.

Run once, by hand, where torch and resemblyzer are installed (neither is a voxnote dependency):

    python tools/convert_voice_encoder.py [path/to/pretrained.pt]

Without a path it takes the `pretrained.pt` inside the installed resemblyzer package.
`--reference tests/data/voice_encoder_reference.npz` also writes torch's embeddings of a few mel
windows of tests/data/dialogue.ogg, which tests/test_voice_encoder.py holds the numpy encoder to
without needing torch.

Only the
network's weights are kept, as float32 arrays under torch's own names and layouts (gate rows in
torch's i, f, g, o order), so bot/engine/voice_encoder.py reads them exactly as torch's nn.LSTM
would. The training-only parts (the GE2E similarity scale and bias, the optimizer state) are dropped.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bot" / "engine" / "weights" / "voice_encoder.npz"
LAYERS = 3
INPUT, HIDDEN = 40, 256


def expected_shapes() -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {}
    for layer in range(LAYERS):
        shapes[f"lstm.weight_ih_l{layer}"] = (4 * HIDDEN, INPUT if layer == 0 else HIDDEN)
        shapes[f"lstm.weight_hh_l{layer}"] = (4 * HIDDEN, HIDDEN)
        shapes[f"lstm.bias_ih_l{layer}"] = (4 * HIDDEN,)
        shapes[f"lstm.bias_hh_l{layer}"] = (4 * HIDDEN,)
    shapes["linear.weight"] = (HIDDEN, HIDDEN)
    shapes["linear.bias"] = (HIDDEN,)
    return shapes


def installed_weights() -> Path:
    # find_spec, not import: importing resemblyzer pulls librosa and numba for nothing here.
    spec = importlib.util.find_spec("resemblyzer")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("resemblyzer is not installed: pass the path of pretrained.pt")
    return Path(next(iter(spec.submodule_search_locations))) / "pretrained.pt"


def convert(source: Path, out: Path) -> None:
    import torch

    state = torch.load(source, map_location="cpu", weights_only=True)["model_state"]
    shapes = expected_shapes()
    arrays = {}
    for name, shape in shapes.items():
        array = state[name].detach().cpu().numpy()
        if array.shape != shape or array.dtype != np.float32:
            raise SystemExit(f"{name}: {array.shape} {array.dtype}, expected {shape} float32")
        arrays[name] = array
    unused = sorted(set(state) - set(shapes))
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, **arrays)
    # Read back as voxnote will (no pickle) and compare bit for bit.
    with np.load(out, allow_pickle=False) as saved:
        assert sorted(saved.files) == sorted(arrays)
        assert all(np.array_equal(saved[k], v) for k, v in arrays.items())
    print(f"source  {source} sha256={hashlib.sha256(source.read_bytes()).hexdigest()}")
    print(f"dropped {', '.join(unused)}")
    print(f"wrote   {out} sha256={hashlib.sha256(out.read_bytes()).hexdigest()} ({out.stat().st_size} bytes)")


def write_reference(source: Path, out: Path) -> None:
    """torch's embeddings of mel windows from dialogue.ogg: one 1.5 s window per turn, plus a 0.8 s
    one (short regions are embedded whole), made by voxnote's own front end."""
    import json
    import sys

    import torch
    from torch import nn

    sys.path.insert(0, str(ROOT))
    from faster_whisper import decode_audio

    from bot.engine import diarize

    class TorchEncoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = nn.LSTM(INPUT, HIDDEN, LAYERS, batch_first=True)
            self.linear = nn.Linear(HIDDEN, HIDDEN)

        def forward(self, mels: torch.Tensor) -> torch.Tensor:
            _, (hidden, _) = self.lstm(mels)
            return torch.relu(self.linear(hidden[-1]))

    net = TorchEncoder()
    state = torch.load(source, map_location="cpu", weights_only=True)["model_state"]
    net.load_state_dict({k: v for k, v in state.items() if k in expected_shapes()})
    net.eval()

    audio = decode_audio(str(ROOT / "tests" / "data" / "dialogue.ogg"), sampling_rate=diarize.SAMPLE_RATE)
    turns = json.loads((ROOT / "tests" / "data" / "dialogue.turns.json").read_text())["turns"]
    regions = diarize._speech_regions(audio)
    mel = diarize.Diarizer.load()._mel(diarize._normalize_volume(audio, regions))
    starts = [int((t["start"] + t["end"]) / 2 * diarize.FPS) - diarize.WINDOW // 2 for t in turns]
    long = np.stack([mel[a : a + diarize.WINDOW] for a in starts])
    short = mel[starts[0] : starts[0] + 80][None]
    with torch.inference_mode():
        long_out = net(torch.from_numpy(long)).numpy()
        short_out = net(torch.from_numpy(short)).numpy()
    np.savez(out, mels=long, embeddings=long_out, short_mels=short, short_embeddings=short_out)
    print(f"wrote   {out} ({out.stat().st_size} bytes)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", nargs="?", type=Path, help="pretrained.pt (default: resemblyzer's)")
    parser.add_argument("-o", "--out", type=Path, default=OUT)
    parser.add_argument("--reference", type=Path, help="also write torch's embeddings of test windows here")
    args = parser.parse_args()
    source = args.source or installed_weights()
    convert(source, args.out)
    if args.reference:
        write_reference(source, args.reference)


if __name__ == "__main__":
    main()
