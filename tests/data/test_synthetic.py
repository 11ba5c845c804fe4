"""The synthetic action benchmark (tinyalstm.data.synthetic): determinism, ground-truth boxes against the pixels, each
class's motion read back from the boxes by independent checks, single-frame class independence, the UCF101 layout
on disk (split files, decodable XVID files), the JSON ground truth, caching / refusal / redo, and the CLI."""
import json
import os
import subprocess
import sys

import imageio_ffmpeg
import numpy as np
import pytest

from tinyalstm.data import synthetic as syn

SMALL = dict(frames=16, size=48, distractors=2, clutter=3)


def centres(boxes):
    b = np.asarray(boxes, float)
    return (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2, b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]


def reversals(x, eps=1e-3):
    """Number of sign changes of the frame-to-frame differences of x (ignoring steps under eps)."""
    d = np.diff(x)
    s = np.sign(d[np.abs(d) > eps])
    return int((s[1:] != s[:-1]).sum())


def decode(path):
    reader = imageio_ffmpeg.read_frames(path)
    meta = next(reader)
    W, H = meta["size"]
    frames = np.stack([np.frombuffer(f, np.uint8).reshape(H, W, 3) for f in reader])
    return meta, frames


# ------------------------------------------------------------------------------------------------ determinism

def test_same_seed_same_frames_and_caches_hold_no_state():
    a, ga = syn.render_video("CircleClockwise", 2, 3, seed=7, **SMALL)
    assert a.dtype == np.uint8 and a.shape == (16, 48, 48, 3)
    b, gb = syn.render_video("CircleClockwise", 2, 3, seed=7, **SMALL)
    syn.clear_caches()
    c, gc = syn.render_video("CircleClockwise", 2, 3, seed=7, **SMALL)
    assert np.array_equal(a, b) and np.array_equal(a, c) and ga == gb == gc
    for other in (dict(seed=8), dict(seed=7, clip=4)):
        kw = dict(SMALL, **other)
        clip = kw.pop("clip", 3)
        d, gd = syn.render_video("CircleClockwise", 2, clip, **kw)
        assert not np.array_equal(a, d) and gd["actor"]["boxes"] != ga["actor"]["boxes"]


def test_ground_truth_alone_equals_the_rendered_one():
    _, gt = syn.render_video("Jump", 1, 2, **SMALL)
    assert syn.ground_truth("Jump", 1, 2, **SMALL) == gt


# ------------------------------------------------------------------------------------------ boxes vs pixels

@pytest.mark.parametrize("name", syn.CLASSES)
def test_boxes_hold_the_pixels_of_their_object(name):
    kw = dict(frames=12, size=(64, 48), distractors=2, clutter=3)
    full, gt = syn.render_video(name, 1, 1, **kw)
    alone, _ = syn.render_video(name, 1, 1, layers=("actor",), **kw)
    without, _ = syn.render_video(name, 1, 1, layers=("background", "distractors"), **kw)
    dis, _ = syn.render_video(name, 1, 1, layers=("distractors",), **kw)
    T, H, W, _ = full.shape
    jj, ii = np.meshgrid(np.arange(W), np.arange(H))

    def inside(box, spill=0.5):     # pixels [j, j+1) x [i, i+1) that meet the box grown by ``spill``
        x0, y0, x1, y1 = box
        return (jj + 1 > x0 - spill) & (jj < x1 + spill) & (ii + 1 > y0 - spill) & (ii < y1 + spill)

    for t in range(T):
        box = gt["actor"]["boxes"][t]
        drawn = alone[t].any(-1)
        assert drawn.any()
        assert not (drawn & ~inside(box)).any(), f"{name} frame {t}: actor pixels outside its box"
        # tight: the drawn pixels reach (within 1.5 px) every side of the box
        rows, cols = np.nonzero(drawn)
        assert cols.min() <= box[0] + 1.5 and cols.max() + 1 >= box[2] - 1.5
        assert rows.min() <= box[1] + 1.5 and rows.max() + 1 >= box[3] - 1.5
        # in the full render, what the actor changes lies in its box (distractors may cover part of it)
        changed = (full[t] != without[t]).any(-1)
        assert changed.any() and not (changed & ~inside(box)).any()
        union = np.zeros((H, W), bool)
        for d in gt["distractors"]:
            union |= inside(d["boxes"][t])
        assert not (dis[t].any(-1) & ~union).any(), f"{name} frame {t}: distractor pixels outside their boxes"
        x0, y0, x1, y1 = box
        assert 0 <= x0 < x1 <= W and 0 <= y0 < y1 <= H


