"""Reliability: property-based input fuzzing, numerical robustness, reproducibility,
concurrency and error messages of LinearNNClassifier and LinearNNRegressor.

The hypothesis tests run ``max_examples`` from the profile registered in
``conftest.py`` (``--hypothesis-profile=thorough`` for a longer search).
"""

import contextlib
import pickle
import re
import warnings
from concurrent.futures import ThreadPoolExecutor

import joblib
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import assume, example, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.datasets import make_classification, make_regression
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.preprocessing import StandardScaler

from sklearn_nnopt import (
    LOSSES,
    OPTIMIZERS,
    SGD,
    Adam,
    DivergenceError,
    LinearNNClassifier,
    LinearNNRegressor,
)

CLF_LOSSES = [n for n, cls, _ in LOSSES.items() if "classification" in cls.tasks]
REG_LOSSES = [n for n, cls, _ in LOSSES.items() if "regression" in cls.tasks]
PROBA_LOSSES = [n for n, cls, _ in LOSSES.items() if hasattr(cls, "predict_proba")]
# The finite-sum SAGA and SAG (fit only, smooth losses only) have properties
# of their own below, so that these draws stay those of the other optimizers.
FINITE_SUM = [n for n, cls, _ in OPTIMIZERS.items() if cls.finite_sum]
OPTIMIZER_NAMES = [n for n, _, _ in OPTIMIZERS.items() if n not in FINITE_SUM]
STOCHASTIC = [n for n in OPTIMIZER_NAMES if OPTIMIZERS.create(n, "o").stochastic]
SGD_FAMILY = [n for n, cls, _ in OPTIMIZERS.items() if issubclass(cls, SGD)]
ADAPTIVE = [n for n in STOCHASTIC if n not in SGD_FAMILY]
DEFAULT_CLF_OPTIMIZER = LinearNNClassifier().optimizer
DEFAULT_CLF_LOSS = LinearNNClassifier().loss
DEFAULT_REG_OPTIMIZER = LinearNNRegressor().optimizer
DEFAULT_REG_LOSS = LinearNNRegressor().loss


def test_registries_are_as_documented():
    """The tables the parametrizations below are built from."""
    assert sorted(PROBA_LOSSES) == ["cross_entropy", "log_loss", "modified_huber"]
    assert "poisson" in REG_LOSSES and "poisson" not in CLF_LOSSES
    assert set(CLF_LOSSES) & set(REG_LOSSES) == {"squared_error"}
    assert "lbfgs" in OPTIMIZER_NAMES and "lbfgs" not in STOCHASTIC
    assert {"sgd", "adam"} <= set(STOCHASTIC)
    assert sorted(SGD_FAMILY) == ["momentum", "nesterov", "sgd"]


# --------------------------------------------------------------- strategies
# "Standardized-ish" entries: floats in [-10, 10] exactly representable in
# float32.
FEATURE_VALUES = st.floats(
    -10, 10, allow_nan=False, allow_infinity=False, allow_subnormal=False, width=32
)
TARGET_VALUES = st.floats(-10, 10, allow_subnormal=False, width=32)
WEIGHT_VALUES = st.floats(0.0625, 10, width=32)

LABEL_SETS = {
    "int": np.array([-3, 0, 7, 42]),
    "str": np.array(["ant", "bee", "cat", "dog"]),
    "bool": np.array([False, True]),
}


