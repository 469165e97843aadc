"""Passes over all training rows (the convergence check's gradients) do not
copy ``X``.

A block of sparse rows, or of rows picked by index (early stopping), is a
copy; those blocks hold at most a 16th of ``X``, and all rows in one block
are ``X`` itself: a pass allocates at most a fifth of ``X``. Before, the
check's gradient on an 80,000 x 100,000 tf-idf ``X`` copied all of it (48
MB) in one block, and an L-BFGS fit's peak memory was 1.65x ``X``'s size.
The blocks' sum is the whole-``X`` gradient. Where one evaluation's per-row
arrays (``n x n_outputs``) would be large next to ``X``, the full-batch
objective goes by blocks too (a 10-class L-BFGS fit on 50 features: 69% of
``X`` -> 26%).
"""

import tracemalloc
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from peak import fit_peak_memory
from sklearn.exceptions import ConvergenceWarning

from sklearn_nnopt import LinearNNClassifier, _kernels
from sklearn_nnopt._objective import Objective
from sklearn_nnopt._parameters import Parameters
from sklearn_nnopt._training import TrainingData, _row_blocks, full_gradient
from sklearn_nnopt.losses import LOSSES


def _x_bytes(X):
    if sp.issparse(X):
        return X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
    return X.nbytes


def _problem(kind, rng):
    if kind == "multiclass":  # few features, ten outputs: the per-row arrays
        X = rng.randn(20_000, 20)
        Y = np.eye(10)[rng.randint(0, 10, len(X))]
        return X, np.asfortranarray(Y)
    if kind == "sparse":
        n, per_row = 40_000, 30
        X = sp.csr_matrix(
            (
                rng.rand(n * per_row),
                rng.randint(0, 3_000, n * per_row),
                np.arange(0, n * per_row + 1, per_row),
            ),
            shape=(n, 3_000),
        )
    else:
        n = 12_000
        X = rng.randn(n, 200)
    y = (rng.rand(n) > 0.5).astype(float)[:, None]
    return X, np.asfortranarray(y)