# ---------------------------------------------------------------------------------------------- class motion

S = 112          # frame size of the motion checks; thresholds below are fractions of it


def motion_samples(name, n=12, frames=48):
    return [syn.ground_truth(name, 1 + k % 3, 1 + k, frames=frames, size=S, distractors=0) for k in range(n)]


@pytest.mark.parametrize("name", syn.CLASSES)
def test_actor_performs_its_class_inside_the_interval_and_idles_outside(name):
    for gt in motion_samples(name):
        T = gt["num_frames"]
        a, e = gt["action"]
        assert 0 <= a < e <= T and 0.4 * T - 1 <= e - a <= 0.7 * T + 1
        b = np.asarray(gt["actor"]["boxes"])
        assert (b[:a + 1] == b[a]).all() and (b[e - 1:] == b[e - 1]).all(), "actor must be still outside [a, e)"
        assert (b[a + 1] != b[a]).any() and (b[e - 1] != b[e - 2]).any(), "the action must start at a, end at e-1"
        x, y, w, h = (v[a:e] for v in centres(b))
        dx, dy = x[-1] - x[0], y[-1] - y[0]
        if name in ("MoveLeft", "MoveRight", "MoveUp", "MoveDown", "ZigZagLeft", "ZigZagRight"):
            along, across = (x, y) if name != "MoveUp" and name != "MoveDown" else (y, x)
            sign = -1 if name in ("MoveLeft", "MoveUp", "ZigZagLeft") else 1
            steps = sign * np.diff(along)
            assert (steps > 0).all() and along[-1] - along[0] == pytest.approx(sign * steps.sum())
            assert steps.sum() > 0.25 * S
            if name.startswith("Move"):
                assert np.ptp(across) < 0.02
            else:       # zig-zag: the cross coordinate goes back and forth and comes back
                assert reversals(across) >= 1 and np.ptp(across) > 0.1 * S and abs(across[-1] - across[0]) < 0.05
            assert np.ptp(w) < 0.02
        elif name.startswith("Circle"):
            # shoelace area with y pointing down: positive for a clockwise path as seen on screen
            area = 0.5 * np.sum(x[:-1] * y[1:] - x[1:] * y[:-1])
            r = np.hypot(x - x.mean(), y - y.mean())
            assert np.hypot(dx, dy) < 0.05 and r.std() < 0.1 * r.mean() and r.mean() > 0.09 * S
            assert (area > 0) == (name == "CircleClockwise") and abs(area) > 0.8 * np.pi * r.mean() ** 2
        elif name in ("Approach", "Recede"):
            grow = np.diff(w) if name == "Approach" else -np.diff(w)
            assert (grow > 0).all() and max(w[-1], w[0]) / min(w[-1], w[0]) > 1.95
            assert np.ptp(x) < 0.02 and np.ptp(y) < 0.02
        elif name == "Jump":
            rest = y[0]
            assert (y <= rest + 1e-9).all() and rest - y.min() > 0.13 * S and abs(dy) < 0.02 and np.ptp(x) < 0.02
            hops = int(np.sum((y[1:-1] < y[:-2]) & (y[1:-1] <= y[2:])))     # local tops
            assert hops == 2
        elif name == "Shake":
            assert reversals(x) >= 5 and np.ptp(x) > 0.07 * S and abs(dx) < 0.05 and np.ptp(y) < 0.02


