"""The runs behind ``python -m tinyalstm.experiments``: both papers' comparisons on the synthetic benchmark, each
run a ``python -m tinyalstm.train`` process of its own (resumable), fused and tabulated over seeds.

SIGINT (Ctrl-C) or SIGTERM stops the whole experiment within seconds: the signal is passed on to every running
training process (each keeps its last checkpoint, as train does when stopped), no further run is started, and the
interruption is raised again once they have ended. The training processes run in a session of their own, so a
Ctrl-C at the terminal reaches them once, through this process.
"""
import json
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..checks import RunError
from ..data.registry import DATASETS, ensure_built_in
from ..run.storage import save_json, save_text
from .evaluation import fuse_runs

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


class Stopped(RunError):
    """A run not started, or ended early, because the experiment is being stopped (SIGINT / SIGTERM)."""


class Children:
    """The training processes running now, and whether the experiment is stopping: once ``stop`` has been called
    no process is started any more, and the signal is passed to those that run."""

    def __init__(self):
        self._lock = threading.Lock()
        self._running = {}                  # Popen -> its run's name
        self.stopping = None                # the signal passed on, once stopping

    def start(self, label, cmd, **kw):
        """Start ``cmd`` (subprocess.Popen keywords ``kw``) as the process of run ``label`` -> the Popen; raises
        Stopped instead once the experiment is stopping."""
        with self._lock:
            if self.stopping is not None:
                raise Stopped(f"{label}: not started (the experiment was stopped)")
            proc = subprocess.Popen(cmd, start_new_session=True, **kw)   # a terminal's Ctrl-C reaches us alone
            self._running[proc] = label
            return proc

    def wait(self, proc):
        """Wait for ``proc`` -> its exit code. Interrupted (a signal in the main thread), it stays registered, so
        that ``stop`` passes the signal on to it."""
        code = proc.wait()
        with self._lock:
            self._running.pop(proc, None)
        return code

    def stop(self, signum, log, grace=60.0):
        """Start no more processes; pass ``signum`` to those running and wait for them (up to ``grace`` seconds
        each, then SIGKILL) -> the labels of the runs stopped. A signal received meanwhile is passed on too."""
        with self._lock:
            self.stopping = signum
            running = dict(self._running)
        if running:
            log(f"stopping {len(running)} training run(s) ({', '.join(running.values())}); each keeps its last "
                f"checkpoint")
        for proc in running:
            _send(proc, signum)
        for proc, label in running.items():
            deadline = time.monotonic() + grace
            while True:
                try:
                    proc.wait(timeout=max(0.0, deadline - time.monotonic()))
                    break
                except subprocess.TimeoutExpired:
                    log(f"{label}: still running {grace:.0f} s after {signal.Signals(signum).name}; killed")
                    _send(proc, signal.SIGKILL)
                except KeyboardInterrupt as again:       # a second Ctrl-C / SIGTERM: passed on as well
                    for p in running:
                        _send(p, _signal_of(again))
        return list(running.values())


def _send(proc, signum):
    try:
        proc.send_signal(signum)
    except (ProcessLookupError, OSError):
        pass                                # it has ended meanwhile


def _signal_of(interrupt):
    """The signal behind a KeyboardInterrupt: cli.Interrupted carries its exit status 128 + signum."""
    code = getattr(interrupt, "code", None)
    return signal.Signals(code - 128) if isinstance(code, int) and code > 128 else signal.SIGINT


def _read_json(path, what):
    """A JSON file the experiment wrote in a run folder -> its content; a RunError naming the file otherwise."""
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise RunError(f"{path}: {what} is unreadable ({err}); the file is damaged: delete the run folder "
                       f"{path.parent} to redo the run") from None


def _read_options(path):
    options = _read_json(path, "the options the run was made with")
    if not isinstance(options, list) or not all(isinstance(o, str) for o in options):
        raise RunError(f"{path}: expected the list of the run's train options (strings), got "
                       f"{type(options).__name__} {str(options)[:80]}; the file is damaged: delete the run folder "
                       f"{path.parent} to redo the run")
    return options


# the fields of a run's result.json that the tables read: name -> (required, may be null)
RESULT_FIELDS = {"test_accuracy": (True, False), "test_map": (False, True), "chance": (False, False)}


def read_result(path):
    """A run's result.json, with the fields the tables read checked (RESULT_FIELDS: numbers in [0, 1]) -> the
    dict; a RunError naming the file and the field otherwise."""
    result = _read_json(path, "the run's result")
    if not isinstance(result, dict):
        raise RunError(f"{path}: expected a JSON object (the run's result), got {type(result).__name__}; the file is "
                       f"damaged: delete the run folder {path.parent} to redo the run")
    for key, (required, nullable) in RESULT_FIELDS.items():
        if key not in result and not required or result.get(key, 0) is None and nullable:
            continue
        value = result.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise RunError(f"{path}: field {key!r} is {'missing' if key not in result else repr(value)}, expected "
                           f"a number in [0, 1]; the file is damaged: delete the run folder {path.parent} to redo "
                           f"the run")
    return result


