"""Action tubes and how they are scored against ground truth (VideoLSTM sec. 5.4, Fig. 4).

A tube is a box on some frames of a video: ``frames`` (F,) 0-based frame indices, strictly increasing, and
``boxes`` (F, 4) as ``x1, y1, x2, y2`` in pixels on continuous coordinates (a box covers [x1, x2) x [y1, y2); its
area is (x2 - x1) (y2 - y1), no "+1"). A tube's frames are the frames at which it has a box.

- ``box_iou``: intersection over union of boxes; the intersection's width and height are each clamped at zero, so
  two disjoint boxes overlap by exactly 0 (clamping only their product would give two negative sides a positive
  area).
- ``tube_iou``: spatio-temporal overlap, (shared frames / frames in either tube) x (mean box IoU over the shared
  frames), the definition of the UCF101-24 evaluation code; 0 when either tube is empty or they share no frame.
- ``recall_at``: the fraction of ground-truth tubes that the video's one predicted tube overlaps by at least a
  threshold (Fig. 4a: recall against IoU 0.1-0.6).
- ``video_ap`` / ``video_map``: video-mAP (Fig. 4b, IoU 0.1-0.5). Detections of a class (one tube per video with
  that class's score) are ranked by score; a detection is a true positive when an unmatched ground-truth tube of
  that class in its video overlaps it by at least the threshold (each ground-truth tube matches once). AP is the
  area under the interpolated precision-recall curve (precision made monotone from the right, summed over the
  recall steps: PASCAL VOC's all-point AP); a class without ground truth is left out of the mean.
"""
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Tube:
    """Boxes (F, 4) ``x1, y1, x2, y2`` at frames (F,) of one video, optionally with a class ``label``."""
    frames: np.ndarray
    boxes: np.ndarray
    label: object = None

    def __post_init__(self):
        frames = np.asarray(self.frames, dtype=np.int64).reshape(-1)
        boxes = np.asarray(self.boxes, dtype=np.float64).reshape(-1, 4)
        if len(boxes) != len(frames):
            raise ValueError(f"Tube: {len(frames)} frames but {len(boxes)} boxes")
        if len(frames) and (np.any(np.diff(frames) <= 0) or frames[0] < 0):
            raise ValueError(f"Tube: frames must be increasing indices >= 0, got {frames.tolist()[:8]}...")
        if not np.isfinite(boxes).all() or np.any(boxes[:, 2] < boxes[:, 0]) or np.any(boxes[:, 3] < boxes[:, 1]):
            raise ValueError("Tube: boxes must be finite with x2 >= x1 and y2 >= y1")
        object.__setattr__(self, "frames", frames)
        object.__setattr__(self, "boxes", boxes)

    def __len__(self):
        return len(self.frames)


def box_iou(a, b):
    """IoU of boxes a (..., 4) and b (..., 4) (``x1, y1, x2, y2``), broadcast -> (...,); 0 where the union is 0."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    w = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    h = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = w * h
    area = lambda x: (x[..., 2] - x[..., 0]) * (x[..., 3] - x[..., 1])  # noqa: E731
    union = area(a) + area(b) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def tube_iou(a, b):
    """Spatio-temporal IoU of tubes a and b: |shared frames| / |frames of either| x mean box IoU over the shared
    frames (0 if either is empty or nothing is shared)."""
    shared, ia, ib = np.intersect1d(a.frames, b.frames, assume_unique=True, return_indices=True)
    if len(shared) == 0:
        return 0.0
    either = len(a.frames) + len(b.frames) - len(shared)
    return float(len(shared) / either * box_iou(a.boxes[ia], b.boxes[ib]).mean())


def recall_at(predicted, ground_truth, thresholds=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6)):
    """predicted {video: Tube}, ground_truth {video: [Tube]} -> {threshold: fraction of ground-truth tubes with
    tube IoU >= threshold with their video's predicted tube} (a video without a prediction recalls nothing)."""
    ious = [tube_iou(predicted[v], g) if v in predicted else 0.0 for v, tubes in ground_truth.items() for g in tubes]
    if not ious:
        raise ValueError("recall_at: the ground truth holds no tube")
    ious = np.array(ious)
    return {t: float((ious >= t).mean()) for t in thresholds}


def average_precision_from_ranking(hits, n_positives):
    """All-point interpolated AP of a ranking: hits (R,) bool, best first, over ``n_positives`` ground truths."""
    hits = np.asarray(hits, dtype=bool)
    if n_positives <= 0:
        raise ValueError("average_precision_from_ranking: n_positives must be >= 1")
    if hits.size == 0:
        return 0.0
    tp = np.cumsum(hits)
    precision = tp / np.arange(1, len(hits) + 1)
    recall = tp / n_positives
    precision = np.maximum.accumulate(precision[::-1])[::-1]         # the envelope: best precision to the right
    steps = np.diff(np.concatenate([[0.0], recall]))
    return float((steps * precision).sum())


def video_ap(detections, ground_truth, label, threshold):
    """AP of class ``label`` at tube IoU ``threshold``. detections [(video, Tube, score)] of that class;
    ground_truth {video: [Tube]} (tubes of every class; those with ``label`` count)."""
    gts = {v: [g for g in tubes if g.label == label] for v, tubes in ground_truth.items()}
    n_pos = sum(len(t) for t in gts.values())
    if n_pos == 0:
        raise ValueError(f"video_ap: no ground-truth tube of class {label!r}")
    used = {v: np.zeros(len(t), dtype=bool) for v, t in gts.items()}
    hits = []
    for video, tube, _ in sorted(detections, key=lambda d: -d[2]):      # stable: ties keep the given order
        candidates = gts.get(video, [])
        ious = np.array([tube_iou(tube, g) for g in candidates]) if candidates else np.zeros(0)
        if len(ious):
            ious[used[video]] = -1.0
            best = int(ious.argmax())
            if ious[best] >= threshold:
                used[video][best] = True
                hits.append(True)
                continue
        hits.append(False)
    return average_precision_from_ranking(hits, n_pos)


def video_map(predicted, scores, ground_truth, thresholds=(0.1, 0.2, 0.3, 0.4, 0.5)):
    """video-mAP with one predicted tube per video scored for every class.

    predicted {video: Tube}; scores {video: (C,) class scores of that tube}; ground_truth {video: [Tube with a
    label in 0..C-1]} -> {threshold: mean AP over the classes that have ground truth}."""
    labels = sorted({g.label for tubes in ground_truth.values() for g in tubes})
    if not labels:
        raise ValueError("video_map: the ground truth holds no tube")
    out = {}
    for t in thresholds:
        aps = [video_ap([(v, tube, float(scores[v][c])) for v, tube in predicted.items()], ground_truth, c, t)
               for c in labels]
        out[t] = float(np.mean(aps))
    return out