@contextlib.contextmanager
def _strict():
    """RuntimeWarning raises, ConvergenceWarning is ignored."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("error", RuntimeWarning)
        yield


@st.composite
def feature_matrices(draw, n_samples):
    n_features = draw(st.integers(1, 6))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    return draw(hnp.arrays(dtype, (n_samples, n_features), elements=FEATURE_VALUES))


@st.composite
def sample_weights(draw, n_samples):
    if draw(st.booleans()):
        return None
    return draw(hnp.arrays(np.float64, n_samples, elements=WEIGHT_VALUES))


@st.composite
def classification_data(draw):
    """``(X, y, sample_weight)`` with at least two classes present in ``y``."""
    n_samples = draw(st.integers(2, 40))
    X = draw(feature_matrices(n_samples))
    values = LABEL_SETS[draw(st.sampled_from(sorted(LABEL_SETS)))]
    n_classes = draw(st.integers(2, len(values)))
    idx = draw(hnp.arrays(np.intp, n_samples, elements=st.integers(0, n_classes - 1)))
    idx[:2] = [0, 1]
    return X, values[idx], draw(sample_weights(n_samples))


@st.composite
def regression_data(draw, nonnegative=False):
    """``(X, y, sample_weight)`` with a 1-D or 2-D float target."""
    n_samples = draw(st.integers(2, 40))
    X = draw(feature_matrices(n_samples))
    n_targets = draw(st.sampled_from([None, 1, 2, 3]))
    shape = (n_samples,) if n_targets is None else (n_samples, n_targets)
    elements = TARGET_VALUES.map(abs) if nonnegative else TARGET_VALUES
    y = draw(hnp.arrays(np.float64, shape, elements=elements))
    return X, y, draw(sample_weights(n_samples))


@st.composite
def estimator_params(draw, losses):
    optimizer = draw(st.sampled_from(OPTIMIZER_NAMES))
    loss = draw(st.sampled_from(losses))
    loss_class = LOSSES.create(loss, "loss")
    if not (loss_class.full_batch and loss_class.smooth):
        # The estimator refuses full-batch optimizers for non-smooth losses
        # and the perceptron (tested elsewhere).
        optimizer = draw(st.sampled_from(STOCHASTIC))
    batch_sizes = ["auto", 1, 7]
    return dict(
        loss=loss,
        optimizer=optimizer,
        batch_size=draw(st.sampled_from(batch_sizes)),
        max_iter=3,
        tol=None,
        random_state=0,
    )


@st.composite
def classification_problems(draw):
    params = draw(estimator_params(CLF_LOSSES))
    return params, draw(classification_data())


@st.composite
def regression_problems(draw):
    params = draw(estimator_params(REG_LOSSES))
    data = draw(regression_data(nonnegative=params["loss"] == "poisson"))
    return params, data


def _container(X, sparse):
    return sp.csr_matrix(X) if sparse else X


# ---------------------------------------------------- properties: valid input
@given(problem=classification_problems(), sparse=st.booleans())
def test_classifier_fits_and_predicts_any_valid_input(problem, sparse):
    params, (X, y, sw) = problem
    Xin = _container(X, sparse)
    clf = LinearNNClassifier(**params)
    with _strict():
        clf.fit(Xin, y, sample_weight=sw)
        pred = clf.predict(Xin)
        scores = clf.decision_function(Xin)
    classes = np.unique(y)
    assert_array_equal(clf.classes_, classes)
    assert clf.classes_.dtype == y.dtype
    assert pred.shape == (len(y),)
    assert pred.dtype == y.dtype
    assert np.isin(pred, classes).all()
    n_outputs = 1 if len(classes) == 2 else len(classes)
    assert clf.coef_.shape == (n_outputs, X.shape[1])
    assert clf.coef_.dtype == X.dtype
    assert np.isfinite(clf.coef_).all() and np.isfinite(clf.intercept_).all()
    assert scores.shape == ((len(y),) if n_outputs == 1 else (len(y), n_outputs))
    assert np.isfinite(scores).all()

    if params["loss"] not in PROBA_LOSSES:
        assert not hasattr(clf, "predict_proba")
        return
    with _strict():
        proba = clf.predict_proba(Xin)
        log_proba = clf.predict_log_proba(Xin)
    assert proba.shape == (len(y), len(classes))
    assert np.all((proba >= 0) & (proba <= 1))
    assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert not np.isnan(log_proba).any()
    assert_allclose(np.exp(log_proba), proba, atol=1e-6)
    # The predicted class has the highest probability (up to rounding ties).
    picked = proba[np.arange(len(y)), np.searchsorted(classes, pred)]
    assert np.all(picked >= proba.max(axis=1) - 1e-6)


@given(problem=regression_problems(), sparse=st.booleans())
def test_regressor_fits_and_predicts_any_valid_input(problem, sparse):
    params, (X, y, sw) = problem
    Xin = _container(X, sparse)
    reg = LinearNNRegressor(**params)
    with _strict():
        reg.fit(Xin, y, sample_weight=sw)
        pred = reg.predict(Xin)
    assert pred.shape == y.shape
    assert pred.dtype == X.dtype
    assert np.isfinite(pred).all()
    assert np.isfinite(reg.coef_).all() and np.isfinite(reg.intercept_).all()
    if y.ndim == 1:
        assert reg.coef_.shape == (X.shape[1],) and np.ndim(reg.intercept_) == 0
    else:
        assert reg.coef_.shape == (y.shape[1], X.shape[1])
    if params["loss"] == "poisson":
        assert np.all(pred >= 0)


def _comparable(params, X):
    """``X`` in a precision where dense and CSR fits must agree.

    Adaptive optimizers divide each gradient coordinate by its own running
    scale, so a coordinate that is exactly zero in exact arithmetic (duplicate
    rows with opposite labels, the intercept at its best constant, ...) takes a
    step of up to +-lr whose sign is rounding noise. The noise differs between
    BLAS (dense) and scipy (CSR) summation; in float32 it exceeds the
    optimizers' epsilon, so those fits are compared in float64.
    """
    if X.dtype == np.float32 and params["optimizer"] in ADAPTIVE:
        return X.astype(np.float64)
    return X


def _raw(est, X):
    return np.asarray(X, dtype=np.float64) @ np.atleast_2d(est.coef_).T.astype(
        np.float64
    ) + np.asarray(est.intercept_, dtype=np.float64)


def _assert_same_fit(a, b, dtype, X=None):
    """Dense and sparse fits agree to the precision of ``dtype``.

    For the adaptive optimizers, a gradient coordinate that is exactly zero in
    exact arithmetic (e.g. identical rows with different labels and the
    intercept at its best constant) turns rounding noise into steps of up to
    ``lr * noise / epsilon``: on such degenerate data the fits agree only to a
    small fraction of the step size.

    With ``X``, float32 full-batch fits are compared on the raw predictions
    on ``X`` (see below) rather than on the coefficients.
    """
    scale = max(1.0, float(np.abs(a.coef_).max()), float(np.abs(a.intercept_).max()))
    tol = (2e-4 if dtype == np.float32 else 1e-6) * scale
    if a.get_params()["optimizer"] in ADAPTIVE:
        tol = max(tol, 1e-2 * a.learning_rate_init_)
    if X is not None and dtype == np.float32 and not a.optimizer_.stochastic:
        # A full-batch step solves with the float32 gradient: along a
        # direction only the penalty curves (a constant column and the
        # intercept), it is rounding noise divided by alpha, and dense and
        # sparse rounding differ. Such fits agree on the raw predictions.
        assert_allclose(_raw(b, X), _raw(a, X), rtol=0, atol=tol)
        return
    assert_allclose(b.coef_, a.coef_, rtol=0, atol=tol)
    assert_allclose(b.intercept_, a.intercept_, rtol=0, atol=tol)
    assert a.learning_rate_init_ == pytest.approx(b.learning_rate_init_)


def _assume_generic(params, X):
    """Adaptive optimizers: skip data with duplicate rows (see _assert_same_fit)."""
    if params["optimizer"] in ADAPTIVE:
        dense = X.toarray() if sp.issparse(X) else X
        assume(len(np.unique(dense, axis=0)) == len(dense))


def _check_sparse_matches_dense(Estimator, problem):
    params, (X, y, sw) = problem
    # Stochastic optimizers do not precondition sparse X: both in raw coordinates.
    params = {**params, "precondition": False}
    X = _comparable(params, X)
    _assume_generic(params, X)
    if OPTIMIZERS.create(params["optimizer"], "optimizer").sparse_mode == "lazy":
        # Lazy steps (Adam's default on CSR) leave a column absent from the
        # batch and its moments alone, where dense steps move it on its
        # momentum: the same iterates only if every row holds every column
        # (one row of zeros, batch_size=1: 0.0116 against 0.0189 after three
        # epochs, as documented).
        assume(np.all(X != 0))
    with _strict():
        dense = Estimator(**params).fit(X, y, sample_weight=sw)
        sparse = Estimator(**params).fit(sp.csr_matrix(X), y, sample_weight=sw)
    _assert_same_fit(dense, sparse, X.dtype, X)


@given(problem=classification_problems())
def test_classifier_sparse_and_dense_fits_agree(problem):
    _check_sparse_matches_dense(LinearNNClassifier, problem)


@given(problem=regression_problems())
# Found by hypothesis: a constant column, collinear with the intercept, in
# float32 with Newton (see _assert_same_fit).
@example(
    problem=(
        dict(loss="poisson", optimizer="newton", max_iter=3, tol=None, random_state=0),
        (
            np.array([[0.0, 7.75], [7.75, 7.75]], dtype=np.float32),
            np.array([0.0, 3.0]),
            np.array([1.0, 1.0]),
        ),
    ),
)
def test_regressor_sparse_and_dense_fits_agree(problem):
    _check_sparse_matches_dense(LinearNNRegressor, problem)


@st.composite
def finite_sum_problems(draw):
    """SAGA or SAG, a smooth loss of either task, and data for it."""
    task = draw(st.sampled_from(["classification", "regression"]))
    losses = CLF_LOSSES if task == "classification" else REG_LOSSES
    loss = draw(st.sampled_from([n for n in losses if LOSSES.create(n, "l").smooth]))
    params = dict(
        loss=loss,
        optimizer=draw(st.sampled_from(FINITE_SUM)),
        batch_size=draw(st.sampled_from(["auto", 1, 7])),
        max_iter=3,
        tol=None,
        random_state=0,
    )
    if task == "classification":
        return LinearNNClassifier, params, draw(classification_data())
    data = draw(regression_data(nonnegative=loss == "poisson"))
    return LinearNNRegressor, params, data


@given(problem=finite_sum_problems(), sparse=st.booleans())
def test_finite_sum_fits_and_predicts_any_valid_input(problem, sparse):
    Estimator, params, (X, y, sw) = problem
    Xin = _container(X, sparse)
    with _strict():
        est = Estimator(**params).fit(Xin, y, sample_weight=sw)
        pred = est.predict(Xin)
    assert est.coef_.dtype == X.dtype
    assert np.isfinite(est.coef_).all() and np.isfinite(est.intercept_).all()
    assert pred.shape == y.shape
    assert est.n_iter_ == 3


@given(problem=finite_sum_problems())
def test_finite_sum_sparse_and_dense_fits_agree(problem):
    # On CSR X the steps are just in time, with the dense steps' iterates
    # (at one batch size: SAGA's "auto" is 200 rows on dense X, its optimal
    # mini-batch size on sparse X).
    Estimator, params, data = problem
    if params["batch_size"] == "auto":
        params = {**params, "batch_size": 200}
    _check_sparse_matches_dense(Estimator, (params, data))


# -------------------------------------------------- properties: invalid input
COMMON_INVALID = [
    "nan_X",
    "inf_X",
    "nan_y",
    "inf_y",
    "negative_weight",
    "zero_weights",
    "nan_weight",
    "short_y",
    "short_weight",
    "long_weight",
    "wrong_n_features_at_predict",
    "empty_X",
    "empty_X_at_predict",
    "no_features",
]


def _fit_invalid(est, case, X, y, sw, sparse):
    """Fit (and predict) ``est`` on data made invalid as ``case`` says."""
    X = X.copy()
    y = y.copy()
    sw = np.ones(len(y)) if sw is None else sw.copy()
    if case == "nan_X":
        X[-1, 0] = np.nan
    elif case == "inf_X":
        X[0, -1] = -np.inf
    elif case in ("nan_y", "inf_y"):
        y = (
            y.astype(np.float64)
            if isinstance(est, LinearNNRegressor)
            else (np.arange(len(y)) % 2).astype(np.float64)
        )
        y.flat[-1] = np.nan if case == "nan_y" else np.inf
    elif case == "negative_weight":
        sw[-1] = -0.5
    elif case == "zero_weights":
        sw[:] = 0.0
    elif case == "nan_weight":
        sw[0] = np.nan
    elif case == "short_y":
        y = y[:-1]
    elif case == "short_weight":
        sw = sw[:-1]
    elif case == "long_weight":
        sw = np.append(sw, 1.0)
    elif case == "no_features":
        X = X[:, :0]
    elif case == "empty_X":
        X, y, sw = X[:0], y[:0], sw[:0]
    elif case == "single_class":
        y[:] = y[0]
    elif case == "negative_y":
        y.flat[0] = -1.0
    if case == "wrong_n_features_at_predict":
        est.fit(_container(X, sparse), y, sample_weight=sw)
        est.predict(_container(np.hstack([X, X[:, :1]]), sparse))
    elif case == "empty_X_at_predict":
        est.fit(_container(X, sparse), y, sample_weight=sw)
        est.predict(_container(X[:0], sparse))
    else:
        est.fit(_container(X, sparse), y, sample_weight=sw)


@given(
    problem=classification_problems(),
    sparse=st.booleans(),
    case=st.sampled_from([*COMMON_INVALID, "single_class"]),
)
def test_classifier_rejects_invalid_input(problem, sparse, case):
    params, (X, y, sw) = problem
    with _strict(), pytest.raises((ValueError, TypeError)):
        _fit_invalid(LinearNNClassifier(**params), case, X, y, sw, sparse)


@given(
    problem=regression_problems(),
    sparse=st.booleans(),
    case=st.sampled_from(COMMON_INVALID),
)
def test_regressor_rejects_invalid_input(problem, sparse, case):
    params, (X, y, sw) = problem
    with _strict(), pytest.raises((ValueError, TypeError)):
        _fit_invalid(LinearNNRegressor(**params), case, X, y, sw, sparse)


@given(data=regression_data(nonnegative=True), sparse=st.booleans())
def test_poisson_rejects_negative_targets(data, sparse):
    X, y, sw = data
    reg = LinearNNRegressor(loss="poisson", max_iter=3, tol=None, random_state=0)
    with _strict(), pytest.raises(ValueError, match="non-negative"):
        _fit_invalid(reg, "negative_y", X, y, sw, sparse)


# ------------------------------------------- no RuntimeWarning, every choice
@pytest.fixture(scope="module")
def standardized():
    """Standardized binary, multiclass, regression and count problems."""
    rng = np.random.RandomState(0)
    X, y2 = make_classification(
        n_samples=150, n_features=6, n_informative=4, random_state=0
    )
    X = StandardScaler().fit_transform(X)
    X3, y3 = make_classification(
        n_samples=150, n_features=6, n_informative=4, n_classes=3, random_state=0
    )
    X3 = StandardScaler().fit_transform(X3)
    Xr, yr = make_regression(n_samples=150, n_features=6, noise=5.0, random_state=0)
    Xr = StandardScaler().fit_transform(Xr)
    counts = rng.poisson(np.exp(0.3 * Xr[:, 0] + 0.5)).astype(float)
    return {"X": X, "y2": y2, "X3": X3, "y3": y3, "Xr": Xr, "yr": yr, "counts": counts}


_CLF_COMBOS = sorted(
    {(loss, DEFAULT_CLF_OPTIMIZER) for loss in CLF_LOSSES}
    | {(DEFAULT_CLF_LOSS, opt) for opt in OPTIMIZER_NAMES}
)
_REG_COMBOS = sorted(
    {(loss, DEFAULT_REG_OPTIMIZER) for loss in REG_LOSSES}
    | {(DEFAULT_REG_LOSS, opt) for opt in OPTIMIZER_NAMES}
)


@pytest.mark.parametrize("loss, optimizer", _CLF_COMBOS)
def test_classifier_emits_no_runtime_warning(standardized, loss, optimizer):
    for X, y in [
        (standardized["X"], standardized["y2"]),
        (standardized["X3"], standardized["y3"]),
    ]:
        clf = LinearNNClassifier(
            loss=loss, optimizer=optimizer, max_iter=30, random_state=0
        )
        with _strict():
            clf.fit(X, y)
            pred = clf.predict(X)
            if hasattr(clf, "predict_proba"):
                proba = clf.predict_proba(X)
                assert_allclose(proba.sum(axis=1), 1.0)
                assert not np.isnan(clf.predict_log_proba(X)).any()
        assert np.isfinite(clf.coef_).all()
        # Standardized, informative data: clearly better than chance.
        assert np.mean(pred == y) > 1.0 / len(np.unique(y)) + 0.1


@pytest.mark.parametrize("loss, optimizer", _REG_COMBOS)
def test_regressor_emits_no_runtime_warning(standardized, loss, optimizer):
    X = standardized["Xr"]
    y = standardized["counts" if loss == "poisson" else "yr"]
    for target in (y, np.column_stack([y, 0.5 * y])):
        reg = LinearNNRegressor(
            loss=loss, optimizer=optimizer, max_iter=30, random_state=0
        )
        with _strict():
            reg.fit(X, target)
            pred = reg.predict(X)
        assert pred.shape == target.shape
        assert np.isfinite(pred).all() and np.isfinite(reg.coef_).all()
        assert reg.score(X, target) > 0.05  # better than a constant


# --------------------------------------------------- extreme raw predictions
def _set_raw(clf, n_classes, dtype, z=1e4):
    """Make ``decision_function([[1], [-1]])`` equal to +-z per class."""
    if n_classes == 2:
        clf.coef_ = np.array([[z]], dtype=dtype)
        clf.intercept_ = np.zeros(1, dtype=dtype)
    else:
        clf.coef_ = np.array([[z], [0.0], [-z]], dtype=dtype)
        clf.intercept_ = np.zeros(3, dtype=dtype)
    return np.array([[1.0], [-1.0]], dtype=dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("loss", ["log_loss", "cross_entropy"])
def test_log_loss_probabilities_at_huge_raw_predictions(loss, n_classes, dtype):
    X = np.linspace(-1, 1, 12, dtype=dtype)[:, None]
    y = np.arange(12) % n_classes
    clf = LinearNNClassifier(loss=loss, max_iter=2, tol=None).fit(X, y)
    Xq = _set_raw(clf, n_classes, dtype)
    z = 1e4
    with _strict():
        assert_allclose(np.abs(clf.decision_function(Xq)).max(), z)
        proba = clf.predict_proba(Xq)
        log_proba = clf.predict_log_proba(Xq)
        pred = clf.predict(Xq)
    assert np.isfinite(proba).all() and np.isfinite(log_proba).all()
    if n_classes == 2:
        # rows: raw = +z (class 1 likely), raw = -z (class 0 likely)
        expected_log = [[-z, 0.0], [0.0, -z]]
        assert_array_equal(pred, [1, 0])
    else:
        # rows: raw = (z, 0, -z) and (-z, 0, z)
        expected_log = [[0.0, -z, -2 * z], [-2 * z, -z, 0.0]]
        assert_array_equal(pred, [0, 2])
    assert_allclose(log_proba, expected_log, rtol=1e-6, atol=1e-6)
    assert_allclose(proba, np.exp(np.asarray(expected_log)), atol=1e-12)
    assert_allclose(proba.sum(axis=1), 1.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_modified_huber_probabilities_at_huge_raw_predictions(n_classes, dtype):
    X = np.linspace(-1, 1, 12, dtype=dtype)[:, None]
    y = np.arange(12) % n_classes
    clf = LinearNNClassifier(loss="modified_huber", max_iter=2, tol=None).fit(X, y)
    Xq = _set_raw(clf, n_classes, dtype)
    with _strict():
        proba = clf.predict_proba(Xq)
        log_proba = clf.predict_log_proba(Xq)
    if n_classes == 2:
        expected = [[0.0, 1.0], [1.0, 0.0]]
    else:  # clip(z, -1, 1) + 1) / 2 = (1, 1/2, 0), normalized
        expected = [[2 / 3, 1 / 3, 0.0], [0.0, 1 / 3, 2 / 3]]
    assert_allclose(proba, expected, atol=1e-7)
    likely = proba > 0
    # log(0) = -inf is the right answer for the impossible classes.
    assert np.isfinite(log_proba[likely]).all()
    assert np.all(log_proba[~likely] == -np.inf)
    assert_allclose(np.exp(log_proba), proba, atol=1e-7)


def _encoded_targets(loss, n_outputs, dtype):
    """All one-hot (or one-column) targets in the loss's encoding."""
    if n_outputs == 1:
        Y = np.array([[0.0], [1.0]], dtype=dtype)
    else:
        Y = np.eye(n_outputs, dtype=dtype)
    if "classification" in loss.tasks and loss.classification_target == "sign":
        Y = 2 * Y - 1
    return Y


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", [n for n, _, _ in LOSSES.items()])
def test_losses_are_finite_at_huge_raw_predictions(name, dtype):
    loss = LOSSES.create(name, "loss")
    is_log_loss = isinstance(loss, type(LOSSES.create("log_loss", "loss")))
    for n_outputs in (1, 3):
        if n_outputs == 3 and name == "poisson":
            continue
        Y = _encoded_targets(loss, n_outputs, dtype)
        for z in (1e4, -1e4):
            if name == "poisson" and z > 0:
                continue  # exp(1e4) overflows: the Poisson loss really is inf
            raw = np.full_like(Y, z)
            if n_outputs > 1:
                raw[:, 0] = -z  # mixed signs across the row
            with _strict():
                value, grad = loss.loss_gradient(Y, raw.copy())
            assert value.shape == (len(Y),) and grad.shape == Y.shape
            assert np.isfinite(value).all() and np.isfinite(grad).all()
            if name != "poisson":
                assert np.all(value >= 0)
            if is_log_loss and n_outputs == 1:
                # y = 0 / y = 1 at raw = z: loss softplus(z) - y z
                expected = [max(z, 0.0), max(-z, 0.0)]
                assert_allclose(value, expected, rtol=1e-6, atol=1e-6)
                assert_allclose(grad[:, 0], [z > 0, -(z < 0)], atol=1e-6)
            if is_log_loss and n_outputs == 3:
                # logsumexp(raw) - raw_y with raw = (-z, z, z) or (z, -z, -z)
                top = raw.max()
                expected = top + np.log((raw[0] == top).sum()) - np.diag(raw)
                assert_allclose(value, expected, rtol=1e-6, atol=1e-3)