def run_one(name, seed, args, log, children=None):
    """One training run as a child process -> its result dict (read from result.json). ``children`` (a
    Children): where the process is registered, so that the experiment can stop it."""
    children = children or Children()
    model, modality = RUNS[name]
    out = args.out / f"seed{seed}" / name
    result, recorded = out / "result.json", out / "options.json"
    one_stream = ["--no-two-stream"] if model == "videolstm" else []     # the fusions are made of runs (FUSIONS)
    options = ["--root", str(args.root), "--model", model, "--modality", modality, "--seed", str(seed),
               "--epochs", str(args.epochs), "--out", str(out), *one_stream] + args.train_args
    if recorded.is_file() and _read_options(recorded) != options:
        raise RunError(f"{out}: this run was made with other options ({recorded}) than this invocation's; "
                       f"use another --out, or delete the folder to redo it")
    if result.is_file():
        return read_result(result)
    if children.stopping is not None:
        raise Stopped(f"run {name} (seed {seed}): not started (the experiment was stopped)")
    cmd = [sys.executable, "-m", "tinyalstm.train", *options, "--resume"]
    out.mkdir(parents=True, exist_ok=True)
    save_text(recorded, json.dumps(options))
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), OPENBLAS_NUM_THREADS=str(args.threads),
               MKL_NUM_THREADS=str(args.threads))
    t0 = time.perf_counter()
    with open(out / "train.log", "a") as f:
        proc = children.start(f"seed {seed} {name}", cmd, stdout=f, stderr=subprocess.STDOUT, env=env)
        rc = children.wait(proc)
    if children.stopping is not None:
        raise Stopped(f"run {name} (seed {seed}) stopped (exit code {rc}); its log: {out / 'train.log'}")
    if rc != 0 or not result.is_file():
        raise RunError(f"run {name} (seed {seed}) failed with exit code {rc}; its log: {out / 'train.log'}")
    res = read_result(result)
    log(f"  seed {seed} {name:22s} accuracy {res['test_accuracy']:.3f} ({time.perf_counter() - t0:.0f} s)")
    return res


def fuse(seed_dir, a, b):
    """Late fusion by product of two runs' saved test scores -> {"test_accuracy", "test_map"}."""
    figures = fuse_runs(seed_dir / a, seed_dir / b)
    return {"test_accuracy": figures["acc"], "test_map": figures["map"]}


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
    return "\n".join(lines + localization_table(per)) + "\n"


def _figure(result, *path):
    """result["localization"][path...] as a float, or None where the run has no such figure."""
    value = result.get("localization")
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def localization_table(per):
    """VideoLSTM sec. 5.4 / Fig. 4 and aLSTM sec. 4.2 analogue from the runs' result.json ``localization``
    figures (the built-in benchmark's ground truth): Markdown lines, none when no run has them."""
    spatial = [name for name in RUNS if any(_figure(r, "attention_in_box_over_share") is not None
                                            for r in per[name])]
    temporal = [name for name in RUNS if any(_figure(r, "temporal_mass_over_share") is not None for r in per[name])]
    if not spatial and not temporal:
        return []
    lines = ["", "Localization (test videos, the actor's box during its action; mean ± std over seeds):", "",
             "| run | accuracy | attention in box / box share | outside the action | pointing | recall@0.2 "
             "smoothed | recall@0.2 unsmoothed | video-mAP@0.2 |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    at = lambda name, *path: cell([{"v": _figure(r, *path)} for r in per[name]], "v")  # noqa: E731
    for name in spatial:
        lines.append(f"| {name} | {cell(per[name])} | {at(name, 'attention_in_box_over_share')} | "
                     f"{at(name, 'attention_in_box_outside_over_share')} | {at(name, 'pointing')} | "
                     f"{at(name, 'recall', '0.2')} | {at(name, 'recall_unsmoothed', '0.2')} | "
                     f"{at(name, 'video_map', '0.2')} |")
    if spatial:
        first = spatial[0]
        for label, tube in (("whole-frame tube", "whole"), ("centred box of the mean actor size", "centre"),
                            ("the true box at the map's resolution", "upper")):
            lines.append(f"| {label} | - | - | - | - | {at(first, f'recall_{tube}', '0.2')} | - | "
                         f"{at(first, f'video_map_{tube}', '0.2')} |")
    for name in temporal:
        lines.append(f"| {name}: temporal attention on the action / its share | {cell(per[name])} | "
                     f"{at(name, 'temporal_mass_over_share')} | - | - | - | - | - |")
    return lines


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
    children, failed = Children(), []
    pool = ThreadPoolExecutor(args.jobs)
    try:
        for seed in args.seeds:
            for name in first:         # one after the other: both write the same caches
                results[seed][name] = run_one(name, seed, args, log, children)
        jobs = {(seed, name): pool.submit(run_one, name, seed, args, log, children)
                for seed in args.seeds for name in rest}
        for (seed, name), job in jobs.items():
            try:
                results[seed][name] = job.result()
            except RunError as err:         # a failed run: the others go on, the failure is named at the end
                failed.append(str(err))
                log(f"  {err}")
    except KeyboardInterrupt as err:        # SIGINT / SIGTERM: passed on, nothing new started, then raised again
        signum = _signal_of(err)
        pool.shutdown(wait=False, cancel_futures=True)
        stopped = children.stop(signum, log)
        log(f"experiments stopped by {signum.name}" + (f"; {len(stopped)} run(s) interrupted" if stopped else "")
            + "; rerun the same command to continue (finished runs are kept, interrupted ones resume)")
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
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
