"""Sparse input, float32, memory, early stopping, progress and divergence."""

import tracemalloc
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning, FitFailedWarning
from sklearn.model_selection import GridSearchCV
from sklearn.preprocessing import StandardScaler

from sklearn_nnopt import (
    OPTIMIZERS,
    DivergenceError,
    LinearNNClassifier,
    LinearNNRegressor,
)

STOCHASTIC = [n for n, cls, _ in OPTIMIZERS.items() if cls.stochastic]


def _sparsify(X, density, seed):
    rng = np.random.RandomState(seed)
    return X * (rng.rand(*X.shape) < density)


@pytest.fixture(scope="module")
def sparse_classification():
    X, y = make_classification(
        n_samples=300, n_features=40, n_informative=10, n_classes=3, random_state=0
    )
    return _sparsify(X, 0.3, 0), y


@pytest.fixture(scope="module")
def sparse_regression():
    X, y = make_regression(n_samples=300, n_features=40, noise=3.0, random_state=0)
    return _sparsify(X, 0.3, 1), y


def _random_csr(n_samples, n_features, nnz_per_row, seed, dtype=np.float64):
    rng = np.random.RandomState(seed)
    indptr = np.arange(n_samples + 1) * nnz_per_row
    indices = rng.randint(0, n_features, size=n_samples * nnz_per_row)
    data = rng.rand(n_samples * nnz_per_row).astype(dtype)
    X = sp.csr_matrix((data, indices, indptr), shape=(n_samples, n_features))
    X.sum_duplicates()
    w = rng.normal(size=n_features)
    y = (X @ w > 0).astype(int)
    return X, y


# ------------------------------------------------------------------ sparse
# Stochastic optimizers do not precondition sparse X: the dense fits compared
# with it train in the same, raw coordinates (precondition=False).
@pytest.mark.parametrize("container", [sp.csr_matrix, sp.csr_array, sp.csc_matrix])
@pytest.mark.parametrize("optimizer", [*STOCHASTIC, "lbfgs"])
def test_sparse_and_dense_fits_agree(sparse_classification, optimizer, container):
    X, y = sparse_classification
    # One batch size for both (SAGA's "auto" is its optimal mini-batch size
    # on sparse X, 200 rows on dense X).
    params = dict(
        optimizer=optimizer,
        batch_size=200,
        max_iter=5,
        tol=None,
        random_state=0,
        precondition=False,
    )
    dense = LinearNNClassifier(**params).fit(X, y)
    sparse = LinearNNClassifier(**params).fit(container(X), y)
    assert_allclose(sparse.coef_, dense.coef_, rtol=1e-7, atol=1e-9)
    assert_allclose(sparse.intercept_, dense.intercept_, rtol=1e-7, atol=1e-9)
    assert_allclose(
        sparse.decision_function(container(X)), dense.decision_function(X), atol=1e-8
    )


