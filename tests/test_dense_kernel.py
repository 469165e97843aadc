r"""The compiled dense stepper (``_kernels/_dense_sgd.pyx``) against numpy's.

The numpy :class:`~sklearn_nnopt._steppers.DenseStepper` is the reference:
the compiled stepper must give its iterates step for step (1e-12 relative in
float64, 1e-5 in float32) for every loss and optimizer it covers, with and
without the preconditioner, one or several outputs; its whole epochs
(``run_epoch``) must give its own steps' iterates; every covered fit must
run it, and what it does not cover must fall back. Every optimizer the dense
kernel covers has a row in ``OPTIMIZERS``; a covered one without a row fails.

Whole fits are compared on problems whose gradients are not analytically
zero: where one is (an intercept's at a symmetric start), each path's
rounding noise (the kernel sums in double, numpy in the parameters' type and
BLAS's order) is all there is of it, and Adam's step :math:`m / (\sqrt{v} +
\epsilon)` turns noise of 1e-8 into a float32 step of about ``lr`` (QA found
float32 Adam fits 1e-2 apart that way, each as far from the float64 fit as
the other). Step by step, the two agree to 1e-12 / 1e-5.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lockstep import lockstep, relative
from sklearn.exceptions import ConvergenceWarning

from sklearn_nnopt import (
    SGD,
    Adam,
    LinearNNClassifier,
    LinearNNRegressor,
    ScheduleFreeAdamW,
    _kernels,
    _steppers,
)
from sklearn_nnopt._kernels import CompiledDenseStepper
from sklearn_nnopt._objective import Objective
from sklearn_nnopt._parameters import Parameters
from sklearn_nnopt._precondition import Preconditioner
from sklearn_nnopt._targets import OneHot
from sklearn_nnopt._training import TrainingData, _epoch_batches
from sklearn_nnopt.losses import LOSSES

OPTIMIZERS = {
    "sgd": lambda: SGD(),
    "momentum": lambda: SGD(momentum=0.9),
    "nesterov": lambda: SGD(momentum=0.8, nesterov=True),
    "adam": lambda: Adam(),
    "amsgrad": lambda: Adam(amsgrad=True),
    "schedulefree_adamw": lambda: ScheduleFreeAdamW(warmup_steps=3),
    "schedulefree_adamw_decay": lambda: ScheduleFreeAdamW(weight_decay=0.05),
}
RTOL = {np.float64: 1e-12, np.float32: 1e-5}
MARGIN_LOSSES = ["hinge", "squared_hinge", "modified_huber", "perceptron"]
REGRESSION_LOSSES = {
    "squared_error": "squared_error",
    "absolute_error": "absolute_error",
    "huber": "huber",
    "epsilon_insensitive": "epsilon_insensitive",
    "squared_epsilon_insensitive": "squared_epsilon_insensitive",
    "quantile_0.8": LOSSES.create("quantile", "loss").set_params(quantile=0.8),
    "poisson": "poisson",
}
# (log_loss_soft: targets that are not one-hot, which the softmax reads as
# they are; one-hot ones, OneHot as the classifier keeps them, it reads by
# their class.)
STEP_LOSSES = ["log_loss", "log_loss_soft", *MARGIN_LOSSES, *REGRESSION_LOSSES]


def test_every_covered_optimizer_has_a_row():
    rows = {type(make()) for make in OPTIMIZERS.values()}
    assert rows == set(_kernels.DENSE_COVERED_OPTIMIZERS)


@pytest.fixture(scope="module")
def table():
    """Dense columns on scales from 1e-2 to 1e2 with offsets, and targets.

    The offsets are about each column's spread: the centered gradient
    ``dW - db m`` cancels by their ratio, which multiplies float32's rounding
    differences between numpy's float32 sums and the kernel's double ones.
    """
    rng = np.random.RandomState(0)
    n, p = 230, 13
    X = (rng.randn(n, p) + 2 * rng.randn(p)) * np.logspace(-2, 2, p)
    Z = (X - X.mean(axis=0)) / X.std(axis=0)
    w = rng.randn(p)
    raw = Z @ w
    y_class = (raw + 0.3 * rng.randn(n) > np.median(raw)).astype(int)
    y_reg = raw * 10 + 50 + rng.randn(n)
    return X, y_class, y_reg


def _targets(loss, y, y_reg, n_outputs, dtype):
    if loss == "log_loss_soft":
        Y = np.random.RandomState(7).rand(len(y), n_outputs)
        if n_outputs > 1:
            Y /= Y.sum(axis=1, keepdims=True)
    elif loss == "log_loss":
        Y = y[:, None]  # 0/1
        if n_outputs > 1:  # one-hot for the softmax, as the classifier keeps them
            classes = np.digitize(y_reg, np.quantile(y_reg, [0.3, 0.6]))
            return OneHot(classes, n_outputs, dtype)
    elif loss in MARGIN_LOSSES:
        Y = 2 * y[:, None] - 1  # the sign targets of margin losses
        if n_outputs > 1:
            Y = np.column_stack([Y, -Y, Y[::-1]])
    else:
        Y = np.column_stack([y_reg, -y_reg / 2, y_reg[::-1]])[:, :n_outputs] / 50
        if loss == "poisson":
            Y = np.abs(Y)
    return np.asfortranarray(Y.astype(dtype))


def _objective(loss, X, sw, precondition, alpha=1e-2):
    loss = "log_loss" if loss == "log_loss_soft" else loss
    loss_function = LOSSES.create(REGRESSION_LOSSES.get(loss, loss), "loss")
    pre = None
    if precondition:
        pre = Preconditioner.fit(X, sw, center=True, l2=alpha)
    return Objective(loss_function, alpha, "l2", 0, True, pre)


def _assert_same_state(state, reference, rtol):
    """The same buffers (to ``rtol``) and scalars (Schedule-Free AdamW's
    ``lr_max`` and ``weight_sum``: exactly, they are computed by the same
    Python code)."""
    assert set(state.values) == set(reference.values)
    for name, value in state.values.items():
        if isinstance(value, list):
            assert relative(value[0], reference.values[name][0]) <= rtol
        else:
            assert value == reference.values[name]


@pytest.mark.parametrize("precondition", [False, True], ids=["plain", "pre"])
@pytest.mark.parametrize("n_outputs", [1, 3])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
@pytest.mark.parametrize("loss", STEP_LOSSES)
def test_steps_match_numpy_stepper(
    table, loss, optimizer, dtype, n_outputs, precondition
):
    """Step by step: parameters, optimizer state, loss and Pflug's statistic."""
    X, y, y_reg = table
    if not precondition:  # unscaled columns would need tiny steps
        X = (X - X.mean(axis=0)) / X.std(axis=0)
    X = np.ascontiguousarray(X, dtype=dtype)
    Y = _targets(loss, y, y_reg, n_outputs, dtype)
    sw = np.random.RandomState(2).rand(X.shape[0]) + 0.5
    data = TrainingData(X, Y, sw, batch_size=25)
    objective = _objective(loss, X, sw, precondition)
    start = Parameters(
        np.zeros((n_outputs, X.shape[1]), dtype), np.full(n_outputs, 0.1, dtype)
    )
    params = [start.copy(), start.copy()]
    opts = [OPTIMIZERS[optimizer](), OPTIMIZERS[optimizer]()]
    compiled = _kernels.dense_stepper(data, objective, opts[0], params[0], track=True)
    assert isinstance(compiled, CompiledDenseStepper)
    reference = _steppers.DenseStepper(objective, opts[1], params[1], track=True)
    rtol = RTOL[dtype]
    lr = 0.01 if isinstance(opts[0], Adam) else 0.05

    def after_step():
        assert relative(params[0].buffer, params[1].buffer) <= rtol
        _assert_same_state(opts[0].state_, opts[1].state_, rtol)
        assert opts[0].t_ == opts[1].t_

    lockstep(
        compiled, reference, X, Y, sw, 25, lr, rtol, after_step=after_step, epochs=2
    )
    assert np.any(params[0].coef != 0)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("n_outputs", [1, 3])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_run_epoch_gives_the_steps_iterates(
    table, optimizer, dtype, n_outputs, weighted
):
    """One call per epoch, shuffled or not, equals its batch-by-batch steps."""
    X, y, y_reg = table
    X = np.ascontiguousarray(X, dtype=dtype)
    Y = _targets("log_loss", y, y_reg, n_outputs, dtype)
    sw = np.random.RandomState(1).rand(X.shape[0]) + 0.5
    if not weighted:
        sw = np.ones(X.shape[0])
    data = TrainingData(X, Y, sw, batch_size=32)
    objective = _objective("log_loss", X, sw, True)
    start = Parameters(
        np.zeros((n_outputs, X.shape[1]), dtype), np.full(n_outputs, 0.1, dtype)
    )
    params = [start.copy(), start.copy()]
    opts = [OPTIMIZERS[optimizer](), OPTIMIZERS[optimizer]()]
    whole, steps = (
        CompiledDenseStepper(data, objective, opt, par, track=True)
        for opt, par in zip(opts, params, strict=True)
    )
    rng = np.random.RandomState(5)
    for epoch, shuffle in enumerate([True, False, True]):
        order, starts, stops, weighted_ = _epoch_batches(data, shuffle, rng)
        assert weighted_ == weighted
        rates = 0.02 / (1 + epoch + np.arange(len(starts)))
        losses, weights = whole.run_epoch(order, starts, stops, rates, weighted)
        for i, rate in enumerate(rates):
            rows = slice(starts[i], stops[i])
            if order is not None:
                rows = order[rows]
            out = steps.step(None, None, sw[rows] if weighted else None, rate, rows)
            assert (losses[i], weights[i]) == out
            assert whole.inner[i] == steps.inner
        np.testing.assert_array_equal(params[0].buffer, params[1].buffer)
        _assert_same_state(opts[0].state_, opts[1].state_, 0.0)
        assert (
            opts[0].t_
            == opts[1].t_
            == sum(len(_epoch_batches(data, False, rng)[1]) for _ in range(epoch + 1))
        )


