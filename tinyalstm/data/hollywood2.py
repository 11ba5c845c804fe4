"""Hollywood2 (HOHA2) actions in their distributed layout: multi-label clips (aLSTM sec. 4, the HOHA2 experiments).

Layout (Hollywood2-actions.tar.gz extracted)::

    root/Hollywood2/AVIClips/actioncliptrain00001.avi ...  actioncliptest00001.avi ...
    root/Hollywood2/ClipSets/<Action>_train.txt, <Action>_test.txt     lines "<clip>  1" or "<clip>  -1"

``root`` may be the folder holding ``Hollywood2/`` or ``Hollywood2/`` itself. The 12 actions (``ACTIONS``, in the
dataset's order) are the classes; each action's list names every clip of the subset, 1 where the action happens
in it, -1 where it does not, so a clip may carry several actions. ClipSets also holds scene sets and combined
lists (``actions_train.txt`` ...): they are not action classes and are not read.

``load_hollywood2(root, subset)`` -> ``Split`` whose samples' ``label`` is the tuple of the clip's action indices
(sorted; ``metrics.label_array`` turns a list of them into the (V, 12) 0/1 matrix the multi-label loss and mAP
read). ``actions`` replaces the 12 actions by another class list in the same layout (the built-in multi-label
benchmark, ``synthetic/multilabel.py``).
A line that cannot be parsed (two fields: a clip name, ``actioncliptrain`` or ``actioncliptest`` and five ASCII
digits, and a flag), names a clip of the other subset, is listed twice, or says something other than 1 / -1 is a
``SplitLineError`` (file and line); a clip that some action's list leaves out, or whose video is
missing, is skipped into the report, named. A missing ClipSets list of one of the 12 actions is a
``DatasetError``.
"""
import re
from pathlib import Path

from .datasets import DatasetError, Sample, SkipReport, Split, SplitLineError, _lines, _skip_or_raise

ACTIONS = ("AnswerPhone", "DriveCar", "Eat", "FightPerson", "GetOutCar", "HandShake", "HugPerson", "Kiss", "Run",
           "SitDown", "SitUp", "StandUp")
_CLIP = {"train": re.compile(r"actioncliptrain[0-9]{5}"), "test": re.compile(r"actioncliptest[0-9]{5}")}


def find_root(root):
    """The ``Hollywood2/`` folder: ``root`` itself or ``root/Hollywood2`` (the one holding ClipSets/)."""
    root = Path(root)
    for candidate in (root, root / "Hollywood2"):
        if (candidate / "ClipSets").is_dir():
            return candidate
    raise DatasetError(f"Hollywood2: no ClipSets/ folder in {root} or {root / 'Hollywood2'} (expected "
                       f"Hollywood2/ClipSets/<Action>_train.txt and Hollywood2/AVIClips/)")


def load_hollywood2(root, subset="train", on_error="skip", report=None, actions=ACTIONS):
    """The Hollywood2 actions ``subset`` ("train" or "test") -> Split with multi-label samples (module
    docstring); ``actions``: the class names whose ClipSets lists are read (default the 12 actions)."""
    if subset not in _CLIP:
        raise ValueError(f"subset: expected 'train' or 'test', got {subset!r}")
    base = find_root(root)
    clips_dir = base / "AVIClips"
    report = SkipReport() if report is None else report
    labels, where, lists = {}, {}, {}       # clip -> its actions, where first seen, the actions whose list has it
    actions = tuple(actions)
    for a, action in enumerate(actions):
        path = base / "ClipSets" / f"{action}_{subset}.txt"
        if not path.is_file():
            raise DatasetError(f"Hollywood2: {path} not found; ClipSets/ must hold the list of each of the "
                               f"{len(actions)} actions ({', '.join(actions)})")
        seen = {}
        for lineno, line in _lines(path):
            try:
                clip, present = _parse(line, subset, path, lineno)
                if clip in seen:
                    raise SplitLineError(path, lineno, f"{clip} is listed twice (first at line {seen[clip]})")
            except SplitLineError as e:
                _skip_or_raise(report, on_error, line.split()[0], e)
                continue
            seen[clip] = lineno
            labels.setdefault(clip, set())
            where.setdefault(clip, (path.name, lineno))
            lists.setdefault(clip, set()).add(a)
            if present:
                labels[clip].add(a)
    samples = []
    for clip in sorted(labels):
        if len(lists[clip]) < len(actions):
            missing = [actions[a] for a in range(len(actions)) if a not in lists[clip]]
            report.add(clip, f"not in the lists of {', '.join(missing)} (first listed in {where[clip][0]}, line "
                             f"{where[clip][1]}): its labels are unknown")
            continue
        video = clips_dir / f"{clip}.avi"
        if not video.is_file():
            report.add(clip, f"video not found: {video}")
            continue
        samples.append(Sample(str(video), tuple(sorted(labels[clip])), clip))
    return Split(samples, list(actions), report)


def _parse(line, subset, path, lineno):
    fields = line.split()
    if len(fields) != 2:
        raise SplitLineError(path, lineno, f"expected '<clip> 1' or '<clip> -1', got {line!r}")
    clip, flag = fields
    if not _CLIP[subset].fullmatch(clip):
        other = "test" if subset == "train" else "train"
        why = (f"a {other} clip in a {subset} list" if _CLIP[other].fullmatch(clip)
               else f"expected a clip name like actionclip{subset}00001")
        raise SplitLineError(path, lineno, f"{clip!r}: {why}")
    if flag not in ("1", "-1"):
        raise SplitLineError(path, lineno, f"expected 1 (the action happens) or -1 (it does not), got {flag!r}")
    return clip, flag == "1"

