"""Training checkpoints: one ``.npz`` per run, written atomically after every epoch, read without pickle.

A checkpoint holds the parameters (``param/<name>``), the optimiser state (``opt/<name>``), the epoch, the RNG
state, the per-epoch metrics, the run's configuration (JSON strings) and a SHA-256 checksum of the parameters.
``save_checkpoint`` writes ``<path>.partial`` and renames it onto ``path`` (storage.py), so a crash, a signal or a full
disk leaves the previous good checkpoint in place (and no partial file). ``read_checkpoint`` is the one reader
(training's resume, evaluate, localize): a file that is missing, truncated, corrupt, foreign or whose parameters
do not match their checksum is refused with one message naming it.
"""
import hashlib
import json
import zipfile
from pathlib import Path

import numpy as np

from .. import backend
from ..checks import RunError
from .storage import save_npz

# The options a resumed or re-evaluated run must share with the run that wrote the checkpoint: everything that
# changes what is trained, except --epochs (continuing to more epochs is what --resume is for).
RUN_IDENTITY = ("model", "modality", "dataset", "root", "split", "hidden", "frames", "fc_dim", "validation",
                "attended_data", "lr", "seed", "dropout", "batch_size", "size", "encoder_epochs", "attention_penalty",
                "init_from", "flip", "input_chunk", "optimizer", "momentum", "lr_decay", "lr_decay_after",
                "classes", "feature_shape", "input_shapes", "rows_per_step")
# what checkpoints written before an option existed ran with
_BEFORE = {"validation": 0.0, "attended_data": None, "attention_penalty": 0.0, "init_from": None, "flip": False,
           "input_chunk": 1, "optimizer": "rmsprop", "momentum": 0.9, "lr_decay": 1.0,
           "lr_decay_after": 8}
_REQUIRED = ("param/", "config", "epoch", "rng", "metrics")


class CheckpointError(RunError):
    """A checkpoint that cannot be used; the message names the file and says why (exit status 1)."""


