"""SAGA and SAG: the table of per-row gradients, step by step, and convergence.

The reference below writes the minibatch SAGA recursion out in numpy, from
Defazio, Bach & Lacoste-Julien (2014) and the library's objective (weighted
mean loss + l2 + l1 by a proximal step), without calling the library: the
estimator, trained with the same batches, must give the same coefficients.
"""

import re
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose
from scipy.special import expit, logsumexp, softmax
from sklearn.datasets import make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

from sklearn_nnopt import SAGA, LinearNNClassifier, LinearNNRegressor
from sklearn_nnopt._precondition import Preconditioner
from sklearn_nnopt._scale import largest_curvature, problem_scale
from sklearn_nnopt._training import TrainingData
from sklearn_nnopt.losses import LogLoss
from sklearn_nnopt.optimizers import ProblemScale

# ---------------------------------------------------------------------------
# The reference recursion.
# ---------------------------------------------------------------------------


def _row_gradients(task, Y, Z):
    """Per-row derivative of the loss in the raw prediction ``Z`` (n x k)."""
    if task == "regression":  # 0.5 (z - y)^2
        return Z - Y
    if Z.shape[1] == 1:  # binary log loss
        return expit(Z) - Y
    return softmax(Z, axis=1) - Y  # multinomial


def reference_saga(
    task,
    X,
    Y,
    W0,
    b0,
    *,
    lr,
    batch_size,
    epochs,
    sample_weight=None,
    l2=0.0,
    l1=0.0,
    variant="saga",
    orders=None,
):
    """Minibatch SAGA (or SAG) on ``mean_s loss + l2/2 |W|^2 + l1 |W|_1``.

    ``X`` dense (n x p), ``Y`` (n x k) encoded targets, ``orders`` the rows of
    each epoch (in order by default). Returns ``(W, b)`` after ``epochs``.
    """
    X = np.asarray(X, dtype=np.float64)
    n, p = X.shape
    s = np.ones(n) if sample_weight is None else np.asarray(sample_weight, float)
    c = n * s / s.sum()  # each row's weight in the table's mean
    W, b = np.array(W0, dtype=float), np.array(b0, dtype=float)
    k = W.shape[0]
    table = np.zeros((n, k))  # a_i: each row's last weighted raw gradient
    mean_W, mean_b = np.zeros((k, p)), np.zeros(k)  # (1/n) sum_i x~_i^T a_i
    for epoch in range(epochs):
        order = np.arange(n) if orders is None else orders[epoch]
        for start in range(0, n, batch_size):
            rows = order[start : start + batch_size]
            Z = X[rows] @ W.T + b
            d = c[rows, None] * _row_gradients(task, Y[rows], Z)
            delta = d - table[rows]
            table[rows] = d
            change_W, change_b = delta.T @ X[rows], delta.sum(axis=0)
            beta = 1 / len(rows) if variant == "saga" else 1 / n
            g_W = beta * change_W + mean_W + l2 * W
            g_b = beta * change_b + mean_b
            mean_W = mean_W + change_W / n
            mean_b = mean_b + change_b / n
            W = W - lr * g_W
            b = b - lr * g_b
            W = np.sign(W) * np.maximum(np.abs(W) - lr * l1, 0.0)
    return W, b


def _problem(task, n=23, p=5, k=1, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, p)) * np.linspace(0.5, 2.0, p) + 0.3
    if task == "regression":
        y = X @ rng.normal(size=(p, k)) + rng.normal(size=(n, k))
        return X, (y[:, 0] if k == 1 else y), (y.reshape(n, k))
    classes = max(k, 2)
    y = rng.randint(classes, size=n)
    y[:classes] = np.arange(classes)  # every class present
    Y = (y == 1).astype(float)[:, None] if classes == 2 else np.eye(classes)[y]
    return X, y, Y