def _fit_both(make, X, y, spy, monkeypatch, method="fit", calls=1, **fit_params):
    """Fit with the compiled kernel and with numpy; assert each ran."""
    fitted = []
    for enabled, expected in ((True, CompiledDenseStepper), (False, None)):
        monkeypatch.setattr(_kernels, "ENABLED", enabled)
        estimator = make()
        for _ in range(calls):
            getattr(estimator, method)(X, y, **fit_params)
        if expected is not None:
            assert spy[-1] is expected, f"a covered fit fell back to {spy[-1]}"
        else:
            assert spy[-1] is _steppers.DenseStepper
        fitted.append(estimator)
    return fitted


def _assert_same_fit(compiled, reference, rtol):
    assert compiled.coef_.dtype == reference.coef_.dtype
    assert relative(compiled.coef_, reference.coef_) <= rtol
    assert relative(compiled.intercept_, reference.intercept_) <= rtol
    np.testing.assert_allclose(compiled.loss_curve_, reference.loss_curve_, rtol=rtol)
    assert compiled.n_iter_ == reference.n_iter_
    assert compiled.t_ == reference.t_


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    "params",
    [
        {},
        {"optimizer": "sgd"},
        {"optimizer": "momentum", "learning_rate": "invscaling"},
        {"optimizer": "nesterov", "loss": "hinge", "alpha": 1e-3},
        {"optimizer": "amsgrad", "class_weight": "balanced"},
        {"optimizer": "adam", "precondition": False, "fit_intercept": False},
        {"optimizer": "adam", "early_stopping": True, "n_iter_no_change": 2},
        {"optimizer": "sgd", "loss": "modified_huber", "penalty": None},
        {"optimizer": "schedulefree_adamw"},
        {"optimizer": ScheduleFreeAdamW(weight_decay=0.01, warmup_steps=5)},
        {"optimizer": "schedulefree_adamw", "warm_start": True},
    ],
    ids=str,
)
@pytest.mark.parametrize("n_classes", [2, 4])
def test_classifier_same_fit(table, spy, monkeypatch, n_classes, params, dtype):
    X, y, y_reg = table
    if n_classes > 2:
        y = np.digitize(y_reg, np.quantile(y_reg, [0.25, 0.5, 0.75]))
    X = X.astype(dtype)
    settings = dict(optimizer="adam", batch_size=32, max_iter=4, tol=None)
    settings.update(params, random_state=0)
    calls = 2 if settings.get("warm_start") else 1  # a continued fit too
    compiled, reference = _fit_both(
        lambda: LinearNNClassifier(**settings), X, y, spy, monkeypatch, calls=calls
    )
    _assert_same_fit(compiled, reference, 1e-9 if dtype == np.float64 else 1e-4)


