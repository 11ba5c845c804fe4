"""Training checkpoints: one ``.npz`` per run, written atomically after every epoch, read without pickle.

A checkpoint holds the parameters (``param/<name>``), the optimiser state (``opt/<name>``), the epoch, the RNG
state, the per-epoch metrics, the run's configuration (JSON strings) and a SHA-256 checksum of the parameters.
``save_checkpoint`` writes ``<path>.partial`` and renames it onto ``path`` (storage.py), so a crash, a signal or a full
disk leaves the previous good checkpoint in place (and no partial file). ``read_checkpoint`` is the one reader
(training's resume, evaluate, localize): a file that is missing, truncated, corrupt, foreign or whose parameters
do not match their checksum is refused with one message naming it; so is one whose stored metadata (epoch, RNG
state, metrics, configuration) has a field of the wrong type or out of range (``check_config``: the message names
the file and the field).
"""
import hashlib
import json
import math
import zipfile
from pathlib import Path

import numpy as np

from .. import backend
from ..checks import RunError
from ..models import MODEL_CHOICES
from .storage import save_npz

# The options a resumed or re-evaluated run must share with the run that wrote the checkpoint: everything that
# changes what is trained, except --epochs (continuing to more epochs is what --resume is for).
RUN_IDENTITY = ("model", "modality", "dataset", "root", "split", "hidden", "frames", "fc_dim", "validation",
                "attended_data", "lr", "seed", "dropout", "batch_size", "size", "encoder_epochs", "attention_penalty",
                "init_from", "flip", "input_chunk", "rgb_encoder", "optimizer", "momentum", "lr_decay",
                "lr_decay_after", "classes", "feature_shape", "input_shapes", "rows_per_step")
# what checkpoints written before an option existed ran with
_BEFORE = {"validation": 0.0, "attended_data": None, "attention_penalty": 0.0, "init_from": None, "flip": False,
           "input_chunk": 1, "optimizer": "rmsprop", "momentum": 0.9, "lr_decay": 1.0,
           "lr_decay_after": 8, "rgb_encoder": "scratch"}
_REQUIRED = ("param/", "config", "epoch", "rng", "metrics")