CASES = [
    # (task, n_outputs, penalty, alpha, l1_ratio, weights, variant)
    ("classification", 1, None, 0.0, 0.15, False, "saga"),
    ("classification", 1, "l2", 0.05, 0.15, True, "saga"),
    ("classification", 1, "elasticnet", 0.05, 0.5, True, "saga"),
    ("classification", 1, "l1", 0.2, 0.15, False, "saga"),
    ("classification", 3, "l2", 0.05, 0.15, True, "saga"),
    ("classification", 3, "elasticnet", 0.05, 0.5, False, "saga"),
    ("regression", 1, "l2", 0.1, 0.15, True, "saga"),
    ("regression", 2, "elasticnet", 0.1, 0.3, True, "saga"),
    ("classification", 1, "l2", 0.05, 0.15, True, "sag"),
    ("regression", 2, "l2", 0.1, 0.15, False, "sag"),
]


def _case_id(case):
    task, k, penalty, _, _, weights, variant = case
    return f"{variant}-{task[:5]}-k{k}-{penalty}-{'w' if weights else 'u'}"


def _expected(case, X, Y, W0, b0, lr, batch_size, epochs, sw, orders=None):
    task, k, penalty, alpha, l1_ratio, weights, variant = case
    r = {"l2": 0.0, "l1": 1.0, "elasticnet": l1_ratio, None: 0.0}[penalty]
    strength = 0.0 if penalty is None else alpha
    return reference_saga(
        task,
        X,
        Y,
        W0,
        b0,
        lr=lr,
        batch_size=batch_size,
        epochs=epochs,
        sample_weight=sw,
        l2=strength * (1 - r),
        l1=strength * r,
        variant=variant,
        orders=orders,
    )


def _estimator(case, **params):
    task, k, penalty, alpha, l1_ratio, weights, variant = case
    cls = LinearNNClassifier if task == "classification" else LinearNNRegressor
    return cls(
        optimizer=SAGA(variant=variant),
        penalty=penalty,
        alpha=alpha,
        l1_ratio=l1_ratio,
        precondition=False,
        learning_rate="constant",
        tol=None,
        **params,
    )


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_steps_match_the_reference_recursion(case, sparse):
    # 23 rows in batches of 5 (the last of 3), over 3 epochs: every table row
    # is written, then replaced twice; the step sizes are the estimator's.
    task, k, penalty, alpha, l1_ratio, weights, variant = case
    X, y, Y = _problem(task, k=k)
    rng = np.random.RandomState(1)
    sw = rng.uniform(0.2, 3.0, size=len(y)) if weights else None
    if weights:
        sw[4] = 0.0  # a row without weight stays out of the objective
    n_outputs = Y.shape[1]
    W0 = rng.normal(scale=0.3, size=(n_outputs, X.shape[1]))
    b0 = rng.normal(scale=0.3, size=n_outputs)
    lr, batch_size, epochs = 0.05, 5, 3
    est = _estimator(
        case,
        learning_rate_init=lr,
        batch_size=batch_size,
        max_iter=epochs,
        shuffle=False,
    )
    Xfit = sp.csr_matrix(X) if sparse else X
    coef_init = W0 if n_outputs > 1 or task == "classification" else W0[0]
    est.fit(Xfit, y, sample_weight=sw, coef_init=coef_init, intercept_init=b0)
    W, b = _expected(case, X, Y, W0, b0, lr, batch_size, epochs, sw)
    assert_allclose(np.atleast_2d(est.coef_), W, rtol=1e-10, atol=1e-12)
    assert_allclose(np.atleast_1d(est.intercept_), b, rtol=1e-10, atol=1e-12)
    assert est.t_ == epochs * 5
    # The proximal step's exact zeros are the reference's.
    assert np.array_equal(np.atleast_2d(est.coef_) == 0, W == 0)
    if penalty == "l1":
        assert np.any(W == 0)