# ------------------------------------------------------- unscaled features
@pytest.fixture(scope="module")
def unscaled():
    X, y = make_classification(
        n_samples=200, n_features=5, n_informative=3, random_state=0
    )
    Xr, yr = make_regression(n_samples=200, n_features=5, noise=1.0, random_state=0)
    return X, y, Xr, yr


def _fit_or_diverge(est, X, y):
    """Fit; return None on DivergenceError (which must keep no broken state)."""
    try:
        with _strict():
            return est.fit(X, y)
    except DivergenceError:
        assert not hasattr(est, "coef_")
        return None


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs", "sgd"])
def test_features_of_magnitude_1e6_train_or_raise(unscaled, optimizer):
    X, y, Xr, yr = unscaled
    for est, dummy, XX, yy in [
        (LinearNNClassifier, DummyClassifier(), X * 1e6, y),
        (LinearNNRegressor, DummyRegressor(), Xr * 1e6, yr),
    ]:
        fitted = _fit_or_diverge(
            est(optimizer=optimizer, max_iter=50, random_state=0), XX, yy
        )
        if fitted is None:
            continue
        assert np.isfinite(fitted.coef_).all()
        assert np.isfinite(fitted.intercept_).all()
        baseline = dummy.fit(XX, yy).score(XX, yy)
        assert fitted.score(XX, yy) > baseline + 0.05


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs", "sgd"])
def test_features_offset_by_1e6_never_give_nan(unscaled, optimizer):
    """Features ~ 1e6 +- 1: badly conditioned (first-order methods barely move),
    but the result is finite and no worse than a constant, or DivergenceError."""
    X, y, Xr, yr = unscaled
    for est, dummy, XX, yy in [
        (LinearNNClassifier, DummyClassifier(), X + 1e6, y),
        (LinearNNRegressor, DummyRegressor(), Xr + 1e6, yr),
    ]:
        fitted = _fit_or_diverge(
            est(optimizer=optimizer, max_iter=50, random_state=0), XX, yy
        )
        if fitted is None:
            continue
        assert np.isfinite(fitted.coef_).all()
        assert np.isfinite(fitted.intercept_).all()
        baseline = dummy.fit(XX, yy).score(XX, yy)
        assert fitted.score(XX, yy) >= baseline - 0.01


