"""A multi-label synthetic action benchmark written as real videos in the Hollywood2 (HOHA2) layout.

    python -m tinyalstm.data.synthetic.multilabel --out data/synthetic-multilabel   # 360 clips, 20-35 s
    python -m tinyalstm.data.synthetic.multilabel --help

The multi-label counterpart of the single-label benchmark (``single``; the package docstring describes the
classes, the drawing and why single frames are class-independent): the same actors, motions, distractors,
appearance pools, backgrounds and groups, but each clip shows one *or two* actors, each performing a different
class's motion during its own action interval, so a clip carries one or two labels, as a Hollywood2 clip carries
one or more of its 12 actions. It runs the multi-label path (a sigmoid per class and time step, mAP; aLSTM sec. 4,
the HOHA2 experiments) without a download, and the per-actor ground truth says which actor does what, where and
when.

Classes: the first ``classes`` names of ``CLASSES`` (default 8, the single-label default, so the two
benchmarks differ only in their labels): MoveLeft, MoveRight, MoveUp, MoveDown, CircleClockwise,
CircleCounterclockwise, Approach, Recede (then ZigZagLeft, ZigZagRight, Jump, Shake with ``classes=12``).

Label sets (clip by clip, independently, from the stream of (seed, group, clip)): with probability
``two_actor_share`` (default 1/2) the clip has two actors whose classes are an unordered pair drawn uniformly
from the C (C - 1) / 2 pairs, otherwise one actor of a class drawn uniformly. Hence, for C classes and share s:

- a class is present in (1 + s) / C of the clips (18.75 % for the default 8 classes; Hollywood2's actions are
  in 3-16 % of its clips), the same for every class;
- a clip carries 1 + s labels on average (1.5);
- given that class A is present, every other class B is present with the same probability, 2 s / ((C - 1)(1 + s))
  (9.5 % by default): no class predicts another (the only dependence is that a clip has at most two labels);
- which of the two actors is the *first* one (the one the scene context follows) is a coin flip.

Each actor is drawn like the single-label actor, independently: its look uniformly from the group's appearance
pool, its action interval [start, end) (40-70 % of the clip: two actors' intervals overlap in 99 % of the
two-actor clips, one inside the other in a quarter), its class parameters and its placement where the whole path
fits in the frame. Outside its interval
an actor is perfectly still. Distractors are the single-label ones (static, slow drift or a small
figure-of-eight, never a class motion).

Single frames do not reveal the labels, for the single-label reasons (appearance, placement, size and background
follow group-level rules, not the class) and one more: every frame shows the same number of objects,
``distractors + 2``; a one-actor clip gets one distractor more, so counting objects does not tell one actor from
two. Scene context: ``context=p`` switches, with probability p per (class, group), the background to the scene
type tied to the *first* actor's class (the per-(class, group) draw of the single-label benchmark); p = 0
(default) keeps scene and labels independent.

Split: groups are held out, as in the single-label benchmark, but Hollywood2 has one split, so only split 1 is
written: the test subset is the first of three contiguous blocks of groups (``np.array_split``; groups 1-4 of
the default 10), the train subset every other group. Clips are numbered consecutively within each subset, group
by group, clip by clip (5 digits, as Hollywood2).

On disk (``generate_multilabel(out)``)::

    <out>/Hollywood2/AVIClips/actioncliptrain00001.avi ...   XVID in AVI, 25 fps (as the single-label videos)
    <out>/Hollywood2/AVIClips/actioncliptest00001.avi ...
    <out>/Hollywood2/ClipSets/<Class>_train.txt             every train clip once, in order, one per line:
    <out>/Hollywood2/ClipSets/<Class>_test.txt              "actioncliptrain00001  1" (present) or "...  -1"
    <out>/annotations/actioncliptrain00001.json ...           ground truth of one clip (format below)
    <out>/synthetic.json                                      manifest: format, version, options, classes, counts

The list files separate clip and flag by two spaces and end lines with LF, as Hollywood2's do;
``hollywood2.load_hollywood2(out, subset, actions=classes)`` reads them (the manifest's "classes" is the list).
The manifest is written last (atomically); as with the single-label benchmark, a folder whose manifest matches
the options is reused as it is (cached), an interrupted generation (``synthetic.inprogress.json``, no manifest) or
a matching dataset with files missing is redone, and anything else is refused unless ``force``.

Ground truth JSON (one file per clip; ``render_clip`` returns the same dict without "name", "video", "subset")::

    {
      "format": "tinyalstm-synthetic-multilabel", "version": 1,
      "name": "actioncliptrain00001", "video": "actioncliptrain00001.avi",   # video: relative to AVIClips/
      "subset": "train", "group": 5, "clip": 1,   # the group gXX and the clip's index in it (cYY)
      "seed": 0, "width": 112, "height": 112, "fps": 25, "num_frames": 48,
      "labels": [1, 6],                           # sorted 0-based indices into the class list (1 in ClipSets)
      "label_names": ["MoveRight", "Approach"],   # the same, as names
      "actors": [                                 # one or two, the first one first (scene context)
        {"class": "Approach", "label": 6, "class_index": 7,   # 0-based, and 1-based as in single.py
         "action": [17, 43],                                  # [start, end) in frames
         "boxes": [[x0, y0, x1, y1], ...], "appearance": {...}, "motion": {"name": "Approach", ...}, "z": 3},
        ...                                       # boxes, appearance, motion, z: the single-label actor format
      ],
      "distractors": [ {"boxes": [...], "appearance": {...}, "motion": {"name": "drift", ...}, "z": 0}, ... ],
      "background": {"scene": 5, "from_context": false, "offset": [dx, dy], "gain": 1.03}
    }

API: ``label_set(group, clip, ...)`` -> the clip's class names (first actor first; no drawing);
``render_clip(group, clip, **options)`` -> (frames uint8 (T, H, W, 3), ground truth dict) in memory;
``clip_ground_truth(...)`` the dict alone; ``generate_multilabel(out, **options)`` -> summary dict, the dataset on
disk. Same options and seed give bit-identical frames.
"""
import argparse
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ...run.cli import run
from ...run.storage import save_text
from .files import (FPS, begin, dir_size, finish, rounded, run_generator, save_dataset_json, split_test_groups,
                    write_avi)
