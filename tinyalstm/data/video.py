"""Video decoding and frame sampling: the input side of VideoLSTM (sec. 5.2) and aLSTM.

Decoding runs the ffmpeg executable that imageio-ffmpeg ships (``imageio_ffmpeg.get_ffmpeg_exe()``; set
``IMAGEIO_FFMPEG_EXE`` to use another one) as a subprocess and reads its output through a pipe, one frame at a
time. Frames are uint8 arrays (H, W, 3), RGB. Resizing is done by ffmpeg's scaler (``-vf scale=W:H``, its default
bicubic filter) before the frames reach Python, so a 320x240 video read at (112, 112) only ever moves 112x112
frames through the pipe.

Frame indices are positions in the *decoded* stream: frame k is the k-th picture the decoder produces, with
ffmpeg told to neither duplicate nor drop frames (``-fps_mode passthrough``). Frame counts are found the same way,
by decoding (``count_frames``): container headers (AVI's total-frames field, duration x fps) are often wrong and
are never used.

Which frames a model sees (VideoLSTM sec. 5.2's training and test windows) is decided in windows.py;
``read_video(..., windows=...)`` decodes just those.

Damaged files. Every failure raises ``VideoError``, whose message starts with the file's path and says what is
wrong: missing, not a regular file, unreadable, empty (0 bytes), not a video / corrupt (ffmpeg cannot open it),
no video stream, 0 frames decoded, ffmpeg stalled. A *truncated* file usually still opens and decodes up to the
cut; then the policy is:

- default (``strict=False``): the frames that decoded are used, as if the video were that long, and a
  ``VideoWarning`` names the file and quotes ffmpeg's complaint. The last of them may be partly concealed
  (grey or smeared blocks) by the decoder's error concealment. ``count_frames`` counts the same frames, so
  counting and reading agree on such a file.
- ``strict=True``: any error ffmpeg reports while decoding raises ``VideoError``.

A video that yields 0 frames is always an error. ffmpeg never reads our stdin (``-nostdin``), its messages go
to a temporary file (a full stderr pipe could block it) and a watchdog kills it when a read waits longer than
``stall_timeout`` seconds, so a bad file can neither hang nor crash the Python process.
"""
import functools
import os
import re
import stat
import subprocess
import tempfile
import threading
import time
import warnings

import imageio_ffmpeg                      # the dependency that ships an ffmpeg binary
import numpy as np

STALL_TIMEOUT = 60.0   # seconds a read may wait for ffmpeg before it is killed (a hung mount, a FIFO, ...)
RUN_TIMEOUT = 600.0    # seconds a whole count/null-decode pass may take (a UCF101 video takes well under 1 s)


class VideoError(Exception):
    """A video that cannot be used. ``str(err)`` is ``"<path>: <problem>"`` plus ffmpeg's words when it has any.

    Attributes: ``path`` (str), ``problem`` (short, e.g. "empty file (0 bytes)"), ``detail`` (ffmpeg's last
    messages, or "").
    """

    def __init__(self, path, problem, detail=""):
        self.path, self.problem, self.detail = str(path), problem, detail.strip()
        super().__init__(f"{self.path}: {problem}" + (f"\n  ffmpeg said: {self.detail}" if self.detail else ""))


class VideoWarning(UserWarning):
    """A video that decoded with errors but still gave frames (truncated or damaged), used as decoded."""


# ---------------------------------------------------------------------------------------------------------------
# Sampling (VideoLSTM sec. 5.2)
# ---------------------------------------------------------------------------------------------------------------

# ---------------------------------------------------------------------------------------------------------------
# Decoding
# ---------------------------------------------------------------------------------------------------------------

def iter_frames(path, size=None, strict=False, stall_timeout=STALL_TIMEOUT):
    """Stream the frames of one video: a generator of uint8 arrays (H, W, 3), RGB, in decoding order.

    path: a video file. size: (H, W) to resize to (the order of the array shape; an int means square), or None
    for the decoded size. strict: raise on any decoding error instead of warning (see the module docstring).
    Stopping early (``break``, ``close()``) kills ffmpeg at once. Raises VideoError (always naming the file):
    missing/unreadable/empty files at the call, decoding problems while iterating.
    """
    path = _check_file(path)                   # here, not inside the generator: bad paths fail at the call
    return _stream(path, _decode_cmd(path, size), strict, stall_timeout)


