"""The options of the synthetic benchmarks, checked once at their entry points: errors name the argument, what it
expects and what it got."""
import numpy as np

from .motion import CLASSES

# Upper bounds that keep one video in memory (frames x H x W x 3 bytes, under 0.8 GB at the largest, times the
# parallel encoders): 1000 frames are 40 s at 25 fps (UCF101's clips average 7 s), 512 pixels exceed UCF101's
# 320 x 240 frames.
MAX_FRAMES = 1000
MAX_SIZE = 512


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
            or any(s < 32 or s > MAX_SIZE or s % 2 for s in size)):
        raise ValueError(f"size: expected width and height even integers 32..{MAX_SIZE} (XVID needs even sizes), "
                         f"got {size}")
    return int(size[0]), int(size[1])


def check_seed(seed):
    """A dataset seed: a non-negative integer (ValueError otherwise)."""
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed: expected a non-negative integer, got {seed!r}")


def check_options(frames, size, distractors, clutter, context, seed=0):
    """The options of one video (``single.render_video``, ``multilabel.render_clip``) -> the frame size (W, H)."""
    check_seed(seed)
    if not isinstance(frames, (int, np.integer)) or isinstance(frames, bool) or not 8 <= frames <= MAX_FRAMES:
        raise ValueError(f"frames: expected an integer 8..{MAX_FRAMES}, got {frames!r}")
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


def check_clip(group, clip):
    """A video's group and clip numbers: integers 1..99 (gXX, cYY)."""
    if not (isinstance(group, (int, np.integer)) and isinstance(clip, (int, np.integer))
            and 1 <= group <= 99 and 1 <= clip <= 99):
        raise ValueError(f"group, clip: expected integers 1..99, got {group!r}, {clip!r}")


def check_counts(groups, clips, quality):
    """A dataset's size and encoding: groups 3..99 (the splits need three blocks), clips 1..99, XVID quality 1..31."""
    for name, v, lo, hi in (("groups", groups, 3, 99), ("clips", clips, 1, 99), ("quality", quality, 1, 31)):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or not lo <= v <= hi:
            raise ValueError(f"{name}: expected an integer {lo}..{hi}, got {v!r}")