def test_shuffled_epochs_are_the_random_states_permutations():
    # Each epoch visits every row once, in the order of the random state's
    # next permutation (the training loop's shuffle; no early stopping).
    case = ("classification", 3, "l2", 0.05, 0.15, True, "saga")
    X, y, Y = _problem("classification", n=31, k=3)
    sw = np.random.RandomState(2).uniform(0.5, 2.0, size=len(y))
    W0, b0 = np.zeros((3, X.shape[1])), np.zeros(3)
    est = _estimator(
        case,
        learning_rate_init=0.05,
        batch_size=4,
        max_iter=4,
        shuffle=True,
        random_state=7,
    )
    est.fit(X, y, sample_weight=sw, coef_init=W0, intercept_init=b0)
    rng = np.random.RandomState(7)
    orders = [rng.permutation(len(y)) for _ in range(4)]
    W, b = _expected(case, X, Y, W0, b0, 0.05, 4, 4, sw, orders=orders)
    assert_allclose(est.coef_, W, rtol=1e-10, atol=1e-12)
    assert_allclose(est.intercept_, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("schedule", ["constant", "invscaling", "cosine"])
def test_sparse_just_in_time_steps_equal_dense_steps(schedule):
    # The lazy column steps on CSR X (l2 as a global scale, the missed steps
    # of the table's mean applied when a column next appears) give the dense
    # steps' iterates, with a step that changes every step too.
    rng = np.random.RandomState(3)
    X = rng.normal(size=(60, 40)) * (rng.uniform(size=(60, 40)) < 0.1)
    y = rng.randint(3, size=60)
    params = dict(
        optimizer="saga",
        alpha=0.3,
        learning_rate=schedule,
        learning_rate_init=0.2,
        batch_size=7,
        max_iter=5,
        tol=None,
        random_state=0,
        precondition=False,
    )
    dense = LinearNNClassifier(**params).fit(X, y)
    lazy = LinearNNClassifier(**params).fit(sp.csr_matrix(X), y)
    assert_allclose(lazy.coef_, dense.coef_, rtol=1e-9, atol=1e-12)
    assert_allclose(lazy.intercept_, dense.intercept_, rtol=1e-9, atol=1e-12)


def test_sparse_steps_fold_a_scale_that_underflows():
    # A strong l2 shrinks the global scale below 1e-6 within an epoch: it is
    # folded into the coefficients (with the missed steps) and the steps go on.
    rng = np.random.RandomState(4)
    X = rng.normal(size=(400, 30)) * (rng.uniform(size=(400, 30)) < 0.2)
    y = (X[:, 0] + 0.1 * rng.normal(size=400) > 0).astype(int)
    params = dict(
        optimizer="saga",
        alpha=50.0,
        learning_rate_init=0.01,
        batch_size=1,
        max_iter=2,
        tol=None,
        random_state=0,
        precondition=False,
    )
    dense = LinearNNClassifier(**params).fit(X, y)
    lazy = LinearNNClassifier(**params).fit(sp.csr_matrix(X), y)
    assert_allclose(lazy.coef_, dense.coef_, rtol=1e-7, atol=1e-14)


def test_float32_keeps_float32_and_follows_float64():
    X, y, _ = _problem("classification", n=50, k=3)
    params = dict(optimizer="saga", max_iter=20, tol=None, random_state=0)
    est64 = LinearNNClassifier(**params).fit(X, y)
    est32 = LinearNNClassifier(**params).fit(X.astype(np.float32), y)
    assert est32.coef_.dtype == np.float32
    assert_allclose(est32.coef_, est64.coef_, rtol=1e-3, atol=1e-4)
    lazy32 = LinearNNClassifier(**params).fit(sp.csr_matrix(X, dtype=np.float32), y)
    assert lazy32.coef_.dtype == np.float32


# ---------------------------------------------------------------------------
# Convergence.
# ---------------------------------------------------------------------------


def _log_loss_objective(X, y, coef, intercept, alpha):
    z = X @ coef.ravel() + intercept[0]
    penalty = 0.5 * alpha * float(np.sum(coef**2))
    return float(np.mean(np.logaddexp(0, z) - y * z)) + penalty


@pytest.fixture(scope="module")
def strongly_convex():
    """A logistic regression with alpha = 0.1: strongly convex, 2000 rows."""
    X, y = make_classification(
        n_samples=2000, n_features=20, n_informative=8, random_state=0
    )
    X = StandardScaler().fit_transform(X)
    alpha = 0.1
    ref = LinearNNClassifier(
        optimizer="lbfgs", alpha=alpha, tol=1e-10, max_iter=1000
    ).fit(X, y)
    optimum = _log_loss_objective(X, y, ref.coef_, ref.intercept_, alpha)
    return X, y, alpha, optimum, ref


def test_linear_convergence_on_a_strongly_convex_problem(strongly_convex):
    # At its constant automatic step, SAGA's objective gap falls by at least
    # a constant factor every epoch, down to rounding (a noisy SGD would
    # stall at its noise floor).
    # (Measured: the gap fell by 0.05-0.27 per epoch from the second on,
    # 6.7e-2 after one epoch, 1.6e-10 after nine.)
    X, y, alpha, optimum, _ = strongly_convex
    gaps = []
    for epochs in range(1, 10):
        est = LinearNNClassifier(
            optimizer="saga",
            alpha=alpha,
            batch_size=50,
            max_iter=epochs,
            tol=None,
            random_state=0,
        ).fit(X, y)
        gaps.append(_log_loss_objective(X, y, est.coef_, est.intercept_, alpha))
    gaps = (np.array(gaps) - optimum) / optimum
    ratios = gaps[1:] / gaps[:-1]
    assert np.all(ratios < 0.35), ratios
    assert gaps[-1] < 1e-9


def test_default_fit_stops_on_the_convergence_check(strongly_convex):
    X, y, alpha, optimum, ref = strongly_convex
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est = LinearNNClassifier(optimizer="saga", alpha=alpha, random_state=0)
        est.fit(X, y)
    assert est.n_iter_ < 30  # measured: 14
    gap = _log_loss_objective(X, y, est.coef_, est.intercept_, alpha) - optimum
    assert gap / optimum < 1e-7  # measured: 5.6e-9
    assert_allclose(est.coef_, ref.coef_, rtol=1e-3, atol=1e-4)
    # The table is not kept: only the step count is state.
    assert list(est.optimizer_.state_.values) == []
    assert est.t_ == est.n_iter_ * 10  # 2000 rows in batches of 200


def test_sag_converges_too(strongly_convex):
    X, y, alpha, optimum, _ = strongly_convex
    est = LinearNNClassifier(
        optimizer="sag", alpha=alpha, random_state=0, max_iter=500
    ).fit(X, y)
    gap = _log_loss_objective(X, y, est.coef_, est.intercept_, alpha) - optimum
    assert gap / optimum < 1e-6


def test_regression_with_weights_reaches_the_closed_form():
    X, y = make_regression(n_samples=800, n_features=10, noise=5.0, random_state=0)
    sw = np.random.RandomState(0).uniform(0.1, 3.0, size=len(y))
    alpha = 0.5
    est = LinearNNRegressor(
        optimizer="saga", alpha=alpha, tol=1e-8, max_iter=500, random_state=0
    )
    est.fit(X, y, sample_weight=sw)
    # argmin sum s (x w + b - y)^2 / (2 sum s) + alpha/2 |w|^2, in closed form.
    Z = np.column_stack([X, np.ones(len(y))])
    A = Z.T @ (Z * sw[:, None]) / sw.sum()
    A[:-1, :-1] += alpha * np.eye(X.shape[1])
    theta = np.linalg.solve(A, Z.T @ (sw * y) / sw.sum())
    # Stopped at a gradient of max(tol, 1e-6) of its size at the start.
    assert np.max(np.abs(est.coef_ - theta[:-1])) < 1e-6 * np.max(np.abs(theta))
    assert abs(est.intercept_ - theta[-1]) < 1e-6 * np.max(np.abs(theta))


def test_too_few_epochs_warn_with_the_full_batch_rule(strongly_convex):
    X, y, alpha, _, _ = strongly_convex
    message = re.escape("converged means at most max(tol, 1e-6) = 1.0e-04")
    with pytest.warns(ConvergenceWarning, match=message):
        LinearNNClassifier(optimizer="saga", alpha=alpha, max_iter=1).fit(X, y)


def test_averaging_early_stopping_and_warm_start_run():
    X, y = make_classification(
        n_samples=300, n_features=8, n_informative=5, n_classes=3, random_state=0
    )
    X = StandardScaler().fit_transform(X)
    common = dict(optimizer="saga", random_state=0, max_iter=30, tol=None)
    averaged = LinearNNClassifier(average=True, **common).fit(sp.csr_matrix(X), y)
    assert averaged.score(X, y) > 0.5
    stopped = LinearNNClassifier(
        optimizer="saga", early_stopping=True, random_state=0
    ).fit(X, y)
    assert stopped.validation_scores_
    warm = LinearNNClassifier(warm_start=True, **common).fit(X, y)
    first = warm.coef_.copy()
    warm.fit(X, y)  # a new table, from the last coefficients
    assert warm.n_iter_ == 30
    assert not np.array_equal(first, warm.coef_)


# ---------------------------------------------------------------------------
# The automatic step, the schedule and what SAGA refuses.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("batch_smoothness", [None, 0.5])
def test_auto_learning_rate(batch_smoothness):
    scale = ProblemScale(
        smoothness=2.0, param_scale=5.0, steps_per_epoch=40, batch_smoothness=None
    )
    if batch_smoothness is not None:
        scale = ProblemScale(2.0, 5.0, 40, batch_smoothness=batch_smoothness)
    L = 2.0 if batch_smoothness is None else batch_smoothness
    assert SAGA().auto_learning_rate(scale) == (pytest.approx(1 / (3 * L)), 1.0)
    # SAG: the mean lags over the epoch's 40 steps.
    assert SAGA(variant="sag").auto_learning_rate(scale) == (
        pytest.approx(1 / (20 * L)),
        1.0,
    )


def test_largest_curvature_is_the_second_moments_eigenvalue():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 6)) * [1, 2, 3, 0.5, 1, 1] + [0, 5, 0, 1, 0, 0]
    sw = rng.uniform(0.0, 2.0, size=300)
    curvature = rng.uniform(0.1, 1.0, size=300)
    pre = Preconditioner.fit(X, sw, center=True)
    for preconditioner, fit_intercept in [(None, True), (None, False), (pre, True)]:
        Z = X if preconditioner is None else (X - pre.mean) * pre.inv_scale
        if fit_intercept:
            Z = np.column_stack([Z, np.ones(len(Z))])
        w = sw * curvature / sw.sum()
        expected = np.linalg.eigvalsh(Z.T @ (Z * w[:, None]))[-1]
        for matrix in (X, sp.csr_matrix(X)):
            if preconditioner is not None and sp.issparse(matrix):
                continue
            value = largest_curvature(
                matrix, sw, curvature, fit_intercept, preconditioner
            )
            assert value == pytest.approx(expected, rel=1e-6)
    # Large enough for Lanczos iterations: the same eigenvalue.
    X = rng.normal(size=(2000, 80)) @ rng.normal(size=(80, 80))
    Z = np.column_stack([X, np.ones(2000)])
    expected = np.linalg.eigvalsh(Z.T @ Z / 2000)[-1] * 0.25
    assert largest_curvature(X, np.ones(2000), 0.25, True, None) == pytest.approx(
        expected, rel=1e-3
    )