# ---------------------------------------------------------- reproducibility
@pytest.fixture(scope="module")
def small():
    X, y = make_classification(
        n_samples=60,
        n_features=4,
        n_informative=3,
        n_redundant=0,
        n_classes=3,
        random_state=3,
    )
    X = StandardScaler().fit_transform(X)
    yr = X @ np.array([1.0, -2.0, 0.5, 0.0]) + 0.1 * np.arange(60) % 1.3
    return X, y, yr


def _estimators(optimizer):
    common = dict(optimizer=optimizer, batch_size=16, max_iter=5, tol=None)
    return [
        (LinearNNClassifier(**common, random_state=7), 1),
        (LinearNNRegressor(**common, random_state=7), 2),
    ]


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "nadam", "lbfgs"])
def test_same_random_state_gives_bit_identical_fits(small, optimizer):
    X = small[0]
    for est, target in _estimators(optimizer):
        y = small[target]
        unfitted = pickle.loads(pickle.dumps(est))  # before any fit
        ref = clone(est).fit(X, y)
        again = clone(est).fit(X, y)
        est.fit(X, y)
        first_coef = est.coef_.copy()
        est.fit(X, y)  # the same instance, fitted again
        cloned = clone(est).fit(X, y)  # a clone of the fitted instance
        unpickled = unfitted.fit(X, y)
        for other in (again, est, cloned, unpickled):
            assert_array_equal(other.coef_, ref.coef_)
            assert_array_equal(other.intercept_, ref.intercept_)
        assert_array_equal(first_coef, ref.coef_)
        if OPTIMIZERS.create(optimizer, "optimizer").stochastic:
            # The seed matters (shuffled minibatches), so the check has teeth.
            other_seed = clone(est).set_params(random_state=8).fit(X, y)
            assert not np.array_equal(other_seed.coef_, ref.coef_)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam", "lbfgs"])
