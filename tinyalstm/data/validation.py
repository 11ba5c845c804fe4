"""A validation split carved from the training videos, by group, so that choices are never made on the test set.

UCF101 (and the built-in benchmark, which follows its naming) films each class in groups of clips
(``v_<Class>_g<NN>_c<MM>``): clips of one group share actor and scene, so a group split between training and
validation would let validation reward memorised scenes. Whole groups are held out; a dataset without groups
(HMDB51's names carry none) holds out single videos, and the segments of one video (ActivityNet's
``v_<id>/segment<k>``) stay together. The groups are drawn with a fixed generator, independent of
the run's ``--seed``, so every run of a comparison is scored on the same validation videos.
"""
import re

import numpy as np

_GROUP = re.compile(r"_g(\d+)_c\d+$")
_SEGMENT = re.compile(r"^(.+)/segment\d+$")


def group_of(key):
    """The group a video belongs to: 'g05' for '.../v_Class_g05_c02'; the video 'v_<id>' for a segment
    'v_<id>/segment2'; the key itself where the name has neither."""
    m = _GROUP.search(key)
    if m:
        return f"g{m.group(1)}"
    m = _SEGMENT.match(key)
    return m.group(1) if m else key


def carve_validation(samples, fraction, key=lambda s: s, seed=0, group=group_of):
    """Hold out round(fraction x groups) of the groups of ``samples`` (at least one, never all) -> (train,
    validation), both in the input order. fraction 0 -> (samples, []). ``group(key)`` names a video's group
    (default ``group_of``; the multi-label benchmark's clip names carry none, its annotations do)."""
    if not 0 <= fraction < 1:
        raise ValueError(f"validation fraction: expected a number in [0, 1), got {fraction}")
    if fraction == 0:
        return list(samples), []
    groups = sorted({group(key(s)) for s in samples})
    if len(groups) < 2:
        raise ValueError(f"validation: the training videos form {len(groups)} group; at least 2 are needed to hold "
                         f"one out")
    n = min(max(1, round(fraction * len(groups))), len(groups) - 1)
    held = set(np.random.default_rng(seed).permutation(groups)[:n].tolist())
    return ([s for s in samples if group(key(s)) not in held], [s for s in samples if group(key(s)) in held])
