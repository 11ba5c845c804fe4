"""How the objects of the synthetic world move, and where a path is placed in the frame.

A class is defined by its motion alone: ``class_motion`` gives the actor's offsets and log-scale over the clip from
its progress through the action interval (``sample_interval``, ``progress``); ``distractor_motion`` gives a motion
that is no class's; ``place`` anchors a whole path where it fits in the frame. The classes, their parameters and
why a single frame does not reveal them: the package docstring.
"""
import math

import numpy as np

from .render import EXTENTS

CLASSES = ("MoveLeft", "MoveRight", "MoveUp", "MoveDown", "CircleClockwise", "CircleCounterclockwise",
           "Approach", "Recede", "ZigZagLeft", "ZigZagRight", "Jump", "Shake")
INTERVAL = (0.4, 0.7)      # action length as a fraction of the clip
SCALE_FACTOR = (2.0, 2.6)  # Approach / Recede size change
MARGIN = 2.0               # pixels kept free between any object and the frame's border


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


def static_log_scale(rng, T):
    """A constant log-scale drawn like an Approach actor's log-scale at a random frame, for the objects that do not
    change size (the package docstring, "size")."""
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
    return dx, dy, np.full_like(phi, static_log_scale(rng, T)), params


def distractor_motion(rng, S, T):
    """A motion that is no class's: static, slow straight drift or a small figure-of-eight, for the whole clip.
    -> dx, dy, log-scale (T,) and the parameters (dict, "name": "static", "drift" or "wander")."""
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
    return dx, dy, np.full(T, static_log_scale(rng, T)), dict(name=kind, **params)


def place(rng, app, dx, dy, ls, W, H):
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
