"""Optimisers against updates worked out by hand, the step-decay schedule, and global norm clipping."""
import numpy as np
import pytest

from tinyalstm.optim import SGD, RMSprop, clip_grad_norm


def test_sgd_momentum_two_steps():
    p = {"w": np.array([1.0, -2.0])}
    opt = SGD(lr=0.1, momentum=0.9)
    g = {"w": np.array([0.5, 1.0])}
    opt.step(p, g)                     # v = -0.1 g = [-0.05, -0.1]
    np.testing.assert_allclose(p["w"], [0.95, -2.1])
    opt.step(p, g)                     # v = 0.9 v - 0.1 g = [-0.095, -0.19]
    np.testing.assert_allclose(p["w"], [0.855, -2.29])


def test_sgd_step_decay_schedule():
    opt = SGD(lr=0.01, momentum=0.9, decay_start=4, decay_every=2, decay_rate=0.5)
    lrs = []
    for _ in range(9):
        lrs.append(opt.current_lr())
        opt.step({"w": np.zeros(1)}, {"w": np.zeros(1)})
    np.testing.assert_allclose(lrs, [0.01] * 4 + [0.005] * 2 + [0.0025] * 2 + [0.00125])


def test_rmsprop_two_steps():
    p = {"w": np.array([1.0])}
    opt = RMSprop(lr=0.01, rho=0.9, eps=1e-6)
    opt.step(p, {"w": np.array([2.0])})        # acc = 0.1 * 4 = 0.4
    np.testing.assert_allclose(p["w"], [1.0 - 0.01 * 2.0 / (np.sqrt(0.4) + 1e-6)])
    w1 = p["w"].copy()
    opt.step(p, {"w": np.array([-1.0])})       # acc = 0.9 * 0.4 + 0.1 * 1 = 0.46
    np.testing.assert_allclose(p["w"], w1 + 0.01 / (np.sqrt(0.46) + 1e-6))


def test_optimiser_state_round_trip():
    p = {"w": np.array([1.0, 2.0])}
    for make in (lambda: SGD(lr=0.1), lambda: RMSprop(lr=0.1)):
        a, b = make(), make()
        a.step(p, {"w": np.array([1.0, -1.0])})
        b.load_state_dict(a.state_dict(), like=p)
        pa, pb = {"w": p["w"].copy()}, {"w": p["w"].copy()}
        a.step(pa, {"w": np.array([0.3, 0.2])})
        b.step(pb, {"w": np.array([0.3, 0.2])})
        np.testing.assert_array_equal(pa["w"], pb["w"])
        assert a.t == b.t == 2


def test_clip_grad_norm():
    g = {"a": np.array([3.0]), "b": np.array([4.0])}
    assert clip_grad_norm(g, 10.0) == 5.0 and g["a"][0] == 3.0           # below the limit: untouched
    assert clip_grad_norm(g, 1.0) == 5.0
    np.testing.assert_allclose([g["a"][0], g["b"][0]], [0.6, 0.8])
    nan = {"a": np.array([np.nan])}
    assert np.isnan(clip_grad_norm(nan, 1.0))


@pytest.mark.parametrize("make, arg", [(lambda: SGD(lr=-1), "lr"), (lambda: SGD(lr=0.1, momentum=-0.5), "momentum"),
                                       (lambda: RMSprop(eps=0), "eps"), (lambda: clip_grad_norm({}, 0), "max_norm")])
def test_bad_hyperparameters_name_the_argument(make, arg):
    with pytest.raises(ValueError, match=arg):
        make()
