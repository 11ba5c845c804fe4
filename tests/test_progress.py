"""Progress: plain lines with an ETA when the stream is a log, tqdm's bar on a terminal, silence for inner loops
in a log."""
import io

from tinyalstm.run.progress import eta, progress


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_a_log_gets_plain_lines_at_every_tenth_with_an_eta():
    log = io.StringIO()
    assert list(progress(range(20), desc="decoding", unit="videos", stream=log)) == list(range(20))
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue() and len(lines) == 10
    assert lines[0].startswith("decoding: 2/20 videos (") and "ETA" in lines[0]
    assert lines[-1].startswith("decoding: 20/20 videos") and lines[-1].endswith("ETA 0:00)")


def test_inner_loops_are_silent_in_a_log_and_a_terminal_gets_a_bar():
    log = io.StringIO()
    assert list(progress(range(5), stream=log, lines=False)) == list(range(5)) and log.getvalue() == ""
    term = _Terminal()
    assert list(progress(range(5), desc="epoch 1", unit="batches", stream=term)) == list(range(5))
    assert "epoch 1" in term.getvalue() and "5/5" in term.getvalue()


def test_eta():
    assert eta(0, 10, 5.0) == "?"
    assert eta(2, 10, 30.0) == "2:00"           # 15 s each, 8 left
    assert eta(1, 1000, 10.0) == "2:46:30"
