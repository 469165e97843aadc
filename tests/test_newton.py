"""Newton: the linear model's exact Hessian, the optimum it reaches, ``auto``."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import sparse as sp
from sklearn.datasets import load_breast_cancer, load_iris, make_regression
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.preprocessing import StandardScaler

from sklearn_nnopt import (
    LOSSES,
    LinearNNClassifier,
    LinearNNRegressor,
    Newton,
)
from sklearn_nnopt._objective import Objective
from sklearn_nnopt._precondition import Preconditioner
from sklearn_nnopt._validation import NEWTON_BUDGET, auto_optimizer

SMOOTH = [name for name, cls, _ in LOSSES.items() if cls.smooth]


def _targets(loss, n, k, rng):
    if "classification" in loss.tasks and "regression" not in loss.tasks:
        labels = rng.randint(0, max(k, 2), size=n)
        if loss.classification_target == "sign":
            Y = -np.ones((n, k))
            Y[np.arange(n), labels % k] = 1.0
            return Y
        if k == 1:
            return labels[:, None].astype(float)
        return np.eye(k)[labels]
    if getattr(loss, "check_target", None) and type(loss).__name__ == "Poisson":
        return rng.poisson(2.0, size=(n, k)).astype(float)
    return rng.standard_normal((n, k)) * 3


@pytest.mark.parametrize("name", SMOOTH)
@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("precondition", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("sparse", [False, True])
def test_hessian_is_the_derivative_of_the_gradient(
    name, k, precondition, fit_intercept, sparse
):
    rng = np.random.RandomState(0)
    loss = LOSSES.create(name, "loss")
    n, p = 40, 5
    X = rng.standard_normal((n, p)) * [1, 10, 0.1, 1, 3] + [0, 5, 0, -2, 1]
    Y = np.asfortranarray(_targets(loss, n, k, rng))
    sw = rng.uniform(0.5, 2.0, size=n)
    objective = Objective(loss, 0.1, "l2", 0.15, fit_intercept)
    if precondition:
        objective.preconditioner = Preconditioner.fit(
            X, sw, center=fit_intercept, l2=objective.l2
        )
    Xs = sp.csr_array(X) if sparse else X
    W = rng.standard_normal((k, p)) * 0.3
    b = rng.standard_normal(k) * 0.3
    H = objective.hessian(Xs, Y, sw, W, b)
    n_params = k * p + (k if fit_intercept else 0)
    assert H.shape == (n_params, n_params)
    assert_allclose(H, H.T, atol=1e-12)

    def grad(theta):
        Wt = theta[: k * p].reshape(k, p)
        bt = theta[k * p :] if fit_intercept else b
        grads = objective.value_grad(X, Y, sw, Wt, bt)[1]
        return np.concatenate([g.ravel() for g in grads])

    theta = np.concatenate([W.ravel(), b]) if fit_intercept else W.ravel()
    h = 1e-6
    numeric = np.column_stack(
        [
            (grad(theta + h * e) - grad(theta - h * e)) / (2 * h)
            for e in np.eye(len(theta))
        ]
    )
    if fit_intercept and k > 1:
        # A softmax is flat along "the same constant added to every
        # intercept": hessian() puts curvature there on purpose (so that
        # Newton does not walk along it) and nowhere else.
        u = np.zeros(n_params)
        u[k * p :] = 1 / np.sqrt(k)
        if np.linalg.norm(numeric @ u) < 1e-6 * np.abs(numeric).max():
            assert np.linalg.norm(H @ u) > 0
            P = np.eye(n_params) - np.outer(u, u)
            H, numeric = P @ H @ P, P @ numeric @ P
    assert_allclose(H, numeric, rtol=1e-4, atol=1e-4 * np.abs(numeric).max())


def test_newton_matches_logistic_regression_multinomial():
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    alpha = 1e-3
    ours = LinearNNClassifier(optimizer="newton", alpha=alpha).fit(X, y)
    ref = LogisticRegression(C=1 / (len(y) * alpha), tol=1e-12, max_iter=10000)
    ref.fit(X, y)
    assert_allclose(ours.coef_, ref.coef_, rtol=1e-6, atol=1e-6)
    assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-6, atol=1e-6)
    # The softmax's flat direction (a constant added to every intercept)
    # is not walked: the intercepts stay centered as at the start.
    assert abs(ours.intercept_.sum()) < 1e-8
    assert ours.n_iter_ <= 20


def test_newton_on_raw_unscaled_data_reaches_the_optimum():
    X, y = load_breast_cancer(return_X_y=True)  # columns from 1e-3 to 4e3
    clf = LinearNNClassifier(optimizer="newton", alpha=1e-4).fit(X, y)
    assert clf.n_iter_ <= 30
    # First-order optimality in the user's coordinates, checked from scratch.
    objective = Objective(clf.loss_function_, 1e-4, "l2", 0.15, True)
    Y = y[:, None].astype(float)
    W, b = clf.coef_, clf.intercept_
    grads = objective.value_grad(X, Y, None, W, b)[1]
    start = objective.value_grad(X, Y, None, 0 * W, np.log([Y.mean() / (1 - Y.mean())]))
    spread = X.std(axis=0)
    # Gradients per standardized column (coef times spread is unit-free).
    g = np.abs(grads[0] / spread).max()
    g0 = np.abs(start[1][0] / spread).max()
    assert g <= 1e-7 * g0


def test_newton_squared_error_is_ridge_in_one_step():
    X, y = make_regression(200, 8, noise=5.0, random_state=0)
    X = X * [1, 100, 1e-2, 1, 1, 3, 1, 1] + 1000  # badly scaled, offset
    alpha = 0.1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours = LinearNNRegressor(optimizer="newton", alpha=alpha, tol=1e-6).fit(X, y)
    ref = Ridge(alpha=len(y) * alpha, solver="cholesky").fit(X, y)
    assert_allclose(ours.coef_, ref.coef_, rtol=1e-8)
    assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-8)
    # A quadratic: one Newton step once the trust region has grown to it.
    assert ours.n_iter_ <= 10


def test_newton_needs_the_hessian():
    with pytest.raises(ValueError, match="Hessian"):
        Newton().minimize(lambda x: (0.0, x), np.zeros(2), max_iter=3, tol=None)


@pytest.mark.parametrize("penalty", ["l1", "elasticnet"])
def test_newton_refuses_l1(penalty):
    with pytest.raises(ValueError, match="stochastic optimizer"):
        LinearNNClassifier(optimizer="newton", penalty=penalty).fit(
            [[0.0], [1.0]], [0, 1]
        )


def test_newton_refuses_partial_fit():
    with pytest.raises(AttributeError, match="partial_fit"):
        LinearNNClassifier(optimizer="newton").partial_fit(
            [[0.0], [1.0]], [0, 1], classes=[0, 1]
        )


def test_auto_rule():
    log_loss = LOSSES.create("log_loss", "loss")
    hinge = LOSSES.create("hinge", "loss")
    # Newton up to the budget, L-BFGS above it, Adam where neither applies.
    assert auto_optimizer(log_loss, "l2", False, (569, 30, 1)) == "newton"
    assert auto_optimizer(log_loss, "l2", False, (1797, 64, 10)) == "lbfgs"
    big = int(NEWTON_BUDGET / 31**2) + 1
    assert auto_optimizer(log_loss, "l2", False, (big, 30, 1)) == "lbfgs"
    assert auto_optimizer(log_loss, None, False, None) == "lbfgs"
    assert auto_optimizer(log_loss, "l2", True, (10, 2, 1)) == "sgd"
    assert auto_optimizer(log_loss, "l1", False, (10, 2, 1)) == "adam"
    assert auto_optimizer(hinge, "l2", False, (10, 2, 1)) == "adam"


def test_auto_shows_what_ran():
    X, y = load_iris(return_X_y=True)
    clf = LinearNNClassifier().fit(X, y)
    assert type(clf.optimizer_).__name__ == "Newton"
    clf = LinearNNClassifier(loss="hinge", max_iter=3, tol=None, random_state=0)
    clf.fit(X, y)
    assert type(clf.optimizer_).__name__ == "Adam"


@pytest.mark.parametrize("optimizer", ["newton", "lbfgs"])
def test_sparse_unscaled_columns_are_preconditioned_like_dense(optimizer):
    # A raw, offset column in sparse X: the full-batch optimizers train sparse
    # X in the same centered, scaled coordinates as dense X (the offsets fold
    # into the intercept; X is never densified), and reach the same optimum.
    rng = np.random.RandomState(0)
    X = rng.standard_normal((300, 6)) * [1, 1e3, 1e-3, 1, 1, 1]
    X[:, 0] += 2000.0
    X[rng.rand(300, 6) < 0.3] = 0.0
    y = X[:, 0] - 2000 + X[:, 1] / 1e3 + 0.5 * rng.standard_normal(300) > 0
    params = dict(optimizer=optimizer, alpha=1e-3, tol=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dense = LinearNNClassifier(**params).fit(X, y)
        sparse = LinearNNClassifier(**params).fit(sp.csr_array(X), y)
    assert sparse._preconditioner is not None
    # Standardized coefficients (coef_ times the column spread) compare on
    # one scale: the gradient tolerance pins them, not the raw ones.
    spread = X.std(axis=0)
    assert_allclose(sparse.coef_ * spread, dense.coef_ * spread, atol=1e-5)
    assert_allclose(sparse.intercept_, dense.intercept_, rtol=1e-5)


@pytest.mark.parametrize("loss", ["hinge", "perceptron"])
def test_newton_refuses_non_smooth_losses(loss):
    with pytest.raises(ValueError, match="needs a (smooth loss|stochastic optimizer)"):
        LinearNNClassifier(loss=loss, optimizer="newton").fit([[0.0], [1.0]], [0, 1])


@pytest.mark.parametrize(
    "setting",
    [
        {"batch_size": 32},
        {"average": True},
        {"learning_rate": "constant"},
        {"learning_rate_init": 0.1},
        {"early_stopping": True},
    ],
)
def test_auto_honours_settings_only_a_stochastic_optimizer_uses(setting):
    # A full-batch optimizer would silently ignore them: auto trains with Adam.
    X, y = load_iris(return_X_y=True)
    clf = LinearNNClassifier(max_iter=3, tol=None, **setting).fit(X, y)
    assert type(clf.optimizer_).__name__ == "Adam"
    assert type(LinearNNClassifier().fit(X, y).optimizer_).__name__ == "Newton"


def test_newton_at_a_stationary_start_with_a_singular_hessian():
    """All-zero X and a loss flat at the start: the gradient is zero and the
    Hessian singular, where scipy's trust-exact raised UnboundLocalError."""
    X, y = np.zeros((2, 1), dtype=np.float32), np.zeros(2)
    reg = LinearNNRegressor(
        loss="squared_epsilon_insensitive", optimizer="newton", max_iter=3, tol=None
    ).fit(X, y)
    assert_allclose(reg.predict(X), 0.0)
    assert reg.n_iter_ == 0