def test_distractors_never_move_like_an_actor():
    actor_speed, distractor_step = [], []
    for name in ("MoveLeft", "MoveDown", "CircleClockwise", "ZigZagRight", "Jump", "Shake"):
        for k in range(6):
            gt = syn.ground_truth(name, 1, 1 + k, size=S, distractors=6)
            a, e = gt["action"]
            x, y, _, _ = centres(gt["actor"]["boxes"])
            actor_speed.append(np.hypot(np.diff(x[a:e]), np.diff(y[a:e])).mean())
            for d in gt["distractors"]:
                distractor_step.append(np.abs(np.diff(np.asarray(d["boxes"]), axis=0)).max())
    assert min(actor_speed) > 0.9 and max(distractor_step) < 0.3
    assert min(distractor_step) == 0.0      # some are static ...
    assert np.mean(np.asarray(distractor_step) > 0.02) > 0.3      # ... and many move


# ---------------------------------------------------------------------------------- single-frame independence

def _knn_accuracy(Xtr, ytr, Xte, yte, C, k=25):
    """Held-out accuracy of a k-nearest-neighbour vote (features scaled by the training std)."""
    scale = Xtr.std(0) + 1e-12
    A, B = Xtr / scale, Xte / scale
    d = (B ** 2).sum(1)[:, None] - 2 * B @ A.T + (A ** 2).sum(1)[None, :]
    nearest = np.argsort(d, axis=1, kind="stable")[:, :k]
    votes = np.zeros((len(B), C))
    np.add.at(votes, (np.arange(len(B))[:, None], ytr[nearest]), 1)
    return float((votes.argmax(1) == yte).mean())


