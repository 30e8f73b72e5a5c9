"""Offline speaker diarization: label transcript segments with who spoke them.

Speech is cut at pauses (Silero VAD, shipped by faster-whisper), embedded in 1.5 s windows by
Resemblyzer's voice encoder (bot.engine.voice_encoder: numpy, weights shipped in this package),
clustered by average linkage on cosine distance (the speaker count comes from a distance cut scaled to
how much one voice varies in this recording, then checked for a clear split), then each segment takes
the speaker heard longest inside it; a segment spanning a clear turn is split at a sentence boundary,
and a segment that starts a new speaker's turn starts where that speaker's speech starts.

The constants were tuned on the tuning half of tests/data/speakers/ (real people's voices through an
8 kHz phone line) while keeping the flite dialogues of tests/test_diarize.py right; bench/diarization.py
reports the tuning and the held-out half.
"""

from __future__ import annotations

import re
from math import gcd

import numpy as np
from threadpoolctl import threadpool_limits

from bot.engine import privacy
from bot.engine.voice_encoder import WEIGHTS, VoiceEncoder
from bot.errors import VoxnoteError
from bot.models import Segment

# Before faster-whisper's VAD (`_speech_regions`) imports onnxruntime, whose telemetry is read at import
# time: the bot loads this model for enrolments even when the transcription engine is remote.
privacy.disable_library_telemetry()

SAMPLE_RATE = 16000
FRAME = 160  # samples per mel frame (10 ms)
FPS = SAMPLE_RATE // FRAME

WINDOW = 150  # frames per embedding window (1.5 s)
STEP = 50  # frames between window starts
MAX_WINDOWS = 2000  # on long audio windows are spread out so clustering stays quick (it is quadratic)
MIN_EMBED = 50  # speech shorter than this (0.5 s) is not embedded: it takes its neighbours' speaker
BATCH = 64

# Speech is brought to this level first: the encoder reads power (not log) mel bands, so its
# embeddings move with loudness; -20 dBFS is typical of recordings and of its training data.
LEVEL_DBFS = -20.0
# Average-linkage cut on cosine distance between windows, scaled to the recording: CUT_BASE +
# CUT_SCALE x the median distance from each window to its nearest window that shares no audio with it
# (nearly always the same voice, elsewhere in the note). One fixed cut cannot serve both kinds of
# speech measured: real voices through a phone line vary a lot within one person (merges inside one
# voice up to 0.34, different people from 0.36; nearest-window median 0.14-0.20), flite's synthetic
# voices little (up to 0.23 inside one voice, the two male voices 0.28 apart in noise; median
# 0.09-0.11). THRESHOLD is the cut when too few windows are far enough apart to measure the spread.
CUT_BASE, CUT_SCALE = 0.17, 1.05  # the middle of the band that kept every tuning clip and flite case right
CUT_RANGE = (0.20, 0.45)
THRESHOLD = 0.33
# Below the cut, a cluster is still split in two when both parts are big (MIN_SPEAKER_WINDOWS, about
# 8 s of speech each) and their distance is RELATIVE_SPLIT times their own mean spread or more: the
# two male flite voices in hiss measured 1.63, the closest such split inside one real voice 1.34.
RELATIVE_SPLIT = 1.5
MIN_SPEAKER_WINDOWS = 15
# A split into speakers must also be clear: mean silhouette was 0.35-0.47 for 2-3 real people on a
# phone line (0.46-0.67 for flite voices) and at most 0.29 for any split of one voice.
MIN_SILHOUETTE = 0.32
# A speaker needs 3 windows (about 2.5 s of speech): lone odd windows (a breath, a laugh, a turn's
# overlap) are not speakers.
MIN_CLUSTER = 3
SMOOTH = 30  # frames: frame scores are averaged over 0.3 s so labels do not flicker
# Seconds: a shorter run of another speaker inside a segment does not split it (1.0 left real turns of
# 0.7-1 s inside Whisper's segments; labels no longer flicker that fast once the speaker count is right).
MIN_TURN = 0.7
SPLIT_TOLERANCE = 1.2  # seconds between a turn and the sentence or clause boundary that splits it
# Whisper also runs two people's words into one sentence (more so in a language it did not expect): with
# no sentence or clause boundary near the turn, the text is cut at the word boundary nearest to it.
WORD_TOLERANCE = 0.6
# Whisper's segments often start in the pause before a turn (0.3-1.6 s early on the tuning clips): a
# segment whose speaker differs from the one before starts at its speaker's nearest speech onset
# within this many seconds.
ONSET_TOLERANCE = 1.5
MIN_ONSET_RUN = 20  # frames: an onset must open at least 0.2 s of that speaker's speech

