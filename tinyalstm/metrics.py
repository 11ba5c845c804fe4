"""Video-level evaluation: the test protocol's video scores, top-1 accuracy, mAP, RGB + flow late fusion, confusion.

The papers report two measures:

- top-1 classification accuracy (VideoLSTM on UCF101 and HMDB51; "AC" for aLSTM on ActivityNet), and
- mean average precision over classes (aLSTM on ActivityNet and Hollywood2/HOHA2; VideoLSTM on THUMOS13).

Both are computed from one score vector per video. The VideoLSTM test protocol (the authors' released
code) turns per-step softmax outputs into that vector: 25 evenly spaced 30-frame windows per
video; the softmax is summed over the steps of a window, and the window sums are averaged over windows
(``video_scores``). VideoLSTM's Table 3 then fuses the RGB and the optical-flow model by the product of their class
probabilities (``late_fusion``).

Everything here is NumPy on the host (CuPy inputs are copied over first) and works in float64. Arguments are
validated at every function, since each one is a public entry point: a wrong shape or rank raises ``ValueError``
naming the argument, as do NaN or infinite scores; a wrong dtype (say float labels) raises ``TypeError``.
"""
import numpy as np

from .backend import to_numpy

FUSION_METHODS = ("product", "sum")


# --------------------------------------------------------------------------------------------------------- labels

def label_array(labels, n_classes):
    """Labels of samples as the models and metrics read them: ints -> (V,) int64; tuples of class indices
    (multi-label) -> (V, n_classes) int8 0/1 indicators."""
    labels = list(labels)
    if labels and isinstance(labels[0], tuple):
        Y = np.zeros((len(labels), n_classes), dtype=np.int8)
        for i, classes in enumerate(labels):
            Y[i, list(classes)] = 1
        return Y
    return np.array(labels, dtype=np.int64)


# ----------------------------------------------------------------------------------------------------- validation

def _as_array(name, x):
    try:
        return to_numpy(x)
    except Exception as exc:  # e.g. a ragged list
        raise TypeError(f"{name}: expected an array, got {type(x).__name__} ({exc})") from None


def _float_array(name, x, ndims):
    """``x`` as a float64 array whose rank is one of ``ndims``, non-empty and finite."""
    x = _as_array(name, x)
    if x.dtype.kind not in "biuf":
        raise TypeError(f"{name}: expected a real (float or integer) array, got dtype {x.dtype}")
    if x.ndim not in ndims:
        want = " or ".join(f"{d}-d" for d in ndims)
        raise ValueError(f"{name}: expected a {want} array, got shape {x.shape} ({x.ndim}-d)")
    if 0 in x.shape:
        raise ValueError(f"{name}: expected a non-empty array, got shape {x.shape}")
    x = x.astype(np.float64, copy=False)
    finite = np.isfinite(x)
    if not finite.all():
        raise ValueError(f"{name}: expected finite values, got {int((~finite).sum())} NaN or infinite entries")
    return x


def _int_labels(name, y, n, n_classes):
    """Integer class labels (n,) in [0, n_classes)."""
    y = _as_array(name, y)
    if y.ndim != 1 or y.shape[0] != n:
        raise ValueError(f"{name}: expected shape ({n},), got {y.shape}")
    if y.dtype.kind not in "iu":
        raise TypeError(f"{name}: expected an integer dtype, got {y.dtype}")
    if int(y.min()) < 0 or int(y.max()) >= n_classes:
        raise ValueError(f"{name}: expected labels in [0, {n_classes}), got min {int(y.min())}, max {int(y.max())}")
    return y.astype(np.int64, copy=False)


def _scores_and_labels(scores, labels):
    scores = _float_array("scores", scores, (2,))
    return scores, _int_labels("labels", labels, scores.shape[0], scores.shape[1])


# ---------------------------------------------------------------------------------------------------- the protocol