def _stream(path, cmd, strict, stall_timeout):
    with tempfile.TemporaryFile() as log:
        proc = _start(cmd, path, stdout=subprocess.PIPE, stderr=log)
        watchdog = _Watchdog(proc, stall_timeout)
        n, finished = 0, False
        try:
            header = _read_ppm_header(proc.stdout, watchdog, path, log)
            if header is not None:
                for frame in _read_frames(proc.stdout, watchdog, *header, path):
                    n += 1
                    yield frame
            finished = True
        except VideoError:
            if watchdog.fired:                 # a killed ffmpeg cuts its output anywhere: say why it died
                raise VideoError(path, f"ffmpeg stalled: no data for {stall_timeout:g} s, killed") from None
            raise
        finally:
            watchdog.stop()
            if not finished:                   # the consumer stopped early (or failed): ffmpeg's work is moot
                proc.kill()
            proc.stdout.close()
            proc.wait()
        if watchdog.fired:
            raise VideoError(path, f"ffmpeg stalled: no data for {stall_timeout:g} s, killed", _tail(log))
        _judge(path, proc.returncode, n, _tail(log), strict)


def read_video(path, size=None, strict=False):
    """All frames of one video as one array: (N, H, W, 3) uint8. See ``iter_frames`` for the arguments.

    Fine for one video at a time (a 300-frame video at 112x112 is 11 MB); never call it on a whole dataset.
    """
    frames = list(iter_frames(path, size, strict))
    return np.stack(frames)


def read_windows(path, windows, size=None, strict=False):
    """Exactly the frames named by ``windows``, decoding the video once: windows.shape + (H, W, 3) uint8.

    windows: integer array of frame indices of any shape, e.g. (T,) from ``windows.train_window`` or (n_windows, T)
    from ``windows.test_windows``. Only the frames named are kept, and decoding stops after the last one of them.
    Raises VideoError when the video decodes fewer frames than an index needs (the count the windows were
    drawn from was wrong: count frames with ``count_frames``, which decodes).
    """
    idx = np.asarray(windows)
    if idx.size == 0 or not np.issubdtype(idx.dtype, np.integer) or idx.min() < 0:
        raise ValueError(f"windows: expected a non-empty array of frame indices >= 0, got {windows!r}")
    wanted, last = set(idx.ravel().tolist()), int(idx.max())
    kept, n = {}, 0
    frames = iter_frames(path, size, strict)
    try:
        for n, frame in enumerate(frames, start=1):
            if n - 1 in wanted:
                kept[n - 1] = frame
            if n - 1 == last:
                break
    finally:
        frames.close()                         # kills ffmpeg when we stop before the end
    if last not in kept:
        raise VideoError(path, f"has only {n} decodable frames, frame {last} was requested")
    return np.stack([kept[i] for i in idx.ravel().tolist()]).reshape(idx.shape + kept[last].shape)


def count_frames(path, strict=False, timeout=RUN_TIMEOUT):
    """Number of frames the video decodes to (int >= 1), found by decoding it (``ffmpeg ... -f null``).

    Headers are not trusted (see the module docstring). Same policy as ``iter_frames``: a truncated video
    counts the frames that decode (with a VideoWarning), 0 frames is a VideoError, strict=True makes any
    decoding error a VideoError. Equals ``len(read_video(path))``.
    """
    path = _check_file(path)
    # -progress writes "frame=N" lines to stdout; the last one is the total.
    cmd = [*_ffmpeg_head(), "-progress", "pipe:1", "-i", path, "-map", "0:v:0", *_passthrough(), "-f", "null", "-"]
    out, rc, err = _run(cmd, path, timeout)
    counts = re.findall(rb"^frame=\s*(\d+)", out, flags=re.M)
    n = int(counts[-1]) if counts else 0
    _judge(path, rc, n, err, strict)
    return n


def video_duration(path, timeout=RUN_TIMEOUT):
    """Seconds of the video as its container states it (ffmpeg's "Duration:" line; no decoding), or None where
    the container gives none. Frame counts never come from here (module docstring); datasets that annotate in
    seconds (ActivityNet) use it to turn seconds into decoded frames."""
    path = _check_file(path)
    try:
        proc = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", path],
                              capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise VideoError(path, f"ffmpeg took longer than {timeout:g} s to read the header, killed") from None
    m = re.search(rb"Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)", proc.stderr)
    return None if m is None else int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3))


def frame_size(path):
    """(H, W) of the decoded frames, from decoding the first frame (after rotation metadata is applied)."""
    frames = iter_frames(path)
    try:
        first = next(frames)
    finally:
        frames.close()
    return first.shape[:2]


