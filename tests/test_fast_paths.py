"""The optimized training paths against simple reference computations.

Each reference below is the textbook minibatch loop, written out with dense
numpy: the estimator's fast paths (gathering into a reused buffer, the flat
parameter buffer, the folded Adam bias correction, the sparse column-only
steps) must give the same coefficients, for dense and sparse X in float32 and
float64.
"""

import math
from itertools import combinations

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import expit
from sklearn.base import clone, is_classifier

from sklearn_nnopt import SGD, Adam, LinearNNClassifier, LinearNNRegressor
from sklearn_nnopt._classifier import _positions, _unique
from sklearn_nnopt._sparse import batch_presence

BATCH = 8
LR = 0.05


def _data(n_samples=60, n_features=30, density=0.08, seed=0, dtype=np.float64):
    """Very sparse rows, so that most columns are absent from most batches."""
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n_samples, n_features))
    X *= rng.rand(n_samples, n_features) < density
    X[:, 0] = 0.0  # a column that is never present
    w = rng.normal(size=n_features)
    y = (X @ w + 0.3 * rng.normal(size=n_samples) > 0).astype(int)
    return X.astype(dtype), y


def _orders(n_samples, epochs, seed):
    """The estimator's shuffling: one permutation per epoch from the seeded rng."""
    rng = np.random.RandomState(seed)
    return [rng.permutation(n_samples) for _ in range(epochs)]


def _log_loss_gradient(Xb, yb, W, b):
    """Gradient of the batch's mean binary log loss."""
    G = (expit(Xb @ W + b) - yb) / len(yb)
    return Xb.T @ G, G.sum()


def reference_sgd(X, y, *, alpha, epochs, seed):
    """Plain minibatch SGD on mean log loss + alpha/2 ||w||^2, every coefficient."""
    W, b = np.zeros(X.shape[1]), 0.0
    for order in _orders(len(y), epochs, seed):
        for start in range(0, len(y), BATCH):
            idx = order[start : start + BATCH]
            dW, db = _log_loss_gradient(X[idx], y[idx], W, b)
            W = W - LR * (dW + alpha * W)
            b = b - LR * db
    return W, b


def reference_adam(X, y, *, alpha, epochs, seed, lazy, eps=1e-8, b1=0.9, b2=0.999):
    """torch.optim.Adam's rule; lazy: only the batch's columns (and b) step.

    The lazy rule divides a present column's l2 gradient by the probability that
    a batch contains the column, computed here by brute force.
    """
    n, p = X.shape
    theta = np.zeros(p + 1)
    m, v = np.zeros(p + 1), np.zeros(p + 1)
    counts = (X != 0).sum(axis=0)
    presence = np.array(
        [
            1 - math.comb(n - c, BATCH) / math.comb(n, BATCH) if c else 0.0
            for c in counts
        ]
    )
    t = 0
    for order in _orders(n, epochs, seed):
        for start in range(0, n, BATCH):
            idx = order[start : start + BATCH]
            t += 1
            dW, db = _log_loss_gradient(X[idx], y[idx], theta[:p], theta[p])
            if lazy:
                cols = np.flatnonzero((X[idx] != 0).any(axis=0))
                step = np.append(cols, p)
                g = np.append(dW[cols] + alpha / presence[cols] * theta[cols], db)
            else:
                step = np.arange(p + 1)
                g = np.append(dW + alpha * theta[:p], db)
            m[step] = b1 * m[step] + (1 - b1) * g
            v[step] = b2 * v[step] + (1 - b2) * g**2
            m_hat = m[step] / (1 - b1**t)
            v_hat = v[step] / (1 - b2**t)
            theta[step] -= LR * m_hat / (np.sqrt(v_hat) + eps)
    return theta[:p], theta[p]


