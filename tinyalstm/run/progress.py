"""Progress of long passes, with an ETA: a tqdm bar on a terminal, plain lines in a log.

On a terminal ``progress`` is tqdm's bar (rate, elapsed, ETA), redrawn in place. When stderr is not a terminal
(a log file, CI, ``nohup``), a bar's carriage returns would make the log one endless line, so it prints a plain
line at every tenth of the work (and at least every ``every`` seconds): ``desc: 40/240 (12.0/s, ETA 0:17)``.
tqdm is a well-kept library that does the terminal part well; the plain lines are ours.
"""
import sys
import time

from tqdm import tqdm


def _clock(seconds):
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


def eta(done, total, elapsed):
    """'m:ss' left at the rate so far (or '?' before the first item)."""
    return _clock(elapsed / done * (total - done)) if done else "?"


def progress(items, total=None, desc="", unit="it", every=30.0, stream=None, leave=True, lines=True):
    """Iterate ``items`` showing progress on ``stream`` (default stderr); ``total`` defaults to len(items).
    ``lines=False``: nothing at all when stream is not a terminal (for inner loops, e.g. the batches of an epoch,
    whose caller logs a line per pass); ``leave=False``: the terminal bar is erased when done."""
    stream = sys.stderr if stream is None else stream
    total = len(items) if total is None else total
    if getattr(stream, "isatty", lambda: False)():
        yield from tqdm(items, total=total, desc=desc, unit=unit, file=stream, leave=leave, dynamic_ncols=True)
        return
    if not lines:
        yield from items
        return
    start = last = time.perf_counter()
    step = max(1, total // 10)
    done = 0
    for item in items:
        yield item
        done += 1
        now = time.perf_counter()
        if done == total or done % step == 0 or now - last >= every:
            last = now
            rate = done / max(now - start, 1e-9)
            print(f"{desc}: {done}/{total} {unit} ({rate:.1f}/s, ETA {eta(done, total, now - start)})",
                  file=stream, flush=True)
