"""Action localization from attention maps alone (VideoLSTM sec. 4, eqs. 16-17): one tube per video.

1. Saliency maps. Each attention map A_t (N x N, summing to 1) is upsampled to the frame size (bilinear,
   ``plots.upsample``) and smoothed with a Gaussian of ``sigma`` pixels (default: half a map cell), giving S_t on a
   fixed 0-255 scale: ``S_t = 255 min(1, N^2 U(A_t) / saturation)``. N^2 A is the attention as a multiple of
   the uniform 1/N^2, so the scale is the same for every video and every model: a uniform map is 255 /
   ``saturation`` everywhere (32 at the default 8), and the paper's constant threshold theta = 100 keeps the
   pixels that hold at least 100 / 255 x 8 = 3.1 times their uniform share. (Scaling each map by its own maximum
   would find a box in any map, a uniform one included.)
2. Candidate boxes (eq. 16): ``B_t`` = the boxes enclosing the 8-connected components of ``S_t >= theta``.
3. Linking (eq. 17): in each frame the candidate with the best IoU with the previous frame's choice; the first
   frame with candidates (and any frame whose candidates all miss the previous choice, IoU 0) takes the candidate
   of largest total saliency. A frame without candidates gets no box, so the tube skips it.
4. Temporal smoothing: every box coordinate is smoothed over the tube's frames with locally weighted linear
   regression (first-degree LOWESS, tricube weights) over ``window`` frames, as the paper does (it gives no
   window; the default is 9 frames).
5. Scores: the tube's score for each class is the video's class scores averaged over frames.

scipy.ndimage does the Gaussian filter and the 8-connected labelling (a well-kept C implementation of two steps
that are easy to get subtly wrong by hand, e.g. at the borders); the rest is NumPy.
"""
import numpy as np

from ..plots import upsample
from .tubes import Tube, box_iou

THETA = 100.0          # VideoLSTM sec. 5.4: a constant threshold on the 0-255 saliency maps
SATURATION = 8.0       # attention (as a multiple of uniform) that maps to 255
WINDOW = 9             # LOWESS window in frames


def saliency_maps(att, frame_size, sigma=None, saturation=SATURATION):
    """Step 1: att (T, N, N) attention maps -> S (T, H, W) float64 in [0, 255] for frames of ``frame_size``
    (H, W); ``sigma`` in pixels (None: half a map cell, 0: no smoothing)."""
    from scipy.ndimage import gaussian_filter     # heavy (~0.2 s): imported when a tube is made
    att = np.asarray(att, dtype=np.float64)
    if att.ndim != 3 or att.shape[1] != att.shape[2] or 0 in att.shape:
        raise ValueError(f"att: expected attention maps (T, N, N), got shape {att.shape}")
    if not np.isfinite(att).all() or att.min() < 0:
        raise ValueError("att: expected finite, non-negative attention maps")
    H, W = (int(v) for v in frame_size)
    if H < 1 or W < 1:
        raise ValueError(f"frame_size: expected (H, W) >= 1, got {frame_size}")
    if not saturation > 0:
        raise ValueError(f"saturation: expected a positive number, got {saturation}")
    N = att.shape[1]
    sigma = 0.5 * min(H, W) / N if sigma is None else float(sigma)
    if sigma < 0:
        raise ValueError(f"sigma: expected >= 0 pixels, got {sigma}")
    out = np.empty((att.shape[0], H, W))
    for t, a in enumerate(att):
        u = upsample(a, H, W)
        if sigma > 0:
            u = gaussian_filter(u, sigma, mode="nearest")
        out[t] = 255.0 * np.minimum(1.0, (N * N / saturation) * u)
    return out