from .motion import CLASSES, class_motion, distractor_motion, place, progress, sample_interval
from .options import check_clip, check_counts, check_options, check_seed, resolve_classes
from .render import appearance_record
from .scene import LAYERS, POOL_SIZE, compose, group_look, order_and_camera

FORMAT = "tinyalstm-synthetic-multilabel"
VERSION = 1
OWNED = ("Hollywood2", "annotations")          # what generate_multilabel writes (besides the manifest and marker)


# ----------------------------------------------------------------------------------------------------- options

def _check_share(two_actor_share):
    try:
        ok = 0.0 <= float(two_actor_share) <= 1.0 and not isinstance(two_actor_share, (bool, str))
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"two_actor_share: expected a probability in [0, 1], got {two_actor_share!r}")
    return float(two_actor_share)


def _options(classes, groups, clips, frames, size, distractors, clutter, context, seed, two_actor_share, quality):
    names = resolve_classes(classes)
    W, H = check_options(frames, size, distractors, clutter, context, seed)
    share = _check_share(two_actor_share)
    check_counts(groups, clips, quality)
    return {"classes": list(names), "groups": int(groups), "clips": int(clips), "frames": int(frames),
            "size": [W, H], "distractors": int(distractors), "clutter": int(clutter), "context": float(context),
            "seed": int(seed), "two_actor_share": share, "quality": int(quality)}


# ------------------------------------------------------------------------------------------------ one clip