def test_actor_box_at_one_frame_says_little_about_the_class():
    """An oracle that knows which object is the actor and reads its box at one random frame classifies near
    chance (measured at 4000 videos a class: 0.16 for 8 classes, chance 0.125); the same classifier on a summary
    of the actor's motion (net displacement, size ratio, area swept) is far above it, so this check can fail."""
    names = syn.CLASSES[:8]
    rng = np.random.default_rng(0)
    single, motion, labels = {0: [], 1: []}, {0: [], 1: []}, {0: [], 1: []}
    for seed in (0, 1):
        for label, name in enumerate(names):
            for k in range(150):
                gt = syn.ground_truth(name, 1 + k % 3, 1 + k // 3, seed=seed, size=S, distractors=0)
                x, y, w, _ = centres(gt["actor"]["boxes"])
                a, e = gt["action"]
                t = rng.integers(gt["num_frames"])
                single[seed].append([x[t], y[t], w[t]])
                area = 0.5 * np.sum(x[a:e - 1] * y[a + 1:e] - x[a + 1:e] * y[a:e - 1]) / S ** 2
                motion[seed].append([x[e - 1] - x[a], y[e - 1] - y[a], np.log(w[e - 1] / w[a]), area])
                labels[seed].append(label)
    ytr, yte = np.array(labels[0]), np.array(labels[1])
    chance = 1 / len(names)
    acc_single = _knn_accuracy(np.array(single[0]), ytr, np.array(single[1]), yte, 8)
    acc_motion = _knn_accuracy(np.array(motion[0]), ytr, np.array(motion[1]), yte, 8)
    assert acc_single < chance + 0.07, acc_single
    assert acc_motion > 0.8, acc_motion


def test_background_belongs_to_the_group_unless_context():
    kw = dict(frames=8, size=64, distractors=1, clutter=4)
    for group in (1, 2):
        (a, ga), (b, gb) = (syn.render_video(n, group, 1, layers=("background",), **kw) for n in ("MoveLeft", "Shake"))
        assert ga["background"]["scene"] == gb["background"]["scene"]
        # the same group image, seen through each clip's camera offset and gain
        (oxa, oya), (oxb, oyb) = ga["background"]["offset"], gb["background"]["offset"]
        H = W = 64
        m = syn.BG_MARGIN * 2
        A = a[0, m - oya:H - oya, m - oxa:W - oxa] / ga["background"]["gain"]
        B = b[0, m - oyb:H - oyb, m - oxb:W - oxb] / gb["background"]["gain"]
        ok = (a[0, m - oya:H - oya, m - oxa:W - oxa] < 255) & (b[0, m - oyb:H - oyb, m - oxb:W - oxb] < 255)
        assert np.abs(A - B)[ok].max() < 1.5
    # context = 1: the scene type is the class's own, for every group
    scenes = {n: {syn.ground_truth(n, g, 1, context=1.0, **kw)["background"]["scene"] for g in (1, 2, 3)}
              for n in syn.CLASSES}
    assert scenes == {n: {i} for i, n in enumerate(syn.CLASSES)}
    a, ga = syn.render_video("MoveLeft", 1, 1, layers=("background",), context=1.0, **kw)
    b, gb = syn.render_video("Approach", 1, 1, layers=("background",), context=1.0, **kw)
    assert ga["background"]["from_context"] and gb["background"]["from_context"]
    assert np.abs(a.mean((0, 1, 2)) - b.mean((0, 1, 2))).max() > 10      # different hues
    # context = 0.5: about half of the (class, group) pairs take the class's scene
    frac = np.mean([syn.ground_truth(n, g, 1, context=0.5, **kw)["background"]["from_context"]
                    for n in syn.CLASSES for g in range(1, 11)])
    assert 0.3 < frac < 0.7


def test_actor_and_distractors_share_one_appearance_pool():
    seen_actor, seen_dis = set(), set()
    for k in range(30):
        gt = syn.ground_truth(syn.CLASSES[k % 8], 1, 1 + k // 8, size=64, distractors=3)
        seen_actor.add(json.dumps(gt["actor"]["appearance"], sort_keys=True))
        seen_dis.update(json.dumps(d["appearance"], sort_keys=True) for d in gt["distractors"])
    assert len(seen_actor) == syn.POOL_SIZE and seen_actor == seen_dis


# --------------------------------------------------------------------------------------------- the JSON format

def check_schema(gt, W, H, T):
    assert gt["format"] == "tinyalstm-synthetic" and gt["version"] == syn.VERSION
    assert (gt["width"], gt["height"], gt["num_frames"], gt["fps"]) == (W, H, T, 25)
    c, g, k = gt["class"], gt["group"], gt["clip"]
    assert gt["video"] == f"{c}/v_{c}_g{g:02d}_c{k:02d}.avi"
    assert gt["class_index"] == gt["label"] + 1 and isinstance(gt["seed"], int)
    a, e = gt["action"]
    assert isinstance(a, int) and isinstance(e, int) and 0 <= a < e <= T
    for obj in [gt["actor"]] + gt["distractors"]:
        boxes = np.asarray(obj["boxes"], float)
        assert boxes.shape == (T, 4)
        assert (boxes[:, 0] >= 0).all() and (boxes[:, 2] <= W).all() and (boxes[:, 1] >= 0).all()
        assert (boxes[:, 3] <= H).all() and (boxes[:, :2] < boxes[:, 2:]).all()
        app = obj["appearance"]
        assert app["shape"] in syn.SHAPES and app["pattern"] in syn.PATTERNS and len(app["color"]) == 3
        assert 0 <= app["pool_index"] < syn.POOL_SIZE and app["size"] > 0 and isinstance(obj["z"], int)
        assert isinstance(obj["motion"]["name"], str)
    assert gt["actor"]["motion"]["name"] == c
    assert all(d["motion"]["name"] in ("static", "drift", "wander") for d in gt["distractors"])
    zs = sorted([gt["actor"]["z"]] + [d["z"] for d in gt["distractors"]])
    assert zs == list(range(1 + len(gt["distractors"])))
    bg = gt["background"]
    assert 0 <= bg["scene"] < len(syn.CLASSES) and isinstance(bg["from_context"], bool) and len(bg["offset"]) == 2


# ---------------------------------------------------------------------------------------------------- on disk

OPTS = dict(classes=["MoveLeft", "MoveUp", "Approach"], groups=3, clips=2, frames=10, size=(48, 32),
            distractors=1, clutter=2, seed=3)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("synthetic")
    summary = syn.generate(out, workers=2, **OPTS)
    return out, summary


def read_lines(path):
    with open(path, "rb") as f:
        raw = f.read().decode("ascii")
    assert raw.endswith("\r\n") and "\n" not in raw.replace("\r\n", ""), f"{path}: expected CRLF lines"
    return raw.split("\r\n")[:-1]


def test_ucf101_layout_split_files_and_decodable_videos(dataset):
    out, summary = dataset
    names = OPTS["classes"]
    assert summary["videos"] == 3 * 3 * 2 and not summary["cached"]
    lists = out / "ucfTrainTestlist"
    assert read_lines(lists / "classInd.txt") == ["1 MoveLeft", "2 MoveUp", "3 Approach"]
    every = {f"{c}/v_{c}_g{g:02d}_c{k:02d}.avi" for c in names for g in (1, 2, 3) for k in (1, 2)}
    assert set(os.listdir(out / "UCF-101")) == set(names)
    on_disk = {f"{c}/{f}" for c in names for f in os.listdir(out / "UCF-101" / c)}
    assert on_disk == every
    test_groups = []
    for s in (1, 2, 3):
        train = [line.split(" ") for line in read_lines(lists / f"trainlist{s:02d}.txt")]
        test = read_lines(lists / f"testlist{s:02d}.txt")
        assert all(len(t) == 2 for t in train) and all(" " not in t for t in test)
        for path, label in train:
            assert names[int(label) - 1] == path.split("/")[0]
        group = lambda p: int(p.split("_g")[1][:2])             # noqa: E731
        train_groups, groups = {group(p) for p, _ in train}, {group(p) for p in test}
        assert not train_groups & groups, "train and test share a group"
        assert {p for p, _ in train} | set(test) == every and len(train) + len(test) == len(every)
        test_groups.append(groups)
    assert test_groups == [{1}, {2}, {3}], "each group is held out in exactly one split"
    for path in sorted(every):
        meta, frames = decode(str(out / "UCF-101" / path))
        assert meta["size"] == (48, 32) and frames.shape == (10, 32, 48, 3) and meta["fps"] == 25
        assert meta["codec"] == "mpeg4"                      # XVID is MPEG-4 part 2
    with open(out / "UCF-101" / "Approach" / "v_Approach_g02_c01.avi", "rb") as f:
        assert b"XVID" in f.read(512)                         # fourcc, as in UCF101
    # the file holds the rendered video (up to XVID's loss)
    kw = {k: v for k, v in OPTS.items() if k not in ("groups", "clips")}
    frames, _ = syn.render_video("Approach", 2, 1, **kw)
    _, decoded = decode(str(out / "UCF-101" / "Approach" / "v_Approach_g02_c01.avi"))
    assert np.abs(decoded.astype(int) - frames).mean() < 8


def test_annotations_follow_the_schema_and_match_ground_truth(dataset):
    out, _ = dataset
    kw = {k: v for k, v in OPTS.items() if k not in ("groups", "clips")}
    files = sorted(os.listdir(out / "annotations"))
    assert len(files) == 18
    for f in files:
        with open(out / "annotations" / f, encoding="utf-8") as fh:
            gt = json.load(fh)
        check_schema(gt, 48, 32, 10)
        assert f == os.path.basename(gt["video"])[:-4] + ".json"
        assert gt["label"] == OPTS["classes"].index(gt["class"]) and gt["seed"] == 3
        assert gt == syn.ground_truth(gt["class"], gt["group"], gt["clip"], **kw)
    with open(out / "synthetic.json", encoding="utf-8") as fh:
        manifest = json.load(fh)
    assert manifest["options"]["classes"] == OPTS["classes"] and manifest["options"]["size"] == [48, 32]
    assert manifest["summary"]["videos"] == 18


def test_generate_is_cached_refuses_other_data_and_redoes_an_interrupted_run(tmp_path):
    opts = dict(classes=2, groups=3, clips=1, frames=8, size=32, distractors=1, clutter=1)
    out = tmp_path / "d"
    first = syn.generate(out, **opts)
    video = out / "UCF-101" / "MoveLeft" / "v_MoveLeft_g01_c01.avi"
    stamp = os.stat(video).st_mtime_ns
    again = syn.generate(out, **opts)
    assert again["cached"] and again["videos"] == first["videos"] == 6 and os.stat(video).st_mtime_ns == stamp
    with pytest.raises(FileExistsError, match="force"):
        syn.generate(out, **dict(opts, seed=1))
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("not ours")
    with pytest.raises(FileExistsError):
        syn.generate(foreign, **opts)
    # an interrupted run: in-progress marker, no manifest, a video missing -> redone without force
    os.remove(out / "synthetic.json")
    os.remove(video)
    (out / "synthetic.inprogress.json").write_text("{}")
    redone = syn.generate(out, **opts)
    assert not redone["cached"] and video.exists() and not (out / "synthetic.inprogress.json").exists()
    # a finished dataset with a file deleted since: redone too (the manifest says it is ours)
    os.remove(out / "annotations" / "v_MoveRight_g02_c01.json")
    assert not syn.generate(out, **opts)["cached"] and (out / "annotations" / "v_MoveRight_g02_c01.json").exists()
    assert syn.generate(out, **opts)["cached"]
    # force replaces a different dataset, and leaves files that are not its own
    (out / "keep.txt").write_text("mine")
    forced = syn.generate(out, force=True, **dict(opts, classes=["Jump", "Shake"]))
    assert not forced["cached"] and set(os.listdir(out / "UCF-101")) == {"Jump", "Shake"}
    assert (out / "keep.txt").read_text() == "mine"


@pytest.mark.parametrize("kw, arg", [
    (dict(size=33), "size"), (dict(size="40x31"), "size"), (dict(frames=4), "frames"),
    (dict(classes=["Nope", "Jump"]), "classes"), (dict(classes=1), "classes"), (dict(context=1.5), "context"),
    (dict(context="high"), "context"), (dict(distractors=-1), "distractors"), (dict(groups=2), "groups"),
    (dict(clips=0), "clips"), (dict(quality=0), "quality"), (dict(seed=-1), "seed")])
def test_bad_options_name_the_argument(tmp_path, kw, arg):
    with pytest.raises(ValueError, match=arg):
        syn.generate(tmp_path / "x", **kw)
    assert not (tmp_path / "x").exists()


def test_render_rejects_unknown_class_and_layers():
    with pytest.raises(ValueError, match="class_name"):
        syn.render_video("Swim", **SMALL)
    with pytest.raises(ValueError, match="class_name"):
        syn.render_video("Jump", classes=4, **SMALL)
    with pytest.raises(ValueError, match="layers"):
        syn.render_video("Jump", layers=("actors",), **SMALL)


# ------------------------------------------------------------------------------------------------------- CLI

def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "tinyalstm.data.synthetic", *args], capture_output=True, text=True,
                          timeout=120)


