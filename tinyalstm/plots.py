"""Pictures for the training CLI's output folder: learning curves and the two kinds of attention.

- ``plot_curves``: loss and accuracy per epoch, from the records of ``metrics.jsonl``.
- ``spatial_attention_overlay``: where a model looks (VideoLSTM eqs. 7-8, Sharma's ALSTM): the frames and, below
  them, each frame with its attention map A_t (N x N) upsampled and blended in.
- ``temporal_attention_figure``: when aLSTM looks (Torabi & Sigal eqs. 3-5, their Fig. 2): the k frames of highest
  and of lowest temporal attention and the weights over time.
- ``blend``: the pure NumPy helper behind the overlay (no matplotlib), so it can be tested pixel by pixel.

Conventions shared by all of them:

- Frames are RGB uint8 (T, H, W, 3); attention arrays may be NumPy or CuPy (copied to the host here).
- Inputs are checked before anything is drawn or written; a wrong shape is a ValueError naming the argument.
- matplotlib is imported lazily, inside the functions that draw. Figures are built with ``matplotlib.figure.Figure``
  and never through pyplot: that renders with Agg whatever the configured backend, so it works headless, and it
  does not switch the backend of a notebook or script that imported us (``matplotlib.use("Agg")`` would).
- A PNG is written like every file of a run (``run.storage.write_atomic``): to ``<path>.partial``, renamed onto
  ``path`` when complete, so a crash never leaves a truncated picture where the previous good one was; the parent
  folder is created, and a disk without room for the picture plus storage's margin is a DiskFullError naming the
  path. Two processes must not draw the same path at once (they would share the partial file).

The overlay scales each map by its own maximum (``A / max A``) before colouring. Min-max scaling would show more
contrast, but it stretches the near-uniform maps of an untrained model (and the uniform 1/N^2 map the ConvLSTM
returns) into full-range blobs; dividing by the maximum keeps a flat map flat and a peak at the brightest colour.
"""
import math
import os

import numpy as np

from .backend import to_numpy
from .run.storage import write_atomic

DPI = 100
CMAPS = ("hot", "jet")
UPSAMPLE = ("bilinear", "nearest")
BOX_COLOUR = "#00ff00"     # lime: visible on the hot colour map and on most natural frames


# ------------------------------------------------------------------------------------------------- checks

def _frames(name, frames, shape_text="(T, H, W, 3)"):
    """Require RGB uint8 frames (T, H, W, 3) (or one frame (H, W, 3)) with no empty axis; -> NumPy array."""
    x = _host(name, frames)
    if x.ndim != shape_text.count(",") + 1 or x.shape[-1] != 3 or 0 in x.shape:
        raise ValueError(f"{name}: expected RGB frames of shape {shape_text}, got shape {x.shape}")
    if x.dtype != np.uint8:
        raise TypeError(f"{name}: expected dtype uint8, got {x.dtype}")
    return x


def _weights(name, x, shape_text, ndim, T=None):
    """Require finite, non-negative real attention of rank ``ndim`` (first axis ``T`` if given); -> float64."""
    x = _host(name, x)
    if x.ndim != ndim or 0 in x.shape or (T is not None and x.shape[0] != T):
        want = shape_text if T is None else shape_text.replace("T", str(T), 1)
        raise ValueError(f"{name}: expected shape {want}, got shape {x.shape}")
    if x.dtype.kind not in "fiu":
        raise TypeError(f"{name}: expected a real dtype, got {x.dtype}")
    x = x.astype(np.float64)
    if not np.isfinite(x).all() or (x < 0).any():
        raise ValueError(f"{name}: expected finite non-negative attention, got min {x.min()!r}, max {x.max()!r}")
    return x


def _host(name, x):
    if not hasattr(x, "shape"):
        x = np.asarray(x)
    return to_numpy(x)


def _positive_int(name, v):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
        raise ValueError(f"{name}: expected an integer >= 1, got {v!r}")
    return int(v)


