"""The data-pipeline benchmark behind ``python -m tinyalstm.bench_data``: decoding throughput against ffmpeg
alone, optical-flow throughput and accuracy, the peak memory of a feature-extraction pass as the number of
videos grows, and the throughput of the decoding + flow pass with 1 and 2 worker processes. Prints tables; asserts
nothing (the tests check correctness).
"""
import functools
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import imageio_ffmpeg
import numpy as np

from ..data.datasets import load_ucf101
from ..data.features import extract_features
from ..data.flow import endpoint_error, flow_throughput, make_flow_pair, optical_flow, video_flow
from ..data.synthetic import generate
from ..data.video import decode_throughput, read_video
from ..models.frame_encoder import FrameEncoder


def decode_table(tmp, frames=300, size=(240, 320), out_size=112):
    """Our reader (decode + scale + pipe + arrays) vs ``ffmpeg -i f -f null -`` on one generated XVID video."""
    path = Path(tmp) / "decode_bench.avi"
    H, W = size
    yy, xx = np.mgrid[0:H, 0:W]
    writer = imageio_ffmpeg.write_frames(str(path), (W, H), fps=25, codec="libxvid", quality=None,
                                         output_params=["-q:v", "3"], macro_block_size=1)
    writer.send(None)
    for t in range(frames):              # a moving texture so the encoder has real motion to code
        img = 127 + 60 * np.sin((xx - 2 * t) / 9.0)[..., None] * np.cos((yy + t) / 13.0)[..., None]
        writer.send(np.broadcast_to(img, (H, W, 3)).astype(np.uint8).copy())
    writer.close()
    res = decode_throughput(path, size=(out_size, out_size), repeats=3)
    print(f"\n## Decoding: {frames} frames of {W}x{H} XVID, read at {out_size}x{out_size} (best of 3)\n")
    print("| what | frames/s |\n| --- | --- |")
    print(f"| our reader (decode + scale + pipe + NumPy) | {res['reader_fps']:.0f} |")
    print(f"| ffmpeg decode + same scale, to null | {res['ffmpeg_scale_null_fps']:.0f} |")
    print(f"| ffmpeg decode only, to null | {res['ffmpeg_null_fps']:.0f} |")
    return res


def flow_table(sizes=(112, 224), seeds=5):
    """Pairs/s of the batched video flow, and mean endpoint error against the zero-flow baseline."""
    print("\n## Optical flow (pyramidal Lucas-Kanade, defaults)\n")
    print("| size | pairs/s (video_flow, batched) |\n| --- | --- |")
    for s in sizes:
        print(f"| {s}x{s} | {flow_throughput(size=s, n=32):.0f} |")
    print("\n| kind (112 px) | magnitude | EPE | zero-flow EPE |\n| --- | --- | --- | --- |")
    for kind in ("translation", "object", "rotation", "zoom"):
        for mag in (0.5, 3.0):
            epe, zero = [], []
            for seed in range(seeds):
                prev, nxt, true = make_flow_pair(kind, size=112, rng=np.random.default_rng(seed), magnitude=mag)
                epe.append(endpoint_error(optical_flow(prev, nxt), true))
                zero.append(endpoint_error(np.zeros_like(true), true))
            print(f"| {kind} | {mag} px | {np.mean(epe):.3f} | {np.mean(zero):.3f} |")


def extraction_pass(root, cache, size):
    """One feature-extraction pass over every video of a generated dataset (child process) -> peak RSS (MiB)."""
    samples = [s for subset in ("train", "test") for s in load_ucf101(root, split=1, subset=subset)]
    enc = FrameEncoder(3, size, 8)
    items = [(s.name.rsplit(".", 1)[0], s.path) for s in samples]
    t0 = time.perf_counter()
    extract_features(items, lambda p: read_video(p, size=size), enc.features, cache, enc.feature_shape,
                     progress=False)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"videos": len(items), "seconds": time.perf_counter() - t0, "peak_rss_mib": peak}


