"""The compiled dense loss kernel (sklearn_nnopt/_kernels/_fused_loss.pyx).

The numpy ``loss_gradient`` of each covered loss is the reference: the kernel
must give its per-sample losses and gradients to 1e-12 relative in float64
and 1e-6 in float32 (relative to the array's largest magnitude), on raw
predictions with extreme values, for one and several outputs, in C and
column-major layouts. Every covered loss must actually run the kernel when it
is built (a silent fallback to numpy fails here), and what it does not cover
(subclasses, mixed dtypes) must fall back.
"""

import numpy as np
import pytest

from sklearn_nnopt import LinearNNClassifier, LinearNNRegressor, _kernels, losses
from sklearn_nnopt._objective import Objective
from sklearn_nnopt.losses import LOSSES, Huber, PerLabel

RTOL = {np.float64: 1e-12, np.float32: 1e-6}
COVERED = {
    "log_loss": LOSSES.create("log_loss", "loss"),
    "squared_error": LOSSES.create("squared_error", "loss"),
    "squared_hinge": LOSSES.create("squared_hinge", "loss"),
    "modified_huber": LOSSES.create("modified_huber", "loss"),
    "poisson": LOSSES.create("poisson", "loss"),
    "huber": LOSSES.create("huber", "loss"),
    "huber_delta_0.3": Huber(delta=0.3),
    "huber_delta_7": Huber(delta=7.0),
}


def _kernel():
    compiled = losses._compiled()
    assert compiled is not None, (
        "sklearn_nnopt._kernels._fused_loss is not built: install the package "
        "(pip install .) and run the tests against it (see README, Development)."
    )
    return compiled[1]


def _problem(name, k, dtype, order, seed=0):
    """Targets for the loss and raw predictions with extreme values."""
    rng = np.random.RandomState(seed)
    n = 500
    raw = rng.normal(scale=4.0, size=(n, k))
    extremes = [800.0, -800.0, 1e-300, -1e-300, 0.0, 40.0, -40.0, 700.0, -745.5]
    extremes += [-100.0, 100.0, -36.0, 36.0, 1e-8, -1e-8, 1.0, -1.0]
    rows = rng.choice(n, size=len(extremes) * k, replace=False)
    raw.flat[rows] = np.repeat(extremes, k)[: len(rows)]
    if name == "log_loss" and k > 1:
        y = np.zeros((n, k))
        y[np.arange(n), rng.randint(k, size=n)] = 1.0
    elif name == "log_loss":
        y = (rng.rand(n, 1) < 0.5).astype(float)
    elif name in ("squared_hinge", "modified_huber"):
        y = np.where(rng.rand(n, k) < 0.5, -1.0, 1.0)
    elif name == "poisson":
        y = rng.poisson(3.0, size=(n, k)).astype(float)
        raw = np.clip(raw, -50, 50)  # exp(800) is inf in both: nothing to compare
    else:
        y = rng.normal(scale=3.0, size=(n, k))
    make = np.asfortranarray if order == "F" else np.ascontiguousarray
    return make(y.astype(dtype)), make(raw.astype(dtype))


def _numpy_loss_gradient(loss, y, raw, monkeypatch):
    with monkeypatch.context() as patch:
        patch.setattr(_kernels, "ENABLED", False)
        return loss.loss_gradient(y, raw)


def _assert_close(actual, desired, rtol, name):
    assert actual.shape == desired.shape, name
    assert actual.dtype == desired.dtype, name
    scale = float(np.max(np.abs(desired[np.isfinite(desired)]), initial=0.0))
    np.testing.assert_allclose(
        actual, desired, rtol=rtol, atol=rtol * scale, err_msg=name
    )


def test_kernel_is_built():
    """The installed package has the compiled loss kernel (pip install . builds it)."""
    assert _kernels.AVAILABLE
    _kernel()


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", list(COVERED))
def test_same_as_numpy(name, dtype, k, order, monkeypatch):
    loss = COVERED[name]
    y, raw = _problem(name.split("_delta")[0], k, dtype, order)
    raw_before = raw.copy()
    with np.errstate(over="ignore"):
        expected = _numpy_loss_gradient(loss, y, raw, monkeypatch)
        actual = loss.loss_gradient(y, raw)
    np.testing.assert_array_equal(raw, raw_before)  # the input is not written
    rtol = RTOL[dtype]
    _assert_close(actual[0], expected[0], rtol, "loss")
    _assert_close(actual[1], expected[1], rtol, "gradient")
    assert np.all(np.isfinite(actual[1]))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_log_loss_gradient_floor(dtype):
    """Below log_tiny the binary gradient is expit(log_tiny), not subnormal."""
    raw = np.array([[-800.0], [-745.5], [-1e5]], dtype=dtype)
    y = np.zeros_like(raw)
    _, grad = losses.LogLoss().loss_gradient(y, raw)
    floor = 1.0 / (1.0 + np.exp(-np.float64(losses._log_tiny(dtype))))
    np.testing.assert_allclose(grad, floor, rtol=RTOL[dtype])
    assert np.all(grad >= np.finfo(dtype).tiny)


