"""The groups' looks and backgrounds, and a video composited from them.

A group (``gXX``) fixes an appearance pool of POOL_SIZE looks and a background recipe (``group_look``); a
background is the group's recipe rendered for a scene type (``background``: a hue and a texture family, plus
static clutter shapes). Both are memoised, as the clips of a group share them (``clear_caches`` forgets them;
rendering is deterministic with or without them). ``compose`` draws a whole video from a drawing list, the part of
a video's specification that is not its ground truth.
"""
import math
from functools import lru_cache

import numpy as np

from .motion import CLASSES, static_log_scale
from .render import appearance, draw, hsv

POOL_SIZE = 4              # appearances per group
SCENE_FAMILIES = ("blotches", "stripes", "tiles", "speckle")
BG_MARGIN = 4              # camera offset range of a clip within its group's background, pixels
LAYERS = ("background", "distractors", "actor")


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
    group_look.cache_clear()
    background.cache_clear()


@lru_cache(maxsize=4)
def group_look(seed, group, W, H):
    """The appearance pool and background recipe of one group (depends on seed, group and frame size only).
    -> (pool: POOL_SIZE looks, the group's own scene type 0..len(CLASSES) - 1, recipe dict for ``background``)."""
    rng = np.random.default_rng([seed, 1, group])
    S = min(W, H)
    pool = [appearance(rng, S) for _ in range(POOL_SIZE)]
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
def background(seed, group, W, H, scene, clutter):
    """The group's background for scene type ``scene``: (H + 2 BG_MARGIN, W + 2 BG_MARGIN, 3) float32, read-only.

    Scene type = a hue and a texture family; the group fixes the gradient direction, noise fields, pattern
    frequency and the clutter (static shapes, half of them from the group's appearance pool)."""
    pool, _, rc = group_look(seed, group, W, H)
    Hb, Wb = H + 2 * BG_MARGIN, W + 2 * BG_MARGIN
    S = min(W, H)
    hue = (scene + 0.5) / len(CLASSES) + rc["hue_jitter"]
    c0 = np.array(hsv(hue % 1.0, rc["sat"], rc["val"][0]))
    c1 = np.array(hsv((hue + 0.08) % 1.0, rc["sat"] * 0.8, rc["val"][1]))
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
            app = pool[crng.integers(POOL_SIZE)] if k % 2 == 0 else appearance(crng, S)
            R = np.array([app["size"] / 2 * math.exp(static_log_scale(crng, 48))])
            cx = crng.uniform(0, Wb, size=1)
            cy = crng.uniform(0, Hb, size=1)
            draw(canvas, pad, app, cx, cy, R, alpha=float(crng.uniform(0.5, 1.0)))
        img = canvas[0, pad:pad + Hb, pad:pad + Wb]
    out = np.ascontiguousarray(img, dtype=np.float32)
    out.setflags(write=False)
    return out


def order_and_camera(r_z, r_bg, n):
    """A clip's draws beyond its objects: the drawing order of its ``n`` objects from ``r_z`` (order[k]: the object
    drawn k-th; z[i]: object i's place in it, 0 = first, at the back), and the camera's offset in the group's
    background and its gain from ``r_bg`` -> (order (n,), z (n,), [dx, dy], gain)."""
    order = r_z.permutation(n)                                  # order[k]: object drawn k-th
    z = np.empty(n, int)
    z[order] = np.arange(n)
    offset = [int(v) for v in r_bg.integers(0, 2 * BG_MARGIN + 1, size=2)]
    return order, z, offset, float(r_bg.uniform(0.92, 1.08))


def compose(d, layers=LAYERS):
    """Draw the video of the drawing list ``d`` -> frames uint8 (T, H, W, 3) RGB.

    d: {"W", "H", "T": frame size and count; "bg": the arguments of ``background``; "offset": (dx, dy) of the
    clip's camera within the background; "gain": its brightness factor; "objects": (role, look, cx, cy, R) in
    drawing order, role "actor" or "distractor", cx, cy, R (T,) as in ``render.draw``}. layers: what to draw, a
    subset of LAYERS (an empty background is black)."""
    W, H, T = d["W"], d["H"], d["T"]
    S = min(W, H)
    pad = int(0.3 * S) + 8
    canvas = np.zeros((T, H + 2 * pad, W + 2 * pad, 3), np.float32)
    if "background" in layers:
        bg = background(*d["bg"])
        ox, oy = d["offset"]
        canvas[:, pad:pad + H, pad:pad + W] = bg[oy:oy + H, ox:ox + W] * np.float32(d["gain"])
    for role, app, cx, cy, R in d["objects"]:
        if (role + "s" if role == "distractor" else role) in layers:
            draw(canvas, pad, app, cx, cy, R)
    return np.clip(canvas[:, pad:pad + H, pad:pad + W] + 0.5, 0, 255).astype(np.uint8)
