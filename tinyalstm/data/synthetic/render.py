"""The objects of the synthetic world: their looks and how one is drawn.

An object is a shape of radius R (pixels) with a fill colour, a texture pattern in object coordinates and a dark
outline. ``appearance(rng, S)`` draws a look (a dict); ``draw`` composites an object into a stack of frames at a
centre and radius per frame. Drawing is plain NumPy, anti-aliased (coverage from signed distance functions),
vectorised over the frames of an object.
"""
import math

import numpy as np

SHAPES = ("disc", "square", "diamond", "triangle", "ring", "plus", "hexagon", "bar")
# half-extents (x, y) of each shape in units of its radius R (the shape's bounding box is centre +- R * extent)
EXTENTS = {"disc": (1.0, 1.0), "square": (0.88, 0.88), "diamond": (1.0, 1.0), "triangle": (1.0, math.sqrt(3) / 2),
           "ring": (1.0, 1.0), "plus": (1.0, 1.0), "hexagon": (0.87, 0.87 / math.cos(math.pi / 6)),
           "bar": (1.0, 0.5)}
PATTERNS = ("solid", "stripes", "checker", "rings")


def hsv(h, s, v):
    """HSV in [0, 1] -> RGB in [0, 255] (scalar)."""
    i = int(h * 6) % 6
    f = h * 6 - math.floor(h * 6)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    r, g, b = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i]
    return [round(255 * r, 1), round(255 * g, 1), round(255 * b, 1)]


def appearance(rng, S):
    """One object look: shape, fill colour, texture pattern (in object coordinates) and base diameter."""
    h = rng.random()
    fill = hsv(h, rng.uniform(0.45, 1.0), rng.uniform(0.5, 1.0))
    pattern_color = hsv((h + rng.uniform(0.25, 0.75)) % 1.0, rng.uniform(0.2, 1.0), rng.uniform(0.15, 1.0))
    return {"shape": SHAPES[rng.integers(len(SHAPES))], "color": fill,
            "pattern": PATTERNS[rng.integers(len(PATTERNS))], "pattern_color": pattern_color,
            "pattern_freq": round(float(rng.uniform(1.5, 3.0)), 3),
            "pattern_angle": round(float(rng.uniform(0, math.pi)), 4),
            "size": round(float(S * rng.uniform(0.13, 0.17)), 2)}


def appearance_record(app, pool_index):
    """The look ``app`` as the ground truth records it: its index in the group's pool, shape, colours, pattern and
    size (base diameter in pixels)."""
    keys = ("shape", "color", "pattern", "pattern_color", "size")
    return dict({"pool_index": pool_index}, **{k: app[k] for k in keys})


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


def footprint(app, cx, cy, R):
    """Where the object ``app`` lies in each frame: index arrays of a square patch around it and the signed
    distance (pixels, negative inside) of each patch pixel's centre to its edge.

    cx, cy, R: (T,) centre (pixels, frame coordinates) and radius (pixels) per frame -> (tt (T, 1, 1), yy (T, P, 1),
    xx (T, 1, P): frame, row and column of each patch pixel, unpadded, so possibly outside the frame; u, v
    (T, P, P): object coordinates in radius units; d (T, P, P): signed distance in pixels)."""
    T = len(cx)
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
    tt = np.arange(T)[:, None, None]
    return tt, y0[:, None, None] + j[None, :, None], x0[:, None, None] + j[None, None, :], u, v, d


def coverage(d, alpha=1.0):
    """Anti-aliased coverage of a pixel from its signed distance ``d`` (pixels): clip(0.5 - d, 0, 1) x alpha."""
    return np.clip(0.5 - d, 0.0, 1.0) * alpha


def draw(canvas, pad, app, cx, cy, R, alpha=1.0):
    """Composite the object ``app`` into ``canvas`` (T, H + 2 pad, W + 2 pad, 3) float32, in place.

    cx, cy, R: (T,) centre (pixels, unpadded frame coordinates) and radius (pixels) per frame. Anti-aliased:
    ``coverage`` of each pixel from its signed distance (``footprint``). A dark 1.2-pixel outline runs inside the
    edge."""
    tt, yy, xx, u, v, d = footprint(app, cx, cy, R)
    cover = coverage(d, alpha)
    fill = np.asarray(app["color"], np.float32)
    w = _pattern(app, u, v)
    if w is None:
        col = np.broadcast_to(fill, d.shape + (3,))
    else:
        col = fill + w[..., None] * (np.asarray(app["pattern_color"], np.float32) - fill)
    rim = np.clip(d + 1.2, 0.0, 1.0)[..., None]
    col = col * (1.0 - 0.65 * rim)                              # outline: 35 % of the colour
    yy, xx = yy + pad, xx + pad
    a = cover[..., None].astype(np.float32)
    patch = canvas[tt, yy, xx]
    canvas[tt, yy, xx] = patch + a * (col.astype(np.float32) - patch)