def _boxes(boxes, T):
    """Require boxes (T, 4) [x0, y0, x1, y1] in frame pixels with x0 <= x1, y0 <= y1; a row of NaNs means "no
    box on this frame" (annotations are often missing for some frames)."""
    b = _host("boxes", boxes)
    if b.shape != (T, 4):
        raise ValueError(f"boxes: expected shape ({T}, 4) [x0, y0, x1, y1], got shape {b.shape}")
    b = b.astype(np.float64)
    rows = ~np.isnan(b).all(axis=1)
    ok = np.isfinite(b[rows]).all() and (b[rows, 2] >= b[rows, 0]).all() and (b[rows, 3] >= b[rows, 1]).all()
    if not ok:
        raise ValueError("boxes: expected finite rows with x0 <= x1 and y0 <= y1 (or all-NaN rows for no box)")
    return b


# ------------------------------------------------------------------------------------------------- blending

def colourise(m, cmap="hot"):
    """Values m (...) in [0, 1] -> RGB floats (..., 3) in [0, 1].

    "hot" (black, red, yellow, white; matplotlib's "hot" with breakpoints at thirds) rises in brightness with the
    value, so the attention peak is the brightest spot even on a dark frame or a greyscale print. "jet" is offered
    for readers used to it; its two ends are equally dark, so peaks stand out by hue only.
    """
    if cmap == "hot":
        parts = (3 * m, 3 * m - 1, 3 * m - 2)
    elif cmap == "jet":
        parts = (1.5 - np.abs(4 * m - 3), 1.5 - np.abs(4 * m - 2), 1.5 - np.abs(4 * m - 1))
    else:
        raise ValueError(f"cmap: expected one of {CMAPS}, got {cmap!r}")
    return np.clip(np.stack(parts, axis=-1), 0.0, 1.0)


def _resize_matrix(n_out, n_in, mode):
    """(n_out, n_in) matrix R with R @ v = v resampled to n_out samples, pixel centres aligned (half-pixel
    convention, as PIL and OpenCV do): cell j of the map covers output pixels [j, j+1) * n_out / n_in."""
    rows = np.arange(n_out)
    R = np.zeros((n_out, n_in))
    if mode == "nearest":
        R[rows, np.minimum(((rows + 0.5) * n_in / n_out).astype(int), n_in - 1)] = 1.0
        return R
    s = np.clip((rows + 0.5) * n_in / n_out - 0.5, 0.0, n_in - 1)
    i0 = np.floor(s).astype(int)
    w = s - i0
    R[rows, i0] += 1.0 - w
    R[rows, np.minimum(i0 + 1, n_in - 1)] += w     # at the last cell w = 0: the edge is held, not wrapped
    return R


def upsample(att_map, H, W, mode="bilinear"):
    """Resample a map (h, w) to (H, W); h need not divide H. Bilinear is separable: R_y @ map @ R_x^T."""
    if mode not in UPSAMPLE:
        raise ValueError(f"upsample: expected one of {UPSAMPLE}, got {mode!r}")
    h, w = att_map.shape
    return _resize_matrix(H, h, mode) @ att_map @ _resize_matrix(W, w, mode).T


def blend(frame, att_map, alpha=0.5, *, cmap="hot", upsample_mode="bilinear", scale=None):
    """Frame (H, W, 3) uint8 with attention map (h, w) (e.g. N x N, summing to 1) blended in -> (H, W, 3) uint8.

    out = (1 - alpha) * frame + alpha * 255 * colour(U(A) / s), U the upsampling to (H, W), s = ``scale`` (a fixed
    attention value drawn at full colour, larger values clipped; the same for every map, so maps compare) or, when
    None, the map's own maximum (see the module docstring); an all-zero map is drawn as zero attention.
    """
    frame = _frames("frame", frame, "(H, W, 3)")
    m = _weights("att_map", att_map, "(h, w)", 2)
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha: expected a number in [0, 1], got {alpha!r}")
    if scale is not None and not scale > 0:
        raise ValueError(f"scale: expected a positive attention value, got {scale!r}")
    H, W, _ = frame.shape
    up = upsample(m, H, W, upsample_mode)
    peak = up.max() if scale is None else float(scale)
    up = np.minimum(up / peak, 1.0) if peak > 0 else up
    out = (1.0 - alpha) * frame + alpha * 255.0 * colourise(up, cmap)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


