"""TextRank over sentences: a TF-IDF cosine similarity graph ranked by PageRank power iteration."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np

DAMPING = 0.85
# Sentences per graph: the similarity matrix is n x n, so very long meetings are ranked in blocks.
MAX_GRAPH = 2000


def similarity_matrix(token_lists: list[list[str]]) -> np.ndarray:
    """Cosine similarity of TF-IDF vectors, zero diagonal."""
    n = len(token_lists)
    vocab: dict[str, int] = {}
    for tokens in token_lists:
        for t in tokens:
            vocab.setdefault(t, len(vocab))
    if not vocab:
        return np.zeros((n, n))
    df = Counter(t for tokens in token_lists for t in set(tokens))
    idf = np.zeros(len(vocab))
    for t, j in vocab.items():
        idf[j] = math.log((1 + n) / (1 + df[t])) + 1.0
    x = np.zeros((n, len(vocab)))
    for i, tokens in enumerate(token_lists):
        for t, c in Counter(tokens).items():
            x[i, vocab[t]] = c * idf[vocab[t]]
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    x = np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)
    sim = x @ x.T
    np.fill_diagonal(sim, 0.0)
    return sim


def pagerank(weights: np.ndarray, damping: float = DAMPING, tol: float = 1e-8, max_iter: int = 200) -> np.ndarray:
    """Stationary scores of a weighted graph; isolated nodes spread their weight evenly (no sinks)."""
    n = weights.shape[0]
    if n == 0:
        return np.zeros(0)
    out = weights.sum(axis=1, keepdims=True)
    transition = np.where(out > 0, weights / np.where(out > 0, out, 1.0), 1.0 / n)
    scores = np.full(n, 1.0 / n)
    for _ in range(max_iter):
        new = (1 - damping) / n + damping * (transition.T @ scores)
        if np.abs(new - scores).sum() < tol:
            return new
        scores = new
    return scores


def rank(token_lists: list[list[str]]) -> np.ndarray:
    """A TextRank score per sentence (comparable within one call)."""
    n = len(token_lists)
    scores = np.zeros(n)
    for lo in range(0, n, MAX_GRAPH):
        block = token_lists[lo : lo + MAX_GRAPH]
        scores[lo : lo + len(block)] = pagerank(similarity_matrix(block)) * len(block)
    return scores


def top_sentences(
    token_lists: list[list[str]], k: int, max_overlap: float = 0.5, full_length: int = 8
) -> list[int]:
    """Indices of up to k high-ranked sentences, in their original order, skipping near-duplicates.

    Sentences with fewer than `full_length` content words are scored down in proportion: short ones are
    central to the graph by accident more often than they carry the meeting's substance."""
    if k <= 0 or not token_lists:
        return []
    lengths = np.array([min(1.0, len(t) / full_length) for t in token_lists])
    scores = rank(token_lists) * lengths
    order = sorted(range(len(token_lists)), key=lambda i: (-scores[i], i))
    chosen: list[int] = []
    chosen_sets: list[set[str]] = []
    for i in order:
        tokens = set(token_lists[i])
        if not tokens:
            continue
        if any(len(tokens & s) / min(len(tokens), len(s)) > max_overlap for s in chosen_sets):
            continue
        chosen.append(i)
        chosen_sets.append(tokens)
        if len(chosen) == k:
            break
    return sorted(chosen)
