"""The compiled SAGA/SAG kernel on CSR X against the numpy just-in-time steps.

``sklearn_nnopt._finite_sum.FiniteSumStepper`` runs the lazy steps of a whole
epoch in ``_kernels/_saga.pyx`` where it is built; its numpy ``_lazy_step``
(``_finite_sum.COMPILED = False``) is the reference, itself tested against the
dense steps and the textbook recursion in tests/test_saga.py. Then the
``batch_size="auto"`` rule of SAGA (Gazagnadou, Gower & Salmon, 2019).
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose
from sklearn.exceptions import ConvergenceWarning

from sklearn_nnopt import SAGA, LinearNNClassifier, LinearNNRegressor, _finite_sum
from sklearn_nnopt.losses import LogLoss, SquaredError

pytestmark = pytest.mark.skipif(
    _finite_sum._saga is None,
    reason="sklearn_nnopt._kernels._saga is not built (pip install .)",
)


@pytest.fixture
def kernels(monkeypatch):
    """Count the fits whose steps ran compiled, and whether through the callback."""
    used = []
    original = _finite_sum.FiniteSumStepper.compiled_kernel

    def spy(self, data):
        kernel = original(self, data)
        if kernel is not None:
            used.append(self._callback is not None)
        return kernel

    monkeypatch.setattr(_finite_sum.FiniteSumStepper, "compiled_kernel", spy)
    return used


def _data(task, k, n=97, p=30, dtype=np.float64, seed=0):
    rng = np.random.RandomState(seed)
    X = sp.random(n, p, density=0.2, format="csr", random_state=rng, dtype=dtype)
    X.data = (X.data * 2 - 0.5).astype(dtype)
    if task == "regression":
        y = X @ rng.normal(size=(p, k)) + 0.3 * rng.normal(size=(n, k))
        return X, (y[:, 0] if k == 1 else y)
    y = rng.randint(max(k, 2), size=n)
    y[: max(k, 2)] = np.arange(max(k, 2))
    return X, y


def _fit_both(cls, X, y, sample_weight=None, **params):
    """The same fit compiled, then with the numpy steps."""
    fits = []
    for compiled in (True, False):
        _finite_sum.COMPILED = compiled
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                model = cls(tol=None, random_state=0, **params)
                fits.append(model.fit(X, y, sample_weight=sample_weight))
        finally:
            _finite_sum.COMPILED = True
    return fits


def _assert_same(compiled, numpy, rtol):
    coef, ref = np.atleast_2d(compiled.coef_), np.atleast_2d(numpy.coef_)
    assert_allclose(coef, ref, rtol=0, atol=rtol * np.abs(ref).max())
    b, ref_b = np.atleast_1d(compiled.intercept_), np.atleast_1d(numpy.intercept_)
    assert_allclose(b, ref_b, rtol=0, atol=rtol * max(np.abs(ref_b).max(), 1e-300))
    assert compiled.t_ == numpy.t_
    assert compiled.n_iter_ == numpy.n_iter_
    assert_allclose(compiled.loss_curve_, numpy.loss_curve_, rtol=10 * rtol)


TASKS = [
    # (estimator, task, outputs, loss)
    (LinearNNClassifier, "classification", 1, "log_loss"),
    (LinearNNClassifier, "classification", 3, "log_loss"),  # multinomial
    (LinearNNRegressor, "regression", 1, "squared_error"),
    (LinearNNRegressor, "regression", 2, "squared_error"),
]


@pytest.mark.parametrize("batch_size", [1, 7, 200])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True], ids=["equal", "weights"])
@pytest.mark.parametrize("alpha", [0.0, 0.05], ids=["none", "l2"])
@pytest.mark.parametrize("task", TASKS, ids=lambda t: f"{t[1][:5]}-k{t[2]}")
def test_compiled_steps_are_the_numpy_steps(
    task, batch_size, fit_intercept, weighted, alpha, kernels
):
    cls, kind, k, loss = task
    X, y = _data(kind, k)
    sw = np.random.RandomState(3).uniform(0.2, 3.0, X.shape[0]) if weighted else None
    compiled, numpy = _fit_both(
        cls,
        X,
        y,
        sw,
        loss=loss,
        optimizer="saga",
        penalty="l2" if alpha else None,
        alpha=alpha,
        fit_intercept=fit_intercept,
        batch_size=batch_size,
        max_iter=3,
    )
    assert kernels == [False]  # inline, and only the first fit
    _assert_same(compiled, numpy, 1e-12)


@pytest.mark.parametrize(
    "cls, kind, k, loss",
    [
        (LinearNNRegressor, "regression", 1, "huber"),
        (LinearNNRegressor, "regression", 2, "squared_epsilon_insensitive"),
        (LinearNNClassifier, "classification", 1, "squared_hinge"),
        (LinearNNClassifier, "classification", 3, "modified_huber"),
    ],
)
def test_every_inline_loss(cls, kind, k, loss, kernels):
    X, y = _data(kind, k, seed=1)
    compiled, numpy = _fit_both(
        cls, X, y, loss=loss, optimizer="saga", alpha=0.01, batch_size=7, max_iter=3
    )
    assert kernels == [False]
    _assert_same(compiled, numpy, 1e-12)


def test_poisson_inline(kernels):
    X, _ = _data("regression", 1, seed=2)
    y = np.random.RandomState(2).poisson(np.exp(X @ np.full(X.shape[1], 0.3)))
    compiled, numpy = _fit_both(
        LinearNNRegressor, X, y, loss="poisson", optimizer="saga", batch_size=7,
        max_iter=3,
    )  # fmt: skip
    assert kernels == [False]
    _assert_same(compiled, numpy, 1e-12)


class _OwnLogLoss(LogLoss):
    """A subclass: the kernel calls its loss_gradient back (it may differ)."""


class _OwnSquaredError(SquaredError):
    pass


@pytest.mark.parametrize("batch_size", [1, 7, 200])
@pytest.mark.parametrize(
    "cls, kind, k, loss",
    [
        (LinearNNClassifier, "classification", 1, _OwnLogLoss()),
        (LinearNNRegressor, "regression", 2, _OwnSquaredError()),
    ],
)
def test_other_losses_are_called_back(cls, kind, k, loss, batch_size, kernels):
    X, y = _data(kind, k, seed=4)
    sw = np.random.RandomState(5).uniform(0.2, 3.0, X.shape[0])
    compiled, numpy = _fit_both(
        cls, X, y, sw, loss=loss, optimizer="saga", alpha=0.01,
        batch_size=batch_size, max_iter=3,
    )  # fmt: skip
    assert kernels == [True]
    _assert_same(compiled, numpy, 1e-12)


def test_multilabel_is_called_back(kernels):
    X, _ = _data("classification", 1, seed=6)
    Y = np.random.RandomState(6).randint(2, size=(X.shape[0], 3))
    compiled, numpy = _fit_both(
        LinearNNClassifier, X, Y, optimizer="saga", batch_size=7, max_iter=3
    )
    assert kernels == [True]
    _assert_same(compiled, numpy, 1e-12)


@pytest.mark.parametrize("variant", ["saga", "sag"])
@pytest.mark.parametrize(
    "task",
    [
        (LinearNNClassifier, "classification", 1),
        (LinearNNClassifier, "classification", 3),
        (LinearNNRegressor, "regression", 2),
    ],
    ids=["binary", "multinomial", "regression"],
)
def test_float32_and_sag(task, variant, kernels):
    cls, kind, k = task
    X, y = _data(kind, k, dtype=np.float32, seed=7)
    sw = np.random.RandomState(8).uniform(0.2, 3.0, X.shape[0])
    compiled, numpy = _fit_both(
        cls, X, y, sw, optimizer=SAGA(variant=variant), alpha=0.01, batch_size=7,
        max_iter=3,
    )  # fmt: skip
    assert compiled.coef_.dtype == numpy.coef_.dtype == np.float32
    _assert_same(compiled, numpy, 1e-5)
    X64 = X.astype(np.float64)
    sag64, _ = _fit_both(
        cls, X64, y, sw, optimizer=SAGA(variant=variant), alpha=0.01, batch_size=7,
        max_iter=3,
    )  # fmt: skip
    _assert_same(compiled, sag64, 1e-4)  # float32 follows float64
    assert kernels == [False, False]


def test_a_scale_that_underflows_is_folded(kernels):
    # A strong penalty and a large step take the global scale below
    # MIN_SCALE within an epoch: it is folded in before the next step.
    X, y = _data("classification", 1, n=300, seed=9)
    compiled, numpy = _fit_both(
        LinearNNClassifier, X, y, optimizer="saga", alpha=5.0, batch_size=1,
        learning_rate_init=0.05, max_iter=2,
    )  # fmt: skip
    _assert_same(compiled, numpy, 1e-12)


@pytest.mark.parametrize("shuffle", [True, False])
def test_held_out_rows_and_order(shuffle, kernels):
    # Early stopping trains on a subset of X's rows (the table keeps all).
    X, y = _data("classification", 3, n=200, seed=10)
    sw = np.random.RandomState(11).uniform(0.0, 2.0, X.shape[0])
    sw[:20] = 0.0  # all-zero-weight batches are skipped
    compiled, numpy = _fit_both(
        LinearNNClassifier, X, y, sw, optimizer="saga", batch_size=5,
        early_stopping=True, n_iter_no_change=50, max_iter=3, shuffle=shuffle,
    )  # fmt: skip
    _assert_same(compiled, numpy, 1e-12)


# ---------------------------------------------------------------------------
# batch_size="auto": the optimal mini-batch size of Gazagnadou et al. (2019).
# ---------------------------------------------------------------------------


def test_auto_batch_size_is_the_optimal_minibatch():
    # b* = 1 + mu (n - 1) / (4 L), mu the l2 strength, rounded.
    saga = SAGA()
    assert saga.auto_batch_size(80_001, 0.25, 1e-4, fixed_step_cost=False) == 9
    assert saga.auto_batch_size(1000, 1.0, 1e-4, fixed_step_cost=False) == 1
    assert saga.auto_batch_size(10**6, 0.5, 0.01, fixed_step_cost=False) == 5001
    assert saga.auto_batch_size(100, 0.5, 3.0, fixed_step_cost=False) == 100
    # A step with a fixed cost (dense steps, numpy) takes at least 200 rows.
    assert saga.auto_batch_size(80_001, 0.25, 1e-4) == 200
    assert saga.auto_batch_size(10**6, 0.5, 0.01) == 5001
    assert saga.auto_batch_size(150, 0.25, 1e-4) == 150
    # SAG's step shrinks with the steps per epoch: no gain from small batches.
    sag = SAGA(variant="sag")
    assert sag.auto_batch_size(80_001, 0.25, 1e-4, fixed_step_cost=False) == 200


def test_fits_resolve_the_auto_batch_size():
    X, y = _data("classification", 1, n=2000, p=50, seed=12)
    params = dict(optimizer="saga", alpha=0.01, max_iter=1, tol=None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for lr in ("auto", 0.1):
            steps = LinearNNClassifier(learning_rate_init=lr, **params).fit(X, y).t_
            assert 1 < 2000 / steps < 200  # b* on CSR: more steps than 200's
        dense = LinearNNClassifier(**params).fit(X.toarray(), y)
        assert dense.t_ == 10  # dense steps: 200 rows
        given = LinearNNClassifier(batch_size=50, **params).fit(X, y)
        assert given.t_ == 40
        sag = LinearNNClassifier(**{**params, "optimizer": "sag"}).fit(X, y)
        assert sag.t_ == 10
        _finite_sum.COMPILED = False
        try:  # the numpy just-in-time steps have a fixed cost too
            assert LinearNNClassifier(**params).fit(X, y).t_ == 10
        finally:
            _finite_sum.COMPILED = True