_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")
_CLAUSE_END = re.compile(r"(?<=[,;:])\s+")
_WORD_GAP = re.compile(r"\s+")


class DiarizationUnavailable(VoxnoteError):
    user_message = "speaker labels are not available on this server"


class Diarizer:
    """Holds the speaker-embedding model; `assign` is blocking and thread-safe."""

    def __init__(self, encoder: VoiceEncoder, mel_filters: np.ndarray) -> None:
        self._encoder = encoder
        self._filters = mel_filters
        self._window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(400) / 400)).astype(np.float32)

    @classmethod
    def load(cls) -> Diarizer:
        """Load the voice encoder and the VAD and run both once, so the first note is not slow."""
        if not WEIGHTS.is_file():
            raise DiarizationUnavailable(f"the voice encoder's weights are missing: {WEIGHTS}")
        encoder = VoiceEncoder.load()
        # The LSTM's small matrix products gain nothing from a second BLAS thread; on 2 shared
        # cores, two threads ran 15-30x slower than one while another process was busy. This is
        # process-wide but touches only numpy's and scipy's BLAS, not CTranslate2's threads.
        threadpool_limits(1, user_api="blas")
        diarizer = cls(encoder, _mel_filters())
        noise = np.random.default_rng(0).standard_normal(2 * SAMPLE_RATE).astype(np.float32) * 0.05
        diarizer._embed_batch([diarizer._mel(noise)[:WINDOW]] * 2)
        _speech_regions(noise)
        return diarizer

    def assign(
        self, samples: np.ndarray, segments: list[Segment], sample_rate: int = SAMPLE_RATE
    ) -> list[Segment]:
        """Blocking (call it in a worker thread). Returns new segments with speaker_id set; may split a
        segment at a speaker change found with VAD pauses."""
        if not segments:
            return []
        audio = _to_mono_16k(samples, sample_rate)
        regions = _speech_regions(audio)
        if not regions:
            regions = [(int(s.start * FPS), int(s.end * FPS)) for s in segments if s.end > s.start]
        labels = self._frame_labels(audio, regions)
        pieces: list[tuple[Segment, int]] = []
        for seg in sorted(segments, key=lambda s: (s.start, s.end)):
            pieces.extend(_split_and_label(seg, labels))
        pieces = _start_turns_at_onsets(pieces, labels)
        names: dict[int, str] = {}
        out = []
        for seg, label in pieces:
            name = names.setdefault(label, f"speaker_{len(names) + 1}")
            out.append(seg.model_copy(update={"speaker_id": name}))
        return out

    def _frame_labels(self, audio: np.ndarray, regions: list[tuple[int, int]]) -> np.ndarray:
        """One cluster index per 10 ms frame; -1 where nobody speaks."""
        n_frames = len(audio) // FRAME + 1
        labels = np.full(n_frames, -1, dtype=np.int64)
        regions = [(max(0, a), min(n_frames, b)) for a, b in regions if min(n_frames, b) > max(0, a)]
        if not regions:
            return labels
        audio = _normalize_volume(audio, regions)
        mel = self._mel(audio)
        spans = _windows(regions)
        if not spans:
            for a, b in regions:
                labels[a:b] = 0
            return labels
        embeddings = self._embed([mel[a:b] for a, b in spans])
        centroids = _cluster(embeddings, np.array([a for a, _ in spans]))
        # Soft vote: each frame scores every speaker by the windows covering it, weighted towards
        # each window's centre, so a turn inside one VAD region lands between the two voices.
        scores = np.zeros((n_frames, len(centroids)), dtype=np.float32)
        weight = np.zeros(n_frames, dtype=np.float32)
        sims = embeddings @ centroids.T
        for (a, b), sim in zip(spans, sims, strict=True):
            tri = 1.0 - np.abs(np.linspace(-1, 1, b - a, dtype=np.float32)) * 0.9
            scores[a:b] += tri[:, None] * sim[None, :]
            weight[a:b] += tri
        kernel = np.ones(SMOOTH, dtype=np.float32) / SMOOTH
        for a, b in regions:
            covered = np.flatnonzero(weight[a:b] > 0)
            if covered.size == 0:
                continue
            block = scores[a:b] / np.maximum(weight[a:b], 1e-6)[:, None]
            smooth = np.stack([np.convolve(col, kernel, mode="same") for col in block.T], axis=1)
            region = smooth.argmax(axis=1)
            # Frames no window reached (region edges) take the nearest covered frame's speaker.
            bare = np.flatnonzero(weight[a:b] == 0)
            if bare.size:
                right = np.clip(np.searchsorted(covered, bare), 0, covered.size - 1)
                left = np.clip(right - 1, 0, covered.size - 1)
                nearest = np.where(np.abs(covered[left] - bare) <= np.abs(covered[right] - bare), left, right)
                region[bare] = region[covered[nearest]]
            labels[a:b] = region
        _label_short_regions(labels, regions)
        return labels

    def _mel(self, audio: np.ndarray) -> np.ndarray:
        """Power (not log) mel spectrogram as the encoder was trained on: 25 ms Hann, 10 ms hop, 40 bands."""
        y = np.pad(audio.astype(np.float32), 200)
        n = 1 + (len(y) - 400) // FRAME
        out = np.empty((n, len(self._filters)), dtype=np.float32)
        # In blocks of 4096 frames: framing a whole 10-minute note at once took 800 MB.
        for start in range(0, n, 4096):
            idx = np.arange(400)[None, :] + FRAME * np.arange(start, min(n, start + 4096))[:, None]
            spec = np.abs(np.fft.rfft(y[idx] * self._window, axis=1)) ** 2
            out[start : start + len(idx)] = spec @ self._filters.T
        return out

    def _embed(self, mels: list[np.ndarray]) -> np.ndarray:
        """L2-normalized embeddings, batching the windows of equal length."""
        out = np.zeros((len(mels), 256), dtype=np.float32)
        by_len: dict[int, list[int]] = {}
        for i, m in enumerate(mels):
            by_len.setdefault(len(m), []).append(i)
        for idx in by_len.values():
            for k in range(0, len(idx), BATCH):
                chunk = idx[k : k + BATCH]
                out[chunk] = self._embed_batch([mels[i] for i in chunk])
        return out

    def voiceprint(
        self, samples: np.ndarray, sample_rate: int = SAMPLE_RATE, spans: list[tuple[float, float]] | None = None
    ) -> np.ndarray | None:
        """One L2-normalised embedding of the voice speaking in `samples` (or in its `spans`, seconds): the
        mean of its speech windows' embeddings. None when there is too little speech to embed. Blocking."""
        audio = _to_mono_16k(samples, sample_rate)
        regions = _speech_regions(audio)
        if spans is not None:
            # The speech inside the given spans only (a speaker's turns in a longer recording).
            cut = [(int(a * FPS), int(b * FPS)) for a, b in spans]
            regions = [(max(a, x), min(b, y)) for a, b in regions for x, y in cut if min(b, y) > max(a, x)]
        regions = [(a, b) for a, b in regions if b - a >= MIN_EMBED]
        if not regions:
            return None
        mel = self._mel(_normalize_volume(audio, regions))
        spans_ = _windows(regions)
        embeddings = self._embed([mel[a:b] for a, b in spans_])
        return _normalize(embeddings.mean(axis=0, keepdims=True))[0]

    def _embed_batch(self, mels: list[np.ndarray]) -> np.ndarray:
        # The encoder only reads its weights, so worker threads may share it without a lock.
        e = self._encoder(np.stack(mels))
        return e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-9)