def memory_table(tmp, groups=(3, 12), size=64):
    """Peak resident memory of a fresh process running a whole extraction pass, for datasets of growing size."""
    print(f"\n## Feature extraction: peak memory of one pass (fresh process, {size}x{size} RGB, frame encoder)\n")
    print("| videos | seconds | peak RSS (MiB) |\n| --- | --- | --- |")
    for g in groups:
        root, cache = Path(tmp) / f"syn{g}", Path(tmp) / f"cache{g}"
        generate(root, groups=g, clips=1, size=size)
        code = (f"import json; from tinyalstm.perf.data_pipeline import extraction_pass; "
                f"print(json.dumps(extraction_pass({str(root)!r}, {str(cache)!r}, {size})))")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        res = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"| {res['videos']} | {res['seconds']:.1f} | {res['peak_rss_mib']:.0f} |")


def decode_and_flow(path, size):
    """The pipeline's flow stage for one video: decode at size x size, then flow images (T, size, size, 2) uint8."""
    return video_flow(read_video(path, size=size))


def _unchanged(frames):
    return frames


def _warm_up(key):
    """A worker's first flow: what a fresh process pays once (imports, the flow loop's compiled code)."""
    return video_flow(np.zeros((2, 16, 16, 3), np.uint8))


def _cpu_seconds():
    return sum(r.ru_utime + r.ru_stime for r in (resource.getrusage(resource.RUSAGE_SELF),
                                                 resource.getrusage(resource.RUSAGE_CHILDREN)))


def workers_table(tmp, workers=(1, 2), classes=4, groups=4, frames=96, size=112, repeats=3):
    """Videos/s and frame pairs/s of the decoding + optical-flow pass (``extract_features`` as the pipeline runs
    it) on the same generated videos with each number of ``workers``: best of ``repeats`` fresh passes each,
    interleaved, the start of the worker processes included. Beside them: the CPU seconds the pass got (this
    process, its workers and their ffmpeg), as cores busy = CPU / wall time, the ceiling the cores allow, and the
    start of a pool alone (spawned interpreters, imports, the flow's compiled loop) timed on a pass that computes
    one tiny flow per worker. On a machine shared with other jobs the cores busy say how much of it a pass got."""
    root = Path(tmp) / "syn-workers"
    generate(root, classes=classes, groups=groups, clips=1, frames=frames, size=size)
    samples = [s for subset in ("train", "test") for s in load_ucf101(root, split=1, subset=subset)]
    items = [(s.name.rsplit(".", 1)[0], s.path) for s in samples]
    read = functools.partial(decode_and_flow, size=size)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    best, cpu, start, pairs = {}, {}, {}, None
    for r in range(repeats):
        for w in workers:                  # interleaved, so that a noisy neighbour hurts all alike
            cache = Path(tmp) / f"flow-w{w}-r{r}"
            c0, t0 = _cpu_seconds(), time.perf_counter()
            extract_features(items, read, _unchanged, cache, (size, size, 2), dtype=np.uint8, batch=4096,
                             progress=False, workers=w)
            t = time.perf_counter() - t0
            if t < best.get(w, np.inf):
                best[w], cpu[w] = t, _cpu_seconds() - c0
            if pairs is None:
                pairs = sum(len(np.load(cache / f"{k}.npy", mmap_mode="r")) - 1 for k, _ in items)
            shutil.rmtree(cache)
            if w > 1:
                t0 = time.perf_counter()
                extract_features([(f"v{i}", i) for i in range(w)], _warm_up, _unchanged, Path(tmp) / "start",
                                 (16, 16, 2), dtype=np.uint8, progress=False, workers=w)
                start[w] = min(start.get(w, np.inf), time.perf_counter() - t0)
                shutil.rmtree(Path(tmp) / "start")
    print(f"\n## Feature extraction with worker processes: decoding + optical flow of {len(items)} generated "
          f"videos ({frames} frames, read at {size}x{size}; {pairs} frame pairs), best of {repeats}, {cores} cores\n")
    print("| workers | seconds | videos/s | pairs/s | speedup | cores busy | ideal speedup (cores) | pool start (s) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for w in workers:
        print(f"| {w} | {best[w]:.2f} | {len(items) / best[w]:.2f} | {pairs / best[w]:.0f} | "
              f"{best[workers[0]] / best[w]:.2f} | {cpu[w] / best[w]:.2f} | {min(w, cores)} | "
              + (f"{start[w]:.2f} |" if w in start else "- |"))
    return {"videos": len(items), "pairs": pairs, "seconds": best, "cpu_seconds": cpu, "pool_start": start,
            "cores": cores}