def _fit(X, y, optimizer, *, alpha, epochs, seed):
    est = LinearNNClassifier(
        optimizer=optimizer,
        alpha=alpha,
        batch_size=BATCH,
        learning_rate="constant",  # the references' constant LR
        learning_rate_init=LR,
        precondition=False,  # the references step in the raw coordinates
        max_iter=epochs,
        tol=None,
        random_state=seed,
    )
    n_features = X.shape[1]
    est.fit(X, y, coef_init=np.zeros((1, n_features)), intercept_init=np.zeros(1))
    return est


def _rtol(dtype):
    return 1e-4 if dtype == np.float32 else 1e-9


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("container", [np.asarray, sp.csr_matrix])
@pytest.mark.parametrize("alpha", [0.0, 1e-3, 0.5])
def test_sgd_matches_reference(container, dtype, alpha):
    # Sparse X takes the column-only path with the global l2 scale; alpha=0.5
    # makes that scale shrink below its floor, folding it into coef_.
    X, y = _data(dtype=dtype)
    est = _fit(container(X), y, "sgd", alpha=alpha, epochs=4, seed=0)
    W, b = reference_sgd(X.astype(np.float64), y, alpha=alpha, epochs=4, seed=0)
    assert est.coef_.dtype == dtype
    assert_allclose(est.coef_[0], W, rtol=_rtol(dtype), atol=_rtol(dtype) * 1e-2)
    assert_allclose(est.intercept_[0], b, rtol=_rtol(dtype))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    "container, lazy",
    [(np.asarray, True), (np.asarray, False), (sp.csr_matrix, False)],
)
def test_dense_rule_adam_matches_reference(container, lazy, dtype):
    # Dense X ignores lazy; lazy=False on sparse X steps every coefficient.
    X, y = _data(dtype=dtype)
    est = _fit(container(X), y, Adam(lazy=lazy), alpha=1e-3, epochs=3, seed=1)
    W, b = reference_adam(
        X.astype(np.float64), y, alpha=1e-3, epochs=3, seed=1, lazy=False
    )
    assert_allclose(est.coef_[0], W, rtol=_rtol(dtype) * 10, atol=1e-6)
    assert_allclose(est.intercept_[0], b, rtol=_rtol(dtype) * 10)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("alpha", [0.0, 1e-2])
def test_lazy_adam_matches_reference(dtype, alpha):
    X, y = _data(dtype=dtype)
    est = _fit(sp.csr_matrix(X), y, Adam(), alpha=alpha, epochs=3, seed=2)
    W, b = reference_adam(
        X.astype(np.float64), y, alpha=alpha, epochs=3, seed=2, lazy=True
    )
    assert_allclose(est.coef_[0], W, rtol=_rtol(dtype) * 10, atol=1e-6)
    assert_allclose(est.intercept_[0], b, rtol=_rtol(dtype) * 10)
    # The never-present column never moved; lazy and dense rules differ.
    assert est.coef_[0, 0] == 0
    dense = reference_adam(X, y, alpha=alpha, epochs=3, seed=2, lazy=False)[0]
    assert not np.allclose(W, dense, rtol=1e-3)


def test_lazy_multiclass_and_regression_match_dense_rule_when_every_column_is_present():
    # With every column in every batch, lazy steps are the dense rule.
    rng = np.random.RandomState(3)
    X = rng.normal(size=(40, 6))
    y = rng.randint(0, 3, size=40)
    params = dict(batch_size=10, max_iter=3, tol=None, random_state=0)
    for est in (LinearNNClassifier(**params), LinearNNRegressor(**params)):
        target = y if is_classifier(est) else X @ rng.normal(size=6)
        lazy = clone_fit(est, sp.csr_matrix(X), target, Adam())
        dense = clone_fit(est, sp.csr_matrix(X), target, Adam(lazy=False))
        assert_allclose(lazy.coef_, dense.coef_, rtol=1e-10)
        assert_allclose(lazy.intercept_, dense.intercept_, rtol=1e-10)


