"""Which frames a model sees, and reading them from the feature cache (VideoLSTM sec. 5.2; the authors' release
agrees):

- training: one random window of T = 30 consecutive frames per video per iteration (``train_window``);
- test: 25 evenly spaced windows of T frames per video, predictions summed over a window's steps and averaged
  over windows (``test_windows``).

A video shorter than T is padded by repeating its last frame (the indices clamp at n_frames - 1).
``WindowReader`` gathers such windows of a run's cached maps (or given vector features, features.py) into model
inputs, memory-mapped, so only the frames asked for are read.

Windows count steps of the first input (the input-data). Its rows and the second input's usually correspond one
to one; given features may have r rows of attended-data per input-data row instead (aLSTM's T = 2N experiment: one
C3D vector per chunk, a VGG vector per half chunk, r = 2; ``rows_per_input_step`` decides r from the files): a
window of input steps i_1..i_F then reads attended rows r*i .. r*i + r - 1 of each step i, r*F rows in all.
"""
from collections import Counter

import numpy as np

from ..metrics import label_array
from .features import gather_window, load_features


def train_window(n_frames, T, rng):
    """Indices of one random window of T consecutive frames: (T,) int64.

    VideoLSTM sec. 5.2: "from each video, a snippet of 30 frames is randomly selected". The start is uniform
    over the n_frames - T + 1 possible starts; a video shorter than T starts at 0 and its last frame repeats
    (indices clamp at n_frames - 1).
    n_frames: decoded frame count (>= 1); T: window length (>= 1); rng: a numpy Generator.
    """
    _check_counts(n_frames, T)
    start = int(rng.integers(0, max(n_frames - T, 0) + 1))
    return np.minimum(start + np.arange(T, dtype=np.int64), n_frames - 1)