@pytest.mark.parametrize(
    "loss", ["squared_error", "huber", "poisson", "quantile", "epsilon_insensitive"]
)
@pytest.mark.parametrize("optimizer", ["sgd", "adam", "momentum", "schedulefree_adamw"])
@pytest.mark.parametrize("n_targets", [1, 2])
def test_regressor_same_fit(table, spy, monkeypatch, n_targets, optimizer, loss):
    X, _, y_reg = table
    y = y_reg if n_targets == 1 else np.column_stack([y_reg, y_reg[::-1] / 3])
    if loss == "poisson":
        y = np.abs(y) / 50
    weights = np.random.RandomState(4).rand(len(y)) + 0.5

    def make():
        return LinearNNRegressor(
            loss=loss,
            optimizer=optimizer,
            alpha=1e-3,
            batch_size=40,
            max_iter=3,
            tol=None,
            random_state=0,
        )

    compiled, reference = _fit_both(make, X, y, spy, monkeypatch, sample_weight=weights)
    _assert_same_fit(compiled, reference, 1e-9)


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "nesterov", "schedulefree_adamw"])
def test_partial_fit_same_iterates(table, spy, monkeypatch, optimizer):
    X, y, _ = table

    def make():
        return LinearNNClassifier(
            optimizer=optimizer, batch_size=30, learning_rate_init=0.01, random_state=0
        )

    fitted = []
    for enabled in (True, False):
        monkeypatch.setattr(_kernels, "ENABLED", enabled)
        estimator = make()
        for chunk in np.array_split(np.arange(len(y)), 4):
            estimator.partial_fit(X[chunk], y[chunk], classes=[0, 1])
        assert (spy[-1] is CompiledDenseStepper) == enabled
        fitted.append(estimator)
    assert relative(fitted[0].coef_, fitted[1].coef_) <= 1e-12
    assert fitted[0].t_ == fitted[1].t_


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("loss", ["log_loss", "squared_hinge"])
def test_several_outputs_in_chunks_match_numpy_stepper(loss, dtype):
    """A batch larger than the kernel's chunk of rows (256) is stepped chunk
    by chunk, shuffled or in place, with the whole batch's gradient."""
    rng = np.random.RandomState(8)
    n, p, k = 700, 6, 4
    X = np.ascontiguousarray(rng.randn(n, p), dtype=dtype)
    labels = rng.randint(k, size=n)
    Y = OneHot(labels, k, dtype, low=0.0 if loss == "log_loss" else -1.0)
    sw = rng.rand(n) + 0.5
    data = TrainingData(X, Y, sw, batch_size=600)
    objective = _objective(loss, X, sw, True)
    start = Parameters(np.zeros((k, p), dtype), np.zeros(k, dtype))
    params = [start.copy(), start.copy()]
    opts = [Adam(), Adam()]
    compiled = _kernels.dense_stepper(data, objective, opts[0], params[0], track=True)
    reference = _steppers.DenseStepper(objective, opts[1], params[1], track=True)
    rtol = RTOL[dtype]
    for rows in (slice(0, 600), np.arange(n)[::-1][:600].copy(), slice(600, 700)):
        weights = None if isinstance(rows, slice) else sw[rows]
        out = compiled.step(None, None, weights, 0.01, rows)
        ref = reference.step(X[rows], Y[rows], weights, 0.01, rows)
        np.testing.assert_allclose(out, ref, rtol=rtol)
        assert relative(params[0].buffer, params[1].buffer) <= rtol