def test_pickled_fitted_model_predicts_identically(small, optimizer):
    X = small[0]
    for est, target in _estimators(optimizer):
        y = small[target]
        est.fit(X, y)
        loaded = pickle.loads(pickle.dumps(est))
        assert_array_equal(loaded.predict(X), est.predict(X))
        if isinstance(est, LinearNNClassifier):
            assert_array_equal(loaded.decision_function(X), est.decision_function(X))
            assert_array_equal(loaded.predict_proba(X), est.predict_proba(X))
        if OPTIMIZERS.create(optimizer, "optimizer").stochastic:
            # The optimizer state survives pickling too: training continues alike.
            est.partial_fit(X, y)
            loaded.partial_fit(X, y)
            assert_array_equal(loaded.coef_, est.coef_)


def _optimizer_state(opt):
    return {"step": opt.t_, **opt.state_.values}


def _assert_same_state(a, b):
    sa, sb = _optimizer_state(a), _optimizer_state(b)
    assert sorted(sa) == sorted(sb)
    for key, value in sa.items():
        if isinstance(value, list):
            for va, vb in zip(value, sb[key], strict=True):
                assert_array_equal(va, vb, err_msg=key)
        else:
            assert value == sb[key], key


@pytest.mark.parametrize("optimizer", STOCHASTIC)
def test_two_partial_fits_equal_two_epochs_of_fit(small, optimizer):
    X, y, yr = small
    params = dict(optimizer=optimizer, batch_size=16, shuffle=False, random_state=0)
    for cls, target, extra in [
        (LinearNNClassifier, y, {"classes": np.unique(y)}),
        (LinearNNRegressor, yr, {}),
    ]:
        full = cls(**params, max_iter=2, tol=None).fit(X, target)
        inc = cls(**params)
        inc.partial_fit(X, target, **extra)
        after_one = inc.coef_.copy()
        inc.partial_fit(X, target)
        assert not np.array_equal(after_one, inc.coef_)
        assert_array_equal(inc.coef_, full.coef_)
        assert_array_equal(inc.intercept_, full.intercept_)
        assert inc.t_ == full.t_ == 2 * 4  # 60 samples, batches of 16
        assert inc.n_iter_ == full.n_iter_ == 2
        _assert_same_state(inc.optimizer_, full.optimizer_)