def test_batch_smoothness_is_the_expected_smoothness_with_the_eigenvalue():
    X, y = make_classification(n_samples=1000, n_features=30, random_state=0)
    X = StandardScaler().fit_transform(X)
    Y = y[:, None].astype(float)
    data = TrainingData(X, Y, np.ones(1000), batch_size=50)
    scale = problem_scale(
        data, LogLoss(), l2=1e-3, fit_intercept=True, batch_smoothness=True
    )
    Z = np.column_stack([X, np.ones(1000)])
    full = 0.25 * np.linalg.eigvalsh(Z.T @ Z / 1000)[-1]
    largest = 0.25 * (np.max(np.sum(X**2, axis=1)) + 1)
    n, b = 1000, 50
    expected = (
        n * (b - 1) / (b * (n - 1)) * full + (n - b) / (b * (n - 1)) * largest + 1e-3
    )
    assert scale.batch_smoothness == pytest.approx(expected, rel=1e-6)
    assert scale.batch_smoothness < scale.smoothness / 5  # 31 features
    plain = problem_scale(data, LogLoss(), l2=1e-3, fit_intercept=True)
    assert plain.batch_smoothness is None
    assert plain.smoothness == scale.smoothness


def test_learning_rate_auto_is_a_constant_step():
    X, y, _ = _problem("classification", n=100)
    est = LinearNNClassifier(optimizer="saga", max_iter=3, tol=None).fit(X, y)
    assert est.learning_rate_init_ > 0
    # "auto" runs SAGA's default schedule, constant: the same as asking for it.
    constant = LinearNNClassifier(
        optimizer="saga", max_iter=3, tol=None, learning_rate="constant"
    ).fit(X, y)
    assert_allclose(est.coef_, constant.coef_, rtol=0, atol=0)