def test_fortran_ordered_and_dataframe_x_train_in_c_order(table, spy):
    """As SGDClassifier: a stochastic fit trains on C-ordered rows (numpy's
    gather of a Fortran-ordered X's rows copied all of X per batch), so a
    DataFrame or a Fortran-ordered X gives the C-ordered fit, compiled."""
    pd = pytest.importorskip("pandas")
    X, y, _ = table

    def fit(data):
        return LinearNNClassifier(
            optimizer="adam", batch_size=32, max_iter=3, tol=None, random_state=0
        ).fit(data, y)

    expected = fit(X)
    for data in (np.asfortranarray(X), pd.DataFrame(X)):
        fitted = fit(data)
        assert spy[-1] is CompiledDenseStepper
        np.testing.assert_array_equal(fitted.coef_, expected.coef_)


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_default_schedule_same_fit(table, spy, monkeypatch, optimizer):
    """The default schedule (automatic step, Pflug's statistic) and the
    convergence check see the same steps: same model, same epochs, the same
    warning (these stochastic fits do not converge in 30 epochs here)."""
    X, y, _ = table
    fitted = []
    for enabled in (True, False):
        monkeypatch.setattr(_kernels, "ENABLED", enabled)
        with pytest.warns(ConvergenceWarning) as record:
            estimator = LinearNNClassifier(
                optimizer=optimizer, max_iter=30, random_state=0
            ).fit(X, y)
        assert (spy[-1] is CompiledDenseStepper) == enabled
        fitted.append((estimator, [str(w.message) for w in record]))
    (compiled, compiled_warnings), (reference, reference_warnings) = fitted
    assert compiled.n_iter_ == reference.n_iter_
    assert relative(compiled.coef_, reference.coef_) <= 1e-9
    assert compiled_warnings == reference_warnings


