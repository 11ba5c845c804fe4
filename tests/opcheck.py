"""``check_op``: one call checks a layer's forward pass against reference/ and its backward pass against finite
differences, so that most op tests are one line (the idea of tinygrad's ``helper_test_op``).

The op tests import it as ``from opcheck import check_op``: pytest puts tests/ on ``sys.path`` when it loads
tests/conftest.py, as it does for ``from conftest import ...``.
"""
import numpy as np

from tinyalstm.gradcheck import GRAD_TOL, REF_TOL, check_gradients, rel_error


def check_op(name, forward, backward, inputs, rng=None, reference=None, outputs=1, grad_names=None,
             tol=GRAD_TOL, ref_tol=REF_TOL):
    """Check the pair ``forward(*inputs) -> (out_1, ..., out_n, cache)``, ``backward(dout_1, ..., cache)``.

    name        the op's name in the gradient-error table (``tinyalstm.gradcheck.WORST``)
    inputs      {name: float64 array} in ``forward``'s argument order; wrap any other argument in a lambda,
                e.g. ``lambda x: dropout_forward(x, p, mask)``
    rng         draws the upstream gradients (pass the Generator that drew the inputs; default seed 0)
    reference   ``reference(*inputs)`` -> all n outputs (one array or a tuple); each must be within
                ``rel_error <= ref_tol`` of the forward's
    outputs     how many of the outputs the backward pass takes a gradient for (the first ones)
    grad_names  the names of backward's results in its return order (default: the input names); a result
                whose name is not an input is returned but not checked (e.g. ``None`` for an absent bias)

    Steps: run forward; compare with the reference; draw ``dout_j = rng.normal(size=out_j.shape)`` for each
    checked output, in order; call backward; check every input's gradient against central differences of
    sum_j sum(out_j * dout_j) with ``check_gradients`` (raises AssertionError above ``tol``).
    -> {name: gradient} as backward returned them.
    """
    for key, x in inputs.items():
        assert x.dtype == np.float64, f"{name}: input {key} is {x.dtype}; finite differences need float64"
    args = list(inputs.values())
    *outs, cache = forward(*args)
    if reference is not None:
        want = reference(*args)
        want = want if isinstance(want, tuple) else (want,)
        assert len(want) == len(outs), f"{name}: reference gives {len(want)} outputs, forward {len(outs)}"
        for j, (got, expected) in enumerate(zip(outs, want)):
            err = rel_error(got, expected)
            assert err <= ref_tol, f"{name}: output {j} differs from the reference by {err:.1e} > {ref_tol:.0e}"

    rng = np.random.default_rng(0) if rng is None else rng
    douts = [rng.normal(size=np.shape(out)) for out in outs[:outputs]]
    grads = backward(*douts, cache)
    grads = grads if isinstance(grads, tuple) else (grads,)
    names = list(inputs) if grad_names is None else list(grad_names)
    assert len(grads) == len(names), f"{name}: backward returns {len(grads)} gradients, named {names}"
    grads = dict(zip(names, grads))
    for key, x in inputs.items():
        assert np.shape(grads[key]) == x.shape, f"{name}: d/d{key} has shape {np.shape(grads[key])}, not {x.shape}"

    # several outputs are checked at once through one flat vector: sum(out_1 * dout_1) + sum(out_2 * dout_2) + ...
    flat = lambda arrays: np.concatenate([np.ravel(a) for a in arrays])  # noqa: E731
    check_gradients(name, lambda: flat(forward(*args)[:outputs]), inputs, grads, flat(douts), tol)
    return grads
