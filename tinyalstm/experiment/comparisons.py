"""The runs behind ``python -m tinyalstm.experiments``: both papers' comparisons on the synthetic benchmark, each
run a ``python -m tinyalstm.train`` process of its own (resumable), fused and tabulated over seeds.
"""
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..checks import RunError
from ..data.registry import DATASETS, ensure_built_in
from ..metrics import accuracy, late_fusion, mean_average_precision
from ..run.storage import save_json, save_text

# run name -> (registry model name, modality)
RUNS = {
    "convnet-rgb": ("convnet", "rgb"), "convnet-flow": ("convnet", "flow"),
    "lstm-rgb": ("lstm", "rgb"), "lstm-flow": ("lstm", "flow"),
    "alstm-spatial-rgb": ("alstm-spatial", "rgb"), "alstm-spatial-flow": ("alstm-spatial", "flow"),
    "convlstm-rgb": ("convlstm", "rgb"), "convlstm-flow": ("convlstm", "flow"),
    "convalstm-rgb": ("convalstm", "rgb"), "convalstm-flow": ("convalstm", "flow"),
    "videolstm": ("videolstm", "rgb"), "alstm-motion": ("alstm-motion", "rgb"),
    "alstm-a": ("alstm", "rgb"), "alstm-b": ("alstm-b", "rgb"),
}
FUSIONS = {"videolstm+convalstm-flow": ("videolstm", "convalstm-flow"),
           "convalstm-rgb+convalstm-flow": ("convalstm-rgb", "convalstm-flow")}


def run_one(name, seed, args, log):
    """One training run as a child process -> its result dict (read from result.json)."""
    model, modality = RUNS[name]
    out = args.out / f"seed{seed}" / name
    result, recorded = out / "result.json", out / "options.json"
    options = ["--root", str(args.root), "--model", model, "--modality", modality, "--seed", str(seed),
               "--epochs", str(args.epochs), "--out", str(out)] + args.train_args
    if recorded.is_file() and json.loads(recorded.read_text()) != options:
        raise RunError(f"{out}: this run was made with other options ({recorded}) than this invocation's; "
                       f"use another --out, or delete the folder to redo it")
    if result.is_file():
        return json.loads(result.read_text())
    cmd = [sys.executable, "-m", "tinyalstm.train", *options, "--resume"]
    out.mkdir(parents=True, exist_ok=True)
    save_text(recorded, json.dumps(options))
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), OPENBLAS_NUM_THREADS=str(args.threads),
               MKL_NUM_THREADS=str(args.threads))
    t0 = time.perf_counter()
    with open(out / "train.log", "a") as f:
        rc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, env=env).returncode
    if rc != 0 or not result.is_file():
        raise RunError(f"run {name} (seed {seed}) failed with exit code {rc}; its log: {out / 'train.log'}")
    res = json.loads(result.read_text())
    log(f"  seed {seed} {name:22s} accuracy {res['test_accuracy']:.3f} ({time.perf_counter() - t0:.0f} s)")
    return res


def fuse(seed_dir, a, b):
    """Late fusion by product of two runs' saved test scores -> {"test_accuracy", "test_map"}."""
    sa, sb = (np.load(seed_dir / r / "test_scores.npy") for r in (a, b))
    la, lb = (np.load(seed_dir / r / "test_labels.npy") for r in (a, b))
    if not np.array_equal(la, lb):
        raise ValueError(f"{seed_dir}: runs {a} and {b} were tested on different videos")
    f = late_fusion(sa, sb, "product")
    return {"test_accuracy": accuracy(f, la), "test_map": mean_average_precision(f, la)}


def cell(values, key="test_accuracy"):
    v = np.array([r[key] for r in values if r.get(key) is not None], dtype=float)
    if not len(v):
        return "-"
    return f"{v.mean():.3f} ± {v.std(ddof=1):.3f}" if len(v) > 1 else f"{v[0]:.3f}"


