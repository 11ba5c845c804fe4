"""A synthetic action benchmark written as real videos in the UCF101 layout: the project's default dataset.

    python -m tinyalstm.data.synthetic --out data/synthetic          # default size: 240 videos, well under a minute
    python -m tinyalstm.data.synthetic --help

Each video shows one *actor* object performing one class's motion, among *distractor* objects drawn from the same
appearance pool that do not perform it, over a cluttered static background. The class is defined only by how the
actor moves, so a single frame does not reveal it; a model has to see motion (optical flow, temporal models) and
benefits from attending to the actor (where) and to the action interval (when).

Classes (``CLASSES``, in this order; ``classes=n`` takes the first n, default 8)::

    MoveLeft, MoveRight, MoveUp, MoveDown   straight translation by 28-42 % of the frame
    CircleClockwise, CircleCounterclockwise one revolution (as seen on screen) of radius 11-16 % of the frame
    Approach, Recede                        grows / shrinks in place by a factor 2.0-2.6
    ZigZagLeft, ZigZagRight                 translation with a triangle wave across it (2 periods)
    Jump                                    two parabolic hops up from the resting position
    Shake                                   3-4 fast horizontal oscillations about the resting position

(Short action intervals get fewer periods, keeping 5 or more frames a period where the interval allows.)

Single frames are class-independent by construction (see ``tests/data/test_synthetic.py`` for the checks):

- appearance: the actor is drawn uniformly from its group's appearance pool (shape, colours, texture, size), and so
  are the distractors and half of the background clutter; pools and backgrounds depend on the group, not the class;
- position: the path is placed uniformly where it fits in the frame; mirror-image classes (left/right, up/down,
  clockwise/counterclockwise, approach/recede, zig-zag left/right) have identical per-frame position distributions
  because the action interval's distribution is symmetric in time; across families the distributions differ only
  by where a path of a given extent fits: an oracle that is told which object is the actor and reads its box at
  one random frame (a histogram classifier, 4000 videos a class) scores 16 % on the 8 default classes, chance
  12.5 % (11 % on all 12, chance 8.3 %); a frame model must first tell the actor from the distractors;
- size: the actor's size at a random frame has the same distribution for every class: objects that do not change
  size get a constant scale drawn from the distribution of an Approach actor's scale at a random frame;
- background: group-level; ``context=p`` switches, with probability p per (class, group), to the scene type tied
  to the class (as water goes with diving in UCF101); p = 0 (default) keeps scene and class independent.

Timing: the action fills a random sub-interval [start, end) of 40-70 % of the clip, the start uniform among the
positions that fit. At frame ``start`` the actor is at its start pose, at ``end - 1`` at its end pose; inside the
interval it follows its class motion (which may pause for a frame, e.g. at the top of a Jump or a Shake's turn)
and outside it is perfectly still. Distractors are static, drift
slowly in a straight line, or wander on a small figure-of-eight, for the whole clip: never a class motion, and
slow: under 0.3 pixel per frame at 112 pixels (scaled with the frame), against a mean of 1-4.5 pixels per frame
for the actor of the translating classes and 0.2-0.4 for the edges of an Approach / Recede actor.

Groups (``gXX``) and clips (``cYY``) follow UCF101: the clips of a group share the appearance pool and the
background (each clip adds a small camera offset and brightness change), and the splits hold groups out. A group's
look is shared across classes (group g of MoveLeft and of MoveUp look alike), so even the training set does not tie a
look to a class. Split k (k = 1, 2, 3) tests on the k-th of three contiguous blocks of groups (``np.array_split``),
as UCF101 tests on groups 1-7, 8-14, 15-21; every other group is for training.

On disk (``generate(out)``)::

    <out>/UCF-101/<Class>/v_<Class>_gXX_cYY.avi   XVID (libxvid, fourcc XVID) in AVI, 25 fps, yuv420p
    <out>/ucfTrainTestlist/classInd.txt           "1 MoveLeft" (1-based index, class name)
    <out>/ucfTrainTestlist/trainlist0k.txt        "MoveLeft/v_MoveLeft_g04_c01.avi 1" (path, 1-based label)
    <out>/ucfTrainTestlist/testlist0k.txt         "MoveLeft/v_MoveLeft_g01_c01.avi" (path only)
    <out>/annotations/v_<Class>_gXX_cYY.json      ground truth of one video (format below)
    <out>/synthetic.json                          manifest: format version, options, counts; written last

The list files use CRLF line ends, as UCF101's do. The manifest is written last (atomically): a directory without
one, holding ``synthetic.inprogress.json``, is an interrupted generation and is redone; one whose manifest matches
the options is reused as it is (``generate`` is cached); anything else is refused unless ``force``.

Ground truth JSON (one file per video; ``render_video`` returns the same dict)::

    {
      "format": "tinyalstm-synthetic", "version": 1,
      "video": "MoveLeft/v_MoveLeft_g01_c01.avi",    # path relative to <out>/UCF-101, as in the split lists
      "class": "MoveLeft",
      "label": 0,             # 0-based index into the dataset's class list (classInd.txt order)
      "class_index": 1,       # 1-based, as in classInd.txt and trainlist0k.txt
      "group": 1, "clip": 1,  # gXX, cYY
      "seed": 0,              # dataset seed; the video's own stream is seeded by (seed, class, group, clip)
      "width": 112, "height": 112, "fps": 25, "num_frames": 48,
      "action": [17, 43],     # [start, end) in frames: the frames of the action (see Timing above)
      "actor": {
        "boxes": [[x0, y0, x1, y1], ...],   # one per frame, pixels, float; x right, y down, pixel (i, j)
                                            # covers [j, j+1) x [i, i+1); the shape's exact bounding box
                                            # (anti-aliasing spills at most half a pixel beyond it)
        "appearance": {"pool_index": 2, "shape": "ring", "color": [r, g, b], "pattern": "stripes",
                       "pattern_color": [r, g, b], "size": 16.3},   # size: base diameter in pixels
        "motion": {"name": "MoveLeft", "distance": 39.2},           # class parameters (pixels, factors)
        "z": 2                                                      # drawing order, 0 = first (back)
      },
      "distractors": [ {"boxes": [...], "appearance": {...}, "motion": {"name": "drift", ...}, "z": 0}, ... ],
      "background": {"scene": 5, "from_context": false, "offset": [dx, dy], "gain": 1.03}
    }

API: ``render_video(class_name, group, clip, **options) -> (frames uint8 (T, H, W, 3), ground truth dict)`` draws
one video in memory (no files); ``ground_truth(...)`` gives the dict alone (cheap: no drawing); ``generate(out,
**options) -> summary dict`` writes the dataset. Rendering is plain NumPy, anti-aliased (coverage from signed
distance functions), vectorised over the frames of each object. Same options and seed give bit-identical frames
(on one machine; the AVI bytes are not compared, the encoder is not ours).
"""
import argparse
import json
import math
import os
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

