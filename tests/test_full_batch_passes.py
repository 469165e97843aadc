"""The passes of a full-batch fit: what they compute and how many there are.

- A full-batch evaluation on dense ``X`` by cache-sized blocks of rows gives
  the whole evaluation's value and gradient (every registered loss, float32
  and float64, weights with all-zero blocks, with and without the
  preconditioner, one and several outputs), and L-BFGS on it takes the same
  iterates.
- The convergence check reuses L-BFGS's and Newton's own evaluations at the
  reference start and at the stop: a one-iteration L-BFGS fit makes only
  scipy's evaluations, and the fits are those without the reuse.
- The compiled weighted column moments of CSR ``X`` (the preconditioner's
  statistics) are scikit-learn's ``mean_variance_axis``.
- A fit on sparse ``X`` runs BLAS on one thread, and gives the caller's
  thread limits back.
"""

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.sparsefuncs import mean_variance_axis
from threadpoolctl import threadpool_info, threadpool_limits

from sklearn_nnopt import LinearNNClassifier, LinearNNRegressor, _kernels
from sklearn_nnopt import _objective as objective_module
from sklearn_nnopt import _training as training
from sklearn_nnopt._objective import Objective
from sklearn_nnopt._precondition import Preconditioner
from sklearn_nnopt._targets import OneHot
from sklearn_nnopt.losses import LOSSES


def _targets(loss, n, n_outputs, dtype, rng):
    """Targets of ``loss`` as the estimators encode them."""
    if "classification" in loss.tasks and loss.classification_target is not None:
        low = -1.0 if loss.classification_target == "sign" else 0.0
        idx = rng.randint(0, max(n_outputs, 2), n)
        if n_outputs == 1:
            Y = np.where(idx == 1, 1.0, low).astype(dtype)[:, None]
            return np.asfortranarray(Y)
        return OneHot(idx, n_outputs, dtype, low=low)
    return np.asfortranarray(rng.uniform(0.1, 3.0, (n, n_outputs)).astype(dtype))


def _problem(name, dtype, n_outputs, weighted, precondition, seed=0):
    rng = np.random.RandomState(seed)
    loss = LOSSES.create(name, "loss")
    if n_outputs > 1 and "classification" not in loss.tasks:
        n_outputs = 2  # multi-output regression
    n, p = 403, 7
    X = (rng.normal(size=(n, p)) * rng.uniform(0.5, 3.0, p) + 1.0).astype(dtype)
    Y = _targets(loss, n, n_outputs, dtype, rng)
    sw = None
    if weighted:
        sw = rng.uniform(0.0, 2.0, n)
        sw[64:192] = 0.0  # whole blocks of zero weight
    pre = None
    if precondition:
        weights = np.ones(n) if sw is None else sw
        pre = Preconditioner.fit(X, weights, center=True)
    objective = Objective(loss, 1e-2, "l2", 0.0, True, pre)
    W = rng.normal(scale=0.3, size=(n_outputs, p)).astype(dtype)
    b = rng.normal(scale=0.3, size=n_outputs).astype(dtype)
    return objective, X, Y, sw, W, b