def _mel_filters(n_fft: int = 400, n_mels: int = 40) -> np.ndarray:
    """Slaney-style mel filterbank (librosa's default), 0 Hz to Nyquist."""

    def hz_to_mel(f: np.ndarray) -> np.ndarray:
        log_part = 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
        return np.where(f >= 1000.0, log_part, f * 3 / 200)

    def mel_to_hz(m: np.ndarray) -> np.ndarray:
        return np.where(m >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0)), m * 200 / 3)

    fft_freqs = np.linspace(0, SAMPLE_RATE / 2, 1 + n_fft // 2)
    edges = mel_to_hz(np.linspace(hz_to_mel(np.array(0.0)), hz_to_mel(np.array(SAMPLE_RATE / 2)), n_mels + 2))
    ramps = edges[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / np.diff(edges)[:-1, None]
    upper = ramps[2:] / np.diff(edges)[1:, None]
    filters = np.maximum(0, np.minimum(lower, upper)) * (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return filters.astype(np.float32)


def _to_mono_16k(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    audio = np.asarray(samples)
    if audio.ndim == 2:
        audio = audio.mean(axis=1 if audio.shape[1] < audio.shape[0] else 0)
    if np.issubdtype(audio.dtype, np.integer):
        audio = audio.astype(np.float32) / float(np.iinfo(audio.dtype).max + 1)
    audio = audio.astype(np.float32)
    if sample_rate != SAMPLE_RATE:
        from scipy.signal import resample_poly

        g = gcd(sample_rate, SAMPLE_RATE)
        audio = resample_poly(audio, SAMPLE_RATE // g, sample_rate // g).astype(np.float32)
    return audio


def _speech_regions(audio: np.ndarray) -> list[tuple[int, int]]:
    """Speech as (start, end) frame indices, cut at pauses of 150 ms or more."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    options = VadOptions(min_silence_duration_ms=150, speech_pad_ms=30, min_speech_duration_ms=100)
    return [(r["start"] // FRAME, -(-r["end"] // FRAME)) for r in get_speech_timestamps(audio, options)]


def _normalize_volume(audio: np.ndarray, regions: list[tuple[int, int]]) -> np.ndarray:
    """Bring the speech to LEVEL_DBFS, so a quiet recording embeds like a loud one."""
    speech = np.concatenate([audio[a * FRAME : b * FRAME] for a, b in regions])
    rms = float(np.sqrt(np.mean(speech.astype(np.float64) ** 2))) if speech.size else 0.0
    if rms <= 1e-6:
        return audio
    return audio * np.float32(10 ** ((LEVEL_DBFS - 20 * np.log10(rms)) / 20))


def _windows(regions: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Embedding windows (frame spans): WINDOW long every STEP, or one per region of MIN_EMBED..WINDOW."""
    speech = sum(b - a for a, b in regions)
    step = min(WINDOW, max(STEP, -(-speech // MAX_WINDOWS)))
    spans = []
    for a, b in regions:
        if b - a < MIN_EMBED:
            continue
        if b - a <= WINDOW:
            spans.append((a, b))
            continue
        starts = list(range(a, b - WINDOW + 1, step))
        if starts[-1] != b - WINDOW:
            starts.append(b - WINDOW)
        spans.extend((s, s + WINDOW) for s in starts)
    return spans


def _cluster(embeddings: np.ndarray, starts: np.ndarray | None = None) -> np.ndarray:
    """Speaker centroids (L2-normalized rows): average-linkage clusters cut at a distance scaled to the
    recording (`starts`: each window's first frame), big clear parts split further, fewer clusters while
    the split is not clear (silhouette under MIN_SILHOUETTE), then refined by nearest centroid."""
    if len(embeddings) < 2 * MIN_CLUSTER:
        return _normalize(embeddings.mean(axis=0, keepdims=True))
    from scipy.cluster.hierarchy import fcluster, linkage, to_tree

    tree = linkage(embeddings.astype(np.float64), method="average", metric="cosine")
    dist = 1.0 - embeddings @ embeddings.T
    cut = _cut(dist, starts)
    parts = _split_clear(to_tree(tree), dist, cut)
    raw = np.zeros(len(embeddings), dtype=np.int64)
    for k, node in enumerate(parts):
        raw[node.pre_order()] = k + 1
    labels = _significant(embeddings, raw)
    while (k := int(labels.max()) + 1) > 1 and _silhouette(embeddings, labels) < MIN_SILHOUETTE:
        labels = _significant(embeddings, fcluster(tree, t=k - 1, criterion="maxclust"))
    centroids = _centroids(embeddings, labels)
    # Two refinement passes: every window joins its nearest centroid, glitches included.
    for _ in range(2):
        centroids = _centroids(embeddings, (embeddings @ centroids.T).argmax(axis=1))
    return centroids


def _cut(dist: np.ndarray, starts: np.ndarray | None) -> float:
    """The linkage cut for this recording: CUT_BASE + CUT_SCALE x the median distance from each window
    to its nearest window sharing no audio with it; THRESHOLD when few windows have one."""
    if starts is None or len(starts) != len(dist):
        return THRESHOLD
    apart = np.abs(starts[:, None] - starts[None, :]) >= WINDOW
    nearest = np.where(apart, dist, np.inf).min(axis=1)
    nearest = nearest[np.isfinite(nearest)]
    if nearest.size < 2 * MIN_CLUSTER:
        return THRESHOLD
    return float(np.clip(CUT_BASE + CUT_SCALE * np.median(nearest), *CUT_RANGE))


def _split_clear(root: object, dist: np.ndarray, cut: float) -> list:
    """Clusters (tree nodes) below the cut, then the highest remaining merge split again while it joins
    two big parts that lie far apart for their own spread (RELATIVE_SPLIT); merges that only cut off a
    few odd windows (under MIN_CLUSTER) are looked past, the first other merge that fails ends it."""
    parts: list = []
    stack = [root]
    while stack:
        node = stack.pop()
        if node.is_leaf() or node.dist <= cut:
            parts.append(node)
        else:
            stack += [node.left, node.right]

    def spread(idx: list[int]) -> float:
        return float(dist[np.ix_(idx, idx)][np.triu_indices(len(idx), 1)].mean())

    while True:
        for node in sorted((n for n in parts if not n.is_leaf()), key=lambda n: -n.dist):
            a, b = node.left.pre_order(), node.right.pre_order()
            if min(len(a), len(b)) < MIN_CLUSTER:
                continue
            apart = node.dist >= RELATIVE_SPLIT * (spread(a) + spread(b)) / 2
            if min(len(a), len(b)) >= MIN_SPEAKER_WINDOWS and apart:
                parts.remove(node)
                parts += [node.left, node.right]
                break
            return parts
        else:
            return parts


def _significant(embeddings: np.ndarray, raw: np.ndarray) -> np.ndarray:
    """Labels 0..k-1 of the clusters with MIN_CLUSTER windows or more; smaller ones join the nearest."""
    counts = np.bincount(raw)
    keep = np.flatnonzero(counts >= MIN_CLUSTER)
    if keep.size == 0:
        keep = np.array([counts.argmax()])
    centroids = _normalize(np.stack([embeddings[raw == k].mean(axis=0) for k in keep]))
    own = np.searchsorted(keep, raw)
    kept = np.isin(raw, keep)
    return np.where(kept, own, (embeddings @ centroids.T).argmax(axis=1))


def _centroids(embeddings: np.ndarray, labels: np.ndarray) -> np.ndarray:
    return _normalize(np.stack([embeddings[labels == k].mean(axis=0) for k in np.unique(labels)]))


def _silhouette(embeddings: np.ndarray, labels: np.ndarray) -> float:
    """Mean silhouette under cosine distance: near 0 when the clusters overlap, near 1 when apart."""
    dist = 1.0 - embeddings @ embeddings.T
    ks = np.unique(labels)
    sizes = np.array([np.sum(labels == k) for k in ks])
    mean_to = np.stack([dist[:, labels == k].sum(axis=1) for k in ks], axis=1) / sizes
    own = np.searchsorted(ks, labels)
    rows = np.arange(len(labels))
    a = mean_to[rows, own] * sizes[own] / np.maximum(sizes[own] - 1, 1)
    mean_to[rows, own] = np.inf
    b = mean_to.min(axis=1)
    return float(np.mean((b - a) / np.maximum(np.maximum(a, b), 1e-9)))


def _normalize(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-9)


def _label_short_regions(labels: np.ndarray, regions: list[tuple[int, int]]) -> None:
    """Speech too short to embed takes the speaker of the nearest labelled frame."""
    known = np.flatnonzero(labels >= 0)
    if known.size == 0:
        for a, b in regions:
            labels[a:b] = 0
        return
    for a, b in regions:
        if labels[a] < 0:
            mid = (a + b) // 2
            labels[a:b] = labels[known[np.abs(known - mid).argmin()]]


def _split_and_label(seg: Segment, labels: np.ndarray) -> list[tuple[Segment, int]]:
    """The segment with its majority speaker, or its pieces when it spans a clear turn."""
    a = max(0, min(len(labels) - 1, int(seg.start * FPS)))
    b = max(a + 1, min(len(labels), int(np.ceil(seg.end * FPS))))
    window = labels[a:b]
    runs = _turns(window)
    if len(runs) < 2:
        return [(seg, _majority(window, labels, a, b))]
    pieces = _split_text(seg, window, a, runs)
    if pieces is None:
        return [(seg, _majority(window, labels, a, b))]
    out = []
    for piece in pieces:
        pa = max(a, int(piece.start * FPS))
        pb = max(pa + 1, min(b, int(np.ceil(piece.end * FPS))))
        out.append((piece, _majority(labels[pa:pb], labels, pa, pb)))
    return out


def _turns(window: np.ndarray) -> list[tuple[int, int, int]]:
    """Runs (label, first frame, end frame) of speech in a segment; runs under MIN_TURN merged away."""
    runs: list[list[int]] = []
    for i, lab in enumerate(window):
        if lab < 0:
            continue
        if runs and runs[-1][0] == lab:
            runs[-1][2] = i + 1
        else:
            runs.append([int(lab), i, i + 1])
    speech = [sum(1 for x in window[r[1] : r[2]] if x >= 0) for r in runs]
    while len(runs) > 1 and min(speech) < MIN_TURN * FPS:
        k = int(np.argmin(speech))
        # Absorb the short run into the neighbour it is more likely a part of: the longer one.
        left = speech[k - 1] if k > 0 else -1
        right = speech[k + 1] if k + 1 < len(runs) else -1
        n = k - 1 if left >= right else k + 1
        lo, hi = min(k, n), max(k, n)
        runs[lo:hi + 1] = [[runs[n][0], runs[lo][1], runs[hi][2]]]
        speech[lo:hi + 1] = [speech[lo] + speech[hi]]
        for j in range(len(runs) - 1, 0, -1):
            if runs[j][0] == runs[j - 1][0]:
                runs[j - 1 : j + 1] = [[runs[j][0], runs[j - 1][1], runs[j][2]]]
                speech[j - 1 : j + 1] = [speech[j - 1] + speech[j]]
    return [(r[0], r[1], r[2]) for r in runs]


def _split_text(
    seg: Segment, window: np.ndarray, a: int, runs: list[tuple[int, int, int]]
) -> list[Segment] | None:
    """Cut the text at the sentence (else clause, else word) boundary nearest each turn, placing boundaries
    by the share of speech time before them; None when a turn has no boundary close enough."""
    text = seg.text.strip()
    lead = seg.text[: len(seg.text) - len(seg.text.lstrip())]  # Whisper's texts start with a space
    speech = np.cumsum(window >= 0)
    total = int(speech[-1]) if speech.size else 0
    if total == 0:
        return None
    cuts: list[tuple[int, float]] = []  # (character offset, time of the turn)
    for prev, nxt in zip(runs, runs[1:], strict=False):
        turn = (a + (prev[2] + nxt[1]) / 2) / FPS
        best = None
        for pattern, tolerance in ((_SENTENCE_END, SPLIT_TOLERANCE), (_CLAUSE_END, SPLIT_TOLERANCE),
                                   (_WORD_GAP, WORD_TOLERANCE)):
            for m in pattern.finditer(text):
                share = len(text[: m.start()].replace(" ", "")) / max(1, len(text.replace(" ", "")))
                frame = int(np.searchsorted(speech, share * total))
                at = (a + frame) / FPS
                if abs(at - turn) > tolerance:
                    continue
                if best is None or abs(at - turn) < abs(best[1] - turn):
                    best = (m.end(), at)
            if best is not None:
                break
        if best is None:
            return None
        cuts.append((best[0], turn))
    offsets = [0] + [c[0] for c in cuts] + [len(text)]
    times = [seg.start] + [c[1] for c in cuts] + [seg.end]
    if any(o2 <= o1 for o1, o2 in zip(offsets, offsets[1:], strict=False)):
        return None
    return [
        seg.model_copy(update={"text": lead + text[o1:o2].strip(), "start": t1, "end": t2})
        for o1, o2, t1, t2 in zip(offsets, offsets[1:], times, times[1:], strict=False)
    ]


def _start_turns_at_onsets(pieces: list[tuple[Segment, int]], labels: np.ndarray) -> list[tuple[Segment, int]]:
    """A piece whose speaker differs from the previous piece's starts at the nearest onset of its
    speaker's speech (a run of MIN_ONSET_RUN frames or more) within ONSET_TOLERANCE, and inside the
    previous piece's start and its own end; the previous piece then ends there at the latest."""
    out = list(pieces)
    reach = int(ONSET_TOLERANCE * FPS)
    for i in range(1, len(out)):
        (prev, prev_label), (seg, label) = out[i - 1], out[i]
        if label == prev_label:
            continue
        start = int(round(seg.start * FPS))
        lo = max(1, start - reach, int(np.ceil(prev.start * FPS)) + 1)
        hi = min(len(labels) - MIN_ONSET_RUN, start + reach, int(seg.end * FPS) - 1)
        if hi < lo:
            continue
        own = labels[lo - 1 : hi + MIN_ONSET_RUN] == label
        # Frame f (lo <= f <= hi) opens a run of this speaker that lasts MIN_ONSET_RUN frames.
        opens = own[1 : hi - lo + 2] & ~own[: hi - lo + 1]
        runs = np.convolve(own[1:].astype(np.int64), np.ones(MIN_ONSET_RUN, dtype=np.int64), mode="valid")
        onsets = lo + np.flatnonzero(opens[: len(runs)] & (runs[: hi - lo + 1] == MIN_ONSET_RUN))
        if onsets.size == 0:
            continue
        at = int(onsets[np.abs(onsets - start).argmin()]) / FPS
        out[i] = (seg.model_copy(update={"start": at}), label)
        if prev.end > at:
            out[i - 1] = (prev.model_copy(update={"end": at}), prev_label)
    return out


def _majority(window: np.ndarray, labels: np.ndarray, a: int, b: int) -> int:
    heard = window[window >= 0]
    if heard.size:
        return int(np.bincount(heard).argmax())
    known = np.flatnonzero(labels >= 0)
    if known.size == 0:
        return 0
    return int(labels[known[np.abs(known - (a + b) // 2).argmin()]])