@pytest.mark.parametrize(
    "kind, held_out",
    [("sparse", False), ("sparse", True), ("dense", True), ("multiclass", False)],
)
def test_full_gradient_allocates_a_fraction_of_x(kind, held_out):
    rng = np.random.RandomState(0)
    X, Y = _problem(kind, rng)
    rows = np.sort(rng.permutation(X.shape[0])[: X.shape[0] * 9 // 10])
    sw = rng.rand(X.shape[0]) + 0.5
    data = TrainingData(X, Y, sw, batch_size=200, rows=rows if held_out else None)
    objective = Objective(LOSSES.create("log_loss", "loss"), 1e-3, "l2", 0, True)
    k = Y.shape[1]
    params = Parameters(rng.randn(k, X.shape[1]) * 0.1, np.full(k, 0.2))
    tracemalloc.start()
    try:
        value, grads = full_gradient(objective, data, params)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # A 16th of X per block copy, with its slicing's and products' temporaries.
    assert peak <= _x_bytes(X) / 5
    # The whole training set at once gives the same objective and gradient.
    train = X[rows] if held_out else X
    Yt, swt = (Y[rows], sw[rows]) if held_out else (Y, sw)
    expected_value, expected = objective.value_grad(
        train, Yt, swt, params.coef, params.intercept
    )
    assert value == pytest.approx(expected_value, rel=1e-12)
    for got, want in zip(grads, expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-15)


def test_lbfgs_by_blocks_reaches_the_same_fit(monkeypatch):
    """A 10-output L-BFGS fit on few features evaluates its objective by
    blocks of rows (its raw predictions and their gradient were 21% of X
    each): the same fit as in one block."""
    from sklearn_nnopt import LinearNNClassifier, _training

    rng = np.random.RandomState(3)
    X = rng.randn(20_000, 20)
    y = np.argmax(X[:, :10] + rng.randn(20_000, 10), axis=1)
    assert _training._objective_rows(
        TrainingData(X, np.zeros((len(X), 10)), np.ones(len(X)), 200), 10
    )
    blocked = LinearNNClassifier(optimizer="lbfgs").fit(X, y)
    monkeypatch.setattr(_training, "_objective_rows", lambda data, n_outputs: None)
    whole = LinearNNClassifier(optimizer="lbfgs").fit(X, y)
    np.testing.assert_allclose(blocked.coef_, whole.coef_, rtol=1e-6, atol=1e-8)
    assert abs(blocked.n_iter_ - whole.n_iter_) <= 1


def test_sparse_objective_blocks_count_bytes():
    """A CSR entry holds a value and a column index: the full-batch objective
    of a binary tf-idf-like set stays one evaluation over ``X`` (its per-row
    arrays are under a 16th of ``X``'s bytes), not blocks of copied rows,
    which took longer than the products of an L-BFGS fit (0.71 -> 0.42 s on
    80,000 x 100,000); with ten outputs the per-row arrays exceed it."""
    from sklearn_nnopt._training import _objective_rows

    rng = np.random.RandomState(0)
    n, per_row, p = 40_000, 50, 3_000
    X = sp.csr_matrix(
        (
            rng.rand(n * per_row),
            rng.randint(0, p, n * per_row),
            np.arange(0, n * per_row + 1, per_row),
        ),
        shape=(n, p),
    )
    data = TrainingData(X, np.zeros((n, 1)), np.ones(n), batch_size=200)
    per_row_bytes = 4 * X.dtype.itemsize
    assert n * per_row_bytes <= _x_bytes(X) / 16
    assert _objective_rows(data, 1) is None
    rows = _objective_rows(data, 10)
    assert rows is not None and rows * 10 * per_row_bytes <= _x_bytes(X) / 16


def _text_like(n, n_features, per_row, seed=0):
    rng = np.random.RandomState(seed)
    X = sp.csr_matrix(
        (
            rng.rand(n * per_row),
            rng.randint(0, n_features, n * per_row),
            np.arange(0, n * per_row + 1, per_row),
        ),
        shape=(n, n_features),
    )
    X.sum_duplicates()
    y = (X @ rng.randn(n_features) > 0).astype(int)
    return X, y


def test_sparse_sgd_fit_allocates_a_tenth_of_x():
    """A stochastic fit on CSR keeps its parameters, one gradient-sized work
    array per parameter and a few per-row arrays: no lists of every column
    (the batch's distinct columns are at most its entries)."""
    X, y = _text_like(40_000, 20_000, 50)
    clf = LinearNNClassifier(optimizer="sgd", max_iter=2, tol=None, random_state=0)
    peak = fit_peak_memory(clf, X, y)
    assert peak <= 0.10 * _x_bytes(X), f"{peak / _x_bytes(X):.3f} x X"


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_batches_of_all_distinct_columns(monkeypatch, optimizer):
    """Every entry of the fullest batches in a column of its own: the most
    distinct columns a batch can have, which the compiled step's column
    lists are sized for. The fit is the numpy stepper's."""
    n, per_row = 640, 3
    columns = np.random.RandomState(0).permutation(n * per_row)
    X = sp.csr_matrix(
        (np.ones(n * per_row), columns, np.arange(0, n * per_row + 1, per_row)),
        shape=(n, n * per_row + 5),
    )
    y = np.arange(n) % 2
    fits = []
    for enabled in (True, False):
        monkeypatch.setattr(_kernels, "ENABLED", enabled)
        clf = LinearNNClassifier(
            optimizer=optimizer, batch_size=64, max_iter=3, tol=None, random_state=0
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            fits.append(clf.fit(X, y).coef_)
    np.testing.assert_allclose(fits[0], fits[1], rtol=1e-12, atol=1e-15)
    assert np.count_nonzero(fits[0]) > n


def test_a_sparse_pass_within_budget_is_x_itself():
    """All of a sparse X's rows within the budget are one block, X itself
    (16 copied blocks cost the tf-idf set's convergence check 6-12% of X);
    held-out rows, or a budget smaller than X, give copies of a 16th."""
    X, Y = _problem("sparse", np.random.RandomState(0))
    data = TrainingData(X, Y, np.ones(X.shape[0]), batch_size=200)
    blocks = list(_row_blocks(data, 1 << 22))
    assert len(blocks) == 1 and blocks[0][1] is X
    small = list(_row_blocks(data, X.nnz // 2))
    assert len(small) >= 16
    assert max(b.nnz for _, b in small) <= X.nnz // 16 + X.shape[1]
    data.rows = np.arange(0, X.shape[0], 2)
    held = list(_row_blocks(data, 1 << 22))
    assert len(held) >= 8 and all(b is not X for _, b in held)
    assert sum(b.shape[0] for _, b in held) == len(data.rows)