def _spy(monkeypatch):
    """Count the kernel's calls (its one-hot softmax by class indices too)."""
    kernel = _kernel()
    calls = []

    def counting(original, tag):
        def call(*args):
            calls.append(args[0] if tag is None else tag)
            return original(*args)

        return call

    monkeypatch.setattr(kernel, "loss_gradient", counting(kernel.loss_gradient, None))
    monkeypatch.setattr(
        kernel,
        "softmax_labels",
        counting(kernel.softmax_labels, kernel.LOSSES["log_loss"]),
    )
    return calls


@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", list(COVERED))
def test_covered_losses_run_the_kernel(name, dtype, k, monkeypatch):
    calls = _spy(monkeypatch)
    y, raw = _problem(name.split("_delta")[0], k, dtype, "F")
    with np.errstate(over="ignore"):
        COVERED[name].loss_gradient(y, raw)
    assert len(calls) == 1, f"{name} fell back to numpy"


def test_fits_run_the_kernel(monkeypatch):
    """Dense L-BFGS fits (binary, multiclass, multilabel, regression) use it."""
    calls = _spy(monkeypatch)
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 5))
    y_bin = (X[:, 0] > 0).astype(int)
    y_multi = np.digitize(X[:, 1], [-0.5, 0.5])
    Y_labels = np.column_stack([y_bin, X[:, 2] > 0, X[:, 3] > 0.3]).astype(int)
    for y in (y_bin, y_multi, Y_labels):
        LinearNNClassifier(optimizer="lbfgs").fit(X, y)
        assert calls, "a classifier's L-BFGS fit fell back to numpy"
        calls.clear()
    LinearNNRegressor(optimizer="lbfgs").fit(X, X @ np.arange(5.0))
    assert calls, "a regressor's L-BFGS fit fell back to numpy"


def test_objective_value_grad_same_as_numpy(monkeypatch):
    rng = np.random.RandomState(1)
    X = rng.normal(size=(300, 7))
    Y = (rng.rand(300, 1) < 0.4).astype(float)
    W, b = rng.normal(size=(1, 7)), rng.normal(size=1)
    sw = rng.rand(300)
    objective = Objective(losses.LogLoss(), 1e-3, "l2", 0.0, True)
    value, grads = objective.value_grad(X, Y, sw, W, b)
    with monkeypatch.context() as patch:
        patch.setattr(_kernels, "ENABLED", False)
        value_np, grads_np = objective.value_grad(X, Y, sw, W, b)
    assert value == pytest.approx(value_np, rel=1e-14)
    for g, g_np in zip(grads, grads_np, strict=True):
        np.testing.assert_allclose(g, g_np, rtol=1e-12, atol=1e-15)


def test_not_covered_falls_back(monkeypatch):
    calls = _spy(monkeypatch)
    y, raw = _problem("huber", 2, np.float64, "C")

    class Doubled(Huber):  # a subclass may redefine the loss: numpy runs it
        def _phi(self, r):
            loss, dphi = super()._phi(r)
            return 2 * loss, 2 * dphi

    loss, grad = Doubled().loss_gradient(y, raw)
    expected = _numpy_loss_gradient(Huber(), y, raw, monkeypatch)
    np.testing.assert_allclose(loss, 2 * expected[0])
    np.testing.assert_allclose(grad, 2 * expected[1])
    # Mixed dtypes, the hinge (no kernel), and the disabled kernels.
    losses.SquaredError().loss_gradient(y.astype(np.float32), raw)
    losses.Hinge().loss_gradient(np.sign(y), raw)
    with monkeypatch.context() as patch:
        patch.setattr(_kernels, "ENABLED", False)
        losses.SquaredError().loss_gradient(y, raw)
    assert calls == []
    # PerLabel runs its wrapped loss's kernel on the stacked columns.
    PerLabel(losses.LogLoss()).loss_gradient((y > 0).astype(float), raw)
    assert len(calls) == 1


def test_kernel_rejects_bad_arguments():
    kernel = _kernel()
    y = raw = np.zeros((3, 2))
    grad, loss = np.empty((3, 2)), np.empty(3)
    with pytest.raises(ValueError, match="one shape"):
        kernel.loss_gradient(0, 0.0, y, raw, np.empty((3, 1)), loss, -600.0)
    with pytest.raises(ValueError, match="one value per row"):
        kernel.loss_gradient(0, 0.0, y, raw, grad, np.empty(2), -600.0)
    with pytest.raises(ValueError, match="one dtype"):
        kernel.loss_gradient(0, 0.0, y, raw, grad, loss.astype(np.float32), -600.0)
