"""The single-label synthetic benchmark, written as real videos in the UCF101 layout: the project's default dataset.

    python -m tinyalstm.data.synthetic --out data/synthetic          # default size: 240 videos, well under a minute
    python -m tinyalstm.data.synthetic --help

Each video shows one actor performing one class's motion among distractors over a cluttered background (the
package docstring describes the classes, the drawing and why single frames are class-independent).

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
      "action": [17, 43],     # [start, end) in frames: the frames of the action (Timing: package docstring)
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
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ...run.storage import save_text
from .files import (FPS, begin, dir_size, finish, rounded, run_generator, save_dataset_json, split_test_groups,
                    write_avi)
from .motion import CLASSES, class_motion, distractor_motion, place, progress, sample_interval
from .options import check_clip, check_counts, check_options, resolve_classes
from .render import appearance_record
from .scene import LAYERS, POOL_SIZE, compose, group_look, order_and_camera

FORMAT = "tinyalstm-synthetic"
VERSION = 1
OWNED = ("UCF-101", "ucfTrainTestlist", "annotations")     # what generate writes (besides the manifest and marker)


# ------------------------------------------------------------------------------------------------------ one video

def _spec(class_name, group, clip, seed, frames, size, distractors, clutter, context, classes):
    """Everything about one video except its pixels: (ground truth dict, drawing list for ``scene.compose``)."""
    W, H = check_options(frames, size, distractors, clutter, context, seed)
    classes = resolve_classes(classes)
    if class_name not in classes:
        raise ValueError(f"class_name: expected one of {', '.join(classes)}, got {class_name!r}")
    check_clip(group, clip)
    ci = CLASSES.index(class_name)
    S, T = min(W, H), int(frames)
    pool, scene, _ = group_look(int(seed), int(group), W, H)
    from_context = bool(np.random.default_rng([seed, 3, ci, group]).random() < float(context))
    if from_context:
        scene = ci
    r_actor, r_dis, r_bg, r_z = (np.random.default_rng([seed, 2, ci, group, clip, k]) for k in range(4))
    start, end = sample_interval(r_actor, T)
    phi = progress(T, start, end)
    dx, dy, ls, params = class_motion(class_name, phi, end - start - 1, r_actor, S, T)
    ia = int(r_actor.integers(POOL_SIZE))
    objects = [("actor", ia, dict(name=class_name, **params)) + place(r_actor, pool[ia], dx, dy, ls, W, H)]
    for _ in range(distractors):
        i = int(r_dis.integers(POOL_SIZE))
        ddx, ddy, dls, dparams = distractor_motion(r_dis, S, T)
        objects.append(("distractor", i, dparams) + place(r_dis, pool[i], ddx, ddy, dls, W, H))
    order, z, offset, gain = order_and_camera(r_z, r_bg, len(objects))

    def entry(k):
        _, i, motion, _, _, _, boxes = objects[k]
        return {"boxes": np.round(boxes, 2).tolist(), "appearance": appearance_record(pool[i], i),
                "motion": rounded(motion), "z": int(z[k])}

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
    seed: dataset seed; frames: T, 8..1000; size: int or (W, H), even, 32..512; distractors: number of distractor
    objects; clutter: static shapes in the background; context: probability that the background's scene type is
    the class's (per class and group); classes: the dataset's class list or count (sets ``label``; default all
    of CLASSES, whose first n are the n-class dataset's, so the label is the same);
    layers: what to draw, a subset of ("background", "distractors", "actor") (the ground truth is the same
    whatever is drawn; an empty background is black). -> (frames uint8 (T, H, W, 3) RGB, ground truth dict)."""
    gt, d = _spec(class_name, group, clip, seed, frames, size, distractors, clutter, context, classes)
    unknown = set(layers) - set(LAYERS)
    if unknown:
        raise ValueError(f"layers: expected a subset of {LAYERS}, got {tuple(layers)}")
    return compose(d, layers), gt


# ---------------------------------------------------------------------------------------------------------- files

def _options(classes, groups, clips, frames, size, distractors, clutter, context, seed, quality):
    names = resolve_classes(classes)
    W, H = check_options(frames, size, distractors, clutter, context, seed)
    check_counts(groups, clips, quality)
    return {"classes": list(names), "groups": int(groups), "clips": int(clips), "frames": int(frames),
            "size": [W, H], "distractors": int(distractors), "clutter": int(clutter), "context": float(context),
            "seed": int(seed), "quality": int(quality)}