def clone_fit(est, X, y, optimizer):
    return clone(est).set_params(optimizer=optimizer).fit(X, y)


@pytest.mark.parametrize("optimizer", [SGD(), Adam()])
def test_sparse_column_steps_without_intercept_and_multiclass(optimizer):
    # Multiclass coefficient rows and no intercept take the same column-only
    # path; compare one step with the dense computation of that step.
    rng = np.random.RandomState(4)
    X = sp.random(30, 50, density=0.05, random_state=rng, format="csr")
    y = rng.randint(0, 3, size=30)
    est = LinearNNClassifier(
        optimizer=optimizer,
        fit_intercept=False,
        batch_size=30,
        learning_rate_init=0.1,
        alpha=0.0,
        max_iter=1,
        tol=None,
        shuffle=False,
    )
    est.fit(X, y, coef_init=np.zeros((3, 50)))
    # First step from zero: softmax gives 1/3 everywhere.
    Y = np.eye(3)[y]
    grad = ((1 / 3 - Y).T @ X.toarray()) / 30
    if isinstance(optimizer, SGD):
        expected = -0.1 * grad
    else:
        # torch's first Adam step: m_hat = g, v_hat = g^2.
        expected = -0.1 * grad / (np.abs(grad) + 1e-8)
    assert_allclose(est.coef_, expected, rtol=1e-6, atol=1e-12)
    assert_array_equal(est.coef_[:, np.asarray(X.sum(axis=0)).ravel() == 0], 0)


def test_batch_presence_is_the_exact_probability():
    n, size = 7, 3
    batches = list(combinations(range(n), size))
    for count in range(n + 1):
        rows = set(range(count))
        exact = sum(bool(rows & set(b)) for b in batches) / len(batches)
        assert_allclose(batch_presence([count], n, size)[0], exact, atol=1e-12)
    assert_allclose(batch_presence(np.array([0, 2]), 5, 10), [0.0, 1.0])


@pytest.mark.parametrize(
    "y",
    [
        np.array([3, 1, 3, 7, 1]),
        np.array([-2, 5, -2, 0], dtype=np.int32),
        np.array([0, 10**9, 5], dtype=np.int64),  # too wide a range to count
        np.array([2, 1, 1], dtype=np.uint8),
        np.array(["b", "a", "b"]),
    ],
)
def test_label_encoding_fast_path_matches_numpy(y):
    labels = _unique(y)
    assert_array_equal(labels, np.unique(y))
    assert labels.dtype == np.unique(y).dtype
    assert_array_equal(_positions(labels, y), np.searchsorted(labels, y))


def test_lazy_adam_with_early_stopping_and_sample_weight():
    # Held-out rows scale the column counts; weights reach the column steps.
    X, y = _data(n_samples=200, n_features=40, density=0.1)
    sw = np.random.RandomState(0).uniform(0.5, 2.0, size=len(y))
    params = dict(
        optimizer="adam",
        batch_size=16,
        max_iter=5,
        tol=None,
        random_state=0,
        early_stopping=True,
    )
    est = LinearNNClassifier(**params).fit(sp.csr_matrix(X), y, sample_weight=sw)
    assert np.all(np.isfinite(est.coef_))
    assert est.coef_[0, 0] == 0  # the never-present column
    assert len(est.validation_scores_) == est.n_iter_


def test_automatic_step_of_adam_shrinks_with_steps_per_epoch():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(40_000, 4))
    y = (X[:, 0] > 0).astype(int)
    params = dict(optimizer="adam", max_iter=1, tol=None)
    small = LinearNNClassifier(**params).fit(X[:2000], y[:2000])
    large = LinearNNClassifier(**params).fit(X, y)
    # 10 and 200 steps per epoch: the second step is sqrt(100 / 200) smaller.
    ratio = large.learning_rate_init_ / small.learning_rate_init_
    assert ratio == pytest.approx(np.sqrt(0.5), rel=0.05)