@pytest.mark.parametrize(
    "loss", ["hinge", "modified_huber", "squared_error", "perceptron"]
)
def test_sparse_and_dense_agree_for_classification_losses(sparse_classification, loss):
    X, y = sparse_classification
    params = dict(
        loss=loss,
        optimizer="momentum",
        max_iter=5,
        tol=None,
        random_state=0,
        precondition=False,
    )
    dense = LinearNNClassifier(**params).fit(X, y)
    sparse = LinearNNClassifier(**params).fit(sp.csr_matrix(X), y)
    assert_allclose(sparse.coef_, dense.coef_, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("loss", ["squared_error", "huber", "quantile", "poisson"])
def test_sparse_and_dense_agree_for_regression_losses(sparse_regression, loss):
    X, y = sparse_regression
    if loss == "poisson":
        y = np.exp(y / y.std())
    params = dict(
        loss=loss,
        optimizer="adam",
        max_iter=5,
        tol=None,
        random_state=0,
        precondition=False,
    )
    dense = LinearNNRegressor(**params).fit(X, y)
    sparse = LinearNNRegressor(**params).fit(sp.csr_matrix(X), y)
    assert_allclose(sparse.coef_, dense.coef_, rtol=1e-7, atol=1e-9)
    assert_allclose(sparse.predict(sp.csr_matrix(X)), dense.predict(X), rtol=1e-7)


def test_sparse_partial_fit_and_penalties(sparse_classification):
    X, y = sparse_classification
    Xs = sp.csr_matrix(X)
    for penalty in ["l1", "elasticnet"]:
        params = dict(
            penalty=penalty,
            alpha=0.01,
            max_iter=5,
            tol=None,
            random_state=0,
            precondition=False,
        )
        dense = LinearNNClassifier(**params).fit(X, y)
        sparse = LinearNNClassifier(**params).fit(Xs, y)
        assert_allclose(sparse.coef_, dense.coef_, rtol=1e-7, atol=1e-9)
    est = LinearNNClassifier(random_state=0)
    est.partial_fit(Xs[:150], y[:150], classes=np.unique(y))
    est.partial_fit(Xs[150:], y[150:])
    assert est.n_iter_ == 2


def test_sparse_fit_memory_is_proportional_to_nonzeros():
    # 20,000 x 50,000 with 20 non-zeros per row: 400k non-zeros (4.8 MB as CSR);
    # dense it would be 8 GB.
    X, y = _random_csr(20_000, 50_000, 20, seed=0)
    csr_bytes = X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
    for optimizer in ["sgd", "adam"]:
        est = LinearNNClassifier(optimizer=optimizer, max_iter=1, tol=None)
        tracemalloc.start()
        try:
            est.fit(X, y)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        # O(nnz) for batches plus O(n_features) for coef_, gradient and state.
        assert peak < 2 * csr_bytes + 12 * X.shape[1] * 8, (optimizer, peak)
        assert peak < 1e-3 * X.shape[0] * X.shape[1] * 8


# ----------------------------------------------------------------- float32
@pytest.mark.parametrize("optimizer", [*STOCHASTIC, "lbfgs"])
def test_float32_stays_float32(optimizer):
    X, y = make_classification(n_samples=300, n_features=10, random_state=0)
    X = StandardScaler().fit_transform(X)
    params = dict(optimizer=optimizer, max_iter=20, tol=None, random_state=0)
    est32 = LinearNNClassifier(**params).fit(X.astype(np.float32), y)
    est64 = LinearNNClassifier(**params).fit(X, y)
    assert est32.coef_.dtype == est32.intercept_.dtype == np.float32
    assert est64.coef_.dtype == np.float64
    assert est32.decision_function(X.astype(np.float32)).dtype == np.float32
    for name, value in vars(est32.optimizer_).items():
        if isinstance(value, list):
            assert all(a.dtype == np.float32 for a in value), name
    assert_allclose(
        est32.decision_function(X), est64.decision_function(X), rtol=1e-2, atol=1e-2
    )
    assert np.mean(est32.predict(X) == est64.predict(X)) > 0.98


def test_float32_regressor_and_sparse():
    X, y = make_regression(n_samples=200, n_features=8, noise=1.0, random_state=0)
    est = LinearNNRegressor(random_state=0).fit(X.astype(np.float32), y)
    assert est.coef_.dtype == np.float32
    assert est.predict(X.astype(np.float32)).dtype == np.float32
    Xs = sp.csr_matrix(_sparsify(X, 0.5, 0).astype(np.float32))
    est = LinearNNRegressor(random_state=0).fit(Xs, y)
    assert est.coef_.dtype == np.float32


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_dense_fit_does_not_copy_X(dtype):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(20_000, 100)).astype(dtype)
    y = (X[:, 0] > 0).astype(int)
    for optimizer in ["adam", "lbfgs", "newton"]:
        est = LinearNNClassifier(optimizer=optimizer, max_iter=2, tol=None)
        tracemalloc.start()
        try:
            est.fit(X, y)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        # Newton also holds Hessian-sized arrays (scipy's trust-exact keeps
        # about a dozen): memory in n_features^2, not in X's size.
        hessians = 12 * 8 * (X.shape[1] + 1) ** 2 if optimizer == "newton" else 0
        assert peak < 0.1 * X.nbytes + hessians, (optimizer, peak / X.nbytes)