def decode_throughput(path, size=(112, 112), repeats=3):
    """Frames per second of our reader vs plain ffmpeg on one video (best of ``repeats`` runs each).

    -> dict: frames, reader_fps (``iter_frames(path, size)``: decode + scale + pipe + numpy arrays),
       ffmpeg_null_fps (``ffmpeg -i path -f null -``: decode only, the ceiling), ffmpeg_scale_null_fps (decode +
       the same scaling, no pipe), and the matching ``*_s`` seconds.
    """
    path = _check_file(path)
    reader = _best_time(lambda: sum(1 for _ in iter_frames(path, size)), repeats)
    frames = reader[1]
    null = _best_time(lambda: _run([*_ffmpeg_head(), "-i", path, "-f", "null", "-"], path, RUN_TIMEOUT), repeats)
    h, w = _hw(size)
    scaled = _best_time(lambda: _run([*_ffmpeg_head(), "-i", path, "-vf", f"scale={w}:{h}", "-pix_fmt", "rgb24",
                                      "-f", "null", "-"], path, RUN_TIMEOUT), repeats)
    res = {"frames": frames, "size": (h, w)}
    for name, (secs, _) in [("reader", reader), ("ffmpeg_null", null), ("ffmpeg_scale_null", scaled)]:
        res[f"{name}_s"], res[f"{name}_fps"] = secs, frames / secs
    return res


# ---------------------------------------------------------------------------------------------------------------
# ffmpeg plumbing
# ---------------------------------------------------------------------------------------------------------------

def _check_file(path):
    """Catch what ffmpeg would report vaguely (missing, directory, unreadable, 0 bytes) with a clear message."""
    path = os.fspath(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise VideoError(path, "file not found") from None
    except OSError as e:
        raise VideoError(path, f"unreadable ({e.strerror})") from None
    if not stat.S_ISREG(st.st_mode):
        raise VideoError(path, "not a regular file (a directory?)")
    try:
        with open(path, "rb"):                 # permission problems show here, not in os.stat
            pass
    except OSError as e:
        raise VideoError(path, f"unreadable ({e.strerror})") from None
    if st.st_size == 0:
        raise VideoError(path, "empty file (0 bytes)")
    return path


def _hw(size):
    """size -> (H, W) positive ints. An int means a square."""
    if isinstance(size, (int, np.integer)):
        size = (size, size)
    try:
        h, w = (int(s) for s in size)
        ok = (h, w) == tuple(size) and h > 0 and w > 0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"size: expected (H, W) positive integers, an int, or None; got {size!r}")
    return h, w


def _ffmpeg_head():
    return [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-nostats", "-v", "error"]


@functools.lru_cache(maxsize=None)
def _passthrough():
    """ffmpeg flags for "one output frame per decoded frame": without them a constant-rate output (rawvideo,
    image2pipe) duplicates or drops frames to follow timestamps, and indices would not be decoded frames.
    ``-fps_mode`` exists from ffmpeg 5.1; older builds (IMAGEIO_FFMPEG_EXE) know ``-vsync``."""
    help_text = subprocess.run([*_ffmpeg_head(), "-h", "long"], capture_output=True, timeout=RUN_TIMEOUT).stdout
    return ("-fps_mode", "passthrough") if b"-fps_mode" in help_text else ("-vsync", "passthrough")


def _decode_cmd(path, size):
    # PPM frames carry their own size ("P6\nW H\n255\n"), so the decoded size needs no separate probe and rotated
    # phone videos come out right; -map 0:v:0 takes the first video stream and fails when there is none.
    cmd = [*_ffmpeg_head(), "-i", path, "-map", "0:v:0", *_passthrough()]
    if size is not None:
        h, w = _hw(size)
        cmd += ["-vf", f"scale={w}:{h}"]
    return cmd + ["-pix_fmt", "rgb24", "-c:v", "ppm", "-f", "image2pipe", "-"]


def _start(cmd, path, **kw):
    try:
        return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, **kw)
    except OSError as e:
        raise VideoError(path, f"could not start ffmpeg ({cmd[0]}): {e}") from None


def _run(cmd, path, timeout):
    """Run ffmpeg to completion -> (stdout bytes, return code, stderr tail)."""
    with tempfile.TemporaryFile() as log:
        proc = _start(cmd, path, stdout=subprocess.PIPE, stderr=log)
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise VideoError(path, f"ffmpeg took longer than {timeout:g} s, killed", _tail(log)) from None
        return out, proc.returncode, _tail(log)


def _tail(log, n_bytes=2000):
    """Last ffmpeg messages, for error texts (a damaged file can produce thousands of lines)."""
    log.seek(0, os.SEEK_END)
    log.seek(max(0, log.tell() - n_bytes))
    lines = log.read().decode(errors="replace").splitlines()
    return "\n".join(lines[-8:])