def test_warm_start_and_partial_fit_continue_adam_state(small):
    X, _, yr = small
    params = dict(optimizer="adam", batch_size=16, shuffle=False, tol=None)
    full = LinearNNRegressor(**params, max_iter=2).fit(X, yr)

    warm = LinearNNRegressor(**params, max_iter=1, warm_start=True).fit(X, yr)
    first_moment = [m.copy() for m in warm.optimizer_.state_["exp_avg"]]
    assert warm.optimizer_.t_ == 4
    warm.fit(X, yr)
    assert warm.optimizer_.t_ == warm.t_ == 8
    assert not np.array_equal(warm.optimizer_.state_["exp_avg"][0], first_moment[0])
    assert_array_equal(warm.coef_, full.coef_)
    _assert_same_state(warm.optimizer_, full.optimizer_)

    inc = LinearNNRegressor(**params)
    inc.partial_fit(X, yr)
    inc.partial_fit(X, yr)
    assert inc.optimizer_.t_ == 8
    _assert_same_state(inc.optimizer_, full.optimizer_)

    # A reset optimizer (fresh Adam from the same coefficients) differs: the
    # comparison above would notice a reset.
    restart = LinearNNRegressor(**params, max_iter=1).fit(X, yr)
    restart = LinearNNRegressor(**params, max_iter=1).fit(
        X, yr, coef_init=restart.coef_, intercept_init=[restart.intercept_]
    )
    assert restart.optimizer_.t_ == 4
    assert not np.allclose(restart.coef_, full.coef_)