def test_csr_input_is_not_copied(monkeypatch):
    # validate_data hands the very CSR object to training when it is already
    # CSR of a supported dtype: record what the objective sees.
    X, y = _random_csr(500, 1000, 5, seed=1)
    from sklearn_nnopt import _objective

    seen = []
    original = _objective.Objective.raw

    def spy(self, Xb, W, b):
        seen.append(Xb)
        return original(self, Xb, W, b)

    monkeypatch.setattr(_objective.Objective, "raw", spy)
    LinearNNClassifier(optimizer="lbfgs", max_iter=2, tol=None).fit(X, y)
    assert any(sp.issparse(s) and np.shares_memory(s.data, X.data) for s in seen)


# ---------------------------------------------------------- early stopping
def test_early_stopping_restores_best_coefficients():
    X, y = make_classification(n_samples=400, n_features=30, flip_y=0.2, random_state=0)
    est = LinearNNClassifier(
        early_stopping=True,
        n_iter_no_change=5,
        max_iter=200,
        random_state=0,
        learning_rate_init=0.1,
        tol=0.0,
    )
    est.fit(X, y)
    # The best epoch: the last of the tied best scores (the later, longer
    # trained model is the one kept).
    scores = np.asarray(est.validation_scores_)
    best = int(np.flatnonzero(scores == scores.max())[-1])
    assert best < est.n_iter_ - 1  # it went on past the best epoch, then stopped
    # Refit up to the best epoch: same coefficients as the restored ones.
    again = LinearNNClassifier(
        early_stopping=True,
        n_iter_no_change=10_000,
        max_iter=best + 1,
        random_state=0,
        learning_rate_init=0.1,
        tol=0.0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        again.fit(X, y)
    assert_array_equal(est.coef_, again.coef_)
    assert est.best_validation_score_ == est.validation_scores_[best]


# ---------------------------------------------------------------- progress
def test_verbose_line_has_epoch_objective_validation_lr_time(capsys):
    X, y = make_classification(n_samples=200, random_state=0)
    LinearNNClassifier(
        optimizer="adam", early_stopping=True, max_iter=2, tol=None, verbose=1
    ).fit(X, y)
    line = capsys.readouterr().out.splitlines()[0]
    for part in ["Epoch 1", "loss = ", "validation score = ", "lr = ", "time = "]:
        assert part in line


def test_progress_bar_callback():
    callback = pytest.importorskip("sklearn.callback", reason="scikit-learn < 1.9")
    pytest.importorskip("rich", reason="ProgressBar needs rich (the [test] extra)")
    X, y = make_classification(n_samples=200, random_state=0)
    for optimizer in ["adam", "lbfgs", "newton"]:
        est = LinearNNClassifier(optimizer=optimizer, max_iter=7, tol=None)
        est.set_callbacks(callback.ProgressBar()).fit(X, y)
        assert est.n_iter_ == 7


def test_scoring_monitor_sees_one_task_per_epoch():
    callback = pytest.importorskip("sklearn.callback", reason="scikit-learn < 1.9")
    X, y = make_classification(n_samples=200, random_state=0)
    monitor = callback.ScoringMonitor(scoring="accuracy")
    est = LinearNNClassifier(optimizer="adam", max_iter=4, tol=None, random_state=0)
    est.set_callbacks(monitor).fit(X, y)
    rows = monitor.get_logs().data
    epochs = [r for r in rows if r["task_name"].startswith("epoch")]
    assert [r["task_name"] for r in epochs] == [f"epoch {i}" for i in range(1, 5)]
    assert epochs[-1]["accuracy"] == pytest.approx(est.score(X, y))
    # Callbacks also follow partial_fit, one epoch per call.
    est.partial_fit(X, y)
    assert not hasattr(est, "_callback_fit_ctx")


# -------------------------------------------------------------- divergence
def test_divergence_error_names_epoch_and_keeps_previous_state():
    X, y = make_regression(n_samples=200, n_features=5, random_state=0)
    est = LinearNNRegressor(optimizer="sgd", random_state=0).fit(X, y)
    coef, n_iter, curve = est.coef_.copy(), est.n_iter_, list(est.loss_curve_)
    est.set_params(learning_rate_init=1e4)
    with pytest.raises(DivergenceError, match=r"epoch \d+.*smaller learning_rate_init"):
        est.fit(X, y)
    assert_array_equal(est.coef_, coef)
    assert est.n_iter_ == n_iter and est.loss_curve_ == curve


def test_failed_partial_fit_leaves_state_intact():
    X, y = make_regression(n_samples=200, n_features=5, random_state=0)
    est = LinearNNRegressor(optimizer="sgd", learning_rate_init=1e-3, random_state=0)
    est.partial_fit(X, y)
    state = (est.coef_.copy(), est.t_, est.optimizer_.t_)
    with pytest.raises(DivergenceError):
        for _ in range(200):
            est.partial_fit(X * 1e6, y)
    assert np.all(np.isfinite(est.coef_))
    assert est.t_ == est.optimizer_.t_
    assert est.t_ >= state[1]


def test_divergent_candidate_gets_error_score_in_grid_search():
    X, y = make_regression(n_samples=200, n_features=5, random_state=0)
    grid = GridSearchCV(
        LinearNNRegressor(optimizer="sgd", max_iter=50, tol=None),
        {"learning_rate_init": ["auto", 1e4]},
        cv=3,
        error_score=np.nan,
    )
    with (
        pytest.warns(FitFailedWarning, match="diverged"),
        pytest.warns(UserWarning, match="test scores are non-finite"),
    ):
        grid.fit(X, y)
    scores = grid.cv_results_["mean_test_score"]
    assert np.isfinite(scores[0]) and np.isnan(scores[1])
    assert grid.best_params_ == {"learning_rate_init": "auto"}


@pytest.mark.parametrize("call", ["fit", "warm fit", "partial_fit"])
@pytest.mark.parametrize("optimizer", ["sgd", "adam", "lbfgs"])
def test_a_failed_fit_leaves_every_attribute_as_it_was(call, optimizer):
    # By construction: nothing is written before training succeeds. Compared
    # through joblib's hash of everything the estimator holds.
    import joblib

    if call == "partial_fit" and optimizer == "lbfgs":
        pytest.skip("lbfgs has no partial_fit")
    X, y = make_regression(n_samples=200, n_features=5, random_state=0)
    est = LinearNNRegressor(
        optimizer=optimizer, warm_start=call == "warm fit", average=optimizer == "sgd"
    )
    est.set_params(random_state=0, max_iter=5, tol=None)
    est.partial_fit(X, y) if call == "partial_fit" else est.fit(X, y)

    def fitted_state():
        params = est.get_params(deep=False)
        return joblib.hash({k: v for k, v in vars(est).items() if k not in params})

    before = fitted_state()
    if optimizer == "lbfgs":
        X_bad = X.copy()
        X_bad[3, 2] = np.nan  # L-BFGS cannot diverge: make the input fail
        with pytest.raises(ValueError, match="NaN"):
            est.fit(X_bad, y)
    else:
        # Finite targets whose squared residuals overflow: the objective is
        # not finite, for every optimizer.
        method = getattr(est, "partial_fit" if call == "partial_fit" else "fit")
        with pytest.raises(DivergenceError), np.errstate(over="ignore"):
            method(X, y * 1e300)
    assert fitted_state() == before
