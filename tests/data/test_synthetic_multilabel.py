"""The multi-label synthetic benchmark (tinyalstm.data.synthetic.multilabel): the Hollywood2 layout on disk (AVIClips
names, ClipSets lists of every clip with two-space "1" / "-1" lines agreeing with the annotations), decodable
videos, the per-actor ground truth (distinct classes, motion inside the interval only, pixels inside the boxes),
the label statistics (class shares, uniform pairs, every class in both subsets of the default dataset),
determinism, caching / refusal / redo, the Hollywood2 loader on the output, and the CLI."""
import inspect
import json
import math
import os
import re
import subprocess
import sys
from collections import Counter
from itertools import combinations

import numpy as np
import pytest

from tinyalstm.data import synthetic as syn
from tinyalstm.data.hollywood2 import load_hollywood2
from tinyalstm.data.synthetic import multilabel as ml
from tinyalstm.data.video import read_video

OPTS = dict(classes=4, groups=3, clips=6, frames=12, size=(48, 32), distractors=1, clutter=2, seed=3)
CLASSES = list(syn.CLASSES[:4])
RENDER = {k: v for k, v in OPTS.items() if k not in ("groups", "clips")}
LINE = re.compile(r"(actionclip(?:train|test)\d{5})  (1|-1)")


def generate(out, **kw):
    return ml.generate_multilabel(out, **dict(dict(verbose=False, workers=2), **kw))


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("multilabel")
    return out, generate(out, **OPTS)


def read_clipset(path):
    raw = path.read_bytes().decode("ascii")
    assert raw.endswith("\n") and "\r" not in raw, f"{path}: expected LF lines"
    rows = []
    for line in raw.split("\n")[:-1]:
        m = LINE.fullmatch(line)
        assert m, f"{path}: {line!r} is not '<clip>  1' or '<clip>  -1'"
        rows.append((m.group(1), m.group(2) == "1"))
    return rows


def annotations(out):
    found = {}
    for f in sorted(os.listdir(out / "annotations")):
        with open(out / "annotations" / f, encoding="utf-8") as fh:
            found[f[:-5]] = json.load(fh)
    return found


# ---------------------------------------------------------------------------------------------------- on disk

def test_hollywood2_layout_and_clipsets_agree_with_the_annotations(dataset):
    out, summary = dataset
    assert not summary["cached"] and summary["videos"] == 18
    assert set(os.listdir(out)) == {"Hollywood2", "annotations", "synthetic.json"}
    assert set(os.listdir(out / "Hollywood2")) == {"AVIClips", "ClipSets"}
    # split 1 of 3 groups tests on group 1: 6 test clips, 12 train clips (groups 2 and 3), 5 digits, from 1
    expected = {"train": [f"actioncliptrain{i:05d}" for i in range(1, 13)],
                "test": [f"actioncliptest{i:05d}" for i in range(1, 7)]}
    every = expected["train"] + expected["test"]
    assert sorted(os.listdir(out / "Hollywood2" / "AVIClips")) == sorted(n + ".avi" for n in every)
    assert sorted(os.listdir(out / "annotations")) == sorted(n + ".json" for n in every)
    assert set(os.listdir(out / "Hollywood2" / "ClipSets")) == {f"{c}_{s}.txt" for c in CLASSES
                                                               for s in ("train", "test")}
    gts = annotations(out)
    for subset, names in expected.items():
        present = {n: set() for n in names}
        for c in CLASSES:
            rows = read_clipset(out / "Hollywood2" / "ClipSets" / f"{c}_{subset}.txt")
            assert [n for n, _ in rows] == names, f"{c}_{subset}.txt: every clip of the subset, once, in order"
            for n, flag in rows:
                if flag:
                    present[n].add(c)
        for n in names:
            gt = gts[n]
            assert (gt["name"], gt["video"], gt["subset"]) == (n, n + ".avi", subset)
            assert present[n] == {a["class"] for a in gt["actors"]}, f"{n}: ClipSets disagree with the annotation"
            assert gt["group"] in ({1} if subset == "test" else {2, 3})
        # numbered group by group, clip by clip
        order = [(gts[n]["group"], gts[n]["clip"]) for n in names]
        assert order == sorted(order) and len(set(order)) == len(order)
    manifest = json.loads((out / "synthetic.json").read_text())
    assert manifest["format"] == "tinyalstm-synthetic-multilabel" and isinstance(manifest["version"], int)
    assert manifest["classes"] == CLASSES and manifest["options"]["size"] == [48, 32]
    assert manifest["options"]["groups"] == 3 and manifest["options"]["clips"] == 6
    for subset, names in expected.items():
        counts = manifest["summary"]["labels"][subset]
        assert counts["clips"] == len(names)
        assert counts["two_actors"] == sum(len(gts[n]["actors"]) == 2 for n in names)
        assert counts["positives"] == {c: sum(c in gts[n]["label_names"] for n in names) for c in CLASSES}
    assert manifest["summary"]["splits"]["1"]["test_groups"] == [1]


