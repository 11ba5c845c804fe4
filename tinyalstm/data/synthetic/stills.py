"""Still images of the synthetic world with a label per map cell: the generic image task the RGB frame encoder is
pretrained on, in the role ImageNet plays for both papers' VGG networks (VideoLSTM sec. 5.2, aLSTM sec. 4).

A still is a background of the world (``scene.background``: a group's recipe rendered for a scene type) with 1 to
MAX_OBJECTS objects of fresh looks (``render.appearance``, the distribution the groups' appearance pools are drawn
from) at random places and sizes. Nothing moves and nothing acts: there is no action class. The groups are
STILL_GROUPS, which no benchmark uses (their groups gXX run 1..99), so no still shows a benchmark's background or
appearance pool.

Labels (``PARTS``): the frame is cut into ``cells`` x ``cells`` cells, the grid of the encoder's maps. A cell whose
pixels' colour comes at least OBJECT_SHARE from objects (occlusion counted) is labelled with the shape of the
object that gives the largest share, any other with the background's scene type (a hue and a texture family). So the
task asks every cell "which shape is here, or which kind of scene": recognising and locating the things the
world's videos are made of, without their motions.

``still_spec`` gives one still's drawing list and labels, ``render_stills(n, cells, ...)`` draws n of them;
``stills(n, cells, size, ...)`` also passes them through the benchmark's own path to the encoder (XVID in AVI,
decoded and scaled by ffmpeg, data/video.py), so a still at 64 px has the codec's and the scaler's marks just as a
decoded benchmark frame has.
"""
import os
import tempfile

import numpy as np

from ..video import read_video
from .files import write_avi
from .motion import CLASSES, place, static_log_scale
from .render import SHAPES, appearance, coverage, footprint
from .scene import BG_MARGIN, compose

VERSION = 1             # of the stills and their labels: part of a pretrained encoder's cache name
PARTS = tuple(SHAPES) + tuple(f"scene {k}" for k in range(len(CLASSES)))   # label k: PARTS[k]
STILL_GROUPS = range(100, 200)
MAX_OBJECTS = 6
OBJECT_SHARE = 0.3      # a cell is an object's when objects give at least this share of its colour


def still_spec(i, cells, seed=0, size=112):
    """Still number ``i`` of the stream ``seed`` at ``size`` x ``size`` pixels, undrawn -> (its drawing list for
    ``scene.compose``, one frame; labels int64 (cells, cells): indices into PARTS). The same (i, seed) gives the
    same still."""
    if size % cells:
        raise ValueError(f"size: {size} is not divisible by cells={cells} (whole cells of pixels)")
    rng = np.random.default_rng([seed, 11, i])
    S = W = H = int(size)
    group = int(rng.choice(STILL_GROUPS))
    scene = int(rng.integers(len(CLASSES)))
    objects = []
    for _ in range(int(rng.integers(1, MAX_OBJECTS + 1))):
        app = appearance(rng, S)
        ls = np.full(1, static_log_scale(rng, 48))
        cx, cy, R, _ = place(rng, app, np.zeros(1), np.zeros(1), ls, W, H)
        objects.append(("distractor", app, cx, cy, R))
    offset = [int(v) for v in rng.integers(0, 2 * BG_MARGIN + 1, size=2)]
    d = {"W": W, "H": H, "T": 1, "bg": (int(seed), group, W, H, scene, 0), "offset": offset,
         "gain": float(rng.uniform(0.92, 1.08)), "objects": objects}
    # share of every pixel's colour that each part gives, in drawing order (part 0: the background)
    share = np.zeros((len(objects) + 1, H, W))
    share[0] = 1.0
    for k, (_, app, cx, cy, R) in enumerate(objects, 1):
        _, yy, xx, _, _, dist = footprint(app, cx, cy, R)
        yy, xx, c = yy[0], xx[0], coverage(dist[0])
        inside = (yy >= 0) & (yy < H) & (xx >= 0) & (xx < W)
        ys, xs = np.broadcast_to(yy, c.shape)[inside], np.broadcast_to(xx, c.shape)[inside]
        share[:, ys, xs] *= 1.0 - c[inside]
        share[k, ys, xs] += c[inside]
    per_cell = share.reshape(len(share), cells, H // cells, cells, W // cells).mean(axis=(2, 4))
    best = per_cell[1:].argmax(axis=0)
    shapes = np.array([SHAPES.index(o[1]["shape"]) for o in objects])
    labels = np.where(per_cell[1:].sum(axis=0) >= OBJECT_SHARE, shapes[best], len(SHAPES) + scene)
    return d, labels.astype(np.int64)


def render_stills(n, cells, seed=0, size=112):
    """Stills 0..n-1 of the stream ``seed`` -> (frames uint8 (n, size, size, 3), labels int64 (n, cells, cells))."""
    specs = [still_spec(i, cells, seed, size) for i in range(int(n))]
    return np.stack([compose(d)[0] for d, _ in specs]), np.stack([labels for _, labels in specs])


def stills(n, cells, size, seed=0, render_size=112, quality=3, tmp=None):
    """``n`` stills as the frame encoder sees a benchmark frame: rendered at ``render_size`` (the benchmark's frame
    size), written as XVID in AVI at ``quality`` and decoded at ``size`` x ``size`` by ffmpeg -> (frames uint8
    (n, size, size, 3), labels int64 (n, cells, cells)). ``tmp``: folder for the one temporary video."""
    frames, labels = render_stills(n, cells, seed, render_size)
    fd, path = tempfile.mkstemp(suffix=".avi", dir=tmp)
    os.close(fd)
    try:
        write_avi(path, frames, quality)
        decoded = read_video(path, size=size)
    finally:
        os.unlink(path)
    if len(decoded) != len(frames):
        raise RuntimeError(f"stills: ffmpeg decoded {len(decoded)} of the {len(frames)} frames written to {path}")
    return decoded, labels