# -------------------------------------------------------------- concurrency
@pytest.mark.parametrize(
    "estimator, losses, target",
    [
        (
            LinearNNClassifier(max_iter=20, batch_size=16),
            ["log_loss", "modified_huber"],
            1,
        ),
        (LinearNNRegressor(max_iter=20, batch_size=16), ["squared_error", "huber"], 2),
    ],
    ids=["classifier", "regressor"],
)
def test_grid_search_parallel_backends_match_sequential(
    small, estimator, losses, target
):
    X, y = small[0], small[target]

    def search(n_jobs):
        grid = {"loss": losses, "optimizer": ["sgd", "adam", "lbfgs"]}
        est = clone(estimator).set_params(random_state=0)
        return GridSearchCV(est, grid, cv=3, n_jobs=n_jobs).fit(X, y)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sequential = search(n_jobs=1)
        loky = search(n_jobs=2)  # joblib's default process-based backend
        with joblib.parallel_backend("threading"):
            threads = search(n_jobs=2)
    expected = sequential.cv_results_["mean_test_score"]
    assert np.isfinite(expected).all() and np.ptp(expected) > 0
    for result in (loky, threads):
        assert result.cv_results_["params"] == sequential.cv_results_["params"]
        assert_array_equal(result.cv_results_["mean_test_score"], expected)
        assert_array_equal(
            result.best_estimator_.coef_, sequential.best_estimator_.coef_
        )


def test_concurrent_fits_in_threads_match_sequential_fits(small):
    X, y, yr = small
    jobs = []
    for i, optimizer in enumerate(["sgd", "momentum", "adam", "adamw", "lbfgs"]):
        for cls, target, loss in [
            (LinearNNClassifier, y, "log_loss"),
            (LinearNNClassifier, y, "modified_huber"),
            (LinearNNRegressor, yr, "huber"),
        ]:
            est = cls(
                loss=loss, optimizer=optimizer, batch_size=8, max_iter=10, tol=None
            )
            jobs.append((est.set_params(random_state=i), target))
    registries = (LOSSES.items(), OPTIMIZERS.items())

    def run(job):
        est, target = job
        return clone(est).fit(X, target).coef_

    sequential = [run(job) for job in jobs]
    for _ in range(2):
        with ThreadPoolExecutor(max_workers=4) as pool:
            concurrent = list(pool.map(run, jobs))
        for a, b in zip(sequential, concurrent, strict=True):
            assert_array_equal(a, b)
    assert (LOSSES.items(), OPTIMIZERS.items()) == registries


