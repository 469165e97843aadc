"""Inputs at the limits get clear errors: finite ``X`` whose squares
overflow, and class weights that no sample weight could be.

A fit needs squares of ``X``'s values (row norms for the automatic step,
column variances for the preconditioner and the convergence check). Beyond
about 1e154 in float64 they are inf: before, a default fit raised scipy's
"array must not contain infs or NaNs" from Newton's solve, L-BFGS a
``DivergenceError`` advising a smaller learning rate, and Adam or SGD ended
with zero coefficients (with ``tol=None``, silently). Every path now raises
``ValueError`` naming ``X`` and its largest value, and leaves a fitted model
as it was; values large but whose squares fit still train (in standardized
coordinates, to the score of the same data at scale 1).
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.exceptions import ConvergenceWarning

from sklearn_nnopt import LinearNNClassifier, LinearNNRegressor

PATHS = {
    "default": {},
    "adam": dict(optimizer="adam", tol=None, max_iter=3),
    "sgd": dict(optimizer="sgd", tol=None, max_iter=3),
    "lbfgs": dict(optimizer="lbfgs"),
    "saga": dict(optimizer="saga", max_iter=3),
    "adam_raw": dict(optimizer="adam", precondition=False, tol=None, max_iter=3),
    "lbfgs_raw": dict(optimizer="lbfgs", precondition=False),
}


def _data(scale, sparse, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(120, 4)
    y = (X[:, 0] + 0.3 * rng.randn(120) > 0).astype(int)
    X = X * scale
    return (sp.csr_matrix(X) if sparse else X), y


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize("Estimator", [LinearNNClassifier, LinearNNRegressor])
def test_overflowing_squares_raise_naming_x(Estimator, path, sparse):
    X, y = _data(1e200, sparse)
    with pytest.raises(ValueError, match=r"X has values too large .* 2\.\d+e\+200"):
        Estimator(random_state=0, **PATHS[path]).fit(X, y)


def test_a_fitted_model_is_left_as_it_was():
    X, y = _data(1.0, False)
    clf = LinearNNClassifier(optimizer="adam", tol=None, max_iter=5, random_state=0)
    clf.fit(X, y)
    coef = clf.coef_.copy()
    huge, _ = _data(1e200, False)
    with pytest.raises(ValueError, match="too large"):
        clf.partial_fit(huge, y)
    with pytest.raises(ValueError, match="too large"):
        clf.set_params(warm_start=True).fit(huge, y)
    np.testing.assert_array_equal(clf.coef_, coef)


@settings(max_examples=15, deadline=None)
@given(exponent=st.integers(156, 300), sparse=st.booleans(), seed=st.integers(0, 99))
def test_any_overflowing_scale_raises(exponent, sparse, seed):
    X, y = _data(10.0**exponent, sparse, seed)
    with pytest.raises(ValueError, match="X has values too large"):
        LinearNNClassifier(random_state=0).fit(X, y)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("exponent", [50, 100, 150])
def test_large_scales_whose_squares_fit_still_train(exponent, sparse):
    """Trained in standardized coordinates, to the training score at scale 1
    (not the same model: the penalty on coef_ is not scale-invariant)."""
    X, y = _data(1.0, sparse)
    scaled = X * 10.0**exponent
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        a = LinearNNClassifier(random_state=0).fit(X, y)
        b = LinearNNClassifier(random_state=0).fit(scaled, y)
    assert np.all(np.isfinite(b.coef_)) and np.any(b.coef_ != 0)
    assert b.score(scaled, y) >= a.score(X, y) - 0.02


@pytest.mark.parametrize("bad", [-1.0, np.nan, np.inf])
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_class_weight_must_be_finite_and_non_negative(bad, method):
    """As sample weights: a negative weight gave a fit with accuracy 0.42
    and coefficients of 4e4 (QA), NaN an error naming no parameter."""
    X, y = _data(1.0, False)
    y = y + (X[:, 1] > 0.5)  # three classes
    clf = LinearNNClassifier(class_weight={0: bad, 1: 1.0, 2: 1.0})
    kwargs = {"classes": np.unique(y)} if method == "partial_fit" else {}
    with pytest.raises(ValueError, match="class_weight must give finite, non-neg"):
        getattr(clf.set_params(optimizer="sgd"), method)(X, y, **kwargs)
    multilabel = LinearNNClassifier(class_weight=[{0: 1.0, 1: bad}, {0: 1.0, 1: 1.0}])
    Y = np.column_stack([y == 1, y == 2]).astype(int)
    with pytest.raises(ValueError, match="class_weight must give finite, non-neg"):
        multilabel.fit(X, Y)


@pytest.mark.parametrize("optimizer", ["lbfgs", "newton", "adam", "sgd", "saga"])
@pytest.mark.parametrize("wide", ["indices", "indptr"])
def test_csr_with_two_index_types_fits_as_with_one(optimizer, wide):
    """int64 column indices with an int32 row pointer (or the reverse), which
    scipy does not build but accepts: the fit is the one-type fit (it raised
    "Buffer dtype mismatch" from a compiled pass), and X is not changed."""
    X = sp.random(300, 12, density=0.3, format="csr", random_state=0)
    y = (X @ np.arange(12.0) > 8).astype(int)
    mixed = X.copy()
    setattr(mixed, wide, getattr(mixed, wide).astype(np.int64))
    other = "indptr" if wide == "indices" else "indices"
    assert getattr(mixed, other).dtype == np.int32
    kwargs = dict(optimizer=optimizer, random_state=0, max_iter=30, tol=None)
    want = LinearNNClassifier(**kwargs).fit(X, y)
    got = LinearNNClassifier(**kwargs).fit(mixed, y)
    np.testing.assert_allclose(got.coef_, want.coef_, rtol=1e-12, atol=1e-14)
    assert getattr(mixed, wide).dtype == np.int64