def test_videos_decode_to_the_expected_frames(dataset):
    out, _ = dataset
    folder = out / "Hollywood2" / "AVIClips"
    for f in sorted(os.listdir(folder)):
        frames = read_video(str(folder / f))
        assert frames.shape == (12, 32, 48, 3) and frames.dtype == np.uint8
    with open(folder / "actioncliptest00002.avi", "rb") as f:
        assert b"XVID" in f.read(512)
    gt = annotations(out)["actioncliptest00002"]
    rendered, again = ml.render_clip(gt["group"], gt["clip"], **RENDER)
    decoded = read_video(str(folder / "actioncliptest00002.avi"))
    assert np.abs(decoded.astype(int) - rendered).mean() < 8          # the file holds that clip, up to XVID
    assert again == {k: v for k, v in gt.items() if k not in ("name", "video", "subset")}


def test_annotations_follow_the_format(dataset):
    out, _ = dataset
    W, H, T = 48, 32, 12
    for name, gt in annotations(out).items():
        assert gt["format"] == "tinyalstm-synthetic-multilabel" and gt["seed"] == 3
        assert (gt["width"], gt["height"], gt["num_frames"], gt["fps"]) == (W, H, T, 25)
        actors = gt["actors"]
        assert len(actors) in (1, 2)
        classes = [a["class"] for a in actors]
        assert len(set(classes)) == len(classes), f"{name}: two actors of one class"
        assert gt["labels"] == sorted(CLASSES.index(c) for c in classes)
        assert gt["label_names"] == [CLASSES[i] for i in gt["labels"]]
        for a in actors:
            assert a["label"] == CLASSES.index(a["class"]) and a["class_index"] == a["label"] + 1
            assert a["motion"]["name"] == a["class"]
            s, e = a["action"]
            assert isinstance(s, int) and isinstance(e, int) and 0 <= s < e <= T
        assert all(d["motion"]["name"] in ("static", "drift", "wander") for d in gt["distractors"])
        objects = actors + gt["distractors"]
        assert len(objects) == OPTS["distractors"] + 2, f"{name}: the object count must not tell 1 actor from 2"
        assert sorted(o["z"] for o in objects) == list(range(len(objects)))
        for o in objects:
            b = np.asarray(o["boxes"], float)
            assert b.shape == (T, 4) and (b[:, :2] >= 0).all() and (b[:, 2] <= W).all() and (b[:, 3] <= H).all()
            assert (b[:, :2] < b[:, 2:]).all() and 0 <= o["appearance"]["pool_index"] < syn.POOL_SIZE


# ------------------------------------------------------------------------------------------- actors and pixels