# ----------------------------------------------------------- error messages
@pytest.mark.parametrize("cls", [LinearNNClassifier, LinearNNRegressor])
def test_unknown_optimizer_name_lists_the_valid_names(small, cls):
    est = cls(optimizer="adamm")  # construction does not validate
    with pytest.raises(ValueError, match="adamm") as info:
        est.fit(small[0], small[1])
    for name in OPTIMIZER_NAMES:
        assert repr(name) in str(info.value)


@pytest.mark.parametrize(
    "optimizer, name",
    [
        (Adam(beta_1=1.0), "beta_1"),
        (SGD(momentum=-0.1), "momentum"),
        (Adam(epsilon=0), "epsilon"),
    ],
)
@pytest.mark.parametrize("cls", [LinearNNClassifier, LinearNNRegressor])
def test_out_of_range_optimizer_parameter_fails_at_fit(small, cls, optimizer, name):
    est = cls(optimizer=optimizer)  # neither constructor validates
    assert est.get_params()[f"optimizer__{name}"] == getattr(optimizer, name)
    with pytest.raises(ValueError, match=re.escape(name)):
        est.fit(small[0], small[1])
    assert not hasattr(est, "coef_")
    if optimizer.stochastic:
        with pytest.raises(ValueError, match=re.escape(name)):
            if cls is LinearNNClassifier:
                est.partial_fit(small[0], small[1], classes=np.unique(small[1]))
            else:
                est.partial_fit(small[0], small[1])


def test_partial_fit_with_an_unknown_label_raises(small):
    X, y, _ = small
    clf = LinearNNClassifier(random_state=0)
    clf.partial_fit(X, y, classes=[0, 1, 2])
    coef = clf.coef_.copy()
    with pytest.raises(ValueError, match=r"labels \[3\]"):
        clf.partial_fit(X[:2], np.array([0, 3]))
    assert_array_equal(clf.coef_, coef)
    with pytest.raises(ValueError):
        LinearNNClassifier().partial_fit(X, y)  # classes missing on first call


@pytest.mark.parametrize(
    "est, methods",
    [
        (
            LinearNNClassifier(),
            ["predict", "decision_function", "predict_proba", "predict_log_proba"],
        ),
        (LinearNNRegressor(), ["predict"]),
    ],
)
def test_predict_before_fit_raises_not_fitted(small, est, methods):
    for method in methods:
        with pytest.raises(NotFittedError):
            getattr(est, method)(small[0])
    with pytest.raises(NotFittedError):
        est.score(small[0], small[1])


# ------------------------------------- automatic steps on awkward data (fixed)
@pytest.mark.parametrize(
    "dtype, tiny", [(np.float32, 1e-30), (np.float64, 1e-170)], ids=["f32", "f64"]
)
def test_tiny_nonzero_features_give_a_finite_automatic_step(dtype, tiny):
    X = (np.array([[1.0], [2.0], [-1.0], [3.0]]) * tiny).astype(dtype)
    y = np.array([0, 1, 0, 1])
    with _strict():
        clf = LinearNNClassifier(max_iter=3, tol=None, random_state=0).fit(X, y)
    assert np.isfinite(clf.learning_rate_init_)
    assert np.isfinite(clf.coef_).all()


@pytest.mark.parametrize("batch_size", [1, 8])
def test_sgd_auto_step_is_stable_with_small_batches(batch_size):
    rng = np.random.RandomState(1)
    X = StandardScaler().fit_transform(rng.lognormal(sigma=1.5, size=(500, 4)))
    y = X @ rng.normal(size=4) + rng.normal(size=500)
    reg = LinearNNRegressor(
        optimizer="sgd", batch_size=batch_size, max_iter=5, tol=None, random_state=0
    )
    with _strict():
        reg.fit(X, y)
    assert reg.score(X, y) > 0.3  # full batch ("auto") reaches 0.43


@pytest.mark.parametrize("optimizer", ["sgd", "momentum"])
def test_poisson_sgd_auto_step_is_stable_with_small_batches(optimizer):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 5))
    y = rng.poisson(np.exp(X @ (0.3 * rng.normal(size=5)) - 3)).astype(float)
    reg = LinearNNRegressor(
        loss="poisson",
        optimizer=optimizer,
        batch_size=1,
        max_iter=5,
        tol=None,
        random_state=0,
    )
    with _strict():
        reg.fit(X, y)
    assert abs(reg.intercept_ - np.log(y.mean())) < 3


def test_csr_with_explicit_zeros_fits_like_dense():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(20, 3))
    X[::2, 1] = 0.0
    y = (X[:, 0] > 0).astype(int)
    # Every entry stored, the zeros explicitly.
    stored = sp.csr_matrix(
        (X.ravel(), np.tile(np.arange(3), 20), np.arange(21) * 3), shape=X.shape
    )
    assert stored.nnz == X.size and np.array_equal(stored.toarray(), X)
    # Stochastic optimizers do not precondition sparse X: both in raw coordinates.
    params = dict(
        optimizer="adam", max_iter=3, tol=None, random_state=0, precondition=False
    )
    dense = LinearNNClassifier(**params).fit(X, y)
    sparse = LinearNNClassifier(**params).fit(stored, y)
    assert sparse.learning_rate_init_ == pytest.approx(dense.learning_rate_init_)
    assert_allclose(sparse.coef_, dense.coef_, rtol=1e-7, atol=1e-9)