def video_scores(step_probs_per_window):
    """Video class scores from per-step softmax outputs: VideoLSTM's test protocol.

    The protocol (VideoLSTM authors' code): 25 evenly spaced 30-frame windows per video; the model's softmax output
    is summed over the steps of each window, and these window scores are averaged over the windows:

        score[c] = (1/W) sum_w sum_t p[w, t, c]

    Inputs:
    - step_probs_per_window: (W, T, C) per-step class probabilities of one video's W windows of T steps, or a batch
      (V, W, T, C) of V videos with the same W and T.

    Returns (C,) for one video or (V, C) for a batch, float64. Each row sums to T when the inputs are softmax
    outputs; the sum over steps (rather than the mean) follows the authors' code and changes neither the ranking
    nor the accuracy, mAP or fusion computed from it. Any real values are accepted (e.g. log-probabilities), so
    long as they are finite.
    """
    p = _float_array("step_probs_per_window", step_probs_per_window, (3, 4))
    return p.sum(axis=-2).mean(axis=-2)       # (..., W, T, C) -> (..., W, C) -> (..., C)


# ---------------------------------------------------------------------------------------------------- the measures

def accuracy(scores, labels):
    """Top-1 accuracy: the fraction of videos whose highest-scoring class is their label.

    Inputs:
    - scores: (V, C) video class scores (e.g. from ``video_scores`` or ``late_fusion``).
    - labels: (V,) integer labels in [0, C).

    Ties in a row go to the lowest class index (``np.argmax``). Returns a Python float in [0, 1].
    """
    scores, labels = _scores_and_labels(scores, labels)
    return float((scores.argmax(axis=1) == labels).mean())


def video_cross_entropy(scores, labels):
    """Mean cross-entropy -log p[label] of video scores (V, C) (class probabilities, e.g. the test protocol's
    averaged softmax) at integer labels (V,): the validation loss early stopping watches. Probabilities are
    clipped at 1e-12, so a confident mistake costs at most 27.6."""
    scores, labels = _scores_and_labels(scores, labels)
    p = scores[np.arange(len(labels)), labels]
    return float(-np.log(np.clip(p, 1e-12, None)).mean())


def video_binary_cross_entropy(scores, labels):
    """The multi-label counterpart of ``video_cross_entropy``: -[y log p + (1 - y) log(1 - p)] summed over classes
    and averaged over videos (as the training loss ``stepwise_sigmoid_loss`` is), of video scores (V, C)
    (per-class probabilities, e.g. averaged sigmoids) at (V, C) 0/1 indicators; p clipped to [1e-12, 1 - 1e-12]."""
    p = _float_array("scores", scores, (2,))
    y = _as_array("labels", labels)
    if y.shape != p.shape or y.dtype.kind not in "biu" or not np.isin(y, (0, 1)).all():
        raise ValueError(f"labels: expected (V, C) = {p.shape} 0/1 indicators, got shape {y.shape} dtype {y.dtype}")
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return float(-(y * np.log(p) + (1 - y) * np.log1p(-p)).sum(axis=1).mean())


def average_precision(scores, positives):
    """Non-interpolated average precision of one binary ranking (one class, one-vs-rest).

    Inputs:
    - scores: (N,) the class's score for each of N items; a higher score ranks first.
    - positives: (N,) bool or 0/1 integers, at least one true.

    AP is the mean over the positives of the precision at the positive's rank:

        AP = (1/P) sum_{k : item k positive} (#positives in ranks 1..k) / k

    Ties are handled the way sklearn's ``average_precision_score`` handles them, so the result does not depend on
    the input order: a group of items with equal scores is one threshold. Every positive in the group gets the
    precision measured at the end of the group, counting the whole group, (#positives scored >= s) / (#items scored
    >= s), where s is the group's score. For example scores (0.9, 0.5, 0.5, 0.1) with labels (0, 1, 0, 1): the tied
    positive gets 1/3 (not 1/2 or 1/3 depending on the order), the last one 2/4, so AP = (1/3 + 1/2) / 2 = 5/12.
    Without ties this is exactly the mean of the precisions at the positives' ranks.

    Returns a Python float in (0, 1].
    """
    scores = _float_array("scores", scores, (1,))
    positives = _as_array("positives", positives)
    if positives.shape != scores.shape:
        raise ValueError(f"positives: expected shape {scores.shape} (that of scores), got {positives.shape}")
    if positives.dtype.kind not in "biu" or not np.isin(positives, (0, 1)).all():
        raise ValueError(f"positives: expected bool or 0/1 integers, got dtype {positives.dtype}")
    positives = positives.astype(bool)
    if not positives.any():
        raise ValueError("positives: expected at least one positive, got none (AP is undefined)")
    return _average_precision(scores, positives)


