"""The aLSTM learning check: does temporal attention find the frames that carry the class?

    python -m tinyalstm.demo            # full measurement, 3 seeds (about 15 s on 2 CPU cores)
    python -m tinyalstm.demo --help

Trains on the generated task of ``tinyalstm.data.tasks`` (class evidence in 2 of 12 attended frames, uninformative
input-data) and prints, for each model, held-out accuracy and the mean attention mass on the evidence frames
(chance: 2/12 = 0.167). Models: aLSTM variant (a) and (b), the vanilla LSTM on the input-data (the paper's
baseline, which can only be at chance here), and a vanilla LSTM that reads the attended frames as its input.
All use the aLSTM recipe: SGD with momentum 0.9, dropout on the non-recurrent connections.
"""
import argparse
import time

import numpy as np

from . import backend
from .data.tasks import make_highlight_task, read_as_input
from .experiment.evaluation import evaluate_sequences
from .experiment.training import train_sequences
from .models import build_model
from .optim import SGD

# the demo's rows: registry model, and which of the task's arrays it reads as its input-data
ROWS = {"alstm": ("alstm", "V"), "alstm-b": ("alstm-b", "V"), "lstm": ("lstm", "V"),
        "lstm-attended": ("lstm", "A")}
DESCRIPTIONS = {"alstm": "aLSTM (a): attention every step", "alstm-b": "aLSTM (b): attention at last step",
                "lstm": "LSTM on input-data V", "lstm-attended": "LSTM reading attended frames A"}


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m tinyalstm.demo", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", choices=ROWS, default=list(ROWS), help="models to train")
    ap.add_argument("--train", type=int, default=2000, help="training sequences (default 2000)")
    ap.add_argument("--test", type=int, default=1000, help="held-out sequences (default 1000)")
    ap.add_argument("--epochs", type=int, default=15, help="passes over the training set (default 15)")
    ap.add_argument("--batch-size", type=int, default=32, help="minibatch size (default 32)")
    ap.add_argument("--lr", type=float, default=0.1, help="SGD learning rate, momentum 0.9 (default 0.1)")
    ap.add_argument("--hidden", type=int, default=32, help="LSTM hidden size = matching-vector size (default 32)")
    ap.add_argument("--noise", type=float, default=0.5, help="feature noise of the task (default 0.5)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="model seeds; mean and std are reported")
    ap.add_argument("--device", choices=("cpu", "cuda"), default=None, help="default: TINYALSTM_DEVICE or auto")
    ap.add_argument("--quiet", action="store_true", help="print only the result table")
    args = ap.parse_args(argv)
    for flag in ("train", "test", "epochs", "batch_size", "hidden"):
        if getattr(args, flag) < 1:
            ap.error(f"--{flag.replace('_', '-')}: expected a positive integer, got {getattr(args, flag)}")
    if not args.lr > 0:
        ap.error(f"--lr: expected a positive number, got {args.lr}")
    if not args.noise >= 0:
        ap.error(f"--noise: expected a non-negative number, got {args.noise}")
    if args.device:
        backend.set_device(args.device)
    log = (lambda *a: None) if args.quiet else (lambda *a: print(*a, flush=True))

    train = make_highlight_task(args.train, noise=args.noise, seed=10_000)
    test = make_highlight_task(args.test, noise=args.noise, seed=20_000)
    frames, evidence = train["A"].shape[1], int(train["informative"][0].sum())
    log(f"task: {args.train} train / {args.test} test sequences, {int(train['y'].max()) + 1} classes, "
        f"{train['V'].shape[1]} steps, {frames} attended frames of which {evidence} carry the class; "
        f"device {backend.get_device()}")
    rows = []
    for name in args.models:
        model_name, reads = ROWS[name]
        tr, te = read_as_input(train, reads), read_as_input(test, reads)
        acc, mass, secs = [], [], 0.0
        for seed in args.seeds:
            model = build_model(model_name, int(tr["y"].max()) + 1, tr["V"].shape[2], args.hidden,
                                second_dim=tr["A"].shape[2], dropout=0.2, seed=seed)
            t0 = time.perf_counter()
            train_sequences(model, SGD(lr=args.lr, momentum=0.9), tr, args.epochs, args.batch_size,
                            np.random.default_rng(seed), log=lambda msg: log(f"  {name:13s} {msg}"))
            a, _, w = evaluate_sequences(model, te)
            secs += time.perf_counter() - t0
            acc.append(a)
            mass.append(None if w is None else float((w * te["informative"][:, None, :]).sum(axis=-1).mean()))
        rows.append((name, np.array(acc), None if mass[0] is None else np.array(mass), secs))

    chance = 1.0 / (int(train["y"].max()) + 1)
    print(f"\nheld-out accuracy (chance {chance:.3f}) and attention mass on the {evidence} evidence frames "
          f"(uniform {evidence / frames:.3f}); {len(args.seeds)} seed(s), mean ± std")
    print(f"{'model':36s} {'accuracy':>15s} {'evidence mass':>15s} {'train s':>8s}")
    for name, acc, mass, secs in rows:
        m = "-" if mass is None else f"{mass.mean():.3f} ± {mass.std():.3f}"
        print(f"{DESCRIPTIONS[name]:36s} {acc.mean():7.3f} ± {acc.std():.3f} {m:>15s} {secs:8.1f}")
    return rows


if __name__ == "__main__":
    from .run.cli import run
    run(main)