def _files(opts):
    """Every file of the dataset of options ``opts``, relative to its folder (the manifest excepted)."""
    names, groups, clips = opts["classes"], opts["groups"], opts["clips"]
    videos = [(c, f"v_{c}_g{g:02d}_c{k:02d}") for c in names for g in range(1, groups + 1) for k in range(1, clips + 1)]
    paths = [os.path.join("UCF-101", c, v + ".avi") for c, v in videos]
    paths += [os.path.join("annotations", v + ".json") for _, v in videos]
    paths += [os.path.join("ucfTrainTestlist", f) for f in ["classInd.txt"] + [f"{kind}list0{i}.txt"
                                                               for kind in ("train", "test") for i in (1, 2, 3)]]
    return paths


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
    old = begin(out, manifest, _files(opts), OWNED, force, log, "synthetic benchmark")
    if old is not None:
        return dict(old["summary"], out=out, cached=True, seconds=time.perf_counter() - t0)
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
        write_avi(os.path.join(out, "UCF-101", gt["video"]), compose(d), quality)
        annotation = os.path.join(out, "annotations", os.path.basename(gt["video"])[:-4] + ".json")
        save_dataset_json(annotation, gt, compact=True)
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
    save_text(os.path.join(lists, "classInd.txt"), "".join(f"{i} {c}{crlf}" for i, c in enumerate(names, 1)))
    splits = {}
    for s, test in enumerate(folds, 1):
        train_lines, test_lines = [], []
        for c, g, k in jobs:
            path = f"{c}/v_{c}_g{g:02d}_c{k:02d}.avi"
            if g in test:
                test_lines.append(path + crlf)
            else:
                train_lines.append(f"{path} {names.index(c) + 1}{crlf}")
        save_text(os.path.join(lists, f"trainlist{s:02d}.txt"), "".join(train_lines))
        save_text(os.path.join(lists, f"testlist{s:02d}.txt"), "".join(test_lines))
        splits[str(s)] = {"train": len(train_lines), "test": len(test_lines), "test_groups": test}
    summary = {"videos": len(jobs), "classes": names, "splits": splits, "bytes": dir_size(out),
               "generation_seconds": round(time.perf_counter() - t0, 2)}
    finish(out, dict(manifest, summary=summary))
    log(f"done: {len(jobs)} videos, {summary['bytes'] / 1e6:.1f} MB, {summary['generation_seconds']:.1f} s")
    return dict(summary, out=out, cached=False, seconds=time.perf_counter() - t0)


# ------------------------------------------------------------------------------------------------------------ CLI

def main(argv=None):
    """The command ``python -m tinyalstm.data.synthetic``: parse ``argv``, generate, print the summary. -> exit
    status (``files.run_generator``)."""
    ap = argparse.ArgumentParser(
        prog="python -m tinyalstm.data.synthetic", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Write the synthetic action benchmark (real XVID AVI videos, UCF101 layout and split files, "
                    "per-video ground truth JSON).\nOne actor object per video performs the class motion among "
                    "distractors from the same appearance pool\nover a cluttered background; a single frame does "
                    "not reveal the class. Details: the docstrings of\nthe package tinyalstm.data.synthetic "
                    "(python -c 'import tinyalstm.data.synthetic as s; help(s); help(s.single)').",
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
    ap.add_argument("--frames", type=int, default=48, help="frames per video at 25 fps, 8..1000 (default 48)")
    ap.add_argument("--size", default="112", help="frame size N (square) or WxH, even, 32..512 (default 112)")
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
    if args.workers is not None and not 1 <= args.workers <= 256:
        ap.error(f"--workers: expected an integer 1..256, got {args.workers}")
    return run_generator(ap, generate, args.out, classes=classes, groups=args.groups, clips=args.clips,
                         frames=args.frames, size=args.size, distractors=args.distractors, clutter=args.clutter,
                         context=args.context, seed=args.seed, quality=args.quality, workers=args.workers,
                         force=args.force, verbose=not args.quiet)