import imageio_ffmpeg
import numpy as np

from ..run.cli import run

FORMAT = "tinyalstm-synthetic"
VERSION = 1
FPS = 25

CLASSES = ("MoveLeft", "MoveRight", "MoveUp", "MoveDown", "CircleClockwise", "CircleCounterclockwise",
           "Approach", "Recede", "ZigZagLeft", "ZigZagRight", "Jump", "Shake")
LAYERS = ("background", "distractors", "actor")

POOL_SIZE = 4              # appearances per group
SHAPES = ("disc", "square", "diamond", "triangle", "ring", "plus", "hexagon", "bar")
# half-extents (x, y) of each shape in units of its radius R (the shape's bounding box is centre +- R * extent)
EXTENTS = {"disc": (1.0, 1.0), "square": (0.88, 0.88), "diamond": (1.0, 1.0), "triangle": (1.0, math.sqrt(3) / 2),
           "ring": (1.0, 1.0), "plus": (1.0, 1.0), "hexagon": (0.87, 0.87 / math.cos(math.pi / 6)),
           "bar": (1.0, 0.5)}
PATTERNS = ("solid", "stripes", "checker", "rings")
SCENE_FAMILIES = ("blotches", "stripes", "tiles", "speckle")
INTERVAL = (0.4, 0.7)      # action length as a fraction of the clip
SCALE_FACTOR = (2.0, 2.6)  # Approach / Recede size change
MARGIN = 2.0               # pixels kept free between any object and the frame's border
BG_MARGIN = 4              # camera offset range of a clip within its group's background, pixels


# ----------------------------------------------------------------------------------------------------- options

def resolve_classes(classes):
    """``classes``: an int n (the first n of CLASSES) or a sequence (or comma-separated string) of names.
    -> tuple of names, in CLASSES order when given as a number, else as given."""
    if isinstance(classes, (int, np.integer)) and not isinstance(classes, bool):
        if not 2 <= classes <= len(CLASSES):
            raise ValueError(f"classes: expected 2..{len(CLASSES)} (a count) or a list of names, got {classes}")
        return CLASSES[:int(classes)]
    names = classes.split(",") if isinstance(classes, str) else list(classes)
    names = [str(n).strip() for n in names]
    unknown = [n for n in names if n not in CLASSES]
    if unknown or len(names) < 2 or len(set(names)) != len(names):
        raise ValueError(f"classes: expected at least 2 distinct names from {', '.join(CLASSES)}, got {names}")
    return tuple(names)


def resolve_size(size):
    """``size``: an int (square) or (width, height), or a string "112" / "160x120". -> (W, H)."""
    if isinstance(size, str):
        parts = size.lower().split("x")
        try:
            size = tuple(int(p) for p in parts) if len(parts) == 2 else int(parts[0])
        except ValueError:
            raise ValueError(f"size: expected N or WxH, got {size!r}") from None
    if isinstance(size, (int, np.integer)):
        size = (int(size), int(size))
    if (len(size) != 2 or any(not isinstance(s, (int, np.integer)) for s in size)
            or any(s < 32 or s % 2 for s in size)):
        raise ValueError(f"size: expected width and height even integers >= 32 (XVID needs even sizes), got {size}")
    return int(size[0]), int(size[1])


def _check_options(frames, size, distractors, clutter, context, seed=0):
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed: expected a non-negative integer, got {seed!r}")
    if not isinstance(frames, (int, np.integer)) or frames < 8:
        raise ValueError(f"frames: expected an integer >= 8, got {frames!r}")
    if not isinstance(distractors, (int, np.integer)) or not 0 <= distractors <= 12:
        raise ValueError(f"distractors: expected an integer 0..12, got {distractors!r}")
    if not isinstance(clutter, (int, np.integer)) or not 0 <= clutter <= 64:
        raise ValueError(f"clutter: expected an integer 0..64, got {clutter!r}")
    try:
        ok = 0.0 <= float(context) <= 1.0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"context: expected a probability in [0, 1], got {context!r}")
    return resolve_size(size)


# ------------------------------------------------------------------------------------------------ appearance

def _hsv(h, s, v):
    """HSV in [0, 1] -> RGB in [0, 255] (scalar)."""
    i = int(h * 6) % 6
    f = h * 6 - math.floor(h * 6)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    r, g, b = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i]
    return [round(255 * r, 1), round(255 * g, 1), round(255 * b, 1)]