@pytest.mark.parametrize(
    "params",
    [
        {"penalty": "l1"},
        {"penalty": "elasticnet", "l1_ratio": 0.5},
        {"optimizer": "adamw"},
        {"optimizer": "rmsprop"},
        {"average": True},
    ],
    ids=str,
)
def test_uncovered_fits_fall_back(table, spy, params):
    X, y, _ = table
    settings = dict(optimizer="sgd", batch_size=32, max_iter=2, tol=None)
    settings.update(params)
    LinearNNClassifier(**settings).fit(X, y)
    assert spy[-1] is _steppers.DenseStepper


def test_fortran_ordered_x_falls_back(table, spy):
    """The kernel reads C-contiguous rows; a Fortran-ordered X runs numpy,
    unchanged (no copy of X is made to cover it)."""
    X, y, _ = table
    data = TrainingData(np.asfortranarray(X), y[:, None] * 1.0, np.ones(len(y)), 32)
    objective = Objective(LOSSES.create("log_loss", "loss"), 1e-2, "l2", 0, True)
    params = Parameters(np.zeros((1, X.shape[1])), np.zeros(1))
    assert "C-contiguous" in _kernels.dense_unsupported(data, objective, SGD(), params)
    assert _kernels.dense_stepper(data, objective, SGD(), params) is None


def test_kernel_checks_its_arguments(table):
    X, y, _ = table
    kernel_args = dict(
        fit_intercept=True,
        loss=0,
        loss_param=0.0,
        log_tiny=-700.0,
        optimizer=0,
        l2=0.0,
        momentum=0.0,
        nesterov=False,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        amsgrad=False,
        m=None,
        v=None,
        vmax=None,
        inv_scale=None,
        mean=None,
        track=False,
        batch_size=8,
    )
    from sklearn_nnopt._kernels import _dense_sgd

    theta = np.zeros(X.shape[1] + 1)
    sw = np.ones(len(y))
    kernel = _dense_sgd.DenseKernel(X, y * 1.0, sw, theta, **kernel_args)
    with pytest.raises(ValueError, match="batch size"):
        kernel.step(np.arange(9, dtype=np.intp), 0.1, False, 1)
    with pytest.raises(IndexError, match="out of range"):
        kernel.step(np.array([len(y)], dtype=np.intp), 0.1, False, 1)
    with pytest.raises(ValueError, match="flat buffer"):
        _dense_sgd.DenseKernel(X, y * 1.0, sw, theta[:-1], **kernel_args)
    with pytest.raises(TypeError, match="float32 or float64"):
        _dense_sgd.DenseKernel(X.astype(np.float32), y * 1.0, sw, theta, **kernel_args)
    with pytest.raises(ValueError, match="C-contiguous"):
        _dense_sgd.DenseKernel(np.asfortranarray(X), y * 1.0, sw, theta, **kernel_args)
    with pytest.raises(ValueError, match="Adam's steps"):
        _dense_sgd.DenseKernel(X, y * 1.0, sw, theta, **{**kernel_args, "optimizer": 1})
    assert np.all(theta == 0)


