"""Where a trained model's attention goes, measured against ground-truth tubes (VideoLSTM sec. 5.4, Fig. 4).

For every test video the model reads the whole video as consecutive windows of its training length T (the last
one padded with the last frame, as the test windows are), which gives an attention map and class probabilities
for every frame. Then:

- ``attention_in_box``: the map's mass inside the ground-truth box, the box rasterised on the N x N grid (the
  fraction of each cell the box covers), against the box's share of the frame (what a uniform map puts there);
  and the pointing hit (the map's largest cell has its centre inside the box);
- eqs. 16-17 (attention_tubes.localize) make the video's tube, scored per class with the probabilities averaged
  over its frames; recall at tube IoU 0.1-0.6 and video-mAP at 0.1-0.5 against the ground truth (tubes.py);
- the same figures for two trivial tubes that read no attention: the whole frame on every frame, and a centred box
  of the mean ground-truth box size; and for the ground-truth box taken to the map's resolution (``oracle_maps``,
  uniform maps outside the action; the ``*_upper`` figures) and put through the same eqs. 16-17: what a map spread
  evenly over the actor's cells would score at this map size. It bounds recall at low IoU only: its boxes span
  whole cells, and a map peaked in one cell can give a tighter box.

aLSTM's attention is temporal (aLSTM sec. 3.3, Fig. 2): ``temporal_in_interval`` measures, window by window, the
weight (averaged over the decoder's steps) on the frames inside the action interval against the interval's share
of the window; over all windows, and over the *mixed* windows alone (part action, part not), the only ones where
attention can put more or less than the interval's share on it.
"""

import numpy as np

from .. import backend, plots
from ..checks import RunError
from ..data.registry import dataset_spec, ground_truth_for
from ..data.video import read_video
from ..data.windows import covering_windows
from ..localization.attention_tubes import SATURATION, THETA, WINDOW, localize
from ..localization.tubes import Tube, recall_at, video_map
from ..models import CONVNET, model_spec
from ..run.checkpoints import read_config
from ..run.progress import progress
from .evaluation import evaluate_videos
from .parts import load_run, saved_run_data

# The largest Gaussian smoothing (sigma, pixels) the localization takes. A map of N x N cells upsampled to the frame
# and smoothed with a sigma as large as the frame's side is already nearly flat (every cell spread over the whole
# frame), so a sigma beyond the frame's larger side means nothing more; localize_checkpoint holds it to that, and
# this bound, larger than the frames of every dataset localized here (UCF101-24: 320 x 240), is checked first, before
# anything is read (scipy's filter allocates a kernel of 8 sigma + 1 taps).
SIGMA_MAX = 1024.0
RECALL_AT = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6)
MAP_AT = (0.1, 0.2, 0.3, 0.4, 0.5)


def read_whole_video(model, reader, key, T, dtype, batch=32):
    """The model over every frame of ``key`` -> (attention (n, N, N) or None, probabilities (n, C)), one row per
    frame of the video (a window's step probabilities and maps, each frame from the window that holds it)."""
    n = reader.length(key)
    wins = covering_windows(n, T)
    att, probs = [], []
    for s in range(0, len(wins), batch):
        chunk = list(wins[s:s + batch])
        first, _, second = reader.batch([(key, 0)] * len(chunk), chunk, dtype)
        p, a = model.predict_steps(first, second)
        probs.append(backend.to_numpy(p))
        att.append(None if a is None or np.ndim(a) != 4 else backend.to_numpy(a))
    probs = np.concatenate(probs).reshape(-1, probs[0].shape[-1])[:n]
    if att[0] is None:
        return None, probs
    return np.concatenate(att).reshape((-1,) + att[0].shape[2:])[:n], probs


def box_coverage(boxes, frame_size, N):
    """The fraction of each of the N x N cells that each box covers: boxes (F, 4) in pixels of frames of
    ``frame_size`` (H, W) -> (F, N, N)."""
    H, W = frame_size
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    ex, ey = np.arange(N + 1) * W / N, np.arange(N + 1) * H / N      # cell edges in pixels

    def cover(lo, hi, edges):                                         # (F, N): overlap of [lo, hi) with each cell
        return np.clip(np.minimum(hi[:, None], edges[None, 1:]) - np.maximum(lo[:, None], edges[None, :-1]), 0,
                       None) / (edges[1] - edges[0])
    return cover(boxes[:, 1], boxes[:, 3], ey)[:, :, None] * cover(boxes[:, 0], boxes[:, 2], ex)[:, None, :]