@pytest.mark.parametrize("precondition", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("n_outputs", [1, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", LOSSES.names())
def test_blocked_evaluation_is_the_whole_evaluation(
    name, dtype, n_outputs, weighted, precondition
):
    objective, X, Y, sw, W, b = _problem(name, dtype, n_outputs, weighted, precondition)
    value, grads = objective.value_grad(X, Y, sw, W, b)
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    for rows in (64, 100, 402):
        blocked_value, blocked = objective.value_grad(X, Y, sw, W, b, block_rows=rows)
        assert blocked_value == pytest.approx(value, rel=rtol)
        assert len(blocked) == len(grads)
        for got, want in zip(blocked, grads, strict=True):
            assert got.dtype == want.dtype and got.shape == want.shape
            atol = rtol * max(np.abs(want).max(), 1e-3)
            assert_allclose(got, want, rtol=rtol, atol=atol)


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(1, 300),
    rows=st.integers(1, 320),
    seed=st.integers(0, 2**16),
    zero_weights=st.booleans(),
)
def test_blocked_evaluation_property(n, rows, seed, zero_weights):
    """Any block size, any row count: the whole evaluation (log loss)."""
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, 4))
    Y = OneHot(rng.randint(0, 3, n), 3, np.float64)
    sw = rng.uniform(0.1, 2.0, n)
    if zero_weights:
        sw[rng.rand(n) < 0.5] = 0.0
        sw[rng.randint(n)] = 1.0  # not all zero
    objective = Objective(LOSSES.create("log_loss", "loss"), 1e-3, "l2", 0.0, True)
    W, b = rng.normal(size=(3, 4)), rng.normal(size=3)
    value, grads = objective.value_grad(X, Y, sw, W, b)
    blocked_value, blocked = objective.value_grad(X, Y, sw, W, b, block_rows=rows)
    assert blocked_value == pytest.approx(value, rel=1e-12)
    for got, want in zip(blocked, grads, strict=True):
        assert_allclose(got, want, rtol=1e-11, atol=1e-14)


def _spy(monkeypatch, cls, name):
    """Record the ``block_rows`` of each call of ``cls.name``."""
    calls = []
    original = getattr(cls, name)

    def spy(self, *args, **kwargs):
        calls.append(kwargs.get("block_rows"))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(cls, name, spy)
    return calls


@pytest.mark.parametrize(
    "make, y_kind",
    [
        (lambda: LinearNNClassifier(optimizer="lbfgs", alpha=1e-3), "binary"),
        (lambda: LinearNNClassifier(optimizer="lbfgs", alpha=1e-3), "multiclass"),
        (lambda: LinearNNRegressor(optimizer="lbfgs", alpha=1e-3), "regression"),
        (lambda: LinearNNClassifier(optimizer="newton", alpha=1e-3), "multiclass"),
    ],
)
def test_full_batch_fit_by_cache_blocks_is_the_whole_fit(monkeypatch, make, y_kind):
    rng = np.random.RandomState(0)
    n = 3000
    X = rng.normal(size=(n, 20)) * rng.uniform(0.1, 10, 20)
    z = X @ rng.normal(size=20) / 10
    y = {
        "binary": (z > 0).astype(int),
        "multiclass": np.digitize(z, [-1, 0, 1]),
        "regression": z + rng.normal(size=n),
    }[y_kind]
    calls = _spy(monkeypatch, objective_module.Objective, "value_grad")
    monkeypatch.setattr(training, "CACHE_BLOCK_BYTES", 1 << 14)
    monkeypatch.setattr(training, "BLOCKED_MIN_BYTES", 0)
    blocked = make().fit(X, y)
    assert calls and all(r is not None and r < n for r in calls)
    monkeypatch.setattr(training, "BLOCKED_MIN_BYTES", X.nbytes + 1)
    calls.clear()
    whole = make().fit(X, y)
    assert calls and all(r is None or r >= n for r in calls)
    assert_allclose(blocked.coef_, whole.coef_, rtol=1e-7, atol=1e-9)
    assert_allclose(blocked.intercept_, whole.intercept_, rtol=1e-7, atol=1e-9)
    assert blocked.n_iter_ == pytest.approx(whole.n_iter_, abs=2)


def test_cache_blocks_hold_the_budget_and_a_floor_of_rows():
    """Blocks within the budget, at least MIN_BLOCK_ROWS rows; an X that
    stays in the last-level cache is evaluated whole (blocks only added
    their calls there: 1.3-2.4x slower evaluations)."""
    X = np.zeros((100_000, 100))
    rows = training._cache_rows(X, 1)
    assert rows * X.itemsize * (100 + 3) <= training.CACHE_BLOCK_BYTES
    assert rows >= training.MIN_BLOCK_ROWS
    wide = np.zeros((200, 100_000))
    assert wide.nbytes >= training.BLOCKED_MIN_BYTES
    assert training._cache_rows(wide, 1) == training.MIN_BLOCK_ROWS
    small = np.zeros((1437, 64))  # digits
    assert training._cache_rows(small, 10) is None