def test_partial_fit_is_unavailable():
    est = LinearNNClassifier(optimizer="saga")
    assert not hasattr(est, "partial_fit")
    with pytest.raises(AttributeError, match="table of per-row gradients"):
        getattr(est, "partial_fit")  # noqa: B009 (the attribute's error)
    assert not hasattr(LinearNNRegressor(optimizer=SAGA(variant="sag")), "partial_fit")


@pytest.mark.parametrize("loss", ["hinge", "perceptron"])
def test_non_smooth_losses_are_refused(loss):
    X, y, _ = _problem("classification")
    with pytest.raises(ValueError, match="needs a smooth loss"):
        LinearNNClassifier(loss=loss, optimizer="saga").fit(X, y)
    with pytest.raises(ValueError, match="needs a smooth loss"):
        LinearNNRegressor(loss="absolute_error", optimizer="sag").fit(X, y * 1.0)


def test_invalid_variant():
    X, y, _ = _problem("classification")
    with pytest.raises(ValueError, match="variant"):
        LinearNNClassifier(optimizer=SAGA(variant="svrg")).fit(X, y)


def test_multiclass_softmax_reaches_the_optimum():
    # The softmax's per-row gradients fill n_outputs columns of the table.
    X, y = make_classification(
        n_samples=400, n_features=8, n_informative=6, n_classes=4, random_state=0
    )
    Y = np.eye(4)[y]

    def objective(est):
        Z = est.decision_function(X)
        loss = np.mean(logsumexp(Z, axis=1) - np.sum(Z * Y, axis=1))
        return loss + 0.5 * 0.1 * np.sum(est.coef_**2)

    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est = LinearNNClassifier(
            optimizer="saga", alpha=0.1, batch_size=20, random_state=0
        )
        est.fit(X, y)  # measured: 150 epochs
    ref = LinearNNClassifier(optimizer="newton", alpha=0.1, tol=1e-10).fit(X, y)
    assert objective(est) == pytest.approx(objective(ref), rel=1e-7)