def _checksum(params):
    h = hashlib.sha256()
    for k in sorted(params):
        a = np.ascontiguousarray(params[k])
        h.update(k.encode() + str(a.dtype).encode() + str(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def save_checkpoint(path, model, opt, epoch, rng, metrics, config):
    """Write model parameters, optimiser state, epoch, RNG state, metrics, config and the parameters' checksum
    to ``path`` atomically."""
    params = {k: backend.to_numpy(v) for k, v in model.params.items()}
    arrays = {f"param/{k}": v for k, v in params.items()}
    arrays.update({f"opt/{k}": backend.to_numpy(v) for k, v in opt.state_dict().items()})
    arrays["epoch"] = np.array(epoch)
    arrays["rng"] = np.array(json.dumps(rng.bit_generator.state))
    arrays["metrics"] = np.array(json.dumps(metrics))
    arrays["config"] = np.array(json.dumps(config))
    arrays["checksum"] = np.array(_checksum(params))
    save_npz(path, **arrays)        # atomic: a full disk or a signal keeps the last good checkpoint


def read_checkpoint(path, what="--checkpoint"):
    """Everything a checkpoint holds, checked -> dict with "params" {name: array}, "opt" {name: array}, "epoch",
    "rng" (state dict), "metrics" (list), "config" (dict). A CheckpointError names the file otherwise."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{what} {path}: file not found")
    try:
        with np.load(path, allow_pickle=False) as z:
            files = set(z.files)
            missing = [k for k in _REQUIRED if not any(f == k or (k.endswith("/") and f.startswith(k))
                                                       for f in files)]
            if missing:
                raise CheckpointError(f"{what} {path}: not a tinyalstm checkpoint (no {', '.join(missing)} in it)")
            params = {k[6:]: z[k] for k in z.files if k.startswith("param/")}
            out = {"params": params, "opt": {k[4:]: z[k] for k in z.files if k.startswith("opt/")},
                   "epoch": int(z["epoch"]), "rng": json.loads(str(z["rng"])),
                   "metrics": json.loads(str(z["metrics"])), "config": json.loads(str(z["config"])),
                   "checksum": str(z["checksum"]) if "checksum" in files else None}
    except CheckpointError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError, TypeError) as err:
        # numpy's own messages for these files (e.g. its advice to load pickled data) would mislead: say what it is
        raise CheckpointError(f"{what} {path}: not a readable tinyalstm checkpoint; the file is truncated, corrupt "
                              f"or of another kind ({type(err).__name__}). Use another checkpoint, or retrain (a "
                              f"training run keeps its last good checkpoint in <out>/checkpoint.npz)") from None
    if out["checksum"] is not None and _checksum(params) != out["checksum"]:
        raise CheckpointError(f"{what} {path}: the parameters do not match the checksum stored with them; the file "
                              f"is corrupt. Use another checkpoint or retrain")
    return out


def read_config(path):
    """The configuration stored in a checkpoint (a CheckpointError naming the file when it is not one)."""
    return read_checkpoint(path)["config"]


def check_same_options(path, saved, config, what="--resume", only=None):
    """Refuse (CheckpointError, naming every option that differs) a checkpoint ``path`` whose configuration
    ``saved`` differs from this run's ``config`` on ``RUN_IDENTITY`` (or on the names in ``only``)."""
    diff = [d for d in differences(saved, config) if only is None or d[0] in only]
    if diff:
        listed = "; ".join(f"--{k.replace('_', '-')}: {was!r} there, {now!r} here" for k, was, now in diff)
        raise CheckpointError(f"{what}: {path} was written by a run with other options ({listed}). Give the same "
                              f"options, or another --out")


def differences(saved, config):
    """The RUN_IDENTITY options on which a checkpoint's configuration and this run's differ -> [(name, was,
    now)]."""
    out = []
    for k in RUN_IDENTITY:
        was, now = saved.get(k, _BEFORE.get(k)), config.get(k, _BEFORE.get(k))
        if k not in saved and k not in _BEFORE:
            continue                # a checkpoint older than the option: nothing to compare
        if was != now:
            out.append((k, was, now))
    return out


def load_checkpoint(path, model, opt, config, what="--resume"):
    """Load ``path`` into ``model`` and ``opt`` -> (epoch, rng, metrics). Refuses (CheckpointError, naming every
    option that differs) a checkpoint written for other options (``RUN_IDENTITY``) than ``config``."""
    ckpt = read_checkpoint(path, what)
    check_same_options(path, ckpt["config"], config, what)
    shapes = {k: tuple(v.shape) for k, v in model.params.items()}
    bad = [k for k in shapes if k not in ckpt["params"] or tuple(ckpt["params"][k].shape) != shapes[k]]
    if bad:
        raise CheckpointError(f"{what}: {path} holds other parameters than this model's ({', '.join(bad[:4])})")
    model.params = {k: backend.to_device(ckpt["params"][k], model.dtype) for k in model.params}
    opt.load_state_dict(ckpt["opt"], model.params)
    rng = np.random.default_rng()
    rng.bit_generator.state = ckpt["rng"]
    return ckpt["epoch"], rng, ckpt["metrics"]


# The classifier's last layer: what fine-tuning on other classes starts afresh (models/base.py names it).
CLASS_LAYER = ("Wy", "by")


def init_from(path, model, config, log=print):
    """Fine-tuning: copy the parameters of checkpoint ``path`` into ``model`` (a new run's, freshly initialised)
    -> the names copied. The checkpoint must hold the same model; when the class lists differ the class layer
    (CLASS_LAYER) keeps its fresh initialisation (aLSTM sec. 4: the HOHA2 model starts from the ActivityNet one).
    Any other parameter of another shape is refused, named."""
    ckpt = read_checkpoint(path, "--init-from")
    saved = ckpt["config"]
    if saved.get("model") != config["model"]:
        raise CheckpointError(f"--init-from {path}: a {saved.get('model')} checkpoint; this run trains "
                              f"{config['model']}")
    same_classes = saved.get("classes") == config.get("classes")
    keep_fresh = () if same_classes else CLASS_LAYER
    bad = [k for k, v in model.params.items() if k not in keep_fresh
           and (k not in ckpt["params"] or tuple(ckpt["params"][k].shape) != tuple(v.shape))]
    if bad:
        listed = ", ".join(f"{k} {tuple(ckpt['params'][k].shape) if k in ckpt['params'] else 'missing'} there, "
                           f"{tuple(model.params[k].shape)} here" for k in bad[:4])
        raise CheckpointError(f"--init-from {path}: its parameters do not fit this run's model ({listed}); give "
                              f"the sizes it was trained with (--hidden, --fc-dim, features of the same shape)")
    copied = [k for k in model.params if k not in keep_fresh]
    model.params = {k: (backend.to_device(ckpt["params"][k], model.dtype) if k in copied else v)
                    for k, v in model.params.items()}
    log(f"--init-from {path}: {len(copied)} parameter arrays copied"
        + ("" if same_classes else f"; the class layer ({', '.join(CLASS_LAYER)}) starts afresh: the checkpoint's "
                                   f"{len(saved.get('classes') or [])} classes are not this run's "
                                   f"{len(config.get('classes') or [])}"))
    return copied