# ------------------------------------------------------ reused evaluations
def _count_passes(monkeypatch):
    """Count the objective's whole-data evaluations (one ``batch`` per block
    or one ``value_grad``), not the check's flat test."""
    counts = {"value_grad": 0, "full_gradient": 0}
    value_grad = objective_module.Objective.value_grad
    full_gradient = training.full_gradient

    def counting_value_grad(self, *args, **kwargs):
        counts["value_grad"] += 1
        return value_grad(self, *args, **kwargs)

    def counting_full_gradient(*args, **kwargs):
        counts["full_gradient"] += 1
        return full_gradient(*args, **kwargs)

    monkeypatch.setattr(objective_module.Objective, "value_grad", counting_value_grad)
    monkeypatch.setattr(training, "full_gradient", counting_full_gradient)
    return counts


@pytest.mark.parametrize("sparse", [False, True])
def test_one_iteration_lbfgs_makes_only_scipys_evaluations(monkeypatch, sparse):
    """The reference start's evaluation is scipy's first, and the check at
    the stop reuses scipy's last: no pass of the fit's own (there were 2)."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(500, 30))
    y = (X[:, 0] + rng.normal(size=500) > 0).astype(int)
    if sparse:
        X[rng.rand(*X.shape) < 0.7] = 0.0
        X = sp.csr_matrix(X)
    counts = _count_passes(monkeypatch)
    estimator = LinearNNClassifier(optimizer="lbfgs", max_iter=1)
    with pytest.warns(ConvergenceWarning, match="max_iter=1"):
        estimator.fit(X, y)
    # scipy evaluates at the start (the check's reference, computed first)
    # and in its line search; the check at the stop reads the last one.
    assert counts["full_gradient"] == 1
    assert counts["value_grad"] >= 1


@pytest.mark.parametrize("optimizer", ["lbfgs", "newton"])
@pytest.mark.parametrize("warm_start", [False, True])
def test_reused_evaluations_give_the_same_fits(monkeypatch, optimizer, warm_start):
    rng = np.random.RandomState(1)
    X = rng.normal(size=(400, 8)) * rng.uniform(0.1, 10, 8)
    y = np.digitize(X @ rng.normal(size=8) / 10, [-0.5, 0.5])
    sw = rng.uniform(0.5, 2.0, 400)

    def fit():
        estimator = LinearNNClassifier(optimizer=optimizer, warm_start=warm_start)
        if warm_start:  # a start away from the check's reference
            estimator.set_params(max_iter=3)
            with pytest.warns(ConvergenceWarning):
                estimator.fit(X, y, sample_weight=sw)
            estimator.set_params(max_iter=200)
        return estimator.fit(X, y, sample_weight=sw)

    reused = fit()
    monkeypatch.setattr(training._Run, "remembers", lambda self: False)
    fresh = fit()
    assert_allclose(reused.coef_, fresh.coef_, rtol=1e-8, atol=1e-10)
    assert_allclose(reused.intercept_, fresh.intercept_, rtol=1e-8, atol=1e-10)


def test_the_remembered_evaluation_is_matched_on_the_point():
    """Another point misses; the same point (equal values) hits."""
    run = training._Run.__new__(training._Run)
    run.evaluation = (np.array([1.0, 2.0]), 3.0, np.array([0.5, 0.25]))
    assert run.evaluated(np.array([1.0, 2.0]))[0] == 3.0
    assert run.evaluated(np.array([1.0, 2.0 + 1e-15])) is None
    assert run.evaluated(np.array([1.0])) is None


# ------------------------------------------------ sparse column moments
def _csr(n, p, density, dtype, index_dtype, seed):
    X = sp.random(n, p, density=density, format="csr", random_state=seed, dtype=dtype)
    X.indices = X.indices.astype(index_dtype)
    X.indptr = X.indptr.astype(index_dtype)
    return X


@pytest.mark.skipif(not _kernels.AVAILABLE, reason="compiled kernels not built")
@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 80),
    p=st.integers(1, 40),
    density=st.floats(0.0, 1.0),
    dtype=st.sampled_from([np.float32, np.float64]),
    index_dtype=st.sampled_from([np.int32, np.int64]),
    zero_weights=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_csr_column_moments_are_mean_variance_axis(
    n, p, density, dtype, index_dtype, zero_weights, seed
):
    rng = np.random.RandomState(seed)
    X = _csr(n, p, density, dtype, index_dtype, seed)
    X.data = (X.data * 10 - 3).astype(dtype)
    weights = rng.uniform(0.0, 3.0, n)
    if zero_weights:
        weights[rng.rand(n) < 0.5] = 0.0
    weights[rng.randint(n)] = 1.0
    mean, var = _kernels.column_moments(X, weights)
    want_mean, want_var = mean_variance_axis(
        X.astype(np.float64), axis=0, weights=weights
    )
    assert mean.dtype == var.dtype == np.float64
    assert_allclose(mean, want_mean, rtol=1e-10, atol=1e-12)
    assert_allclose(var, want_var, rtol=1e-9, atol=1e-12)


@pytest.mark.skipif(not _kernels.AVAILABLE, reason="compiled kernels not built")
def test_csr_column_moments_of_duplicate_entries_are_their_sums():
    X = _csr(50, 10, 0.3, np.float64, np.int32, 0)
    weights = np.ones(50)
    assert _kernels.column_moments(X.tocsc(), weights) is None
    # Column 0 holds one 3.0, stored as 1.0 + 2.0 (not canonical).
    duplicated = sp.csr_matrix(
        (np.array([1.0, 2.0]), np.array([0, 0]), np.array([0, 2] + [2] * 49)),
        shape=(50, 10),
    )
    assert not duplicated.has_canonical_format
    mean, var = _kernels.column_moments(duplicated, weights)
    column = np.r_[3.0, np.zeros(49)]
    assert mean[0] == pytest.approx(column.mean())
    assert var[0] == pytest.approx(column.var())
    assert not duplicated.has_canonical_format  # the caller's X is not changed
    pre = Preconditioner.fit(duplicated, weights, center=False)
    assert pre.scale[0] == 2.0 ** np.round(np.log2(column.std()))


@pytest.mark.skipif(not _kernels.AVAILABLE, reason="compiled kernels not built")
def test_csr_column_moments_say_where_x_is_not_finite():
    X = _csr(30, 5, 0.5, np.float64, np.int32, 1)
    X.data[3] = np.nan
    weights = np.ones(30)
    weights[X.indptr.searchsorted(3, side="right") - 1] = 0.0  # its row: weight 0
    mean, _ = _kernels.column_moments(X, weights)
    assert not np.all(np.isfinite(mean))
    with pytest.raises(ValueError, match="NaN"):
        LinearNNClassifier(optimizer="lbfgs").fit(X, np.arange(30) % 2)


# --------------------------------------------------------- BLAS threads
def _blas_threads():
    return [
        info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"
    ]


@pytest.mark.parametrize(
    "optimizer, sparse, limited",
    [
        ("lbfgs", True, True),
        ("newton", True, True),
        ("lbfgs", False, False),
        ("adam", True, True),
        ("momentum", True, True),
        ("adam", False, False),
    ],
)
def test_blas_runs_on_one_thread_in_sparse_fits(
    monkeypatch, optimizer, sparse, limited
):
    with threadpool_limits(limits=2, user_api="blas"):
        if max(_blas_threads(), default=1) < 2:
            pytest.skip("no BLAS that runs two threads here")
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 10))
    y = (X[:, 0] > 0).astype(int)
    if sparse:
        X = sp.csr_matrix(X * (rng.rand(*X.shape) < 0.5))
    seen = []
    penalty = objective_module.Objective.penalty

    def spying_penalty(self, W):
        seen.append(max(_blas_threads()))
        return penalty(self, W)

    monkeypatch.setattr(objective_module.Objective, "penalty", spying_penalty)
    with threadpool_limits(limits=2, user_api="blas"):
        LinearNNClassifier(optimizer=optimizer, max_iter=5, tol=None).fit(X, y)
        after = max(_blas_threads())
    assert seen
    assert (max(seen) == 1) is limited
    assert after == 2  # the caller's limit, given back