def _appearance(rng, S):
    """One object look: shape, fill colour, texture pattern (in object coordinates) and base diameter."""
    h = rng.random()
    fill = _hsv(h, rng.uniform(0.45, 1.0), rng.uniform(0.5, 1.0))
    pattern_color = _hsv((h + rng.uniform(0.25, 0.75)) % 1.0, rng.uniform(0.2, 1.0), rng.uniform(0.15, 1.0))
    return {"shape": SHAPES[rng.integers(len(SHAPES))], "color": fill,
            "pattern": PATTERNS[rng.integers(len(PATTERNS))], "pattern_color": pattern_color,
            "pattern_freq": round(float(rng.uniform(1.5, 3.0)), 3),
            "pattern_angle": round(float(rng.uniform(0, math.pi)), 4),
            "size": round(float(S * rng.uniform(0.13, 0.17)), 2)}


def _sdf(shape, x, y):
    """Signed distance (negative inside) to ``shape`` of radius 1 centred at 0, at points (x, y); y points down."""
    ax, ay = np.abs(x), np.abs(y)
    if shape == "disc":
        return np.sqrt(x * x + y * y) - 1.0
    if shape in ("square", "bar"):
        hx, hy = EXTENTS[shape]
        return _box(ax, ay, hx, hy)
    if shape == "diamond":
        return (ax + ay - 1.0) / math.sqrt(2.0)
    if shape == "ring":
        return np.abs(np.sqrt(x * x + y * y) - 0.7) - 0.3
    if shape == "plus":
        return np.minimum(_box(ax, ay, 1.0, 0.36), _box(ax, ay, 0.36, 1.0))
    if shape == "hexagon":     # intersection of three slabs |p . n| <= a (exact inside, tight enough outside)
        a = EXTENTS["hexagon"][0]
        c, s = 0.5, math.sqrt(3) / 2
        return np.maximum(ax, np.maximum(np.abs(c * x + s * y), np.abs(c * x - s * y))) - a
    if shape == "triangle":    # equilateral, pointing up, side 2, bounding box centred at 0 (I. Quilez's formula)
        k = math.sqrt(3.0)
        px = ax - 1.0
        py = -(y - 1.0 / (2 * k)) + 1.0 / k            # flip to y up, shift so the box is centred
        fold = px + k * py > 0
        qx = np.where(fold, (px - k * py) / 2, px)
        qy = np.where(fold, (-k * px - py) / 2, py)
        qx = qx - np.clip(qx, -2.0, 0.0)
        return -np.sqrt(qx * qx + qy * qy) * np.sign(qy)
    raise ValueError(f"shape: unknown {shape!r}")


def _box(ax, ay, hx, hy):
    dx, dy = ax - hx, ay - hy
    return np.sqrt(np.maximum(dx, 0) ** 2 + np.maximum(dy, 0) ** 2) + np.minimum(np.maximum(dx, dy), 0)


def _pattern(app, u, v):
    """Texture weight in [0, 1] at object coordinates (u, v) (radius units)."""
    kind, f, a = app["pattern"], app["pattern_freq"], app["pattern_angle"]
    if kind == "solid":
        return None
    if kind == "stripes":
        return 0.5 + 0.5 * np.sin(math.pi * f * (u * math.cos(a) + v * math.sin(a)))
    if kind == "checker":
        return np.clip(0.5 + 2.0 * np.sin(math.pi * f * u) * np.sin(math.pi * f * v), 0.0, 1.0)
    return 0.5 + 0.5 * np.cos(math.pi * 1.5 * f * np.sqrt(u * u + v * v))          # rings


def _draw(canvas, pad, app, cx, cy, R, alpha=1.0):
    """Composite the object ``app`` into ``canvas`` (T, H + 2 pad, W + 2 pad, 3) float32, in place.

    cx, cy, R: (T,) centre (pixels, unpadded frame coordinates) and radius (pixels) per frame. Anti-aliased:
    coverage = clip(0.5 - signed distance in pixels, 0, 1). A dark 1.2-pixel outline runs inside the edge."""
    T = canvas.shape[0]
    ex, ey = EXTENTS[app["shape"]]
    P = int(math.ceil(2 * float(R.max()) * max(ex, ey))) + 4
    x0 = np.floor(cx - P / 2).astype(np.int64)
    y0 = np.floor(cy - P / 2).astype(np.int64)
    j = np.arange(P)
    X = (x0[:, None] + j[None, :] + 0.5)[:, None, :]            # (T, 1, P) pixel centres
    Y = (y0[:, None] + j[None, :] + 0.5)[:, :, None]            # (T, P, 1)
    Rb = R[:, None, None]
    u = (X - cx[:, None, None]) / Rb
    v = (Y - cy[:, None, None]) / Rb
    d = _sdf(app["shape"], u, v) * Rb                           # (T, P, P) signed distance in pixels
    cover = np.clip(0.5 - d, 0.0, 1.0) * alpha
    fill = np.asarray(app["color"], np.float32)
    w = _pattern(app, u, v)
    if w is None:
        col = np.broadcast_to(fill, d.shape + (3,))
    else:
        col = fill + w[..., None] * (np.asarray(app["pattern_color"], np.float32) - fill)
    rim = np.clip(d + 1.2, 0.0, 1.0)[..., None]
    col = col * (1.0 - 0.65 * rim)                              # outline: 35 % of the colour
    tt = np.arange(T)[:, None, None]
    yy = (y0 + pad)[:, None, None] + j[None, :, None]
    xx = (x0 + pad)[:, None, None] + j[None, None, :]
    a = cover[..., None].astype(np.float32)
    patch = canvas[tt, yy, xx]
    canvas[tt, yy, xx] = patch + a * (col.astype(np.float32) - patch)


# ------------------------------------------------------------------------------------------------ background

def _smooth_noise(rng, H, W, cells):
    """Bilinear upsampling of a (cells+1)^2 Gaussian grid to (H, W): a low-frequency noise field, std ~1."""
    g = rng.normal(size=(cells + 1, cells + 1))
    My = _interp_matrix(H, cells + 1)
    Mx = _interp_matrix(W, cells + 1)
    return My @ g @ Mx.T


