"""The PyTorch peer, imported and checked: ``import_torch`` sets it up for a fair comparison (or says why it is
missing), ``verify_peer`` checks on a small float64 configuration that it computes the same loss and gradients
as our model before the benchmark times it. The peer models themselves are in torch_peer.py."""
from dataclasses import replace

import numpy as np

from .. import backend
from ..gradcheck import rel_error
from ..layers.feedforward import dropout_mask
from .steps import CONFIGS, make_inputs, model_at
from .timing import on_device

# verify_peer's configuration (in float64): the tiny one.
VERIFY = replace(CONFIGS["tiny"], name="verify")
VERIFY_LOSS_TOL = 1e-9      # absolute, on a loss of order log(n_classes)
VERIFY_GRAD_TOL = 1e-8      # gradcheck.rel_error per parameter (and per input), the worst one


def import_torch(device="cpu"):
    """torch (set up for a fair comparison on ``device``), or None with the reason when it does not import."""
    try:
        import torch                  # optional: the comparison peer, never a dependency
    except Exception as exc:  # noqa: BLE001 -- not installed, or a broken install (e.g. missing CUDA libraries)
        return None, f"{type(exc).__name__}: {exc}"
    if device == "cuda":
        # FP32 convolutions and matrix products in full FP32, like ours: no TF32 (10-bit mantissa) shortcut.
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        # Let cuDNN pick its fastest algorithm for these fixed shapes (the warm-up step pays for the search).
        torch.backends.cudnn.benchmark = True
    return torch, None


def verify_peer(model_name, device="cpu", seed=0):
    """Check that the PyTorch peer of ``model_name`` computes the same function as our model.

    Small float64 configuration (``VERIFY``), our model's parameters set to generic values (the zero biases of
    the initialisation would hide a misplaced bias) and copied into the peer; same inputs; loss, parameter
    gradients and input gradients compared with head dropout off, then with the same dropout mask on both sides.
    Raises AssertionError beyond VERIFY_LOSS_TOL / VERIFY_GRAD_TOL; returns the worst figures
    {"loss": abs diff, "grads": worst rel_error over parameters, "inputs": worst over X (and M)}.
    Ours runs on ``device`` (tinyalstm's device for the call), the peer on the CPU or the GPU alike.
    """
    torch, why = import_torch(device)
    if torch is None:
        raise RuntimeError(f"verify_peer: torch not importable ({why})")
    from . import torch_peer as peer  # optional: PyTorch

    cfg, r = VERIFY, np.random.default_rng(seed)
    with on_device(device):
        model = model_at(model_name, cfg, np.float64, seed)
        model.params = {k: backend.to_device(0.5 * r.normal(size=v.shape), np.float64) for k, v in model.params.items()}
        X, y, M = make_inputs(cfg, model.reads_second, np.float64, seed + 1)
        mask = dropout_mask((cfg.batch, cfg.steps, cfg.fc_dim), model.dropout, np.random.default_rng(seed + 2),
                            np.float64)
        # with rng, the model draws its mask with this same call from a generator in the same state
        ours = [model.loss_and_input_grads(X, y, M),
                model.loss_and_input_grads(X, y, M, np.random.default_rng(seed + 2))]
    tdev = "cuda" if device == "cuda" else "cpu"
    p = peer.params_from({k: backend.to_numpy(v) for k, v in model.params.items()}, tdev, torch.float64)
    Xt, Mt = (None if a is None else torch.tensor(backend.to_numpy(a), device=tdev, requires_grad=True) for a in (X, M))
    yt = torch.as_tensor(backend.to_numpy(y), device=tdev)
    peer_dropouts = (None, (model.dropout, torch.as_tensor(mask, device=tdev)))
    worst = {"loss": 0.0, "grads": 0.0, "inputs": 0.0}
    for (loss, grads, dinputs), dropout in zip(ours, peer_dropouts):
        t_loss, t_grads, t_inputs = peer.loss_and_grads(model_name, p, Xt, yt, Mt, dropout)
        worst["loss"] = max(worst["loss"], abs(loss - t_loss))
        for theirs, mine, key in ((t_grads, grads, "grads"), (t_inputs, dinputs, "inputs")):
            if set(theirs) != set(mine):
                raise AssertionError(f"verify_peer({model_name}): {key} {sorted(mine)} vs peer {sorted(theirs)}")
            for k in mine:
                err = rel_error(backend.to_numpy(mine[k]), theirs[k].detach().cpu().numpy())
                worst[key] = max(worst[key], err)
    if worst["loss"] > VERIFY_LOSS_TOL or max(worst["grads"], worst["inputs"]) > VERIFY_GRAD_TOL:
        raise AssertionError(f"verify_peer({model_name}): the PyTorch peer computes a different function: loss diff "
                             f"{worst['loss']:.1e} (tol {VERIFY_LOSS_TOL:.0e}), worst rel grad diff "
                             f"{worst['grads']:.1e}, input grads {worst['inputs']:.1e} (tol {VERIFY_GRAD_TOL:.0e})")
    return worst