def label_set(group, clip, *, classes=8, seed=0, two_actor_share=0.5):
    """The classes of clip ``clip`` of group ``group``: a tuple of one or two distinct names of ``classes``, the
    first actor's first (module docstring, "Label sets"). Depends on (seed, group, clip, the class list, the
    share) only; nothing is drawn."""
    names = resolve_classes(classes)
    share = _check_share(two_actor_share)
    check_clip(group, clip)
    check_seed(seed)
    rng = np.random.default_rng([int(seed), 20, int(group), int(clip)])
    two = rng.random() < share
    if two:                               # uniform over ordered pairs: uniform unordered pair, random first actor
        picked = rng.choice(len(names), size=2, replace=False)
    else:
        picked = [rng.integers(len(names))]
    return tuple(names[int(i)] for i in picked)


def _actor(name, rng, pool, S, T, W, H):
    start, end = sample_interval(rng, T)
    phi = progress(T, start, end)
    dx, dy, ls, params = class_motion(name, phi, end - start - 1, rng, S, T)
    i = int(rng.integers(POOL_SIZE))
    return ("actor", i, dict(name=name, **params)) + place(rng, pool[i], dx, dy, ls, W, H) + ((start, end),)


def _spec(group, clip, classes, seed, frames, size, distractors, clutter, context, two_actor_share):
    """Everything about one clip except its pixels: (ground truth dict, drawing list for ``scene.compose``)."""
    names = resolve_classes(classes)
    W, H = check_options(frames, size, distractors, clutter, context, seed)
    present = label_set(group, clip, classes=names, seed=seed, two_actor_share=two_actor_share)
    S, T, seed, group, clip = min(W, H), int(frames), int(seed), int(group), int(clip)
    pool, scene, _ = group_look(seed, group, W, H)
    first = CLASSES.index(present[0])
    from_context = bool(np.random.default_rng([seed, 3, first, group]).random() < float(context))
    if from_context:                      # the single-label per-(class, group) draw, for the first actor's class
        scene = first
    objects = [_actor(c, np.random.default_rng([seed, 21, group, clip, a]), pool, S, T, W, H)
               for a, c in enumerate(present)]
    r_dis, r_z, r_bg = (np.random.default_rng([seed, k, group, clip]) for k in (22, 23, 24))
    for _ in range(int(distractors) + 2 - len(present)):          # the same object count in every clip
        i = int(r_dis.integers(POOL_SIZE))
        ddx, ddy, dls, dparams = distractor_motion(r_dis, S, T)
        objects.append(("distractor", i, dparams) + place(r_dis, pool[i], ddx, ddy, dls, W, H) + (None,))
    order, z, offset, gain = order_and_camera(r_z, r_bg, len(objects))

    def entry(k):
        role, i, motion, _, _, _, boxes, interval = objects[k]
        e = {"boxes": np.round(boxes, 2).tolist(), "appearance": appearance_record(pool[i], i),
             "motion": rounded(motion), "z": int(z[k])}
        if role == "actor":
            c = motion["name"]
            e = dict({"class": c, "label": names.index(c), "class_index": names.index(c) + 1,
                      "action": [int(interval[0]), int(interval[1])]}, **e)
        return e

    labels = sorted(names.index(c) for c in present)
    gt = {"format": FORMAT, "version": VERSION, "group": group, "clip": clip, "seed": seed, "width": W,
          "height": H, "fps": FPS, "num_frames": T, "labels": labels, "label_names": [names[i] for i in labels],
          "actors": [entry(k) for k in range(len(present))],
          "distractors": [entry(k) for k in range(len(present), len(objects))],
          "background": {"scene": int(scene), "from_context": from_context, "offset": offset,
                         "gain": round(gain, 4)}}
    draw = {"W": W, "H": H, "T": T, "offset": offset, "gain": gain,
            "bg": (seed, group, W, H, int(scene), int(clutter)),
            "objects": [(objects[k][0], pool[objects[k][1]], objects[k][3], objects[k][4], objects[k][5])
                        for k in order]}
    return gt, draw