def test_each_actor_moves_inside_its_interval_and_is_still_outside():
    S, T = 112, 48
    kw = dict(classes=12, frames=T, size=S, distractors=2, clutter=0, two_actor_share=1.0)
    seen, starts, same = Counter(), [], 0
    for group in (1, 2):
        for clip in range(1, 31):
            gt = ml.clip_ground_truth(group, clip, **kw)
            intervals = []
            for a in gt["actors"]:
                b = np.asarray(a["boxes"])
                s, e = a["action"]
                intervals.append((s, e))
                seen[a["class"]] += 1
                assert np.abs(b[:s + 1] - b[s]).max() < 1e-9, f"{a['class']}: moves before its interval"
                assert np.abs(b[e - 1:] - b[e - 1]).max() < 1e-9, f"{a['class']}: moves after its interval"
                assert np.abs(b[s:e] - b[s]).max() > 2.0, f"{a['class']}: does not move inside its interval"
                # and the interval is tight: the actor leaves its start pose at once and reaches its end pose last
                assert np.abs(b[s + 1] - b[s]).max() > 1e-3 and np.abs(b[e - 1] - b[e - 2]).max() > 1e-3, a["class"]
                steps = np.abs(np.diff(b[s:e], axis=0)).max(axis=1)
                assert (steps > 0.05).mean() > 0.6, f"{a['class']}: still for most of its interval"
            for d in gt["distractors"]:                          # distractors stay slow (< 0.3 px a frame)
                c = np.asarray(d["boxes"])
                centre = (c[:, :2] + c[:, 2:]) / 2
                assert np.linalg.norm(np.diff(centre, axis=0), axis=1).max() < 0.35
            starts.append([s for s, _ in intervals])
            same += intervals[0] == intervals[1]
    assert len(seen) == 12
    starts = np.asarray(starts)                                  # each actor's interval is its own
    assert same < 6 and (starts[:, 0] < starts[:, 1]).any() and (starts[:, 0] > starts[:, 1]).any()


def test_actor_pixels_lie_in_the_actor_boxes():
    kw = dict(classes=8, frames=10, size=(64, 48), distractors=1, clutter=2, seed=1)
    clip = next(k for k in range(1, 99) if len(ml.label_set(1, k, classes=8, seed=1)) == 2)
    alone, gt = ml.render_clip(1, clip, layers=("actor",), **kw)
    full, _ = ml.render_clip(1, clip, **kw)
    assert len(gt["actors"]) == 2 and not np.array_equal(alone, full)
    T, H, W, _ = alone.shape
    jj, ii = np.meshgrid(np.arange(W), np.arange(H))

    def inside(box, spill=0.5):
        x0, y0, x1, y1 = box
        return (jj + 1 > x0 - spill) & (jj < x1 + spill) & (ii + 1 > y0 - spill) & (ii < y1 + spill)

    for t in range(T):
        drawn = alone[t].any(-1)
        boxes = [inside(a["boxes"][t]) for a in gt["actors"]]
        assert not (drawn & ~(boxes[0] | boxes[1])).any(), f"frame {t}: actor pixels outside both actor boxes"
        for a, box in zip(gt["actors"], boxes):
            assert (drawn & inside(a["boxes"][t], spill=-1.5)).any(), f"frame {t}: {a['class']} not drawn"
    with pytest.raises(ValueError, match="layers"):
        ml.render_clip(1, 1, layers=("actors",), **kw)


# --------------------------------------------------------------------------------------------- label statistics

def test_label_sets_have_uniform_classes_and_pairs():
    C, n = 8, 99 * 99
    sets = [ml.label_set(g, k, classes=C, seed=0, two_actor_share=0.5) for g in range(1, 100) for k in range(1, 100)]
    names = syn.CLASSES[:C]
    assert all(set(s) <= set(names) and len(set(s)) == len(s) in (1, 2) for s in sets)
    pairs = [s for s in sets if len(s) == 2]
    assert abs(len(pairs) / n - 0.5) < 0.03
    share = Counter(c for s in sets for c in s)
    for c in names:                                 # present in (1 + 1/2) / 8 of the clips; sd 0.004 here
        assert abs(share[c] / n - 1.5 / C) < 0.02, (c, share[c] / n)
    # unordered pairs uniform (chi-square, 27 degrees of freedom: P(> 60) ~ 3e-4), neither order preferred
    counts = Counter(frozenset(p) for p in pairs)
    expected = len(pairs) / math.comb(C, 2)
    chi2 = sum((counts[frozenset(p)] - expected) ** 2 / expected for p in combinations(names, 2))
    assert chi2 < 60, chi2
    first_lower = sum(names.index(a) < names.index(b) for a, b in pairs) / len(pairs)
    assert abs(first_lower - 0.5) < 0.03
    # singles uniform too
    singles = Counter(s[0] for s in sets if len(s) == 1)
    assert max(singles.values()) / min(singles.values()) < 1.3
    assert all(len(ml.label_set(1, k, classes=C, two_actor_share=0.0)) == 1 for k in range(1, 60))
    assert all(len(ml.label_set(1, k, classes=C, two_actor_share=1.0)) == 2 for k in range(1, 60))