# ------------------------------------------------------------------------------------------------- writing

def _figure(width, height):
    from matplotlib.figure import Figure
    return Figure(figsize=(width, height), layout="constrained")


def _save(fig, path):
    """Render ``fig`` to PNG at ``path`` through the one atomic writer (``run.storage.write_atomic``: a partial
    file renamed when complete, after a free-space check) -> the path as a string."""
    def write(tmp):
        with open(tmp, "wb") as f:
            fig.savefig(f, format="png", dpi=DPI)
    return os.fspath(write_atomic(path, write, nbytes=2 ** 20))    # a picture is well under 1 MiB


def _image_axes(ax, image, label):
    ax.imshow(image, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(label, fontsize=9)


# ------------------------------------------------------------------------------------------------- curves

def series(metrics, key):
    """Epochs and values of ``key`` over the records that have it; missing, None and NaN entries are skipped
    (test metrics are computed only every few epochs). An epoch-less record counts by its position, from 1."""
    xs, ys = [], []
    for i, record in enumerate(metrics):
        v = record.get(key)
        if v is None:
            continue
        try:
            v = float(v)
        except (TypeError, ValueError):
            raise ValueError(f"metrics: record {i} has {key} = {v!r}, expected a number or None") from None
        if not math.isfinite(v):
            continue
        xs.append(record.get("epoch", i + 1))
        ys.append(v)
    return xs, ys


def _plot_series(ax, metrics, keys):
    drawn = []
    for key, label in keys:
        xs, ys = series(metrics, key)
        if xs:
            ax.plot(xs, ys, "o-", markersize=3, label=label)    # markers: a lone test epoch is still visible
            drawn.extend(ys)
    if drawn:
        ax.legend(fontsize=9)
    else:
        ax.text(0.5, 0.5, "no values recorded", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("epoch")
    ax.grid(alpha=0.3)
    return drawn


def plot_curves(metrics, path, title=None, chosen=None):
    """Two panels, loss vs epoch and accuracy vs epoch, from ``metrics``: a list of dicts, one per epoch, as in
    metrics.jsonl (keys ``epoch``, ``train_loss``, optional ``val_loss``, ``test_loss``, ``train_acc``,
    ``val_acc``, ``val_map``, ``test_acc``, ``test_map``; missing or None values are skipped); ``chosen``: the
    epoch the run kept (best on validation), marked on both panels. Writes a PNG at ``path``; -> path."""
    if isinstance(metrics, dict) or not hasattr(metrics, "__len__") or len(metrics) == 0:
        raise ValueError(f"metrics: expected a non-empty list of per-epoch dicts, got {metrics!r:.80}")
    bad = [i for i, r in enumerate(metrics) if not hasattr(r, "get")]
    if bad:
        raise ValueError(f"metrics: expected a dict per epoch, record {bad[0]} is {type(metrics[bad[0]]).__name__}")
    fig = _figure(10, 4)
    loss_ax, acc_ax = fig.subplots(1, 2)
    _plot_series(loss_ax, metrics, [("train_loss", "train"), ("val_loss", "validation"), ("test_loss", "test")])
    loss_ax.set(title="Loss", ylabel="cross-entropy per example")
    drawn = _plot_series(acc_ax, metrics, [("train_acc", "train accuracy"), ("val_acc", "validation accuracy"),
                                           ("val_map", "validation mAP"), ("test_acc", "test accuracy"),
                                           ("test_map", "test mAP")])
    has_acc = any(r.get(k) is not None for r in metrics for k in ("train_acc", "val_acc", "test_acc"))
    acc_ax.set(title="Accuracy and mAP" if has_acc else "mAP (multi-label)", ylabel="fraction correct / mAP")
    if drawn and 0.0 <= min(drawn) and max(drawn) <= 1.0:
        acc_ax.set_ylim(-0.02, 1.02)      # a fixed 0-1 axis makes runs comparable at a glance
    if chosen is not None:
        for ax in (loss_ax, acc_ax):
            ax.axvline(chosen, color="k", linestyle="--", linewidth=1, label=f"kept: epoch {chosen}")
        loss_ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return _save(fig, path)


# ------------------------------------------------------------------------------------------------- spatial

def pick_frames(T, n):
    """n evenly spaced frame indices from 0 to T - 1, both ends included (all T frames when T <= n)."""
    if T <= n:
        return np.arange(T)
    return np.rint(np.linspace(0, T - 1, n)).astype(int)


def _draw_box(ax, box, colour=BOX_COLOUR, style="-"):
    from matplotlib.patches import Rectangle
    if np.isnan(box).all():
        return
    x0, y0, x1, y1 = box
    # pixel (i, j) covers [j, j+1) x [i, i+1) in box coordinates; imshow centres it on (j, i), hence the -0.5
    ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, edgecolor=colour, linewidth=1.5,
                           linestyle=style))