def clip_ground_truth(group, clip, *, classes=8, seed=0, frames=48, size=112, distractors=2, clutter=6,
                      context=0.0, two_actor_share=0.5):
    """The ground-truth dict of one clip (format: module docstring, without "name", "video", "subset", which
    depend on the dataset's numbering) without drawing it. Same arguments as ``render_clip``."""
    return _spec(group, clip, classes, seed, frames, size, distractors, clutter, context, two_actor_share)[0]


def render_clip(group, clip, *, classes=8, seed=0, frames=48, size=112, distractors=2, clutter=6, context=0.0,
                two_actor_share=0.5, layers=LAYERS):
    """Draw one clip in memory.

    group, clip: 1..99 (the group and the clip's index in it); classes: count (the first n of CLASSES)
    or names; seed: dataset seed; frames: T, 8..1000; size: int or (W, H), even, 32..512; distractors: non-actor objects
    of a two-actor clip (a one-actor clip has one more: every clip shows distractors + 2 objects); clutter: static
    shapes in the background; context: probability (per class and group) that the background is the first
    actor's class's scene type; two_actor_share: probability of two actors; layers: a subset of ("background",
    "distractors", "actor") to draw ("actor" draws both actors; the ground truth is the same whatever is drawn).
    -> (frames uint8 (T, H, W, 3) RGB, ground truth dict)."""
    unknown = set(layers) - set(LAYERS)
    if unknown:
        raise ValueError(f"layers: expected a subset of {LAYERS}, got {tuple(layers)}")
    gt, d = _spec(group, clip, classes, seed, frames, size, distractors, clutter, context, two_actor_share)
    return compose(d, layers), gt


# ------------------------------------------------------------------------------------------------------ files

def clip_names(groups, clips):
    """Split 1's numbering: -> (test groups, {(group, clip): (subset, "actioncliptrain00001" ...)}); the test
    subset is the first of three contiguous blocks of groups, clips numbered in (group, clip) order."""
    test = split_test_groups(groups)[0]
    names, count = {}, {"train": 0, "test": 0}
    for g in range(1, groups + 1):
        subset = "test" if g in test else "train"
        for k in range(1, clips + 1):
            count[subset] += 1
            names[(g, k)] = (subset, f"actionclip{subset}{count[subset]:05d}")
    return test, names


def _files(opts, names):
    """Every file of the dataset of options ``opts`` and clip names ``names`` (``clip_names``), relative to its
    folder (the manifest excepted)."""
    paths = [os.path.join("Hollywood2", "AVIClips", n + ".avi") for _, n in names.values()]
    paths += [os.path.join("annotations", n + ".json") for _, n in names.values()]
    paths += [os.path.join("Hollywood2", "ClipSets", f"{c}_{s}.txt") for c in opts["classes"]
              for s in ("train", "test")]
    return paths


