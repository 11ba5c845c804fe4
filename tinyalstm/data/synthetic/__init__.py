"""The synthetic world: action benchmarks written as real videos, the project's default datasets (no download).

    python -m tinyalstm.data.synthetic --out data/synthetic                        # single-label, UCF101's layout
    python -m tinyalstm.data.synthetic.multilabel --out data/synthetic-multilabel  # multi-label, Hollywood2's
    python -m tinyalstm.data.synthetic --help

Each video shows one *actor* object performing one class's motion, among *distractor* objects drawn from the same
appearance pool that do not perform it, over a cluttered static background. The class is defined only by how the
actor moves, so a single frame does not reveal it; a model has to see motion (optical flow, temporal models) and
benefits from attending to the actor (where) and to the action interval (when).

Classes (``CLASSES``, in this order; ``classes=n`` takes the first n, default 8)::

    MoveLeft, MoveRight, MoveUp, MoveDown   straight translation by 28-42 % of the frame
    CircleClockwise, CircleCounterclockwise one revolution (as seen on screen) of radius 11-16 % of the frame
    Approach, Recede                        grows / shrinks in place by a factor 2.0-2.6
    ZigZagLeft, ZigZagRight                 translation with a triangle wave across it (2 periods)
    Jump                                    two parabolic hops up from the resting position
    Shake                                   3-4 fast horizontal oscillations about the resting position

(Short action intervals get fewer periods, keeping 5 or more frames a period where the interval allows.)

Single frames are class-independent by construction (see ``tests/data/test_synthetic.py`` for the checks):

- appearance: the actor is drawn uniformly from its group's appearance pool (shape, colours, texture, size), and so
  are the distractors and half of the background clutter; pools and backgrounds depend on the group, not the class;
- position: the path is placed uniformly where it fits in the frame; mirror-image classes (left/right, up/down,
  clockwise/counterclockwise, approach/recede, zig-zag left/right) have identical per-frame position distributions
  because the action interval's distribution is symmetric in time; across families the distributions differ only
  by where a path of a given extent fits: an oracle that is told which object is the actor and reads its box at
  one random frame (a histogram classifier, 4000 videos a class) scores 16 % on the 8 default classes, chance
  12.5 % (11 % on all 12, chance 8.3 %); a frame model must first tell the actor from the distractors;
- size: the actor's size at a random frame has the same distribution for every class: objects that do not change
  size get a constant scale drawn from the distribution of an Approach actor's scale at a random frame;
- background: group-level; ``context=p`` switches, with probability p per (class, group), to the scene type tied
  to the class (as water goes with diving in UCF101); p = 0 (default) keeps scene and class independent.

Timing: the action fills a random sub-interval [start, end) of 40-70 % of the clip, the start uniform among the
positions that fit. At frame ``start`` the actor is at its start pose, at ``end - 1`` at its end pose; inside the
interval it follows its class motion (which may pause for a frame, e.g. at the top of a Jump or a Shake's turn)
and outside it is perfectly still. Distractors are static, drift
slowly in a straight line, or wander on a small figure-of-eight, for the whole clip: never a class motion, and
slow: under 0.3 pixel per frame at 112 pixels (scaled with the frame), against a mean of 1-4.5 pixels per frame
for the actor of the translating classes and 0.2-0.4 for the edges of an Approach / Recede actor.

Groups (``gXX``) and clips (``cYY``) follow UCF101: the clips of a group share the appearance pool and the
background (each clip adds a small camera offset and brightness change), and the splits hold groups out. A group's
look is shared across classes (group g of MoveLeft and of MoveUp look alike), so even the training set does not tie a
look to a class. Split k (k = 1, 2, 3) tests on the k-th of three contiguous blocks of groups (``np.array_split``),
as UCF101 tests on groups 1-7, 8-14, 15-21; every other group is for training.

Two benchmarks are drawn from this world, each described in its module's docstring (files, ground-truth format):

- ``single``: one actor and one class per video, in UCF101's layout (``generate``); the project's default dataset;
- ``multilabel``: one or two actors per clip, each performing a different class's motion, so one or two labels
  per clip, in Hollywood2's layout (``generate_multilabel``).

Modules, each building on the ones above it:

- ``render``      the objects: looks (shape, colours, pattern, size), anti-aliased drawing from signed distances
- ``motion``      the class motions (``CLASSES``), distractor motions, action intervals, placement in the frame
- ``scene``       the groups' appearance pools and backgrounds (memoised), a video composited from its parts
- ``options``     the checks of the options both benchmarks share
- ``files``       videos (XVID in AVI), JSON files, the splits' held-out groups, a generation's start and end
- ``single``      the single-label benchmark and its command (``__main__``: ``python -m tinyalstm.data.synthetic``)
- ``multilabel``  the multi-label benchmark and its command

API (this package's names; helpers stay in their modules): ``render_video``, ``ground_truth``, ``generate``
(single-label; ``FORMAT`` and ``VERSION`` are its files'); ``render_clip``, ``clip_ground_truth``, ``label_set``,
``generate_multilabel`` (multi-label); ``CLASSES``, ``resolve_classes``, ``resolve_size``, ``sample_interval``,
``progress``, ``class_motion``, ``split_test_groups``, ``write_avi``, ``clear_caches`` and the constants both
share. Rendering is plain NumPy; the same options and seed give bit-identical frames.
"""
from .files import FPS, split_test_groups, write_avi
from .motion import CLASSES, INTERVAL, SCALE_FACTOR, class_motion, progress, sample_interval
from .options import resolve_classes, resolve_size
from .render import PATTERNS, SHAPES
from .scene import BG_MARGIN, LAYERS, POOL_SIZE, clear_caches
from .single import FORMAT, VERSION, generate, ground_truth, render_video

# The multi-label names are loaded on first use, so that ``python -m tinyalstm.data.synthetic.multilabel`` runs
# that module once, as the command, instead of finding it already imported by this package (which Python warns
# about on stderr).
_MULTILABEL = ("generate_multilabel", "render_clip", "clip_ground_truth", "label_set")

__all__ = ["BG_MARGIN", "CLASSES", "FORMAT", "FPS", "INTERVAL", "LAYERS", "PATTERNS", "POOL_SIZE", "SCALE_FACTOR",
           "SHAPES", "VERSION", "class_motion", "clear_caches", "generate", "ground_truth", "progress",
           "render_video", "resolve_classes", "resolve_size", "sample_interval", "split_test_groups", "write_avi",
           *_MULTILABEL]


def __getattr__(name):
    """The multi-label names (_MULTILABEL), from the ``multilabel`` module, imported on first use."""
    if name in _MULTILABEL:
        from . import multilabel
        return getattr(multilabel, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