def _average_precision(scores, positives):
    order = np.argsort(-scores, kind="stable")
    s, y = scores[order], positives[order]
    ends = np.r_[np.flatnonzero(np.diff(s) != 0), s.size - 1]      # last rank (0-based) of each tie group
    tp = np.cumsum(y)[ends]                                           # positives ranked at or above each group's end
    pos_in_group = np.diff(tp, prepend=0)
    return float((pos_in_group * tp / (ends + 1)).sum() / tp[-1])


def mean_average_precision(scores, labels):
    """Mean over classes of the one-vs-rest average precision (aLSTM's ActivityNet/HOHA2 and VideoLSTM's THUMOS13 mAP).

    Inputs:
    - scores: (V, C) video class scores.
    - labels: (V,) integer labels in [0, C) (single-label data: UCF101, HMDB51, ActivityNet trimmed), or (V, C)
      bool / 0-1 indicators (multi-label data such as Hollywood2/HOHA2).

    For each class c, every video is ranked by scores[:, c] and the AP of that ranking against "video has class c"
    is computed by ``average_precision`` (non-interpolated; tied scores form one threshold, as in sklearn). The mean
    runs over the classes that have at least one positive video; a class with none has no defined AP and is left
    out (so a test split missing some class is not penalised for it). Returns a Python float in (0, 1].
    """
    scores = _float_array("scores", scores, (2,))
    V, C = scores.shape
    y = _as_array("labels", labels)
    if y.ndim == 2:
        if y.shape != scores.shape:
            raise ValueError(f"labels: expected shape ({V},) or {scores.shape} (indicators), got {y.shape}")
        if y.dtype.kind not in "biu" or not np.isin(y, (0, 1)).all():
            raise ValueError(f"labels: expected (V, C) indicators to be bool or 0/1 integers, got dtype {y.dtype}")
        positives = y.astype(bool)
    else:
        y = _int_labels("labels", y, V, C)
        positives = y[:, None] == np.arange(C)
    aps = [_average_precision(scores[:, c], positives[:, c]) for c in range(C) if positives[:, c].any()]
    if not aps:
        raise ValueError("labels: expected at least one positive video for some class, got none")
    return float(np.mean(aps))


def confusion_matrix(pred, labels, n_classes):
    """Counts of (true class, predicted class) pairs.

    Inputs:
    - pred: (V,) predicted integer classes in [0, n_classes) (e.g. ``scores.argmax(axis=1)``).
    - labels: (V,) true integer classes in [0, n_classes).
    - n_classes: C.

    Returns (C, C) int64 ``M`` with ``M[i, j]`` = number of videos of true class i predicted as j (rows: truth,
    columns: prediction, as in sklearn). The trace over V is the top-1 accuracy.
    """
    if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)) or n_classes < 1:
        raise ValueError(f"n_classes: expected a positive integer, got {n_classes!r}")
    n_classes = int(n_classes)
    pred = _as_array("pred", pred)
    if pred.ndim != 1 or pred.shape[0] == 0:
        raise ValueError(f"pred: expected a non-empty 1-d array (V,), got shape {pred.shape}")
    pred = _int_labels("pred", pred, pred.shape[0], n_classes)
    labels = _int_labels("labels", labels, pred.shape[0], n_classes)
    M = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(M, (labels, pred), 1)
    return M


# -------------------------------------------------------------------------------------------------------- fusion