def generate_multilabel(out, *, classes=8, groups=10, clips=36, frames=48, size=112, distractors=2, clutter=6,
                        context=0.0, seed=0, two_actor_share=0.5, quality=3, workers=None, force=False,
                        verbose=True):
    """Write the benchmark under ``out`` in the Hollywood2 layout (module docstring) and return a summary dict.

    classes: count (first n of CLASSES, 2..12) or names; groups: 3..99; clips: clips per group, 1..99;
    frames, size, distractors, clutter, context, seed, two_actor_share: as in ``render_clip``; quality: XVID
    -q:v (1 best .. 31); workers: parallel encoders (default: CPU count, at most 8); force: replace whatever is
    in ``out``'s Hollywood2/ and annotations/ and its manifest (other files are left alone; without it a non-empty
    ``out`` that is not this very dataset is refused); verbose: progress on stderr.

    Summary: "videos" (clip count), "classes", "splits" ({"1": train / test counts and test groups}), "labels"
    (per subset: clips, two-actor clips, positives per class), "bytes", "generation_seconds", and "out",
    "cached", "seconds" (this call's time). Cached: if ``out/synthetic.json`` records the same format, version,
    options and classes and every file is there, nothing is written and "cached" is true.
    """
    t0 = time.perf_counter()
    opts = _options(classes, groups, clips, frames, size, distractors, clutter, context, seed, two_actor_share,
                    quality)
    names = opts["classes"]
    manifest = {"format": FORMAT, "version": VERSION, "options": opts, "classes": names}
    out = os.fspath(out)
    log = ((lambda msg: print(f"[synthetic-multilabel] {msg}", file=sys.stderr, flush=True)) if verbose
           else (lambda msg: None))
    test_groups, clip_name = clip_names(opts["groups"], opts["clips"])
    old = begin(out, manifest, _files(opts, clip_name), OWNED, force, log, "multi-label synthetic benchmark")
    if old is not None:
        return dict(old["summary"], out=out, cached=True, seconds=time.perf_counter() - t0)
    clips_dir, sets_dir = os.path.join(out, "Hollywood2", "AVIClips"), os.path.join(out, "Hollywood2", "ClipSets")
    for d in (clips_dir, sets_dir, os.path.join(out, "annotations")):
        os.makedirs(d, exist_ok=True)

    kw = {k: opts[k] for k in ("classes", "seed", "frames", "distractors", "clutter", "context", "two_actor_share")}
    kw["size"] = tuple(opts["size"])
    jobs = sorted(clip_name)                                # group-major: the group's background is cached

    def one(job):
        subset, name = clip_name[job]
        gt, d = _spec(*job, **kw)
        gt = dict({"format": FORMAT, "version": VERSION, "name": name, "video": name + ".avi", "subset": subset},
                  **gt)
        write_avi(os.path.join(clips_dir, name + ".avi"), compose(d), opts["quality"])
        save_dataset_json(os.path.join(out, "annotations", name + ".json"), gt, compact=True)
        return subset, name, gt["label_names"]

    workers = workers or min(8, os.cpu_count() or 1)
    W, H = opts["size"]
    log(f"writing {len(jobs)} clips ({opts['groups']} groups x {opts['clips']} clips, {len(names)} classes, "
        f"{opts['frames']} frames, {W}x{H}) to {out} with {workers} workers")
    step = max(1, len(jobs) // 10)
    done = {"train": [], "test": []}
    with ThreadPoolExecutor(max_workers=workers) as ex:
        for n, (subset, name, present) in enumerate(ex.map(one, jobs), 1):
            done[subset].append((name, set(present)))
            if n % step == 0 or n == len(jobs):
                log(f"{n}/{len(jobs)} clips ({time.perf_counter() - t0:.1f} s)")

    stats = {}
    for subset, rows in done.items():                       # rows are in clip-number order (ex.map keeps order)
        for c in names:
            text = "".join(f"{name}  {'1' if c in present else '-1'}\n" for name, present in rows)
            save_text(os.path.join(sets_dir, f"{c}_{subset}.txt"), text)
        stats[subset] = {"clips": len(rows), "two_actors": sum(len(p) == 2 for _, p in rows),
                         "positives": {c: sum(c in p for _, p in rows) for c in names}}
    summary = {"videos": len(jobs), "classes": names,
               "splits": {"1": {"train": stats["train"]["clips"], "test": stats["test"]["clips"],
                                "test_groups": test_groups}},
               "labels": stats, "bytes": dir_size(out),
               "generation_seconds": round(time.perf_counter() - t0, 2)}
    finish(out, dict(manifest, summary=summary))
    log(f"done: {len(jobs)} clips ({stats['train']['clips']} train, {stats['test']['clips']} test), "
        f"{summary['bytes'] / 1e6:.1f} MB, {summary['generation_seconds']:.1f} s")
    return dict(summary, out=out, cached=False, seconds=time.perf_counter() - t0)


# ---------------------------------------------------------------------------------------------------------- CLI

def main(argv=None):
    """The command ``python -m tinyalstm.data.synthetic.multilabel``: parse ``argv``, generate, print the summary.
    -> exit status (``files.run_generator``)."""
    ap = argparse.ArgumentParser(
        prog="python -m tinyalstm.data.synthetic.multilabel", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Write the multi-label synthetic action benchmark in the Hollywood2 (HOHA2) layout: XVID AVI "
                    "clips in\nHollywood2/AVIClips, per-class lists Hollywood2/ClipSets/<Class>_{train,test}.txt "
                    "(\"<clip>  1\" or \"<clip>  -1\"),\nground truth per clip in annotations/<clip>.json. Each clip "
                    "shows one or two actors, each performing a\ndifferent class's motion during its own interval, "
                    "among distractors over a cluttered background; a\nsingle frame reveals no label. Groups are held "
                    "out: the test subset is the first third of the groups\n(split 1, Hollywood2's only split). "
                    "Details: python -c 'import tinyalstm.data.synthetic.multilabel as s; help(s)'.",
        epilog="classes, in order: " + ", ".join(CLASSES) + "\n\nThe summary (JSON) goes to stdout, progress to "
               "stderr. Rerunning with the same options\nreuses the dataset (synthetic.json matches).")
    ap.add_argument("--out", required=True, help="output directory (created; must be empty, hold this very dataset "
                                                  "or an interrupted generation, unless --force)")
    ap.add_argument("--classes", default=None, help="number of classes (the first N of the list below, "
                                                                 "2..12) or comma-separated names (default 8)")
    ap.add_argument("--groups", type=int, default=None, help="groups of clips, 3..99; clips of a group share "
                                                                    "appearance pool and background; the first "
                                                                    "third are the test subset (default 10)")
    ap.add_argument("--clips", type=int, default=None, help="clips per group, 1..99 (default 36)")
    ap.add_argument("--frames", type=int, default=None, help="frames per clip at 25 fps, 8..1000 (default 48)")
    ap.add_argument("--size", default=None, help="frame size N (square) or WxH, even, 32..512 (default 112)")
    ap.add_argument("--distractors", type=int, default=None,
                    help="distractors of a two-actor clip; a one-actor clip gets one more, so every clip shows "
                         "distractors + 2 objects (default 2)")
    ap.add_argument("--clutter", type=int, default=None, help="static clutter shapes in each background "
                                                                      "(default 6)")
    ap.add_argument("--context", type=float, default=None,
                    help="probability that a (class, group)'s background is the scene type of the first actor's "
                         "class; 0 keeps background and labels independent (default 0)")
    ap.add_argument("--two-actor-share", type=float, default=None,
                    help="probability that a clip has two actors (two labels) (default 0.5)")
    ap.add_argument("--seed", type=int, default=None, help="dataset seed; same seed, same frames (default 0)")
    ap.add_argument("--quality", type=int, default=None, help="XVID quantiser -q:v, 1 (best) .. 31 "
                                                                      "(default 3)")
    ap.add_argument("--workers", type=int, default=None, help="parallel encoders (default: CPU count, at most 8)")
    ap.add_argument("--force", action="store_true", help="replace a different dataset in --out (its Hollywood2/, "
                                                         "annotations/ and synthetic.json)")
    ap.add_argument("--quiet", action="store_true", help="no progress on stderr")
    args = ap.parse_args(argv)
    if args.workers is not None and not 1 <= args.workers <= 256:
        ap.error(f"--workers: expected an integer 1..256, got {args.workers}")
    given = {k: v for k, v in vars(args).items() if v is not None and k not in ("out", "force", "quiet")}
    if "classes" in given and given["classes"].strip().isdigit():
        given["classes"] = int(given["classes"])
    # options not given take generate_multilabel's defaults
    return run_generator(ap, generate_multilabel, args.out, force=args.force, verbose=not args.quiet, **given)


if __name__ == "__main__":
    run(main)
