"""Speaker labels come with the base install, and no dependency list may bring torch back: resolved on a
machine with nothing cached, torch pulls about twenty CUDA packages (gigabytes) with it."""

from __future__ import annotations

import re
import tomllib
from fnmatch import fnmatch
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())

# torch itself, what wraps it (so depends on it), and the CUDA runtimes and compilers it drags in.
HEAVY = re.compile(
    r"torch|torchaudio|torchvision|resemblyzer|triton|nvidia-.*|cuda-.*|cupy.*|jax.*|tensorflow.*"
    r"|onnxruntime-gpu|pyannote-audio|speechbrain|whisperx|openai-whisper"
)


def requirement_name(requirement: str) -> str:
    """The normalised project name of a requirement string (`Foo_Bar[x]>=1; python_version...`)."""
    name = re.match(r"[A-Za-z0-9._-]+", requirement.strip())
    assert name, requirement
    return re.sub(r"[-_.]+", "-", name.group(0)).lower()


def dependency_lists() -> dict[str, list[str]]:
    lists = {"dependencies": PYPROJECT["project"]["dependencies"]}
    for extra, requirements in PYPROJECT["project"].get("optional-dependencies", {}).items():
        lists[f"[{extra}]"] = requirements
    build = PYPROJECT.get("build-system", {}).get("requires", [])
    lists["build-system"] = build
    return lists


def test_no_dependency_list_pulls_torch_or_cuda():
    offenders = {
        where: heavy
        for where, requirements in dependency_lists().items()
        if (heavy := [r for r in requirements if HEAVY.fullmatch(requirement_name(r))])
    }
    assert offenders == {}


def test_the_heavy_pattern_catches_the_usual_spellings():
    for requirement in ("torch==2.13.0", "Torch>=2", "nvidia_cudnn_cu12", "triton; platform_system=='Linux'",
                        "resemblyzer>=0.1.4", "pyannote.audio"):
        assert HEAVY.fullmatch(requirement_name(requirement)), requirement
    for requirement in ("numpy>=1.24", "scipy", "threadpoolctl>=3.1", "faster-whisper>=1.1", "onnxruntime"):
        assert not HEAVY.fullmatch(requirement_name(requirement)), requirement


def test_speaker_labels_need_no_extra():
    # Kept, empty, so that old `pip install 'voxnote[diarize]'` instructions still resolve.
    assert PYPROJECT["project"]["optional-dependencies"]["diarize"] == []
    base = {requirement_name(r) for r in PYPROJECT["project"]["dependencies"]}
    assert {"numpy", "scipy", "threadpoolctl", "faster-whisper"} <= base


def test_the_voice_encoder_weights_ship_as_package_data():
    patterns = PYPROJECT["tool"]["setuptools"]["package-data"]["bot.engine"]
    weights = ROOT / "bot" / "engine" / "weights"
    for name in ("voice_encoder.npz", "LICENSE", "NOTICE"):
        assert (weights / name).is_file(), name
        assert any(fnmatch(f"weights/{name}", pattern) for pattern in patterns), name
