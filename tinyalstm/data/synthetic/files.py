"""Writing the synthetic benchmarks to disk, the parts both share: the videos (XVID in AVI), the JSON files, the
held-out groups of the splits, and a generation's start and end.

A generation writes its manifest (MANIFEST, the options and a summary) last; while it runs, an in-progress marker
(MARKER) holds the manifest without a summary. ``begin`` decides what a folder holds before writing into it: this
very dataset (reused as it is: generation is cached), our own dataset with files missing or an interrupted
generation (redone), or something else (refused unless ``force``). JSON files are written atomically by
``tinyalstm.run.storage``, which also checks the free space first.
"""
import json
import os
import shutil
import sys

import imageio_ffmpeg
import numpy as np

from ...run.storage import save_text

FPS = 25
MANIFEST = "synthetic.json"
MARKER = "synthetic.inprogress.json"


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


def rounded(x, nd=3):
    """``x`` with every float (in nested dicts, lists and tuples) rounded to ``nd`` decimals, for the JSON files;
    tuples become lists."""
    if isinstance(x, dict):
        return {k: rounded(v, nd) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [rounded(v, nd) for v in x]
    if isinstance(x, (float, np.floating)):
        return round(float(x), nd)
    return x


def save_dataset_json(path, obj, compact=False):
    """Write ``obj`` as JSON and a newline, atomically: one line without spaces (``compact``, the annotations) or
    indented by one space (the manifest)."""
    text = json.dumps(obj, **({"separators": (",", ":")} if compact else {"indent": 1}))
    return save_text(path, text + "\n")


def read_json(path):
    """The JSON object in ``path``: a dict ({} when the file holds another JSON value), or None when it cannot be
    read or parsed."""
    try:
        with open(path, encoding="utf-8") as f:
            obj = json.load(f)
        return obj if isinstance(obj, dict) else {}
    except (OSError, ValueError):
        return None


def missing(out, paths):
    """The ``paths`` (relative to ``out``) that are not files under ``out``."""
    return [p for p in paths if not os.path.isfile(os.path.join(out, p))]


def dir_size(root):
    """Bytes of every file under ``root``."""
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(root) for f in fs)


# --------------------------------------------------------------------------------------------------- generation

def begin(out, manifest, expected, owned, force, log, title):
    """The start of a generation into ``out``. -> the manifest found there (a dict with its "summary") when ``out``
    already holds this very dataset, and nothing is written; else None, with ``out`` ready to write into.

    manifest: the new dataset's manifest without its summary; one on disk matches when it has the same value for
    each of its keys. expected: the paths (relative to ``out``) of every file of the dataset; a matching manifest
    with some of them missing is our own dataset, damaged, and is redone. A marker without a manifest, unless it
    names another format, is an interrupted generation and is redone too. Any other non-empty ``out`` is refused
    with a FileExistsError that says what it holds (``title`` names this benchmark), unless ``force``. Ready: the
    manifest removed, the marker written, the folders ``owned`` (relative to ``out``) removed. log: a function of
    one message."""
    fmt = manifest["format"]
    man_path, marker = os.path.join(out, MANIFEST), os.path.join(out, MARKER)
    redo, old = False, None
    if os.path.isfile(man_path):
        old = read_json(man_path)
        if old is not None and {k: old.get(k) for k in manifest} == manifest:
            gone = missing(out, expected)
            if not gone:
                log(f"{out}: already holds this dataset ({MANIFEST} matches); nothing to do")
                return old
            log(f"{out}: {MANIFEST} matches but {len(gone)} files are missing (e.g. {gone[0]}); redoing")
            redo = True                             # our own dataset, damaged: redo it without asking for force
    pending = read_json(marker) if os.path.isfile(marker) else None
    interrupted = (pending is not None and not os.path.exists(man_path)
                   and pending.get("format", fmt) == fmt)          # not another benchmark's interrupted run
    if os.path.isdir(out) and os.listdir(out) and not (force or redo or interrupted):
        if old is not None and old.get("format") == fmt:
            what = f"holds the {title} with other options ({MANIFEST} differs)"
        elif old is not None and old.get("format"):
            what = f"holds another dataset ({MANIFEST} says format {old.get('format')!r}, not {fmt!r})"
        else:
            what = f"is not empty and holds no {title} (no readable {MANIFEST})"
        raise FileExistsError(f"out: {out} {what}; pass force=True (--force) to replace it, or choose another "
                              "folder")
    os.makedirs(out, exist_ok=True)
    if os.path.exists(man_path):
        os.remove(man_path)
    save_dataset_json(marker, manifest)
    for name in owned:
        shutil.rmtree(os.path.join(out, name), ignore_errors=True)
    return None


def finish(out, manifest):
    """The end of a generation: the manifest, with its summary, written (atomically), then the marker removed."""
    save_dataset_json(os.path.join(out, MANIFEST), manifest)
    os.remove(os.path.join(out, MARKER))


def run_generator(ap, generator, out, **options):
    """A generator command's end: ``generator(out, **options)``, its summary printed as JSON -> exit status 0; a
    folder holding something else -> a message, 1; a bad option -> usage (``ap.error``), 2."""
    try:
        summary = generator(out, **options)
    except FileExistsError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except ValueError as e:
        ap.error(str(e))
    print(json.dumps(summary, indent=1))
    return 0