def test_every_class_is_in_both_subsets_of_the_default_dataset():
    d = {k: p.default for k, p in inspect.signature(ml.generate_multilabel).parameters.items()}
    groups, clips = d["groups"], d["clips"]
    test_groups = range(1, math.ceil(groups / 3) + 1)               # the first of three contiguous blocks
    names = syn.CLASSES[:d["classes"]]
    for subset, gs in (("test", test_groups), ("train", [g for g in range(1, groups + 1) if g not in test_groups])):
        sets = [ml.label_set(g, k, classes=d["classes"], seed=d["seed"], two_actor_share=d["two_actor_share"])
                for g in gs for k in range(1, clips + 1)]
        n = len(sets)
        assert n >= 100, f"{subset}: {n} clips is too few for a per-class AP"
        positives = Counter(c for s in sets for c in s)
        for c in names:
            assert positives[c] >= 0.1 * n, f"{subset}: {c} in only {positives[c]} of {n} clips"
        assert 0.35 < sum(len(s) == 2 for s in sets) / n < 0.65


# ------------------------------------------------------------------------------------ determinism and caching

def test_same_seed_same_files(dataset, tmp_path):
    out, _ = dataset
    copy = tmp_path / "copy"
    generate(copy, workers=1, **OPTS)
    files = sorted(os.path.relpath(os.path.join(d, f), out) for d, _, fs in os.walk(out) for f in fs)
    assert files == sorted(os.path.relpath(os.path.join(d, f), copy) for d, _, fs in os.walk(copy) for f in fs)
    for f in files:
        if f != "synthetic.json":
            assert (out / f).read_bytes() == (copy / f).read_bytes(), f
    a, b = (json.loads((d / "synthetic.json").read_text()) for d in (out, copy))
    for m in (a, b):
        m["summary"].pop("generation_seconds")
    assert a == b
    other = ml.clip_ground_truth(1, 1, **dict(RENDER, seed=4))
    assert other["actors"][0]["boxes"] != annotations(out)["actioncliptest00001"]["actors"][0]["boxes"]


def test_cached_refuses_other_data_and_redoes_an_interrupted_run(tmp_path):
    opts = dict(classes=2, groups=3, clips=1, frames=8, size=32, distractors=0, clutter=1)
    out = tmp_path / "d"
    first = generate(out, **opts)
    video = out / "Hollywood2" / "AVIClips" / "actioncliptrain00001.avi"
    stamp = os.stat(video).st_mtime_ns
    again = generate(out, **opts)
    assert again["cached"] and not first["cached"] and again["videos"] == 3 and os.stat(video).st_mtime_ns == stamp
    with pytest.raises(FileExistsError, match="force"):
        generate(out, **dict(opts, two_actor_share=0.25))
    assert os.stat(video).st_mtime_ns == stamp
    # a folder holding the single-label benchmark is named as such, and left alone
    single = tmp_path / "single"
    syn.generate(single, **opts)
    with pytest.raises(FileExistsError, match="'tinyalstm-synthetic'"):
        generate(single, **opts)
    assert not (single / "Hollywood2").exists()
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("not ours")
    with pytest.raises(FileExistsError, match="force"):
        generate(foreign, **opts)
    # interrupted: in-progress marker, no manifest, a video missing -> redone without force
    os.remove(out / "synthetic.json")
    os.remove(video)
    (out / "synthetic.inprogress.json").write_text("{}")
    redone = generate(out, **opts)
    assert not redone["cached"] and video.exists() and not (out / "synthetic.inprogress.json").exists()
    # finished, a list deleted since: redone (the manifest says it is ours)
    clipset = out / "Hollywood2" / "ClipSets" / "MoveRight_test.txt"
    os.remove(clipset)
    assert not generate(out, **opts)["cached"] and clipset.exists()
    assert generate(out, **opts)["cached"]
    # force replaces it, and leaves files that are not its own
    (out / "keep.txt").write_text("mine")
    forced = generate(out, force=True, **dict(opts, classes=["Jump", "Shake"]))
    assert not forced["cached"] and (out / "keep.txt").read_text() == "mine"
    assert set(os.listdir(out / "Hollywood2" / "ClipSets")) == {f"{c}_{s}.txt" for c in ("Jump", "Shake")
                                                               for s in ("train", "test")}