def _interp_matrix(n, m):
    pos = (np.arange(n) + 0.5) / n * (m - 1)
    i = np.minimum(pos.astype(int), m - 2)
    f = pos - i
    M = np.zeros((n, m))
    M[np.arange(n), i] = 1 - f
    M[np.arange(n), i + 1] = f
    return M


def clear_caches():
    """Forget the memoised group looks and backgrounds (rendering is deterministic with or without them)."""
    _group_look.cache_clear()
    _background.cache_clear()


@lru_cache(maxsize=4)
def _group_look(seed, group, W, H):
    """The appearance pool and background recipe of one group (depends on seed, group and frame size only)."""
    rng = np.random.default_rng([seed, 1, group])
    S = min(W, H)
    pool = [_appearance(rng, S) for _ in range(POOL_SIZE)]
    scene = int(rng.integers(len(CLASSES)))
    Hb, Wb = H + 2 * BG_MARGIN, W + 2 * BG_MARGIN
    recipe = {
        "hue_jitter": float(rng.uniform(-0.04, 0.04)), "angle": float(rng.uniform(0, 2 * math.pi)),
        "sat": float(rng.uniform(0.25, 0.6)), "val": (float(rng.uniform(0.3, 0.5)), float(rng.uniform(0.55, 0.8))),
        "noise": _smooth_noise(rng, Hb, Wb, 4), "noise_rgb": np.stack([_smooth_noise(rng, Hb, Wb, 3)
                                                                     for _ in range(3)], -1),
        "grain": rng.normal(size=(Hb, Wb)), "fine": _smooth_noise(rng, Hb, Wb, max(4, S // 6)),
        "freq": float(rng.uniform(0.06, 0.12)), "pattern_angle": float(rng.uniform(0, math.pi)),
        "clutter_seed": int(rng.integers(2 ** 31)),
    }
    return pool, scene, recipe


@lru_cache(maxsize=8)
def _background(seed, group, W, H, scene, clutter):
    """The group's background for scene type ``scene``: (H + 2 BG_MARGIN, W + 2 BG_MARGIN, 3) float32, read-only.

    Scene type = a hue and a texture family; the group fixes the gradient direction, noise fields, pattern
    frequency and the clutter (static shapes, half of them from the group's appearance pool)."""
    pool, _, rc = _group_look(seed, group, W, H)
    Hb, Wb = H + 2 * BG_MARGIN, W + 2 * BG_MARGIN
    S = min(W, H)
    hue = (scene + 0.5) / len(CLASSES) + rc["hue_jitter"]
    c0 = np.array(_hsv(hue % 1.0, rc["sat"], rc["val"][0]))
    c1 = np.array(_hsv((hue + 0.08) % 1.0, rc["sat"] * 0.8, rc["val"][1]))
    yy, xx = np.mgrid[0:Hb, 0:Wb] + 0.5
    ramp = (xx - Wb / 2) * math.cos(rc["angle"]) + (yy - Hb / 2) * math.sin(rc["angle"])
    ramp = (ramp - ramp.min()) / (ramp.max() - ramp.min())
    img = c0 + ramp[..., None] * (c1 - c0)
    family = SCENE_FAMILIES[scene % len(SCENE_FAMILIES)]
    a, f = rc["pattern_angle"], rc["freq"]
    if family == "blotches":
        tex = 28 * np.tanh(2 * rc["noise"])
    elif family == "stripes":
        tex = 18 * np.sin(2 * math.pi * f * (xx * math.cos(a) + yy * math.sin(a)) + 2 * rc["noise"])
    elif family == "tiles":
        tex = 16 * np.sign(np.sin(math.pi * f * xx) * np.sin(math.pi * f * yy)) + 8 * rc["noise"]
    else:
        tex = 22 * np.tanh(3 * rc["fine"])
    img = img + tex[..., None] + 10 * rc["noise_rgb"] + 5 * rc["grain"][..., None]
    if clutter:
        crng = np.random.default_rng([rc["clutter_seed"], clutter])
        canvas = img[None].astype(np.float32)
        pad = int(0.3 * S) + 8
        canvas = np.pad(canvas, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
        for k in range(clutter):
            app = pool[crng.integers(POOL_SIZE)] if k % 2 == 0 else _appearance(crng, S)
            R = np.array([app["size"] / 2 * math.exp(_static_log_scale(crng, 48))])
            cx = crng.uniform(0, Wb, size=1)
            cy = crng.uniform(0, Hb, size=1)
            _draw(canvas, pad, app, cx, cy, R, alpha=float(crng.uniform(0.5, 1.0)))
        img = canvas[0, pad:pad + Hb, pad:pad + Wb]
    out = np.ascontiguousarray(img, dtype=np.float32)
    out.setflags(write=False)
    return out


# -------------------------------------------------------------------------------------------------- motion

def sample_interval(rng, T):
    """Action interval [start, end): length uniform in INTERVAL * T, start uniform among those that fit.
    Symmetric in time: start and T - end have the same distribution."""
    lo, hi = max(2, round(INTERVAL[0] * T)), max(2, round(INTERVAL[1] * T))
    L = int(rng.integers(lo, hi + 1))
    s = int(rng.integers(0, T - L + 1))
    return s, s + L


def progress(T, start, end):
    """Progress phi (T,) of the action: 0 before ``start``, (t - start) / (L - 1) inside, 1 from ``end - 1``."""
    t = np.arange(T, dtype=np.float64)
    return np.clip((t - start) / (end - start - 1), 0.0, 1.0)


def _static_log_scale(rng, T):
    """A constant log-scale drawn like an Approach actor's log-scale at a random frame (see module docstring)."""
    s, e = sample_interval(rng, T)
    phi = progress(T, s, e)[rng.integers(T)]
    return math.log(rng.uniform(*SCALE_FACTOR)) * (phi - 0.5)


def class_motion(name, phi, steps, rng, S, T):
    """Offsets of the class ``name`` at progress ``phi`` (T,): dx, dy in pixels (relative to the path's anchor),
    log-scale (T,) and the sampled parameters (dict). ``steps`` = end - start - 1, the frame-to-frame moves of
    the action: oscillating classes use fewer periods in short intervals (5 or more frames a period).
    y points down, so clockwise on screen is increasing angle."""
    z = np.zeros_like(phi)
    if name in ("MoveLeft", "MoveRight", "MoveUp", "MoveDown"):
        D = S * rng.uniform(0.28, 0.42)
        sign = -1.0 if name in ("MoveLeft", "MoveUp") else 1.0
        d = sign * D * (phi - 0.5)
        dx, dy = (d, z) if name in ("MoveLeft", "MoveRight") else (z, d)
        params = {"distance": D}
    elif name in ("CircleClockwise", "CircleCounterclockwise"):
        r = S * rng.uniform(0.11, 0.16)
        theta0 = rng.uniform(0, 2 * math.pi)
        theta = theta0 + (1.0 if name == "CircleClockwise" else -1.0) * 2 * math.pi * phi
        dx, dy = r * np.cos(theta), r * np.sin(theta)
        params = {"radius": r, "start_angle": theta0}
    elif name in ("Approach", "Recede"):
        k = rng.uniform(*SCALE_FACTOR)
        ls = math.log(k) * ((phi if name == "Approach" else 1.0 - phi) - 0.5)
        return z, z, ls, {"factor": k}
    elif name in ("ZigZagLeft", "ZigZagRight"):
        D, a = S * rng.uniform(0.28, 0.42), S * rng.uniform(0.06, 0.09)
        dx = (-1.0 if name == "ZigZagLeft" else 1.0) * D * (phi - 0.5)
        n = 2 if steps >= 12 else 1
        dy = a * (2 / math.pi) * np.arcsin(np.sin(2 * math.pi * n * phi))          # triangle wave
        params = {"distance": D, "amplitude": a, "periods": n}
    elif name == "Jump":
        h = S * rng.uniform(0.14, 0.22)
        n = 2 if steps >= 12 else 1
        f = (n * phi) % 1.0
        f[phi >= 1.0] = 0.0
        dx, dy = z, -h * 4 * f * (1 - f)
        params = {"height": h, "hops": n}
    elif name == "Shake":
        a = S * rng.uniform(0.04, 0.06)
        n = min(4, max(1, steps // 5))
        dx, dy = a * np.sin(2 * math.pi * n * phi), z
        params = {"amplitude": a, "cycles": n}
    else:
        raise ValueError(f"class_name: expected one of {', '.join(CLASSES)}, got {name!r}")
    return dx, dy, np.full_like(phi, _static_log_scale(rng, T)), params


def _distractor_motion(rng, S, T):
    """A motion that is no class's: static, slow straight drift or a small figure-of-eight, for the whole clip."""
    kind = ("static", "drift", "wander")[rng.integers(3)]
    t = np.arange(T) - (T - 1) / 2
    if kind == "static":
        dx = dy = np.zeros(T)
        params = {}
    elif kind == "drift":
        speed, ang = S / 112 * rng.uniform(0.04, 0.16), rng.uniform(0, 2 * math.pi)
        dx, dy = speed * math.cos(ang) * t, speed * math.sin(ang) * t
        params = {"speed": speed, "direction": ang}
    else:
        ax, ay = S * rng.uniform(0.008, 0.016), S * rng.uniform(0.005, 0.01)
        w, p = 2 * math.pi / rng.uniform(50, 80), rng.uniform(0, 2 * math.pi)
        dx, dy = ax * np.sin(w * t + p), ay * np.sin(2 * (w * t + p))
        params = {"amplitudes": [ax, ay], "period": 2 * math.pi / w}
    return dx, dy, np.full(T, _static_log_scale(rng, T)), dict(name=kind, **params)


def _place(rng, app, dx, dy, ls, W, H):
    """Anchor the path uniformly where the whole of it (object included) stays MARGIN inside the frame.
    -> centres cx, cy (T,), radii R (T,) and boxes (T, 4)."""
    ex, ey = EXTENTS[app["shape"]]
    R = app["size"] / 2 * np.exp(ls)
    lo_x, hi_x = MARGIN - (dx - ex * R).min(), W - MARGIN - (dx + ex * R).max()
    lo_y, hi_y = MARGIN - (dy - ey * R).min(), H - MARGIN - (dy + ey * R).max()
    ax = rng.uniform(lo_x, hi_x) if hi_x > lo_x else (lo_x + hi_x) / 2
    ay = rng.uniform(lo_y, hi_y) if hi_y > lo_y else (lo_y + hi_y) / 2
    cx, cy = ax + dx, ay + dy
    boxes = np.stack([cx - ex * R, cy - ey * R, cx + ex * R, cy + ey * R], axis=1)
    return cx, cy, R, boxes


def _public(app, pool_index):
    keys = ("shape", "color", "pattern", "pattern_color", "size")
    return dict({"pool_index": pool_index}, **{k: app[k] for k in keys})


def _round(x, nd=3):
    if isinstance(x, dict):
        return {k: _round(v, nd) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_round(v, nd) for v in x]
    if isinstance(x, (float, np.floating)):
        return round(float(x), nd)
    return x


def _spec(class_name, group, clip, seed, frames, size, distractors, clutter, context, classes):
    """Everything about one video except its pixels: (ground truth dict, private drawing list)."""
    W, H = _check_options(frames, size, distractors, clutter, context, seed)
    classes = resolve_classes(classes)
    if class_name not in classes:
        raise ValueError(f"class_name: expected one of {', '.join(classes)}, got {class_name!r}")
    if not (isinstance(group, (int, np.integer)) and isinstance(clip, (int, np.integer))
            and 1 <= group <= 99 and 1 <= clip <= 99):
        raise ValueError(f"group, clip: expected integers 1..99, got {group!r}, {clip!r}")
    ci = CLASSES.index(class_name)
    S, T = min(W, H), int(frames)
    pool, scene, _ = _group_look(int(seed), int(group), W, H)
    from_context = bool(np.random.default_rng([seed, 3, ci, group]).random() < float(context))
    if from_context:
        scene = ci
    r_actor, r_dis, r_bg, r_z = (np.random.default_rng([seed, 2, ci, group, clip, k]) for k in range(4))
    start, end = sample_interval(r_actor, T)
    phi = progress(T, start, end)
    dx, dy, ls, params = class_motion(class_name, phi, end - start - 1, r_actor, S, T)
    ia = int(r_actor.integers(POOL_SIZE))
    objects = [("actor", ia, dict(name=class_name, **params)) + _place(r_actor, pool[ia], dx, dy, ls, W, H)]
    for _ in range(distractors):
        i = int(r_dis.integers(POOL_SIZE))
        ddx, ddy, dls, dparams = _distractor_motion(r_dis, S, T)
        objects.append(("distractor", i, dparams) + _place(r_dis, pool[i], ddx, ddy, dls, W, H))
    order = r_z.permutation(len(objects))                       # order[k]: object drawn k-th
    z = np.empty(len(objects), int)
    z[order] = np.arange(len(objects))
    offset = [int(v) for v in r_bg.integers(0, 2 * BG_MARGIN + 1, size=2)]
    gain = float(r_bg.uniform(0.92, 1.08))

    def entry(k):
        _, i, motion, _, _, _, boxes = objects[k]
        return {"boxes": np.round(boxes, 2).tolist(), "appearance": _public(pool[i], i),
                "motion": _round(motion), "z": int(z[k])}

    name = f"v_{class_name}_g{group:02d}_c{clip:02d}"
    gt = {"format": FORMAT, "version": VERSION, "video": f"{class_name}/{name}.avi", "class": class_name,
          "label": classes.index(class_name), "class_index": classes.index(class_name) + 1,
          "group": int(group), "clip": int(clip), "seed": int(seed), "width": W, "height": H, "fps": FPS,
          "num_frames": T, "action": [start, end], "actor": entry(0),
          "distractors": [entry(k) for k in range(1, len(objects))],
          "background": {"scene": int(scene), "from_context": from_context, "offset": offset,
                         "gain": round(gain, 4)}}
    draw = {"W": W, "H": H, "T": T, "scene": int(scene), "offset": offset, "gain": gain,
            "bg": (int(seed), int(group), W, H, int(scene), int(clutter)),
            "objects": [(objects[k][0], pool[objects[k][1]], objects[k][3], objects[k][4], objects[k][5])
                        for k in order]}
    return gt, draw


def ground_truth(class_name, group=1, clip=1, *, seed=0, frames=48, size=112, distractors=3, clutter=6,
                 context=0.0, classes=CLASSES):
    """The ground-truth dict of one video (format: module docstring) without drawing it. Same arguments as
    ``render_video``."""
    return _spec(class_name, group, clip, seed, frames, size, distractors, clutter, context, classes)[0]


def render_video(class_name, group=1, clip=1, *, seed=0, frames=48, size=112, distractors=3, clutter=6,
                 context=0.0, classes=CLASSES, layers=LAYERS):
    """Draw one video in memory.

    class_name: one of ``classes`` (names from CLASSES); group, clip: 1..99 (gXX, cYY of the file name);
    seed: dataset seed; frames: T >= 8; size: int or (W, H), even, >= 32; distractors: number of distractor
    objects; clutter: static shapes in the background; context: probability that the background's scene type is
    the class's (per class and group); classes: the dataset's class list or count (sets ``label``; default all
    of CLASSES, whose first n are the n-class dataset's, so the label is the same);
    layers: what to draw, a subset of ("background", "distractors", "actor") (the ground truth is the same
    whatever is drawn; an empty background is black). -> (frames uint8 (T, H, W, 3) RGB, ground truth dict)."""
    gt, d = _spec(class_name, group, clip, seed, frames, size, distractors, clutter, context, classes)
    unknown = set(layers) - set(LAYERS)
    if unknown:
        raise ValueError(f"layers: expected a subset of {LAYERS}, got {tuple(layers)}")
    return _render(d, layers), gt


def _render(d, layers=LAYERS):
    W, H, T = d["W"], d["H"], d["T"]
    S = min(W, H)
    pad = int(0.3 * S) + 8
    canvas = np.zeros((T, H + 2 * pad, W + 2 * pad, 3), np.float32)
    if "background" in layers:
        bg = _background(*d["bg"])
        ox, oy = d["offset"]
        canvas[:, pad:pad + H, pad:pad + W] = bg[oy:oy + H, ox:ox + W] * np.float32(d["gain"])
    for role, app, cx, cy, R in d["objects"]:
        if (role + "s" if role == "distractor" else role) in layers:
            _draw(canvas, pad, app, cx, cy, R)
    return np.clip(canvas[:, pad:pad + H, pad:pad + W] + 0.5, 0, 255).astype(np.uint8)


# ------------------------------------------------------------------------------------------------------ files

def write_avi(path, frames, quality=3):
    """Encode frames (T, H, W, 3) uint8 RGB as XVID (libxvid, fourcc XVID) in AVI at 25 fps, -q:v ``quality``
    (1 best .. 31 worst)."""
    T, H, W, _ = frames.shape
    w = imageio_ffmpeg.write_frames(str(path), (W, H), fps=FPS, codec="libxvid", quality=None, macro_block_size=1,
                                    pix_fmt_out="yuv420p", ffmpeg_log_level="error",
                                    output_params=["-qscale:v", str(int(quality)), "-vtag", "XVID"])
    w.send(None)
    for f in frames:
        w.send(np.ascontiguousarray(f))
    w.close()


def split_test_groups(groups):
    """Test groups of splits 1, 2, 3: three contiguous blocks of 1..groups. -> list of 3 lists."""
    return [[int(g) for g in b] for b in np.array_split(np.arange(1, groups + 1), 3)]


def _options(classes, groups, clips, frames, size, distractors, clutter, context, seed, quality):
    names = resolve_classes(classes)
    W, H = _check_options(frames, size, distractors, clutter, context, seed)
    for name, v, lo, hi in (("groups", groups, 3, 99), ("clips", clips, 1, 99), ("quality", quality, 1, 31)):
        if not isinstance(v, (int, np.integer)) or not lo <= v <= hi:
            raise ValueError(f"{name}: expected an integer {lo}..{hi}, got {v!r}")
    return {"classes": list(names), "groups": int(groups), "clips": int(clips), "frames": int(frames),
            "size": [W, H], "distractors": int(distractors), "clutter": int(clutter), "context": float(context),
            "seed": int(seed), "quality": int(quality)}


OWNED = ("UCF-101", "ucfTrainTestlist", "annotations", "synthetic.json", "synthetic.inprogress.json")


def _write_json(path, obj, compact=False):
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f, **({"separators": (",", ":")} if compact else {"indent": 1}))
        f.write("\n")
    os.replace(tmp, path)


def _missing_files(out, opts):
    names, groups, clips = opts["classes"], opts["groups"], opts["clips"]
    videos = [(c, f"v_{c}_g{g:02d}_c{k:02d}") for c in names for g in range(1, groups + 1) for k in range(1, clips + 1)]
    paths = [os.path.join("UCF-101", c, v + ".avi") for c, v in videos]
    paths += [os.path.join("annotations", v + ".json") for _, v in videos]
    paths += [os.path.join("ucfTrainTestlist", f) for f in ["classInd.txt"] + [f"{kind}list0{i}.txt"
                                                               for kind in ("train", "test") for i in (1, 2, 3)]]
    return [p for p in paths if not os.path.isfile(os.path.join(out, p))]


def _dir_size(root):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(root) for f in fs)


def generate(out, *, classes=8, groups=10, clips=3, frames=48, size=112, distractors=3, clutter=6, context=0.0,
             seed=0, quality=3, workers=None, force=False, verbose=False):
    """Write the benchmark under ``out`` in the UCF101 layout (module docstring) and return a summary dict.

    classes: count (first n of CLASSES) or names; groups: 3..99 (gXX); clips: clips per group and class (cYY);
    frames, size, distractors, clutter, context, seed: as in ``render_video``; quality: XVID -q:v (1 best .. 31);
    workers: parallel encoders (default: CPU count, at most 8); force: replace whatever is in ``out``'s
    UCF-101/, ucfTrainTestlist/, annotations/ (other files there are left alone; without it a non-empty ``out``
    that is not this very dataset is refused); verbose: progress on stderr.

    Cached: if ``out/synthetic.json`` records the same options and format version, nothing is written and the
    summary says ``"cached": true``. An interrupted generation (no manifest, an in-progress marker) is redone.
    """
    t0 = time.perf_counter()
    opts = _options(classes, groups, clips, frames, size, distractors, clutter, context, seed, quality)
    manifest = {"format": FORMAT, "version": VERSION, "options": opts}
    out = os.fspath(out)
    log = (lambda msg: print(f"[synthetic] {msg}", file=sys.stderr, flush=True)) if verbose else (lambda msg: None)
    man_path, marker = os.path.join(out, "synthetic.json"), os.path.join(out, "synthetic.inprogress.json")
    redo = False
    if os.path.isfile(man_path):
        try:
            with open(man_path, encoding="utf-8") as f:
                old = json.load(f)
        except (OSError, ValueError):
            old = None
        if old is not None and {k: old.get(k) for k in manifest} == manifest:
            missing = _missing_files(out, opts)
            if not missing:
                log(f"{out}: already holds this dataset (synthetic.json matches); nothing to do")
                return dict(old["summary"], out=out, cached=True, seconds=time.perf_counter() - t0)
            log(f"{out}: synthetic.json matches but {len(missing)} files are missing (e.g. {missing[0]}); redoing")
            redo = True                             # our own dataset, damaged: redo it without asking for force
    interrupted = os.path.isfile(marker) and not os.path.exists(man_path)
    if os.path.isdir(out) and os.listdir(out) and not (force or redo or interrupted):
        raise FileExistsError(f"out: {out} is not empty and does not hold a synthetic dataset with these options "
                              "(synthetic.json differs or is missing); pass force=True (--force) to replace it")
    os.makedirs(out, exist_ok=True)
    if os.path.exists(man_path):
        os.remove(man_path)
    _write_json(marker, manifest)
    for name in OWNED[:3]:
        shutil.rmtree(os.path.join(out, name), ignore_errors=True)
    names = opts["classes"]
    W, H = opts["size"]
    for c in names:
        os.makedirs(os.path.join(out, "UCF-101", c), exist_ok=True)
    os.makedirs(os.path.join(out, "ucfTrainTestlist"), exist_ok=True)
    os.makedirs(os.path.join(out, "annotations"), exist_ok=True)

    jobs = [(c, g, k) for c in names for g in range(1, groups + 1) for k in range(1, clips + 1)]
    order = sorted(jobs, key=lambda j: (j[1], names.index(j[0]), j[2]))     # group-major: backgrounds cached
    kw = dict(seed=seed, frames=frames, size=(W, H), distractors=distractors, clutter=clutter, context=context,
              classes=names)

    def one(job):
        c, g, k = job
        gt, d = _spec(c, g, k, **kw)
        write_avi(os.path.join(out, "UCF-101", gt["video"]), _render(d), quality)
        _write_json(os.path.join(out, "annotations", os.path.basename(gt["video"])[:-4] + ".json"), gt, compact=True)
        return gt["video"]

    workers = workers or min(8, os.cpu_count() or 1)
    log(f"writing {len(jobs)} videos ({len(names)} classes x {groups} groups x {clips} clips, {frames} frames, "
        f"{W}x{H}) to {out} with {workers} workers")
    step = max(1, len(jobs) // 10)
    with ThreadPoolExecutor(max_workers=workers) as ex:
        for n, _ in enumerate(ex.map(one, order), 1):
            if n % step == 0 or n == len(jobs):
                log(f"{n}/{len(jobs)} videos ({time.perf_counter() - t0:.1f} s)")

    folds = split_test_groups(groups)
    lists = os.path.join(out, "ucfTrainTestlist")
    crlf = "\r\n"
    with open(os.path.join(lists, "classInd.txt"), "w", newline="") as f:
        f.write("".join(f"{i} {c}{crlf}" for i, c in enumerate(names, 1)))
    splits = {}
    for s, test in enumerate(folds, 1):
        train_lines, test_lines = [], []
        for i, (c, g, k) in enumerate(jobs):
            path = f"{c}/v_{c}_g{g:02d}_c{k:02d}.avi"
            if g in test:
                test_lines.append(path + crlf)
            else:
                train_lines.append(f"{path} {names.index(c) + 1}{crlf}")
        with open(os.path.join(lists, f"trainlist{s:02d}.txt"), "w", newline="") as f:
            f.write("".join(train_lines))
        with open(os.path.join(lists, f"testlist{s:02d}.txt"), "w", newline="") as f:
            f.write("".join(test_lines))
        splits[str(s)] = {"train": len(train_lines), "test": len(test_lines), "test_groups": test}
    summary = {"videos": len(jobs), "classes": names, "splits": splits, "bytes": _dir_size(out),
               "generation_seconds": round(time.perf_counter() - t0, 2)}
    _write_json(man_path, dict(manifest, summary=summary))
    os.remove(marker)
    log(f"done: {len(jobs)} videos, {summary['bytes'] / 1e6:.1f} MB, {summary['generation_seconds']:.1f} s")
    return dict(summary, out=out, cached=False, seconds=time.perf_counter() - t0)


# ---------------------------------------------------------------------------------------------------------- CLI

def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="python -m tinyalstm.data.synthetic", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Write the synthetic action benchmark (real XVID AVI videos, UCF101 layout and split files, "
                    "per-video ground truth JSON).\nOne actor object per video performs the class motion among "
                    "distractors from the same appearance pool\nover a cluttered background; a single frame does "
                    "not reveal the class. Details: the docstring of\ntinyalstm/data/synthetic.py "
                    "(python -c 'import tinyalstm.data.synthetic as s; help(s)').",
        epilog="classes, in order: " + ", ".join(CLASSES) + "\n\nThe summary (JSON) goes to stdout, progress to "
               "stderr. Rerunning with the same options\nreuses the dataset (synthetic.json matches).")
    ap.add_argument("--out", required=True, help="output directory (created; must be empty, hold this very dataset "
                                                  "or an interrupted generation, unless --force)")
    ap.add_argument("--classes", default="8", help="number of classes (the first N of the list below, 2..12) or "
                                                   "comma-separated class names (default 8)")
    ap.add_argument("--groups", type=int, default=10, help="groups gXX per class, 3..99; the splits test on three "
                                                           "blocks of groups, as UCF101 (default 10)")
    ap.add_argument("--clips", type=int, default=3, help="clips cYY per group and class; clips of a group share "
                                                         "appearance pool and background (default 3)")
    ap.add_argument("--frames", type=int, default=48, help="frames per video at 25 fps, >= 8 (default 48)")
    ap.add_argument("--size", default="112", help="frame size N (square) or WxH, even, >= 32 (default 112)")
    ap.add_argument("--distractors", type=int, default=3, help="distractor objects per video: same appearance "
                                                               "pool, no class motion (default 3)")
    ap.add_argument("--clutter", type=int, default=6, help="static clutter shapes in each background (default 6)")
    ap.add_argument("--context", type=float, default=0.0, help="probability that a (class, group)'s background is "
                                                               "the class's scene type (scene context); 0 keeps "
                                                               "background and class independent (default 0; the "
                                                               "training CLI's built-in benchmark uses 0.75)")
    ap.add_argument("--seed", type=int, default=0, help="dataset seed; same seed, same frames (default 0)")
    ap.add_argument("--quality", type=int, default=3, help="XVID quantiser -q:v, 1 (best) .. 31 (default 3)")
    ap.add_argument("--workers", type=int, default=None, help="parallel encoders (default: CPU count, at most 8)")
    ap.add_argument("--force", action="store_true", help="replace a different dataset in --out (its UCF-101/, "
                                                         "ucfTrainTestlist/, annotations/)")
    ap.add_argument("--quiet", action="store_true", help="no progress on stderr")
    args = ap.parse_args(argv)
    classes = int(args.classes) if args.classes.strip().isdigit() else args.classes
    if args.workers is not None and args.workers < 1:
        ap.error(f"--workers: expected a positive integer, got {args.workers}")
    return run_generator(ap, generate, args.out, classes=classes, groups=args.groups, clips=args.clips,
                         frames=args.frames, size=args.size, distractors=args.distractors, clutter=args.clutter,
                         context=args.context, seed=args.seed, quality=args.quality, workers=args.workers,
                         force=args.force, verbose=not args.quiet)


def run_generator(ap, generator, out, **options):
    """A generator CLI's end (this one's and synthetic_multilabel's): ``generator(out, **options)``, its summary
    printed as JSON -> exit status 0; a folder holding something else -> a message, 1; a bad option -> usage, 2."""
    try:
        summary = generator(out, **options)
    except FileExistsError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except ValueError as e:
        ap.error(str(e))
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    run(main)