def test_windows(n_frames, T, n_windows=25):
    """Indices of ``n_windows`` evenly spaced windows of T consecutive frames: (n_windows, T) int64.

    VideoLSTM sec. 5.2: "25 equally spaced segments from each video with size of 30 frames" (test time; the
    video score is the mean over windows of the per-window summed step predictions). The first window starts
    at frame 0, the last ends at the last frame, the starts in between are evenly spaced (rounded down), so the
    windows overlap when n_frames < n_windows * T (a typical 7 s UCF101 video has ~180 frames). Videos shorter
    than T give n_windows copies of the padded window.
    """
    _check_counts(n_frames, T)
    if int(n_windows) != n_windows or n_windows < 1:
        raise ValueError(f"n_windows: expected an integer >= 1, got {n_windows!r}")
    last_start = max(n_frames - T, 0)
    if n_windows == 1:
        starts = np.array([last_start // 2], dtype=np.int64)           # the one window sits in the middle
    else:
        starts = np.arange(n_windows, dtype=np.int64) * last_start // (n_windows - 1)  # integer: no float rounding
    return np.minimum(starts[:, None] + np.arange(T, dtype=np.int64), n_frames - 1)


def chunk_windows(n_frames, T, n_chunks, rng):
    """aLSTM's test chunks (sec. 4.1): ``n_chunks`` windows of T consecutive frames starting at uniform random
    frames of the video (``rng``), (n_chunks, T) int64; videos shorter than T give padded windows."""
    _check_counts(n_frames, T)
    if int(n_chunks) != n_chunks or n_chunks < 1:
        raise ValueError(f"n_chunks: expected an integer >= 1, got {n_chunks!r}")
    starts = rng.integers(0, max(n_frames - T, 0) + 1, size=int(n_chunks))
    return np.minimum(starts[:, None] + np.arange(T, dtype=np.int64), n_frames - 1)


def covering_windows(n_frames, T):
    """Consecutive windows of T frames covering all n_frames, each frame once in order (the last window padded
    with the last frame) -> (ceil(n_frames / T), T) int64: how a whole video is read for localization."""
    _check_counts(n_frames, T)
    starts = np.arange(0, n_frames, T, dtype=np.int64)
    return np.minimum(starts[:, None] + np.arange(T, dtype=np.int64), n_frames - 1)


def _check_counts(n_frames, T):
    if int(n_frames) != n_frames or n_frames < 1:
        raise ValueError(f"n_frames: expected an integer >= 1 (a decoded frame count), got {n_frames!r}")
    if int(T) != T or T < 1:
        raise ValueError(f"T: expected an integer >= 1 (window length), got {T!r}")


def rows_per_input_step(rows, first, second):
    """How many rows of the attended-data (``second``) the files hold per row of the input-data (``first``):
    rows {modality: {key: row count}} of the videos both have -> (r, {key: why it is skipped}).

    r is the most common of round(T / N) over the videos (T, N: their rows of second and first; at least 1),
    one integer for the dataset. r = 1 keeps small differences (flow often has one row fewer than RGB: the windows
    read the shorter); r > 1 needs T = r N exactly. Videos whose T / N rounds to another integer are skipped
    ("rgb has 37 rows, flow 18: not 2 per input step")."""
    keys = sorted(set(rows[first]) & set(rows[second]))
    if first == second or not keys:
        return 1, {}
    near = {k: max(1, int(rows[second][k] / rows[first][k] + 0.5)) for k in keys}
    votes = Counter(near.values())
    r = max(votes, key=lambda v: (votes[v], -v))           # the most common; a tie: the smaller
    bad = {}
    for k in keys:
        T, N = rows[second][k], rows[first][k]
        if near[k] != r or (r > 1 and T != r * N):
            bad[k] = (f"{second} has {T} rows, {first} {N}: not {r} per input step ({votes[r]} of the {len(keys)} "
                      f"videos have {r} {second} row{'s' if r > 1 else ''} per {first} row)")
    return r, bad


class WindowReader:
    """Windows of T steps of each video's features, as the inputs of the model ``spec`` (a ``models.ModelSpec``:
    which modalities it reads, maps or vectors; ``attended`` as ``ModelSpec.modalities``). Maps are spatially
    pooled into vectors for the vector models, given vector features (``data.shapes``) are read as they are; a
    model of maps cannot read vectors (ValueError). ``data.rates`` {modality: rows per step}: the second input
    may have r rows per step of the first (aLSTM only; the module docstring). ``input_chunk`` C (vector models
    only): the first input is averaged over chunks of C consecutive steps, as aLSTM's input-data is one C3D vector
    per 16-frame chunk, so a window of T frames gives N = T / C input steps beside T attended frames (aLSTM's
    T = 2N experiment from per-frame features: C = 2)."""

    def __init__(self, data, spec, modality, attended=None, input_chunk=1):
        self.data, self.pooled = data, spec.pooled
        self.mods = spec.modalities(modality, attended)
        if input_chunk != 1 and not (spec.pooled and int(input_chunk) == input_chunk and input_chunk > 1):
            raise ValueError(f"input_chunk: expected an integer >= 1, and a model of vectors (not {spec.name}), got "
                             f"{input_chunk!r}")
        self.input_chunk = int(input_chunk)
        shapes = getattr(data, "shapes", None) or {}
        self.shapes = {m: tuple(shapes.get(m, data.feature_shape)) for m in self.mods if m}
        vectors = [m for m, shape in self.shapes.items() if len(shape) == 1]
        if vectors and not spec.pooled:
            m = vectors[0]
            raise ValueError(f"model {spec.name}: it reads N x N maps; the {m} features are vectors of shape (frames, "
                             f"{self.shapes[m][0]}); the models of vectors are lstm, alstm and alstm-b")
        rates = getattr(data, "rates", None) or {}
        first, second = self.mods
        self.rates = {m: 1 for m in self.mods if m}
        if second is not None and second != first:
            r = rates.get(second, 1) / rates.get(first, 1)
            if r != int(r) or r < 1 or (r > 1 and not spec.takes_attended):
                raise ValueError(f"model {spec.name}: these features have {rates.get(second, 1)} {second} rows per "
                                 f"{rates.get(first, 1)} {first} rows; only the aLSTM models (alstm, alstm-b) read "
                                 f"their second input (attended-data) at a multiple of the first's rate")
            self.rates[second] = int(r)
        self._lengths = {}

    def features(self, key, m, flipped=False):
        roots = self.data.flipped_roots if flipped else self.data.roots
        return load_features(roots[m], key, self.shapes[m])

    def length(self, key):
        """The video's length in steps of the first input (the shorter when the inputs differ: r = 1)."""
        if key not in self._lengths:
            self._lengths[key] = min(len(self.features(key, m)) // self.rates[m] for m in self.mods if m)
        return self._lengths[key]

    def labels(self, items):
        """The labels of items [(key, label)] as the models read them: (B,) ints, or (B, C) 0/1 indicators for a
        multi-label dataset (``metrics.label_array``)."""
        return label_array([label for _, label in items], len(self.data.classes))

    def batch(self, items, windows, dtype, flips=None):
        """items [(key, label)], windows [(T,) step indices], flips [bool] or None (which items to read mirrored,
        ``data.flipped_roots``) -> (first (B, T, ...), y (B,) or (B, C), second (B, r T, ...) or None; vectors
        (B, T, D) for the vector models). Each video's files are opened once per call (evaluation asks for 25
        windows of one video at a time)."""
        opened, parts = {}, []
        flips = [False] * len(items) if flips is None else list(flips)
        for m in self.mods:
            if m is None:
                parts.append(None)
                continue
            xs, r = [], self.rates[m]
            for (key, _), idx, flip in zip(items, windows, flips):
                if (key, m, flip) not in opened:
                    opened[key, m, flip] = self.features(key, m, flip)
                rows = (r * np.asarray(idx)[:, None] + np.arange(r)).ravel()   # rows r*i .. r*i + r - 1 of step i
                x = gather_window(opened[key, m, flip], rows, dtype)
                xs.append(x.mean(axis=(2, 3)) if self.pooled and x.ndim == 4 else x)  # (T, D) for vector models
            parts.append(np.stack(xs))
        if self.input_chunk > 1:
            B, T, D = parts[0].shape
            if T % self.input_chunk:
                raise ValueError(f"input_chunk {self.input_chunk}: windows of {T} frames do not split into chunks")
            parts[0] = parts[0].reshape(B, T // self.input_chunk, self.input_chunk, D).mean(axis=2)
        return parts[0], self.labels(items), parts[1]


def training_batches(reader, items, T, batch_size, rng, dtype, flip=False):
    """Shuffled minibatches of one random window per video -> (first, y, second) like ``WindowReader.batch``;
    ``flip``: each window read mirrored with probability 1/2 (the draws come after the windows', so a run without
    flips draws exactly what it did before flips existed)."""
    order = rng.permutation(len(items))
    for s in range(0, len(order), batch_size):
        chosen = [items[i] for i in order[s:s + batch_size]]
        windows = [train_window(reader.length(k), T, rng) for k, _ in chosen]
        flips = list(rng.random(len(chosen)) < 0.5) if flip else None
        yield reader.batch(chosen, windows, dtype, flips)