@pytest.mark.parametrize("kw, arg", [
    (dict(size=33), "size"), (dict(frames=4), "frames"), (dict(classes=["Nope", "Jump"]), "classes"),
    (dict(classes=1), "classes"), (dict(context=1.5), "context"), (dict(two_actor_share=1.2), "two_actor_share"),
    (dict(two_actor_share="half"), "two_actor_share"), (dict(distractors=-1), "distractors"),
    (dict(groups=2), "groups"), (dict(clips=0), "clips"), (dict(quality=0), "quality"), (dict(seed=-1), "seed")])
def test_bad_options_name_the_argument(tmp_path, kw, arg):
    with pytest.raises(ValueError, match=arg):
        generate(tmp_path / "x", **kw)
    assert not (tmp_path / "x").exists()


# ---------------------------------------------------------------------------------------- loader and CLI

def test_the_hollywood2_loader_reads_the_benchmark(dataset):
    if "actions" not in inspect.signature(load_hollywood2).parameters:
        pytest.skip("load_hollywood2 has no actions= argument")
    out, _ = dataset
    gts = annotations(out)
    for subset, n in (("train", 12), ("test", 6)):
        split = load_hollywood2(out, subset, actions=CLASSES)
        assert split.classes == CLASSES and len(split) == n and split.report.count == 0
        for s in split.samples:
            assert os.path.basename(s.path) == s.name + ".avi"
            assert [CLASSES[i] for i in s.label] == gts[s.name]["label_names"]


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "tinyalstm.data.synthetic.multilabel", *args], capture_output=True,
                          text=True, timeout=120)


def test_cli_help_and_tiny_generation(tmp_path):
    r = run_cli("--help")
    assert r.returncode == 0 and "Hollywood2" in r.stdout
    for flag in ("--out", "--classes", "--groups", "--clips", "--frames", "--size", "--distractors", "--clutter",
                 "--context", "--two-actor-share", "--seed", "--quality", "--workers", "--force", "--quiet"):
        assert flag in r.stdout
    out = str(tmp_path / "cli")
    tiny = ["--out", out, "--classes", "3", "--groups", "3", "--clips", "1", "--frames", "8", "--size", "32x32",
            "--distractors", "0", "--two-actor-share", "1"]
    r = run_cli(*tiny)
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["videos"] == 3 and summary["classes"] == list(syn.CLASSES[:3]) and "3/3 clips" in r.stderr
    assert summary["labels"]["test"]["two_actors"] == 1
    assert read_video(os.path.join(out, "Hollywood2", "AVIClips", "actioncliptest00001.avi")).shape == (8, 32, 32, 3)
    r = run_cli(*tiny, "--seed", "5")
    assert r.returncode == 1 and "--force" in r.stderr
    r = run_cli(*tiny, "--seed", "5", "--force", "--quiet")
    assert r.returncode == 0 and r.stderr == "" and json.loads(r.stdout)["cached"] is False
    r = run_cli(*tiny, "--size", "31")
    assert r.returncode == 2 and "size" in r.stderr