def candidate_boxes(saliency, theta=THETA):
    """Eq. 16 for one frame: saliency (H, W) -> (boxes (K, 4) ``x1, y1, x2, y2`` in pixels, masses (K,) the
    total saliency of each 8-connected component of ``saliency >= theta``), in label order."""
    from scipy.ndimage import find_objects, label, sum_labels   # heavy: imported when a tube is made
    mask = np.asarray(saliency) >= theta
    labels, k = label(mask, structure=np.ones((3, 3), dtype=int))
    if k == 0:
        return np.zeros((0, 4)), np.zeros(0)
    boxes = np.array([[sx.start, sy.start, sx.stop, sy.stop] for sy, sx in find_objects(labels)], dtype=np.float64)
    masses = np.asarray(sum_labels(saliency, labels, index=np.arange(1, k + 1)), dtype=np.float64)
    return boxes, masses


def link_boxes(candidates):
    """Eq. 17: candidates [(boxes (K_t, 4), masses (K_t,))] per frame -> (frame positions with a box, chosen
    boxes (F, 4)). See the module docstring for the first frame and for frames without candidates."""
    frames, chosen, prev = [], [], None
    for t, (boxes, masses) in enumerate(candidates):
        if len(boxes) == 0:
            continue
        pick = int(np.argmax(masses))
        if prev is not None:
            ious = box_iou(boxes, prev[None])
            if ious.max() > 0:
                pick = int(np.argmax(ious))
        prev = boxes[pick]
        frames.append(t)
        chosen.append(prev)
    return np.array(frames, dtype=np.int64), np.array(chosen, dtype=np.float64).reshape(-1, 4)


def lowess(x, y, window=WINDOW):
    """First-degree locally weighted regression of y (F, D) on x (F,): at each x_i a weighted line through the
    ``window`` nearest points (tricube weights of the distance over the largest distance in the window, which
    is stretched by 1e-12 so the farthest point keeps a tiny weight) -> the fitted values (F, D)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).reshape(len(x), -1)
    F = len(x)
    if int(window) != window or window < 2:
        raise ValueError(f"window: expected an integer >= 2 frames, got {window!r}")
    k = min(int(window), F)
    if k < 3:
        return y.copy()                     # a line through 1 or 2 points is the points themselves
    out = np.empty_like(y)
    for i in range(F):
        d = np.abs(x - x[i])
        near = np.argsort(d, kind="stable")[:k]
        h = d[near].max() * (1 + 1e-12) or 1.0
        w = (1 - (d[near] / h) ** 3) ** 3
        X = np.stack([np.ones(k), x[near] - x[i]], axis=1)
        XtW = X.T * w
        coef = np.linalg.solve(XtW @ X, XtW @ y[near])
        out[i] = coef[0]                    # the fitted line's value at x_i
    return out


def localize(att, frame_indices, frame_size, theta=THETA, sigma=None, smooth=True, window=WINDOW,
             saturation=SATURATION):
    """Eqs. 16-17 and the smoothing: attention maps att (T, N, N) of the frames ``frame_indices`` (T,) (of the
    original video; a repeated index, as in a padded window, is used once, sorted) -> the video's one Tube (boxes in
    pixels of frames of ``frame_size`` (H, W))."""
    frame_indices = np.asarray(frame_indices, dtype=np.int64)
    if frame_indices.shape != (len(att),):
        raise ValueError(f"frame_indices: expected {len(att)} indices (one per map), got shape "
                         f"{frame_indices.shape}")
    frame_indices, first = np.unique(frame_indices, return_index=True)   # a padded window repeats its last frame
    S = saliency_maps(np.asarray(att)[first], frame_size, sigma, saturation)
    pos, boxes = link_boxes([candidate_boxes(s, theta) for s in S])
    frames = frame_indices[pos]
    if smooth and len(frames) >= 3:
        H, W = frame_size
        boxes = lowess(frames, boxes, window)
        boxes = np.clip(boxes, 0, [W, H, W, H])
        boxes[:, 2:] = np.maximum(boxes[:, 2:], boxes[:, :2])
    return Tube(frames, boxes)


def tube_scores(step_scores):
    """Step 5: per-frame class scores (T, C) -> the tube's score per class (C,), their mean over frames."""
    s = np.asarray(step_scores, dtype=np.float64)
    if s.ndim != 2 or 0 in s.shape:
        raise ValueError(f"step_scores: expected (T, C) per-frame class scores, got shape {s.shape}")
    return s.mean(axis=0)