def tables(results, seeds, chance, wall):
    """results {seed: {run: result}} -> the Markdown tables of the module docstring."""
    per = {name: [results[s][name] for s in seeds if name in results[s]] for name in list(RUNS) + list(FUSIONS)}
    lines = [f"Synthetic benchmark, split 1, seeds {', '.join(map(str, seeds))}: test accuracy, mean ± std over "
             f"seeds (chance {chance:.3f}); {wall / 60:.0f} min wall.", "",
             "VideoLSTM Table 1 analogue (single stream):", "",
             "| model | RGB | flow |", "| --- | --- | --- |"]
    for label, stem in (("ConvNet", "convnet"), ("LSTM", "lstm"), ("ALSTM (Sharma)", "alstm-spatial"),
                        ("ConvLSTM", "convlstm"), ("ConvALSTM", "convalstm")):
        lines.append(f"| {label} | {cell(per[stem + '-rgb'])} | {cell(per[stem + '-flow'])} |")
    lines += ["", "VideoLSTM Table 2 analogue (RGB maps; where the attention comes from):", "",
              "| model | appearance-based attention | motion-based attention |", "| --- | --- | --- |",
              f"| ALSTM | {cell(per['alstm-spatial-rgb'])} | {cell(per['alstm-motion'])} |",
              f"| ConvALSTM / VideoLSTM | {cell(per['convalstm-rgb'])} | {cell(per['videolstm'])} |",
              "", "VideoLSTM Table 3 analogue (late fusion by product):", "",
              "| RGB stream | flow stream | RGB alone | flow alone | fused accuracy | fused mAP |",
              "| --- | --- | --- | --- | --- | --- |"]
    for fname, (a, b) in FUSIONS.items():
        lines.append(f"| {a} | {b} | {cell(per[a])} | {cell(per[b])} | {cell(per[fname])} | "
                     f"{cell(per[fname], 'test_map')} |")
    lines += ["", "aLSTM Table 1/4 analogue (input-data: pooled flow maps per frame; attended-data: pooled RGB "
              "maps per frame):", "", "| model | accuracy | mAP |", "| --- | --- | --- |"]
    for label, name in (("vanilla LSTM (input-data only)", "lstm-flow"), ("aLSTM (a)", "alstm-a"),
                        ("aLSTM (b)", "alstm-b")):
        lines.append(f"| {label} | {cell(per[name])} | {cell(per[name], 'test_map')} |")
    return "\n".join(lines) + "\n"


def run_experiments(args, log=print):
    """Every run of ``args.runs`` for every seed of ``args.seeds`` (2 at a time: ``args.jobs``), their fusions, and
    results.json / results.md in ``args.out`` -> {seed: {run: result}}. ``args`` as experiments.parse_args makes."""
    t0 = time.perf_counter()
    benchmark = DATASETS["synthetic"]
    if args.root is None:
        args.root = benchmark.default_root()
    ensure_built_in(benchmark, args.root, log=log)
    args.out.mkdir(parents=True, exist_ok=True)
    runs = [r for r in RUNS if r in args.runs]
    first = [r for r in runs if r.startswith("convnet-")]     # build the seed's encoders and feature caches
    rest = [r for r in runs if r not in first]
    results = {s: {} for s in args.seeds}
    log(f"experiments: {len(runs)} runs x {len(args.seeds)} seeds, {args.jobs} at a time, outputs in {args.out}")
    with ThreadPoolExecutor(args.jobs) as pool:
        for seed in args.seeds:
            for name in first:         # one after the other: both write the same caches
                results[seed][name] = run_one(name, seed, args, log)
        jobs = {(seed, name): pool.submit(run_one, name, seed, args, log) for seed in args.seeds for name in rest}
        failed = []
        for (seed, name), job in jobs.items():
            try:
                results[seed][name] = job.result()
            except RunError as err:         # a failed run: the others go on, the failure is named at the end
                failed.append(str(err))
                log(f"  {err}")
    for seed in args.seeds:
        for fname, (a, b) in FUSIONS.items():
            if a in results[seed] and b in results[seed]:
                results[seed][fname] = fuse(args.out / f"seed{seed}", a, b)
    chance = next((r["chance"] for s in args.seeds for r in results[s].values() if "chance" in r), float("nan"))
    wall = time.perf_counter() - t0
    save_json(args.out / "results.json", {"seeds": args.seeds, "root": str(args.root), "train_args": args.train_args,
                                          "wall_seconds": wall, "results": {str(s): results[s] for s in args.seeds}})
    text = tables(results, args.seeds, chance, wall)
    save_text(args.out / "results.md", text)
    log("\n" + text)
    if failed:
        raise RunError(f"{len(failed)} run(s) failed: " + "; ".join(failed))
    return results