def spatial_attention_overlay(frames, att, path, title=None, max_frames=8, boxes=None, *, alpha=0.5, cmap="hot",
                              predicted=None, scale=None, frame_numbers=None, note=None):
    """A grid of up to ``max_frames`` evenly spaced frames: the frames (top row) and each frame with its spatial
    attention map blended in (bottom row, see ``blend``).

    frames (T, H, W, 3) uint8; att (T, N, N) attention maps (each summing to 1; any (T, h, w) works, upsampled to
    (H, W)); boxes (T, 4) [x0, y0, x1, y1] in frame pixels, optional ground truth drawn on both rows (an all-NaN
    row: no box on that frame); predicted (T, 4) likewise, a predicted box drawn dashed in cyan. ``scale``: a fixed
    attention value drawn at full colour (every map on one scale, with a colour bar marking the uniform level
    1/(h w)); None scales each map by its own maximum. ``frame_numbers`` (T,) label the frames (default 0..T-1);
    ``note`` is added under the title. Writes a PNG at ``path``; -> path.
    """
    frames = _frames("frames", frames)
    T, H, W, _ = frames.shape
    att = _weights("att", att, "(T, N, N)", 3, T)
    max_frames = _positive_int("max_frames", max_frames)
    boxes = None if boxes is None else _boxes(boxes, T)
    predicted = None if predicted is None else _boxes(predicted, T)
    numbers = np.arange(T) if frame_numbers is None else np.asarray(frame_numbers).reshape(-1)
    if len(numbers) != T:
        raise ValueError(f"frame_numbers: expected {T} numbers, got {len(numbers)}")
    if cmap not in CMAPS:
        raise ValueError(f"cmap: expected one of {CMAPS}, got {cmap!r}")
    picked = pick_frames(T, max_frames)
    n = len(picked)
    fig = _figure(max(2.0 * n, 4.0), 2.0 * H / W * 2 + 0.8)
    axes = np.asarray(fig.subplots(2, n, squeeze=False))
    for col, t in enumerate(picked):
        _image_axes(axes[0, col], frames[t], f"frame {numbers[t]}")
        _image_axes(axes[1, col], blend(frames[t], att[t], alpha, cmap=cmap, scale=scale), f"peak {att[t].max():.3f}")
        for row in (0, 1):
            if boxes is not None:
                _draw_box(axes[row, col], boxes[t])
            if predicted is not None:
                _draw_box(axes[row, col], predicted[t], colour="cyan", style="--")
    if scale is None:
        what = f"spatial attention, each map scaled by its maximum ({cmap}: brighter = more attention)"
    else:
        from matplotlib import cm, colors
        what = f"spatial attention on one scale: full colour at {scale:.3g} (uniform {1 / att[0].size:.3g})"
        bar = fig.colorbar(cm.ScalarMappable(colors.Normalize(0, scale), cmap), ax=axes[1].tolist(), shrink=0.8)
        bar.ax.axhline(1 / att[0].size, color="cyan", linewidth=2)
        bar.set_label("attention (cyan: uniform)", fontsize=8)
    if boxes is not None or predicted is not None:
        what += "; boxes: lime = ground truth" + (", cyan dashed = predicted" if predicted is not None else "")
    lines = [x for x in (title, what, note) if x]
    fig.suptitle("\n".join(lines), fontsize=10)
    return _save(fig, path)