def oracle_maps(boxes, frame_size, N):
    """The ground-truth boxes (F, 4) taken to the map's resolution: each box's cell coverage normalised to sum 1
    -> (F, N, N) maps that attend to the box alone (a box smaller than a cell still covers part of one)."""
    cov = box_coverage(boxes, frame_size, N)
    total = cov.sum(axis=(1, 2), keepdims=True)
    return np.where(total > 0, cov / np.where(total > 0, total, 1.0), 1.0 / (N * N))


def attention_in_box(att, boxes, frame_size):
    """att (F, N, N) maps of the frames the boxes (F, 4) are on -> (mass in the box (F,), the box's share of the
    frame (F,), pointing hits (F,) bool)."""
    att = np.asarray(att, dtype=np.float64)
    F, N = att.shape[0], att.shape[1]
    cov = box_coverage(boxes, frame_size, N)
    mass = (att * cov).sum(axis=(1, 2))
    share = cov.sum(axis=(1, 2)) / (N * N)
    peak = att.reshape(F, -1).argmax(axis=1)
    H, W = frame_size
    cy, cx = (peak // N + 0.5) * H / N, (peak % N + 0.5) * W / N
    b = np.asarray(boxes, dtype=np.float64)
    hit = (cx >= b[:, 0]) & (cx < b[:, 2]) & (cy >= b[:, 1]) & (cy < b[:, 3])
    return mass, share, hit


def clip_to_frame(tubes, frame_size):
    """Ground-truth tubes with their boxes clipped to the (H, W) frame -> (clipped tubes, notes): annotations
    (UCF101-24's among them) have boxes reaching past the frame's edge, which no predicted box can match. A box
    with no area left inside the frame is dropped with its frame; notes say how many boxes were clipped or dropped.
    """
    H, W = frame_size
    out, clipped, dropped = [], 0, 0
    for g in tubes:
        b = np.clip(g.boxes, 0, [W, H, W, H])
        keep = (b[:, 2] > b[:, 0]) & (b[:, 3] > b[:, 1])
        clipped += int(np.sum(np.any(b != g.boxes, axis=1) & keep))
        dropped += int(np.sum(~keep))
        if keep.any():
            out.append(Tube(g.frames[keep], b[keep], g.label))
    notes = []
    if clipped:
        notes.append(f"{clipped} ground-truth boxes clipped to the {W}x{H} frame")
    if dropped:
        notes.append(f"{dropped} ground-truth boxes outside the {W}x{H} frame dropped")
    return out, notes


def fit_to_video(tubes, n):
    """Ground-truth tubes against the ``n`` frames a video decodes to -> (tubes, notes, problem). A tube that runs
    past the video's last frame is cut there (decoders and annotation tools disagree by a frame or two at the
    end; notes say how many boxes went). A tube that starts after the last frame belongs to another version of
    the video: ``problem`` says so (the video is then skipped, not measured against a tube it does not have)."""
    out, cut = [], 0
    for g in tubes:
        if len(g.frames) and g.frames[0] >= n:
            return [], [], (f"a ground-truth tube on frames {g.frames[0]}-{g.frames[-1]} (0-based) starts after the "
                            f"video's last frame ({n} frames decoded): annotations of another version of the video?")
        keep = g.frames < n
        cut += int(np.sum(~keep))
        out.append(Tube(g.frames[keep], g.boxes[keep], g.label) if not keep.all() else g)
    notes = [f"{cut} ground-truth boxes on frames past the video's {n} frames dropped"] if cut else []
    return out, notes, None


def _nothing_measured(what, items, skipped, source):
    """The error of a measurement that found no video to measure: what was skipped and why."""
    reasons = "; ".join(f"{key}: {why}" for key, why in skipped[:5]) + (f"; ... and {len(skipped) - 5} more"
                                                                         if len(skipped) > 5 else "")
    return ValueError(f"{what}: none of the {len(items)} test videos could be measured against the ground truth"
                      + (f" of {source}" if source else "") + (f" ({reasons})" if reasons else ""))


def trivial_tubes(ground_truth, n_frames, frame_sizes):
    """The two attention-free tubes per video: ``whole`` (the frame) and ``centre`` (a centred box of the mean
    ground-truth box size, as a fraction of the frame), on every frame; frame_sizes {video: (H, W)}
    -> {"whole": {video: Tube}, "centre": {video: Tube}}."""
    rel = np.concatenate([(g.boxes[:, 2:] - g.boxes[:, :2]) / np.array(frame_sizes[v][::-1], dtype=np.float64)
                          for v, tubes in ground_truth.items() for g in tubes])
    rw, rh = rel.mean(axis=0)
    out = {"whole": {}, "centre": {}}
    for video in ground_truth:
        H, W = frame_sizes[video]
        frames = np.arange(n_frames[video])
        centre = [W * (1 - rw) / 2, H * (1 - rh) / 2, W * (1 + rw) / 2, H * (1 + rh) / 2]
        out["whole"][video] = Tube(frames, np.tile([0.0, 0.0, W, H], (len(frames), 1)))
        out["centre"][video] = Tube(frames, np.tile(centre, (len(frames), 1)))
    return out


def measure(model, reader, items, T, ground_truth, frame_size, theta=THETA, sigma=None, smooth=True,
            window=WINDOW, saturation=SATURATION, tracks=None, log=print, source=None):
    """Localize and measure every video of ``items`` [(key, label)] that has ground truth (``frame_size``: the
    (H, W) of the frames the boxes are in pixels of, or {key: (H, W)}) -> (figures dict, tubes {key: (Tube, class
    probabilities (C,))}, skipped [(key, reason)]); ``log=None`` shows no progress. Ground-truth boxes are clipped
    to the frame (``clip_to_frame``) and tubes cut at the video's last frame (``fit_to_video``; the videos where
    either happened are listed in figures["ground_truth_clipped"]); a video whose tube starts after its last frame,
    or has no box left inside the frame, is skipped with the reason. ``source``: where the ground truth came from,
    for the error when no video can be measured. Tube labels must be class indices of the model.
    ``tracks`` {key: [Tube]}: the actor's boxes on frames outside the ground-truth tubes too (the built-in
    benchmark's), for the ``*_outside`` figures: the attention in the actor's box before and after its action.
    With ``smooth``, the recall and video-mAP of the same tubes unsmoothed are figures too (``*_unsmoothed``)."""
    tubes, scores, skipped, n_frames, sizes, upper, raw = {}, {}, [], {}, {}, {}, {}
    mass_in, share_in, hits_in = [], [], []
    outside, clipped = ([], [], []), []
    gts = {}
    for key, _ in (progress(items, desc="localize", unit="videos") if log is not None else items):
        if key not in ground_truth:
            skipped.append((key, "no ground-truth tube"))
            continue
        if isinstance(frame_size, dict) and key not in frame_size:
            skipped.append((key, "no frame size in the annotations"))
            continue
        size = frame_size[key] if isinstance(frame_size, dict) else frame_size
        truth, cut, problem = fit_to_video(ground_truth[key], reader.length(key))
        if problem:
            skipped.append((key, problem))
            continue
        truth, notes = clip_to_frame(truth, size)
        if not truth:
            skipped.append((key, "; ".join(cut + notes) or "empty ground-truth tubes"))
            continue
        if cut + notes:
            clipped.append(f"{key}: " + "; ".join(cut + notes))
        att, probs = read_whole_video(model, reader, key, T, model.dtype)
        if att is None:
            raise ValueError(f"{type(model).__name__} has no spatial attention maps to localize from")
        bad = [g.label for g in truth if not (isinstance(g.label, (int, np.integer)) and 0 <= g.label < probs.shape[1])]
        if bad:
            raise ValueError(f"ground truth of video {key}: class label {bad[0]!r} is not one of the model's "
                             f"{probs.shape[1]} classes (0..{probs.shape[1] - 1})")
        n = len(att)
        n_frames[key], gts[key], sizes[key] = n, truth, size
        tube = localize(att, np.arange(n), size, theta, sigma, smooth, window, saturation)
        tubes[key], scores[key] = tube, probs.mean(axis=0)
        if smooth:              # the same tube without temporal smoothing (VideoLSTM Fig. 4a compares both)
            raw[key] = localize(att, np.arange(n), size, theta, sigma, False, window, saturation)
        oracle = np.full_like(att, 1.0 / att[0].size)
        for g in truth:
            keep = g.frames < n
            oracle[g.frames[keep]] = oracle_maps(g.boxes[keep], size, att.shape[1])
            m, s, h = attention_in_box(att[g.frames[keep]], g.boxes[keep], size)
            mass_in.append(m), share_in.append(s), hits_in.append(h)
        if tracks is not None and key in tracks:
            inside = np.zeros(n, dtype=bool)
            for g in truth:
                inside[g.frames[g.frames < n]] = True
            for track in tracks[key]:
                keep = (track.frames < n) & ~inside[np.minimum(track.frames, n - 1)]
                for acc, v in zip(outside, attention_in_box(att[track.frames[keep]], track.boxes[keep], size)):
                    acc.append(v)
        upper[key] = localize(oracle, np.arange(n), size, theta, sigma, smooth, window, saturation)
    if not tubes:
        raise _nothing_measured("measure", items, skipped, source)
    cat = lambda xs: np.concatenate(xs) if xs else np.zeros(0)  # noqa: E731
    figures = {"videos": len(tubes), "skipped": len(skipped), "ground_truth_clipped": clipped,
               "attention_in_box": float(cat(mass_in).mean()), "box_share": float(cat(share_in).mean()),
               "pointing": float(cat(hits_in).mean()),
               "recall": _keyed(recall_at(tubes, gts, RECALL_AT)),
               "video_map": _keyed(video_map(tubes, scores, gts, MAP_AT))}
    figures["attention_in_box_over_share"] = figures["attention_in_box"] / figures["box_share"]
    if raw:
        figures["recall_unsmoothed"] = _keyed(recall_at(raw, gts, RECALL_AT))
        figures["video_map_unsmoothed"] = _keyed(video_map(raw, scores, gts, MAP_AT))
    if outside[0] and len(cat(outside[0])):
        m, s, h = (cat(v) for v in outside)
        figures.update(attention_in_box_outside=float(m.mean()), box_share_outside=float(s.mean()),
                       pointing_outside=float(h.mean()), attention_in_box_outside_over_share=float(m.mean() / s.mean()))
    figures["recall_upper"] = _keyed(recall_at(upper, gts, RECALL_AT))
    figures["video_map_upper"] = _keyed(video_map(upper, scores, gts, MAP_AT))
    for name, trivial in trivial_tubes(gts, n_frames, sizes).items():
        figures[f"recall_{name}"] = _keyed(recall_at(trivial, gts, RECALL_AT))
        figures[f"video_map_{name}"] = _keyed(video_map(trivial, scores, gts, MAP_AT))
    return figures, {k: (tubes[k], scores[k]) for k in tubes}, skipped


def _keyed(d):
    return {f"{t:.1f}": v for t, v in d.items()}


def temporal_in_interval(model, reader, items, T, ground_truth, log=print, source=None):
    """aLSTM models: per window of every video with ground truth, the temporal attention's mass on the frames of
    the ground-truth tube (the action interval) and the interval's share of the window -> figures dict. Tubes are
    cut at the video's last frame; a video whose tube starts after it is skipped (``fit_to_video``; listed in
    figures["ground_truth_skipped"], and logged)."""
    mass, share, windows, skipped = [], [], 0, []
    for key, _ in items:
        if key not in ground_truth:
            continue
        truth, _, problem = fit_to_video(ground_truth[key], reader.length(key))
        if problem:
            skipped.append((key, problem))
            if log is not None:
                log(f"skipped {key}: {problem}")
            continue
        inside = np.zeros(reader.length(key), dtype=bool)
        for g in truth:
            inside[g.frames] = True
        wins = covering_windows(len(inside), T)
        first, _, second = reader.batch([(key, 0)] * len(wins), list(wins), model.dtype)
        _, w = model.predict_steps(first, second)
        w = backend.to_numpy(w).mean(axis=1)                              # (windows, T): over the decoder's steps
        mass.append((w * inside[wins]).sum(axis=1))
        share.append(inside[wins].mean(axis=1))
        windows += len(wins)
    if not windows:
        raise _nothing_measured("temporal_in_interval", items, skipped, source)
    mass, share = np.concatenate(mass), np.concatenate(share)
    figures = {"windows": windows, "temporal_mass_in_interval": float(mass.mean()),
               "interval_share": float(share.mean()), "temporal_mass_over_share": float(mass.mean() / share.mean()),
               # all of every window's weight on its action frames (where it has any): the most any model can get
               "temporal_mass_over_share_upper": float((share > 0).mean() / share.mean())}
    if skipped:
        figures["ground_truth_skipped"] = [f"{key}: {why}" for key, why in skipped]
    mixed = (share > 0) & (share < 1)     # a window all inside or all outside the action puts 1 or 0 there anyway
    if mixed.any():
        figures.update(mixed_windows=int(mixed.sum()), temporal_mass_in_interval_mixed=float(mass[mixed].mean()),
                       interval_share_mixed=float(share[mixed].mean()),
                       temporal_mass_over_share_mixed=float(mass[mixed].mean() / share[mixed].mean()),
                       temporal_mass_over_share_mixed_upper=float(1 / share[mixed].mean()))
    return figures


def has_attention(name):
    """Whether the run's model has attention to measure: not the ConvNet, not the plain LSTM (pooled, one input)."""
    if name == CONVNET:
        return False
    spec = model_spec(name)
    return not (spec.pooled and spec.second is None)


def run_localization(config, model, videos, reader, log=print):
    """The localization figures of a finished training run over ``videos`` [(key, label)] on a dataset with built-in
    ground truth (the synthetic benchmark), for result.json -> figures dict, or None for a run without ground truth
    or without attention."""
    if dataset_spec(config["dataset"]).ground_truth is None or not has_attention(config["model"]):
        return None
    spec = model_spec(config["model"])
    ground_truth, sizes, tracks = ground_truth_for(config)
    if spec.pooled:
        return temporal_in_interval(model, reader, videos, config["frames"], ground_truth, log)
    figures, _, _ = measure(model, reader, videos, config["frames"], ground_truth, sizes, tracks=tracks, log=None)
    return figures


def draw_overlays(model, reader, data, config, tubes, ground_truth, out, n_videos=3, log=print):
    """Overlays of up to ``n_videos`` test videos of different classes: frames with the attention on the
    saliency scale (full colour at 8x uniform, the uniform level marked), the ground-truth box (lime) and the
    predicted tube's box (cyan), true and predicted class, real frame numbers -> the paths written."""
    N = data.feature_shape[1]
    seen, paths = set(), []
    for key, label in data.test:
        if key not in tubes or label in seen or key not in data.video_paths or len(paths) >= n_videos:
            continue
        seen.add(label)
        att, _ = read_whole_video(model, reader, key, config["frames"], model.dtype)
        frames = read_video(data.video_paths[key])
        n = min(len(frames), len(att))
        tube, probs = tubes[key]
        nan = np.full((n, 4), np.nan)
        gt_boxes, pred_boxes = nan.copy(), nan.copy()
        for g in ground_truth.get(key, []):
            keep = g.frames < n
            gt_boxes[g.frames[keep]] = g.boxes[keep]
        keep = tube.frames < n
        pred_boxes[tube.frames[keep]] = tube.boxes[keep]
        title = (f"{key}: true {data.classes[label]}, predicted {data.classes[int(np.argmax(probs))]}")
        note = None if _attended_modality(config) == "rgb" else "maps of a flow-stream model, drawn on the RGB frames"
        path = out / f"localization_{key.replace('/', '_')}.png"
        plots.spatial_attention_overlay(frames[:n], att[:n], path, title=title, boxes=gt_boxes,
                                        predicted=pred_boxes, scale=SATURATION / N ** 2, note=note)
        paths.append(path)
    return paths


def draw_window_attention(data, attention, ground_truth, out, prefix="attention"):
    """One picture per kept window [(key, frame indices, attention)] (evaluation.evaluate_videos): spatial maps
    (T, N, N) on the saliency colour scale with the actor's box, or aLSTM's temporal weights (steps, T), averaged
    over the steps, as its Fig. 2 (highest and lowest frames, the action interval shaded) -> the paths written.
    ``ground_truth`` {key: [Tube]} (may be empty)."""
    paths = []
    for key, idx, att in attention:
        path = data.video_paths.get(key)
        if path is None:
            continue
        frames = read_video(path)
        frames = frames[np.minimum(idx, len(frames) - 1)]      # the window, padded like the features
        boxes, inside = np.full((len(idx), 4), np.nan), np.zeros(len(idx), dtype=bool)
        for tube in ground_truth.get(key, []):                 # the actor's box on the frames of its action
            at = {int(f): i for i, f in enumerate(tube.frames)}
            for j, f in enumerate(idx):
                if int(f) in at:
                    boxes[j], inside[j] = tube.boxes[at[int(f)]], True
        target = out / f"{prefix}_{key.replace('/', '_')}.png"
        if att.ndim == 3:
            plots.spatial_attention_overlay(frames, att, target, title=key, boxes=boxes if inside.any() else None,
                                            scale=SATURATION / att[0].size, frame_numbers=idx)
        else:
            at = np.flatnonzero(inside)                         # the window's part of the action interval
            plots.temporal_attention_figure(frames, att.mean(axis=0), target, title=key, frame_numbers=idx,
                                            interval=(at[0], at[-1] + 1) if len(at) else None)
        paths.append(target)
    return paths


def _check_sigma(sigma, sizes):
    """Refuse (RunError) a smoothing ``sigma`` (pixels) beyond SIGMA_MAX or wider than the larger side of the
    frames ``sizes`` ((H, W), or {video: (H, W)}): the maps would come out flat."""
    if sigma is None:
        return
    sides = [max(s) for s in (sizes.values() if isinstance(sizes, dict) else [sizes])]
    largest = max(sides) if sides else SIGMA_MAX
    if not (np.isfinite(sigma) and 0 <= sigma <= min(SIGMA_MAX, largest)):
        raise RunError(f"--sigma {sigma:g}: expected 0 to {min(SIGMA_MAX, largest):g} pixels (the larger side of "
                       f"this run's frames is {largest:g} pixels; a wider Gaussian flattens every map)")


def _attended_modality(config):
    """The modality of the maps a run's attention weighs (VideoLSTM: RGB, its attention comes from flow)."""
    return model_spec(config["model"]).modalities(config["modality"])[0]


def localize_checkpoint(path, annotations=None, theta=THETA, sigma=None, smooth=True, window=WINDOW, log=print,
                        out=None, root=None):
    """Load a training checkpoint, read every test video, localize and measure -> (figures, tubes json list,
    skipped); with ``out``, overlays of three test videos are drawn there. The data are rebuilt from the
    configuration the checkpoint stores (cached stages are reused), from ``root`` when the run's dataset was moved
    there (``parts.saved_run_data``)."""
    config = read_config(path)
    if not has_attention(config["model"]):
        raise RunError(f"--checkpoint {path}: {config['model']} has no attention to measure; localize reads the "
                       f"VideoLSTM models' maps and aLSTM's temporal attention")
    ground_truth, sizes, tracks = ground_truth_for(saved_run_data(config, path, root), annotations)
    _check_sigma(sigma, sizes)
    data, model, reader = load_run(config, path, log, root)
    spec = model_spec(config["model"])
    if spec.pooled:                                                      # aLSTM: temporal attention only
        figures = temporal_in_interval(model, reader, data.test, config["frames"], ground_truth, log,
                                       source=annotations)
        figures.update(model=config["model"], modality=config["modality"])
        if out is not None:
            try:
                _, _, kept = evaluate_videos(model, reader, data.test, config["frames"], 25, model.dtype,
                                             keep_attention=3)
                draw_window_attention(data, kept, ground_truth, out, prefix="highlight")
            except Exception as err:  # pictures are a convenience: report, keep the figures
                log(f"highlighting figures skipped: {type(err).__name__}: {err}")
        return figures, [], []
    figures, tubes, skipped = measure(model, reader, data.test, config["frames"], ground_truth, sizes, theta, sigma,
                                      smooth, window, tracks=tracks, log=log, source=annotations)
    figures.update(model=config["model"], modality=config["modality"], theta=theta, sigma=sigma, smooth=smooth,
                   window=window)
    if out is not None:
        try:
            draw_overlays(model, reader, data, config, tubes, ground_truth, out, log=log)
        except Exception as err:  # pictures are a convenience: report, keep the figures
            log(f"overlays skipped: {type(err).__name__}: {err}")
    listing = [{"video": k, "frames": t.frames.tolist(), "boxes": np.round(t.boxes, 2).tolist(),
                "scores": {c: float(s) for c, s in zip(data.classes, probs)}} for k, (t, probs) in tubes.items()]
    return figures, listing, skipped