def _judge(path, rc, n_frames, err, strict):
    """Apply the damaged-file policy (module docstring) once ffmpeg has finished."""
    if n_frames == 0:
        # ffmpeg >= 7 says "Error opening input: Invalid data ...", older ones "<path>: Invalid data ..."
        if "Error opening input" in err or f"{path}: Invalid data" in err:
            raise VideoError(path, "ffmpeg cannot open it: not a video, or corrupt/truncated in its header", err)
        if "matches no streams" in err:
            raise VideoError(path, "no video stream (not a video?)", err)
        raise VideoError(path, f"0 frames decoded (truncated or corrupt after its header; exit code {rc})", err)
    if rc != 0 or err:
        if strict or rc != 0 and not _looks_like_decode_error(err):
            raise VideoError(path, f"decoding errors after {n_frames} frames (exit code {rc})", err)
        warnings.warn(VideoWarning(f"{path}: decoding errors (truncated or damaged?); using the {n_frames} "
                                   f"frames that decoded. ffmpeg said: {err.splitlines()[-1]}"), stacklevel=3)


def _looks_like_decode_error(err):
    # Decoder complaints name the codec: "[mpeg4 @ 0x...] ac-tex damaged". Anything else with a failing exit code
    # (an option ffmpeg rejects, a missing filter) is our bug or a broken ffmpeg, and must not pass as a warning.
    return bool(re.search(r"^\[\w+ @ ", err, flags=re.M))


def _read_ppm_header(stream, watchdog, path, log):
    """Read the first frame's PPM header -> (header bytes, H, W), or None when ffmpeg produced no frame."""
    head = b""
    for _ in range(3):                         # "P6\n" "W H\n" "255\n" (ffmpeg's ppm encoder writes exactly this)
        watchdog.waiting = time.monotonic()
        line = stream.readline()
        watchdog.waiting = None
        if not line:
            return None
        head += line
    m = re.fullmatch(rb"P6\n(\d+) (\d+)\n255\n", head)
    if m is None:
        raise VideoError(path, f"unexpected ffmpeg output {head[:40]!r} (not a PPM header)", _tail(log))
    return head, int(m.group(2)), int(m.group(1))


def _read_frames(stream, watchdog, head, height, width, path):
    """Yield (H, W, 3) uint8 frames from the PPM stream, the first header already consumed."""
    n_pix = height * width * 3
    first = True
    while True:
        buf = bytearray(n_pix if first else len(head) + n_pix)
        got = _read_exact(stream, memoryview(buf), watchdog)
        if got == 0 and not first:
            return
        if got < len(buf):
            raise VideoError(path, f"ffmpeg's output ended inside a frame ({got} of {len(buf)} bytes)")
        if not first and buf[:len(head)] != head:
            # a stream whose resolution changes mid-way: the frames would not stack
            raise VideoError(path, f"frame size changed mid-stream ({bytes(buf[:len(head)])!r}); pass size=")
        pixels = np.frombuffer(buf, dtype=np.uint8, offset=0 if first else len(head))
        yield pixels.reshape(height, width, 3)   # bytearray-backed: a writable array, no copy
        first = False


def _read_exact(stream, view, watchdog):
    """Fill ``view`` from the pipe; -> bytes read (less than len(view) only at end of stream)."""
    got = 0
    while got < len(view):
        watchdog.waiting = time.monotonic()
        k = stream.readinto(view[got:])
        watchdog.waiting = None
        if not k:
            break
        got += k
    return got


class _Watchdog:
    """Kills ffmpeg when one read has waited more than ``timeout`` seconds.

    A wall-clock limit on the whole decode would be wrong for a generator: the consumer may take as long as it
    likes between frames (ffmpeg just blocks on the full pipe). Only time spent waiting *for* ffmpeg counts.
    """

    def __init__(self, proc, timeout):
        self.proc, self.timeout, self.waiting, self.fired = proc, timeout, None, False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self):
        while not self._stop.wait(min(0.5, self.timeout)):
            since = self.waiting
            if since is not None and time.monotonic() - since > self.timeout:
                self.fired = True
                self.proc.kill()               # the blocked read then sees end of stream
                return

    def stop(self):
        self._stop.set()


def _best_time(fn, repeats):
    """-> (best seconds, fn's result) over ``repeats`` calls."""
    best = None
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        result = fn()
        dt = time.perf_counter() - t0
        best = dt if best is None else min(best, dt)
    return best, result