# ------------------------------------------------------------------------------------------------- temporal

def extremes(weights, k):
    """Indices of the k largest weights (largest first) and of the k smallest (smallest first); ties go to the
    earlier frame. k is capped at T."""
    k = min(k, len(weights))
    t = np.arange(len(weights))
    high = np.lexsort((t, -weights))[:k]
    low = np.lexsort((t, weights))[:k]
    return high, low


def _interval(interval, T):
    if interval is None:
        return None
    try:
        start, end = (int(v) for v in interval)
    except (TypeError, ValueError):
        raise ValueError(f"interval: expected (start, end) frame indices, got {interval!r}") from None
    if not 0 <= start < end <= T:
        raise ValueError(f"interval: expected 0 <= start < end <= {T} (frames [start, end)), got {interval!r}")
    return start, end


def _weight_bars(ax, weights, high, low, interval, number):
    T = len(weights)
    colours = np.array(["#9e9e9e"] * T, dtype=object)
    colours[low] = "#1f77b4"
    colours[high] = "#d62728"
    ax.bar(np.arange(T), weights, color=list(colours), width=0.8)
    ax.axhline(1.0 / T, color="k", linestyle=":", linewidth=1, label="uniform 1/T")
    if interval is not None:
        # [start, end) as whole bars: bar t spans t +- 0.5
        ax.axvspan(interval[0] - 0.5, interval[1] - 0.5, color="#2ca02c", alpha=0.2, label="ground-truth action")
    ticks = np.unique(np.linspace(0, T - 1, min(T, 9)).round().astype(int))
    ax.set_xticks(ticks, [str(number[t]) for t in ticks])
    ax.set(xlim=(-0.5, T - 0.5), xlabel="frame", ylabel="attention weight")
    ax.set_title("temporal attention (red: highest, blue: lowest)", fontsize=9)
    ax.legend(fontsize=8, loc="upper right")


def temporal_attention_figure(frames, weights, path, k=3, title=None, interval=None, frame_numbers=None):
    """aLSTM's highlighting (Torabi & Sigal, Fig. 2): the k frames of highest temporal attention (top row, largest
    first), the k of lowest (middle row, smallest first), each titled with its weight, and a bar plot of the
    weights over time.

    frames (T, H, W, 3) uint8; weights (T,) temporal attention over the frames (summing to 1); interval
    (start, end), optional ground-truth action frames [start, end) of the window, shaded in the bar plot;
    frame_numbers (T,), optional: the frames' numbers in the video, for the titles. k is capped at T.
    Writes a PNG at ``path``; -> path.
    """
    frames = _frames("frames", frames)
    T, H, W, _ = frames.shape
    weights = _weights("weights", weights, "(T,)", 1, T)
    k = _positive_int("k", k)
    interval = _interval(interval, T)
    high, low = extremes(weights, k)
    k = len(high)
    number = np.arange(T) if frame_numbers is None else np.asarray(frame_numbers).reshape(-1)
    if len(number) != T:
        raise ValueError(f"frame_numbers: expected {T} numbers (one per frame), got {len(number)}")
    fig = _figure(max(2.2 * k, 5.0), 2 * 2.2 * H / W + 2.2)
    grid = fig.add_gridspec(3, k, height_ratios=[H / W, H / W, 0.9])
    for row, (picked, label) in enumerate(((high, "highest"), (low, "lowest"))):
        for col, t in enumerate(picked):
            ax = fig.add_subplot(grid[row, col])
            during = interval is not None and interval[0] <= t < interval[1]
            _image_axes(ax, frames[t], f"frame {number[t]}, w = {weights[t]:.3g}" + (" (action)" if during else ""))
            if col == 0:
                ax.set_ylabel(f"{label} attention")
    _weight_bars(fig.add_subplot(grid[2, :]), weights, high, low, interval, number)
    fig.suptitle(title or "aLSTM temporal attention", fontsize=10)
    return _save(fig, path)
