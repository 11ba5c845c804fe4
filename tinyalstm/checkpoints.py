"""Training checkpoints: one ``.npz`` per run, written atomically after every epoch, read without pickle.

A checkpoint holds the parameters (``param/<name>``), the optimiser state (``opt/<name>``), the epoch, the RNG
state, the per-epoch metrics and the run's configuration (JSON strings). ``save_checkpoint`` writes
``<path>.partial.npz`` and renames it onto ``path``, so a crash leaves the previous good checkpoint in place.
"""
import json
import os
from pathlib import Path

import numpy as np

from . import backend

# The options a resumed or re-evaluated run must share with the run that wrote the checkpoint.
RUN_IDENTITY = ("model", "modality", "dataset", "split", "hidden", "frames", "fc_dim", "validation",
                "attended_data")
_BEFORE = {"validation": 0.0, "attended_data": None}      # what checkpoints written before an option existed ran with


def save_checkpoint(path, model, opt, epoch, rng, metrics, config):
    """Write model parameters, optimiser state, epoch, RNG state, metrics and config to ``path`` atomically."""
    arrays = {f"param/{k}": backend.to_numpy(v) for k, v in model.params.items()}
    arrays.update({f"opt/{k}": backend.to_numpy(v) for k, v in opt.state_dict().items()})
    arrays["epoch"] = np.array(epoch)
    arrays["rng"] = np.array(json.dumps(rng.bit_generator.state))
    arrays["metrics"] = np.array(json.dumps(metrics))
    arrays["config"] = np.array(json.dumps(config))
    tmp = Path(str(path) + ".partial.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def read_config(path):
    """The configuration stored in a checkpoint (a SystemExit naming the file when it is not one)."""
    path = Path(path)
    if not path.is_file():
        raise SystemExit(f"--checkpoint {path}: file not found")
    try:
        with np.load(path, allow_pickle=False) as z:
            return json.loads(str(z["config"]))
    except (OSError, ValueError, KeyError) as err:
        raise SystemExit(f"--checkpoint {path}: not a tinyalstm checkpoint ({err})") from None


def load_checkpoint(path, model, opt, config):
    """Load ``path`` into ``model`` and ``opt`` -> (epoch, rng, metrics). Refuses (SystemExit) a checkpoint
    written for other options (``RUN_IDENTITY``) than ``config``."""
    with np.load(path, allow_pickle=False) as z:
        saved = json.loads(str(z["config"]))
        for k in RUN_IDENTITY:
            was, now = saved.get(k, _BEFORE.get(k)), config.get(k, _BEFORE.get(k))
            if was != now:
                raise SystemExit(f"--resume: {path} was written for {k}={was!r}, this run has {now!r}; use another "
                                 f"--out or the same options")
        model.params = {k: backend.to_device(z[f"param/{k}"], model.dtype) for k in model.params}
        opt.load_state_dict({k[4:]: z[k] for k in z.files if k.startswith("opt/")}, model.params)
        rng = np.random.default_rng()
        rng.bit_generator.state = json.loads(str(z["rng"]))
        return int(z["epoch"]), rng, json.loads(str(z["metrics"]))