def test_cli_help_and_tiny_generation(tmp_path):
    r = run_cli("--help")
    assert r.returncode == 0
    for flag in ("--out", "--classes", "--groups", "--clips", "--frames", "--size", "--distractors", "--clutter",
                 "--context", "--seed", "--quality", "--workers", "--force", "--quiet"):
        assert flag in r.stdout
    assert all(name in r.stdout for name in syn.CLASSES)
    out = str(tmp_path / "cli")
    tiny = ["--out", out, "--classes", "2", "--groups", "3", "--clips", "1", "--frames", "8", "--size", "32x32"]
    r = run_cli(*tiny)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["videos"] == 6 and "[synthetic]" in r.stderr and "6/6 videos" in r.stderr
    _, frames = decode(os.path.join(out, "UCF-101", "MoveRight", "v_MoveRight_g03_c01.avi"))
    assert frames.shape == (8, 32, 32, 3)
    r = run_cli(*tiny, "--seed", "5")
    assert r.returncode == 1 and "--force" in r.stderr
    r = run_cli(*tiny, "--seed", "5", "--force", "--quiet")
    assert r.returncode == 0 and r.stderr == "" and json.loads(r.stdout)["cached"] is False
    r = run_cli(*tiny, "--size", "31")
    assert r.returncode == 2 and "size" in r.stderr