def late_fusion(scores_a, scores_b, method="product"):
    """Late fusion of two models' video scores, e.g. the RGB and the optical-flow VideoLSTM (VideoLSTM Table 3).

    Inputs:
    - scores_a, scores_b: (V, C) or (C,) non-negative class scores of the same shape (softmax probabilities, or
      ``video_scores`` outputs, whose rows sum to T rather than 1).
    - method: ``"product"`` (default; the paper: "instead of using average, we simply use product fusion on
      predictions from our VideoLSTM models with RGB input and optical flow input") or ``"sum"`` (the average,
      the usual two-stream fusion, offered as the alternative).

    Each row of each input is first normalised to sum to 1, p = a / sum(a), q = b / sum(b), so that both models
    enter as class-probability vectors whatever their scale (a 30-step window sum versus a softmax, say). Then

        product:  fused[c] = p[c] q[c] / sum_k p[k] q[k]
        sum:      fused[c] = (p[c] + q[c]) / 2

    Each returned row sums to 1. For the product, the row normalisation only keeps the numbers in range: a row's
    scale cancels in the final division. For the sum it matters: without it the model with the larger scale would
    dominate. Returns float64 of the inputs' shape.

    Raises ValueError for negative scores, an all-zero row, or (product) a row where no class has a non-zero
    probability under both models, since the fused distribution is then undefined.
    """
    return weighted_fusion([scores_a, scores_b], [1.0, 1.0], method, names=("scores_a", "scores_b"))


def weighted_fusion(scores, weights, method="product", names=None):
    """Late fusion of any number of models with weights (aLSTM Table 5 fuses aLSTMs of different attended-data).

    scores: a list of M (V, C) or (C,) non-negative score arrays of one shape; weights: M non-negative numbers, not
    all zero; method as ``late_fusion``. Every row is normalised to sum to 1 first (p_m), then

        product:  fused[c] = prod_m p_m[c]^w_m / sum_k prod_m p_m[k]^w_m       (a weighted geometric mean)
        sum:      fused[c] = sum_m w_m p_m[c] / sum_m w_m                       (a weighted average)

    With two models and weights (1, 1) this is ``late_fusion``. A model of weight 0 does not take part. Returns
    float64 rows summing to 1; ValueError as ``late_fusion`` (names: what the messages call the inputs).
    """
    if method not in FUSION_METHODS:
        raise ValueError(f"method: expected one of {FUSION_METHODS}, got {method!r}")
    names = list(names) if names is not None else [f"scores[{m}]" for m in range(len(scores))]
    if len(scores) < 1 or len(weights) != len(scores):
        raise ValueError(f"weights: expected one weight per model ({len(scores)}), got {len(weights)}")
    w = np.asarray(weights, dtype=np.float64)
    if not np.all(np.isfinite(w)) or (w < 0).any() or w.sum() <= 0:
        raise ValueError(f"weights: expected non-negative numbers, not all zero, got {list(weights)}")
    arrays = [_float_array(n, s, (1, 2)) for n, s in zip(names, scores)]
    for n, a in zip(names[1:], arrays[1:]):
        if a.shape != arrays[0].shape:
            raise ValueError(f"{n}: expected shape {arrays[0].shape} (that of {names[0]}), got {a.shape}")
    probs = [_normalise_rows(n, a) for n, a in zip(names, arrays)]
    if method == "sum":
        return sum(wm * p for wm, p in zip(w, probs)) / w.sum()
    with np.errstate(divide="ignore"):
        log_f = sum(wm * np.log(p) for wm, p in zip(w, probs) if wm > 0)
    top = log_f.max(axis=-1, keepdims=True)
    undefined = ~np.isfinite(top)
    if undefined.any():
        raise ValueError(f"{', '.join(names)}: product fusion is undefined where no class has a non-zero score "
                         f"under every model; {int(undefined.sum())} such row(s)")
    f = np.exp(log_f - top)
    return f / f.sum(axis=-1, keepdims=True)


def _normalise_rows(name, x):
    if (x < 0).any():
        raise ValueError(f"{name}: expected non-negative scores (probabilities), got min {float(x.min())!r}")
    total = x.sum(axis=-1, keepdims=True)
    if (total <= 0).any():
        raise ValueError(f"{name}: expected every row to have a positive sum, got {int((total <= 0).sum())} "
                         f"all-zero row(s)")
    return x / total
