"""The aLSTM learning check: does temporal attention find the frames that carry the class?

    python -m tinyalstm.demo            # full measurement, 3 seeds (about 15 s on 2 CPU cores)
    python -m tinyalstm.demo --help

Trains on the generated task of ``tinyalstm.tasks`` (class evidence in 2 of 12 attended frames, uninformative
input-data) and prints, for each model, held-out accuracy and the mean attention mass on the evidence frames
(chance: 2/12 = 0.167). Models: aLSTM variant (a) and (b), the vanilla LSTM on the input-data (the paper's
baseline, which can only be at chance here), and a vanilla LSTM that reads the attended frames as its input.
All use the aLSTM recipe: SGD with momentum 0.9, dropout on the non-recurrent connections.
"""
import argparse
import sys
import time

import numpy as np

from . import backend
from .fit import evaluate, train_epoch
from .models import LSTM, aLSTM
from .optim import SGD
from .tasks import make_highlight_task

MODELS = ("alstm-a", "alstm-b", "lstm-v", "lstm-a")
DESCRIPTIONS = {"alstm-a": "aLSTM (a): attention every step", "alstm-b": "aLSTM (b): attention at last step",
                "lstm-v": "LSTM on input-data V", "lstm-a": "LSTM reading attended frames A"}


def build(name, train, hidden, seed, dropout):
    """The model ``name`` and the train/test dicts it reads (lstm-a reads A in place of V)."""
    dv, da, C = train["V"].shape[2], train["A"].shape[2], int(train["y"].max()) + 1
    if name.startswith("alstm"):
        return aLSTM(dv, da, hidden, hidden, C, variant=name[-1], dropout=dropout, seed=seed)
    return LSTM(da if name == "lstm-a" else dv, hidden, C, dropout=dropout, seed=seed)


def as_input(name, data):
    return {"V": data["A"], "y": data["y"]} if name == "lstm-a" else data


def run(name, train, test, epochs, batch_size, lr, hidden, seed, dropout=0.2, log=print):
    """Train one model and return (accuracy, attention mass on evidence frames or None, seconds)."""
    model = build(name, train, hidden, seed, dropout)
    opt = SGD(lr=lr, momentum=0.9)
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    for epoch in range(epochs):
        loss = train_epoch(model, opt, as_input(name, train), batch_size, rng)
        log(f"  {name:8s} epoch {epoch + 1:2d}/{epochs}  train loss {loss:.4f}")
    acc, _, w = evaluate(model, as_input(name, test))
    mass = None if w is None else float((w * test["informative"][:, None, :]).sum(axis=-1).mean())
    return acc, mass, time.perf_counter() - t0


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m tinyalstm.demo", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS), help="models to train")
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
        results = [run(name, train, test, args.epochs, args.batch_size, args.lr, args.hidden, s, log=log)
                   for s in args.seeds]
        acc = np.array([r[0] for r in results])
        mass = None if results[0][1] is None else np.array([r[1] for r in results])
        rows.append((name, acc, mass, sum(r[2] for r in results)))

    chance = 1.0 / (int(train["y"].max()) + 1)
    print(f"\nheld-out accuracy (chance {chance:.3f}) and attention mass on the {evidence} evidence frames "
          f"(uniform {evidence / frames:.3f}); {len(args.seeds)} seed(s), mean ± std")
    print(f"{'model':36s} {'accuracy':>15s} {'evidence mass':>15s} {'train s':>8s}")
    for name, acc, mass, secs in rows:
        m = "-" if mass is None else f"{mass.mean():.3f} ± {mass.std():.3f}"
        print(f"{DESCRIPTIONS[name]:36s} {acc.mean():7.3f} ± {acc.std():.3f} {m:>15s} {secs:8.1f}")
    return rows


if __name__ == "__main__":
    main(sys.argv[1:])