# ----------------------------------------------------- the set-up's passes
def _two_pass(X, w):
    X = X.astype(np.float64)
    mean = np.average(X, axis=0, weights=w)
    return mean, np.average((X - mean) ** 2, axis=0, weights=w)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 300),
    p=st.integers(1, 9),
    offset=st.sampled_from([0.0, 1.0, 1e3, 1e6]),
    spread=st.sampled_from([1e-3, 1.0, 1e3]),
    zeros=st.booleans(),
    dtype=st.sampled_from([np.float64, np.float32]),
    seed=st.integers(0, 2**16),
)
def test_column_moments_is_the_two_pass_formula(
    n, p, offset, spread, zeros, dtype, seed
):
    """The compiled passes give the two-pass mean and variance, offsets of
    1e6 spreads included, with zero weights anywhere."""
    rng = np.random.RandomState(seed)
    X = (offset + spread * rng.randn(n, p)).astype(dtype)
    w = rng.rand(n) + 0.1
    if zeros:
        w[rng.rand(n) < 0.3] = 0.0
        w[rng.randint(n)] = 1.0
    mean, var = _kernels.column_moments(X, w)
    ref_mean, ref_var = _two_pass(X, w)
    scale = np.abs(ref_mean) + np.sqrt(ref_var) + 1e-300
    assert np.all(np.abs(mean - ref_mean) <= 1e-12 * scale)
    assert np.all(np.abs(var - ref_var) <= 1e-10 * (ref_var + 1e-12 * scale**2))


def test_column_moments_sees_non_finite_entries():
    X = np.ones((200, 3))
    X[150, 1] = np.inf
    X[20, 2] = np.nan
    w = np.ones(200)
    w[150] = 0.0  # 0 * inf is NaN: a zero-weight row's inf is seen too
    mean, _ = _kernels.column_moments(X, w)
    assert np.isfinite(mean[0]) and not np.isfinite(mean[1:]).any()
    with pytest.raises(ValueError, match="Input X contains"):
        Preconditioner.fit(X, w, center=True)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("center", [True, False])
def test_preconditioner_passes_match_numpy(table, monkeypatch, center, dtype):
    """The compiled passes give the numpy passes' coordinates (its offsets and
    scales are rounded: exactly) and row norms."""
    X, _, _ = table
    X = X.astype(dtype)
    w = np.random.RandomState(3).rand(len(X))
    compiled = Preconditioner.fit(X, w, center=center, l2=1e-3)
    compiled_norms = compiled.squared_row_norms(X)
    monkeypatch.setattr(_kernels, "column_moments", lambda X, w: None)
    monkeypatch.setattr(_kernels, "scaled_row_norms", lambda X, m, s: None)
    reference = Preconditioner.fit(X, w, center=center, l2=1e-3)
    np.testing.assert_array_equal(compiled.scale, reference.scale)
    if center:
        np.testing.assert_array_equal(compiled.mean, reference.mean)
    else:
        assert compiled.mean is None and reference.mean is None
    assert compiled.mean_squared_norm == pytest.approx(
        reference.mean_squared_norm, rel=1e-12
    )
    np.testing.assert_allclose(
        compiled_norms,
        reference.squared_row_norms(X),
        rtol=1e-12 if dtype == np.float64 else 1e-5,
    )