# The stored configuration's fields (the train command's options and what the run added), each with what it must
# be: a kind ("int", "number", "text", "flag", "texts", "ints", "shapes", "counts", "figures") and, for numbers,
# the range [lo, hi] (None: unbounded), hi_open for a range open at hi. Fields a run reads without a default are
# REQUIRED_CONFIG; fields not listed here are not read and not checked.
CONFIG_FIELDS = {
    "model": ("text",), "modality": ("text",), "dataset": ("text",), "optimizer": ("text",), "out": ("text",),
    "root": ("text", None), "work": ("text", None), "attended_data": ("text", None), "init_from": ("text", None),
    "device": ("text", None), "rgb_encoder": ("text", None),
    "split": ("int", 1, 3), "epochs": ("int", 1), "batch_size": ("int", 1), "seed": ("int", 0), "frames": ("int", 1),
    "hidden": ("int", 1), "fc_dim": ("int", 1), "eval_windows": ("int", 1), "size": ("int", 1),
    "encoder_epochs": ("int", 0), "workers": ("int", 1), "input_chunk": ("int", 1), "lr_decay_after": ("int", 0),
    "patience": ("int", 0), "test_chunks": ("int", 0), "train_videos": ("int", 0), "validation_videos": ("int", 0),
    "test_videos": ("int", 0),
    "lr": ("number", 0, None, "lo_open"), "momentum": ("number", 0, 1, "hi_open"),
    "lr_decay": ("number", 0, 1, "lo_open"), "dropout": ("number", 0, 1, "hi_open"), "attention_penalty": ("number", 0),
    "validation": ("number", 0, 1, "hi_open"),
    "resume": ("flag",), "overwrite": ("flag",), "flip": ("flag",), "two_stream": ("flag",),
    "classes": ("texts",), "feature_shape": ("ints",), "input_shapes": ("shapes",), "rows_per_step": ("counts",),
    "convnet": ("figures",),
}
REQUIRED_CONFIG = ("model", "modality", "dataset", "split", "frames", "hidden", "fc_dim", "dropout", "seed", "size",
                   "encoder_epochs")


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
    "rng" (state dict), "metrics" (list), "config" (dict). A CheckpointError names the file otherwise (and the
    field, for metadata of the wrong type)."""
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
                   **{k: z[k] for k in ("epoch", "rng", "metrics", "config")},
                   "checksum": z["checksum"] if "checksum" in files else None}
    except CheckpointError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError, TypeError) as err:
        # numpy's own messages for these files (e.g. its advice to load pickled data) would mislead: say what it is
        raise CheckpointError(f"{what} {path}: not a readable tinyalstm checkpoint; the file is truncated, corrupt "
                              f"or of another kind ({type(err).__name__}). Use another checkpoint, or retrain (a "
                              f"training run keeps its last good checkpoint in <out>/checkpoint.npz)") from None
    _check_metadata(path, what, out)
    if out["checksum"] is not None and _checksum(params) != out["checksum"]:
        raise CheckpointError(f"{what} {path}: the parameters do not match the checksum stored with them; the file "
                              f"is corrupt. Use another checkpoint or retrain")
    return out


def _damaged(path, what, field, value, expected):
    shown = repr(value)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    return CheckpointError(f"{what} {path}: its {field} is {shown}, expected {expected}; the file is damaged or was "
                           f"not written by python -m tinyalstm.train. Use another checkpoint, or retrain")


def _text_entry(path, what, out, key):
    """A 0-d text array of the checkpoint -> the str; a CheckpointError naming the entry otherwise."""
    a = out[key]
    if a.ndim != 0 or a.dtype.kind != "U":
        raise _damaged(path, what, f"entry {key!r}", a.tolist() if a.size < 8 else a.dtype, "a text")
    return str(a)


def _json_entry(path, what, out, key, kind):
    text = _text_entry(path, what, out, key)
    try:
        value = json.loads(text)
    except ValueError:
        raise _damaged(path, what, f"entry {key!r}", text, "JSON text") from None
    if not isinstance(value, kind):
        raise _damaged(path, what, f"entry {key!r}", value, f"a JSON {'object' if kind is dict else 'list'}")
    return value


def _check_metadata(path, what, out):
    """Check (and convert) the metadata entries of ``out`` in place; a CheckpointError naming the entry."""
    epoch = out["epoch"]
    if epoch.ndim != 0 or epoch.dtype.kind not in "iu" or int(epoch) < 0:
        raise _damaged(path, what, "entry 'epoch'", epoch.tolist() if epoch.size < 8 else epoch.dtype,
                       "an integer >= 0")
    out["epoch"] = int(epoch)
    rng = _json_entry(path, what, out, "rng", dict)
    if not isinstance(rng.get("bit_generator"), str) or not isinstance(rng.get("state"), dict):
        raise _damaged(path, what, "entry 'rng'", rng, "a generator state with 'bit_generator' and 'state'")
    out["rng"] = rng
    metrics = _json_entry(path, what, out, "metrics", list)
    if not all(isinstance(m, dict) for m in metrics):
        raise _damaged(path, what, "entry 'metrics'", metrics, "a list of one object per epoch")
    out["metrics"] = metrics
    out["config"] = check_config(_json_entry(path, what, out, "config", dict), path, what)
    if out["checksum"] is not None:
        out["checksum"] = _text_entry(path, what, out, "checksum")
    bad = [k for k, v in out["params"].items() if v.dtype.kind != "f"]
    if bad:
        raise _damaged(path, what, f"array param/{bad[0]}", str(out["params"][bad[0]].dtype),
                       "floating-point numbers")
    bad = [k for k, v in out["opt"].items() if v.dtype.kind not in "fiu"]
    if bad:
        raise _damaged(path, what, f"array opt/{bad[0]}", str(out["opt"][bad[0]].dtype), "numbers")


def _fits(value, rule):
    kind = rule[0]
    if kind == "text":
        return isinstance(value, str) or (len(rule) > 1 and value is None)
    if kind == "flag":
        return isinstance(value, bool)
    if kind in ("int", "number"):
        if isinstance(value, bool) or not isinstance(value, int if kind == "int" else (int, float)):
            return False
        if not math.isfinite(value):
            return False
        lo, hi = (rule[1:3] + (None, None))[:2]
        open_ = rule[3] if len(rule) > 3 else ""
        return ((lo is None or value > lo or (value == lo and open_ != "lo_open"))
                and (hi is None or value < hi or (value == hi and open_ != "hi_open")))
    if kind == "texts":
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if kind == "ints":
        return isinstance(value, list) and all(_fits(v, ("int", 1)) for v in value)
    if kind == "shapes":
        return isinstance(value, dict) and all(_fits(v, ("ints",)) for v in value.values())
    if kind == "counts":
        return isinstance(value, dict) and all(_fits(v, ("int", 1)) for v in value.values())
    if kind == "figures":
        return isinstance(value, dict) and all(_fits(v, ("number", None)) or v is None for v in value.values())
    raise ValueError(f"CONFIG_FIELDS: unknown kind {kind!r}")


def _expected(rule):
    kind, lo, hi = (tuple(rule) + (None, None))[:3]
    open_ = rule[3] if len(rule) > 3 else ""
    if kind == "text":
        return "a text" + (" or null" if len(rule) > 1 else "")
    if kind in ("int", "number"):
        noun = "an integer" if kind == "int" else "a finite number"
        if lo is not None and hi is not None:
            return f"{noun} in {'(' if open_ == 'lo_open' else '['}{lo}, {hi}{')' if open_ == 'hi_open' else ']'}"
        if lo is not None:
            return f"{noun} {'>' if open_ == 'lo_open' else '>='} {lo}"
        return noun
    return {"flag": "true or false", "texts": "a list of texts", "ints": "a list of positive integers",
            "shapes": "an object of lists of positive integers", "counts": "an object of positive integers",
            "figures": "an object of numbers"}[kind]


def check_config(config, path, what="--checkpoint"):
    """A checkpoint's stored configuration, every field of CONFIG_FIELDS it has checked for type and range, and
    REQUIRED_CONFIG present -> config; a CheckpointError naming the file and the field otherwise."""
    missing = [k for k in REQUIRED_CONFIG if k not in config]
    if missing:
        raise CheckpointError(f"{what} {path}: its stored configuration has no {', '.join(missing)}; the file is "
                              f"damaged or was not written by python -m tinyalstm.train. Use another checkpoint, or "
                              f"retrain")
    for key, rule in CONFIG_FIELDS.items():
        if key in config and not _fits(config[key], rule):
            raise _damaged(path, what, f"configuration field {key!r}", config[key], _expected(rule))
    if config["model"] not in MODEL_CHOICES:
        raise _damaged(path, what, "configuration field 'model'", config["model"],
                       f"one of {', '.join(MODEL_CHOICES)}")
    return config


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
