"""Streams and refits: partial_fit on unrepresentative chunks, divergence judged
within a call, per-fit state of warm refits, narrow label dtypes, sample weights
of subsampled statistics and the messages of unavailable methods.

Reference tests, independent of the implementation: the expected values come
from what the estimators promise (and from peers such as ``SGDClassifier``),
not from what the code does now. The hypothesis tests take the profile of
``conftest.py`` (derandomized by default) with fewer examples.
"""

import functools
import math
import warnings

import joblib
import numpy as np
import pytest
from hypothesis import Phase, example, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import load_digits, make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import SGDClassifier
from sklearn.preprocessing import StandardScaler

from sklearn_nnopt import DivergenceError, LinearNNClassifier, LinearNNRegressor

# No explain phase: on a failure it reruns the failing example hundreds of
# times (about 40 s here) to annotate the report; shrinking still runs.
PHASES = [phase for phase in Phase if phase is not Phase.explain]
FEW = settings(max_examples=15, deadline=None, phases=PHASES)


# ======================================================================
# A. An unrepresentative first partial_fit chunk
# ======================================================================
CHUNK = 200


def _chunks(order, size=CHUNK):
    return [order[i : i + size] for i in range(0, len(order), size)]


def _skewed_stream(y, seed=0):
    """Row indices per partial_fit call: 200 rows of class 0 first.

    Then the remaining rows shuffled in chunks of 200, then 4 passes over all
    rows in chunks of 200, each pass shuffled (fixed seeds).
    """
    rng = np.random.RandomState(seed)
    first = np.flatnonzero(y == 0)[:CHUNK]
    rest = rng.permutation(np.setdiff1d(np.arange(len(y)), first))
    stream = [first, *_chunks(rest)]
    for _ in range(4):
        stream += _chunks(rng.permutation(len(y)))
    return stream


# The right value is the peer's: SGDClassifier(random_state=0) on the same
# stream (same data, same chunks) reaches 0.931 (binary) and 0.8765 (3
# classes); the LinearNNClassifier fits reach 0.9595 and 0.9195. Measured
# after the fix: 0.957 and 0.865 (before: 0.501 and 0.334).
@pytest.mark.parametrize("n_classes", [2, 3])
def test_stream_starting_with_one_class_learns_like_fit(n_classes):
    X, y = make_classification(
        n_samples=2000,
        n_features=10,
        n_informative=5,
        n_classes=n_classes,
        class_sep=2.0,
        random_state=0,
    )
    classes = np.arange(n_classes)
    reference = LinearNNClassifier(random_state=0).fit(X, y).score(X, y)
    clf = LinearNNClassifier(random_state=0)
    stream = _skewed_stream(y)
    assert np.unique(y[stream[0]]).tolist() == [0]
    for rows in stream:
        clf.partial_fit(X[rows], y[rows], classes=classes)
    accuracy = clf.score(X, y)
    peer = SGDClassifier(random_state=0)
    for rows in stream:
        peer.partial_fit(X[rows], y[rows], classes=classes)
    assert accuracy >= 0.85, (accuracy, reference)
    assert accuracy >= min(reference - 0.05, peer.score(X, y) - 0.02), accuracy


def _one_class_chunk(n_classes, label, n_rows=150):
    X, y = make_classification(
        n_samples=1000,
        n_features=10,
        n_informative=5,
        n_classes=n_classes,
        random_state=0,
    )
    rows = np.flatnonzero(y == label)[:n_rows]
    assert len(rows) == n_rows  # one minibatch, one optimizer step
    return X[rows], y[rows]


ONE_CLASS_CASES = [(2, 0), (2, 1), (3, 0), (3, 2), (5, 4)]


@pytest.mark.parametrize("n_classes, label", ONE_CLASS_CASES)
def test_first_partial_fit_on_one_class_starts_bounded(n_classes, label):
    # A step of 1e-12 leaves the intercept where it started: shrunk halfway
    # from the chunk's class frequencies (1 and 0) towards uniform, the start
    # is at most log(2k - 1) from zero (binary: logit(1/4) = -log 3).
    X, y = _one_class_chunk(n_classes, label)
    clf = LinearNNClassifier(learning_rate_init=1e-12, random_state=0)
    clf.partial_fit(X, y, classes=np.arange(n_classes))
    bound = math.log(2 * n_classes - 1) + 1e-6
    assert np.all(np.isfinite(clf.intercept_))
    assert np.all(np.abs(clf.intercept_) <= bound), (clf.intercept_, bound)


@pytest.mark.parametrize("precondition", [False, True])
@pytest.mark.parametrize("n_classes, label", ONE_CLASS_CASES)
def test_first_partial_fit_on_one_class_stays_bounded(n_classes, label, precondition):
    # The automatic step: one Adam step (150 rows, one minibatch) from that
    # start. Its first step moves each coordinate by lr * g / (|g| + eps) <= lr.
    # In the training coordinates of precondition=True the coefficients (whose
    # gradient is zero up to rounding at the start: every row has the same
    # prediction) may step by +-lr too, which moves the intercept in the user's
    # units by lr * sum_j |mean_j| / scale_j: a small allowance covers it.
    X, y = _one_class_chunk(n_classes, label)
    clf = LinearNNClassifier(precondition=precondition, random_state=0)
    clf.partial_fit(X, y, classes=np.arange(n_classes))
    assert clf.t_ == 1
    slack = 0.5 if precondition else clf.learning_rate_init_ + 1e-6
    bound = math.log(2 * n_classes - 1) + slack
    assert np.all(np.isfinite(clf.intercept_)) and np.all(np.isfinite(clf.coef_))
    assert np.all(np.abs(clf.intercept_) <= bound), (clf.intercept_, bound)


def test_first_poisson_partial_fit_on_zero_targets_starts_bounded():
    X = np.random.RandomState(0).standard_normal((150, 5))
    y = np.zeros(150)
    reg = LinearNNRegressor(loss="poisson", learning_rate_init=1e-12, random_state=0)
    reg.partial_fit(X, y)
    assert np.isfinite(reg.intercept_)
    assert reg.intercept_ >= math.log(0.5) - 1e-6, reg.intercept_
    # Default settings: finite, and the predictions too.
    reg = LinearNNRegressor(loss="poisson", random_state=0).partial_fit(X, y)
    assert np.isfinite(reg.intercept_) and np.all(np.isfinite(reg.coef_))
    assert np.all(np.isfinite(reg.predict(X)))


@pytest.mark.parametrize("optimizer", ["auto", "lbfgs"])
@pytest.mark.parametrize("n_classes, unweighted", [(2, 0), (2, 1), (3, 2)])
def test_fit_with_one_class_weighted_zero(optimizer, n_classes, unweighted):
    X, y = make_classification(
        n_samples=600,
        n_features=10,
        n_informative=5,
        n_classes=n_classes,
        class_sep=2.0,
        random_state=0,
    )
    sw = (y != unweighted).astype(np.float64)
    clf = LinearNNClassifier(optimizer=optimizer, random_state=0)
    with warnings.catch_warnings():
        # The intercept's optimum is at infinity (no weight on one class): the
        # convergence check may rightly fail. Only the outcome is tested.
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y, sample_weight=sw)
    assert_array_equal(clf.classes_, np.arange(n_classes))
    assert np.all(np.isfinite(clf.intercept_)) and np.all(np.isfinite(clf.coef_))
    weighted = sw > 0
    assert clf.score(X[weighted], y[weighted]) >= 0.9


@functools.cache
def _easy_binary():
    X, y = make_classification(
        n_samples=600,
        n_features=10,
        n_informative=5,
        class_sep=2.0,
        random_state=0,
    )
    order = np.random.RandomState(0).permutation(len(y))
    X, y = X[order], y[order]
    return X, y, LinearNNClassifier(random_state=0).fit(X, y).score(X, y)


@FEW
@given(
    first=st.integers(1, 300),
    sizes=st.lists(st.integers(1, 120), min_size=7, max_size=12),
    first_pass=st.sampled_from(["shuffled", "class 0 first", "class 1 first"]),
    n_passes=st.integers(4, 5),
)
@example(first=1, sizes=[75] * 8, first_pass="shuffled", n_passes=4)
@example(first=5, sizes=[75] * 8, first_pass="class 1 first", n_passes=4)
def test_any_chunking_learns_like_fit(first, sizes, first_pass, n_passes):
    # The first chunk of any size, then at least 7 more (the last one takes
    # the rest of the rows), for 4 or 5 passes: enough optimizer steps that a
    # representative stream gets there (Adam's steps at the automatic rate
    # need a few dozen); the property is about the unrepresentative start.
    X, y, reference = _easy_binary()
    ends = np.minimum(np.cumsum([first, *sizes]), len(y) - 1)
    bounds = [0, *np.unique(ends).tolist(), len(y)]
    # The first pass may be sorted by class (chunks of one class); the later
    # passes are shuffled, on the same boundaries.
    rng = np.random.RandomState(1)
    if first_pass == "shuffled":
        order = np.arange(len(y))
    else:
        order = np.argsort(y if first_pass == "class 0 first" else -y, kind="stable")
    clf = LinearNNClassifier(random_state=0)
    for _ in range(n_passes):
        for start, stop in zip(bounds[:-1], bounds[1:], strict=True):
            rows = order[start:stop]
            clf.partial_fit(X[rows], y[rows], classes=[0, 1])
        order = rng.permutation(len(y))
    accuracy = clf.score(X, y)
    assert accuracy >= reference - 0.1, (accuracy, reference)


# ======================================================================
# B. Divergence judged within a call
# ======================================================================
def _drifting_stream():
    X, y = make_regression(n_samples=4000, n_features=5, noise=1.0, random_state=0)
    Xs, ys = np.array_split(X, 40), np.array_split(y, 40)
    return Xs, [yc + (1000.0 if i >= 10 else 0.0) for i, yc in enumerate(ys)]


# Information, not asserted: SGDRegressor(random_state=0) on the same stream
# scores R^2 = 0.995 on the last chunk; optimizer="sgd" 0.997, the default
# (Adam) -27.2 at the time of writing.
@pytest.mark.parametrize("optimizer", ["auto", "sgd"])
def test_level_shift_in_a_stream_is_followed(optimizer):
    Xs, ys = _drifting_stream()
    reg = LinearNNRegressor(optimizer=optimizer, random_state=0)
    for i, (Xc, yc) in enumerate(zip(Xs, ys, strict=True)):
        try:
            reg.partial_fit(Xc, yc)
        except DivergenceError as exc:
            pytest.fail(f"partial_fit call {i} raised DivergenceError: {exc}")
    r2 = reg.score(Xs[-1], ys[-1])
    assert r2 > 0.9, r2


def _diverging():
    X, y = make_regression(n_samples=1000, n_features=5, noise=1.0, random_state=0)
    reg = LinearNNRegressor(optimizer="sgd", learning_rate_init=10.0, random_state=0)
    return X, y, reg


def test_diverging_first_partial_fit_raises_and_leaves_it_unfitted():
    X, y, reg = _diverging()
    with pytest.raises(DivergenceError):
        reg.partial_fit(X, y)
    assert not hasattr(reg, "coef_")
    assert not hasattr(reg, "n_features_in_")


def _hashes(est):
    return {name: joblib.hash(value) for name, value in vars(est).items()}


def test_diverging_later_partial_fit_raises_and_changes_nothing():
    X, y, reg = _diverging()
    reg.set_params(learning_rate_init=1e-3).partial_fit(X, y)
    reg.set_params(learning_rate_init=10.0)
    before = _hashes(reg)
    with pytest.raises(DivergenceError):
        reg.partial_fit(X, y)
    after = _hashes(reg)
    changed = sorted(
        k for k in before.keys() | after.keys() if before.get(k) != after.get(k)
    )
    assert changed == []


def test_diverging_fit_raises():
    X, y, reg = _diverging()
    with pytest.raises(DivergenceError):
        reg.fit(X, y)
    assert not hasattr(reg, "coef_")


@functools.cache
def _unit_scale_regression():
    """Targets of unit scale (objective ~0.5), so that a level shift is a large
    change relative to the first call's objective."""
    rng = np.random.RandomState(0)
    X = rng.standard_normal((1000, 5))
    y = X @ rng.uniform(-1, 1, 5) + 0.1 * rng.standard_normal(1000)
    return X, y


@FEW
@pytest.mark.parametrize("optimizer", ["auto", "sgd"])
@given(shift=st.floats(-1e4, 1e4))
def test_level_shift_midway_never_raises(optimizer, shift):
    X, y = _unit_scale_regression()
    reg = LinearNNRegressor(optimizer=optimizer, random_state=0)
    chunks = np.array_split(np.arange(len(y)), 10)
    for i, rows in enumerate(chunks):
        target = y[rows] + (shift if i >= 5 else 0.0)
        try:
            reg.partial_fit(X[rows], target)
        except DivergenceError as exc:
            pytest.fail(f"call {i} (shift {shift}) raised DivergenceError: {exc}")
    assert np.all(np.isfinite(reg.coef_)) and np.isfinite(reg.intercept_)


# ======================================================================
# C. Per-fit state of a warm refit
# ======================================================================
def _two_problems():
    X1, y1 = make_classification(
        n_samples=300, n_features=8, n_informative=4, class_sep=2.0, random_state=1
    )
    X2, y2 = make_classification(
        n_samples=150, n_features=8, n_informative=4, class_sep=2.0, random_state=2
    )
    return X1, y1, X2, y2


def test_warm_refit_with_early_stopping_keeps_only_its_own_scores():
    X1, y1, X2, y2 = _two_problems()
    clf = LinearNNClassifier(
        optimizer="adam", early_stopping=True, warm_start=True, random_state=0
    )
    with warnings.catch_warnings():
        # Either fit may end at max_iter: the training objective is not the
        # goal of early stopping (as in test_early_stopping.py).
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X1, y1)
        assert len(clf.validation_scores_) == clf.n_iter_
        t_first = clf.t_
        clf.fit(X2, y2)
    n_iter = clf.n_iter_
    # 135 training rows (15 held out): one minibatch, one step per epoch.
    assert clf.t_ - t_first == n_iter, (t_first, clf.t_, n_iter)
    assert n_iter <= clf.max_iter
    assert len(clf.validation_scores_) == n_iter
    assert len(clf.loss_curve_) == n_iter
    # The first score is not a best (see the early_stopping docs).
    assert clf.best_validation_score_ == max(clf.validation_scores_[1:])
    assert clf.score(X2, y2) > 0.8


def test_warm_refit_continues_coefficients_and_optimizer_state():
    X1, y1, X2, y2 = _two_problems()
    clf = LinearNNClassifier(
        optimizer="adam", warm_start=True, max_iter=50, tol=None, random_state=0
    )
    clf.fit(X1, y1)
    coef, intercept, t_first = clf.coef_.copy(), clf.intercept_.copy(), clf.t_
    clf.set_params(max_iter=1, learning_rate_init=1e-8)
    clf.fit(X2, y2)
    assert clf.t_ > t_first
    assert_allclose(clf.coef_, coef, rtol=0, atol=1e-6)
    assert_allclose(clf.intercept_, intercept, rtol=0, atol=1e-6)


@FEW
@given(
    first_iter=st.integers(1, 20),
    second_iter=st.integers(1, 20),
    optimizer=st.sampled_from(["adam", "sgd", "lbfgs"]),
    early_stopping=st.booleans(),
    same_data=st.booleans(),
)
def test_warm_refit_counts_its_own_epochs(
    first_iter, second_iter, optimizer, early_stopping, same_data
):
    X1, y1, X2, y2 = _two_problems()
    if same_data:
        X2, y2 = X1, y1
    early_stopping = early_stopping and optimizer != "lbfgs"
    # tol=None: max_iter epochs exactly for the stochastic optimizers (and no
    # convergence check, so no warning); L-BFGS may stop sooner.
    clf = LinearNNClassifier(
        optimizer=optimizer,
        warm_start=True,
        early_stopping=early_stopping,
        max_iter=first_iter,
        tol=None,
        random_state=0,
    )
    for X, y, max_iter in ((X1, y1, first_iter), (X2, y2, second_iter)):
        clf.set_params(max_iter=max_iter).fit(X, y)
        assert len(clf.loss_curve_) == clf.n_iter_
        if optimizer == "lbfgs":
            assert clf.n_iter_ <= max_iter
        else:
            assert clf.n_iter_ == max_iter
        if early_stopping:
            assert len(clf.validation_scores_) == clf.n_iter_


# ======================================================================
# D. Labels in narrow dtypes
# ======================================================================
@functools.cache
def _label_data(n_classes):
    X, y = make_classification(
        n_samples=90,
        n_features=4,
        n_informative=3,
        n_redundant=0,
        n_classes=n_classes,
        random_state=0,
    )
    return X, y


def _assert_same_model(a, b):
    assert_allclose(a.coef_, b.coef_, rtol=1e-12, atol=0)
    assert_allclose(a.intercept_, b.intercept_, rtol=1e-12, atol=0)


def test_int8_labels_far_apart():
    X, codes = _label_data(2)
    labels = np.array([-100, 100], dtype=np.int8)[codes]
    clf = LinearNNClassifier(random_state=0).fit(X, labels)
    reference = LinearNNClassifier(random_state=0).fit(X, labels.astype(np.int64))
    assert_array_equal(clf.classes_, [-100, 100])
    assert clf.classes_.dtype == np.int8
    assert_array_equal(clf.predict(X), reference.predict(X))
    _assert_same_model(clf, reference)


def test_int8_labels_partial_fit_with_classes():
    X, codes = _label_data(3)
    labels = np.array([-100, 50, 100], dtype=np.int8)[codes]
    clf = LinearNNClassifier(random_state=0)
    clf.partial_fit(X, labels, classes=np.array([-100, 50, 100], dtype=np.int8))
    assert_array_equal(clf.classes_, [-100, 50, 100])
    reference = LinearNNClassifier(random_state=0)
    reference.partial_fit(X, labels.astype(np.int64), classes=[-100, 50, 100])
    assert_array_equal(clf.predict(X), reference.predict(X))
    _assert_same_model(clf, reference)


INT_DTYPES = [
    np.int8,
    np.int16,
    np.int32,
    np.int64,
    np.uint8,
    np.uint16,
    np.uint32,
    np.uint64,
]


@st.composite
def label_values(draw, dtype):
    """2 or 3 distinct label values of ``dtype``, often its extremes."""
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return np.array([False, True])
    if dtype.kind == "f":
        # Integral values (classifiers reject fractional float labels), up
        # to float16's largest, 65504.
        extremes = [-65504.0, 65504.0, -2048.0, 2048.0, 0.0]
        values = st.one_of(
            st.sampled_from(extremes),
            st.integers(-2048, 2048).map(float),
            st.integers(-2047, 2047).map(lambda k: 32.0 * k),
        )
    else:
        info = np.iinfo(dtype)
        extremes = [info.min, info.max, info.min + 1, info.max - 1]
        values = st.one_of(st.sampled_from(extremes), st.integers(info.min, info.max))
    n = draw(st.integers(2, 3))
    drawn = draw(st.lists(values, min_size=n, max_size=n, unique=True))
    return np.array(drawn, dtype=dtype)


def _reference_labels(labels):
    """The labels in a wide dtype: int64 (float64 for float16, 0/1 for bool).

    Where int64 cannot hold them (uint64 above 2**63 - 1), their ranks: a
    classifier depends on the labels only through their order.
    """
    if labels.dtype == np.float16:
        return labels.astype(np.float64)
    if labels.dtype == np.uint64 and labels.max() > np.iinfo(np.int64).max:
        return np.searchsorted(np.unique(labels), labels).astype(np.int64)
    return labels.astype(np.int64)


@settings(max_examples=8, deadline=None, phases=PHASES)
@pytest.mark.parametrize("dtype", [*INT_DTYPES, np.bool_, np.float16])
@given(data=st.data())
def test_narrow_label_dtypes_fit_like_wide_ones(dtype, data):
    values = data.draw(label_values(dtype))
    X, codes = _label_data(len(values))
    labels = values[codes]
    wide = _reference_labels(labels)
    classes = np.unique(labels)
    # fit
    clf = LinearNNClassifier(random_state=0).fit(X, labels)
    reference = LinearNNClassifier(random_state=0).fit(X, wide)
    assert_array_equal(clf.classes_, classes)
    assert clf.classes_.dtype == labels.dtype
    _assert_same_model(clf, reference)
    pred = clf.predict(X)
    assert pred.dtype == labels.dtype
    assert_array_equal(
        pred, classes[np.searchsorted(reference.classes_, reference.predict(X))]
    )
    # partial_fit with classes
    clf = LinearNNClassifier(random_state=0)
    clf.partial_fit(X, labels, classes=classes)
    reference = LinearNNClassifier(random_state=0)
    reference.partial_fit(X, wide, classes=np.unique(wide))
    assert_array_equal(clf.classes_, classes)
    _assert_same_model(clf, reference)
    assert_array_equal(
        clf.predict(X),
        classes[np.searchsorted(reference.classes_, reference.predict(X))],
    )


# ======================================================================
# E. Sample weights and statistics of a subsample of rows
# ======================================================================
N_LARGE = 12_000  # above the 10,000 rows that _scale._sample_rows keeps


@functools.cache
def _large_data():
    rng = np.random.RandomState(0)
    X = rng.standard_normal((N_LARGE, 5))
    y = X @ rng.standard_normal(5) + 0.1 * rng.standard_normal(N_LARGE)
    return X, y


def _sampled_rows(n):
    """The rows _scale._sample_rows takes from dense X (spelled out here)."""
    return np.unique(np.linspace(0, n - 1, 10_000).astype(np.intp))


def _weights(case):
    n = N_LARGE
    rng = np.random.RandomState(0)
    sw = np.zeros(n)
    if case == "3 random rows":
        sw[rng.choice(n, 3, replace=False)] = 1.0
    elif case == "3 unsampled rows":
        unsampled = np.setdiff1d(np.arange(n), _sampled_rows(n))
        sw[rng.choice(unsampled, 3, replace=False)] = 1.0
    elif case == "the unsampled rows":
        sw[:] = 1.0
        sw[_sampled_rows(n)] = 0.0
    elif case.startswith("zero on every"):
        sw[:] = 1.0
        sw[:: int(case.split()[-1])] = 0.0
    elif case.startswith("positive on every"):
        sw[:: int(case.split()[-1])] = 1.0
    return sw


WEIGHT_CASES = [
    "3 random rows",
    "3 unsampled rows",
    "the unsampled rows",
    "zero on every 2",
    "zero on every 3",
    "positive on every 2",
    "positive on every 6",
    "positive on every 7",
]


def _large_target(Estimator):
    X, y = _large_data()
    return X, (y > 0).astype(np.int64) if Estimator is LinearNNClassifier else y


@pytest.mark.parametrize("Estimator", [LinearNNClassifier, LinearNNRegressor])
@pytest.mark.parametrize("case", WEIGHT_CASES)
def test_mostly_zero_weights_on_large_dense_data(Estimator, case):
    X, y = _large_target(Estimator)
    sw = _weights(case)
    assert sw.sum() > 0
    est = Estimator(
        optimizer="sgd", max_iter=2, tol=None, precondition=False, random_state=0
    )
    est.fit(X, y, sample_weight=sw)
    assert np.isfinite(est.learning_rate_init_) and est.learning_rate_init_ > 0
    assert np.all(np.isfinite(est.coef_)) and np.all(np.isfinite(est.intercept_))


@st.composite
def large_weights(draw):
    """Non-negative weights with a positive sum, for N_LARGE rows."""
    base = draw(st.sampled_from(["zeros", "ones", "periodic", "sampled zero"]))
    sw = np.zeros(N_LARGE) if base == "zeros" else np.ones(N_LARGE)
    if base == "periodic":
        sw[draw(st.integers(0, 12)) :: draw(st.integers(2, 13))] = 0.0
    elif base == "sampled zero":
        sw[_sampled_rows(N_LARGE)] = 0.0
    # Any row, or one of the rows that subsampled statistics leave out.
    unsampled = np.setdiff1d(np.arange(N_LARGE), _sampled_rows(N_LARGE))
    positions = st.one_of(st.integers(0, N_LARGE - 1), st.sampled_from(unsampled))
    values = st.one_of(st.just(0.0), st.floats(1e-3, 1e3))
    for i, value in draw(st.lists(st.tuples(positions, values), max_size=6)):
        sw[i] = value
    if sw.sum() == 0:
        sw[draw(positions)] = draw(st.floats(1e-3, 1e3))
    return sw


@settings(max_examples=25, deadline=None, phases=PHASES)
@given(
    sw=large_weights(),
    Estimator=st.sampled_from([LinearNNClassifier, LinearNNRegressor]),
    optimizer=st.sampled_from(["sgd", "adam", "adagrad"]),
    precondition=st.booleans(),
)
def test_any_nonnegative_weights_fit(sw, Estimator, optimizer, precondition):
    X, y = _large_target(Estimator)
    est = Estimator(
        optimizer=optimizer,
        max_iter=2,
        tol=None,
        precondition=precondition,
        random_state=0,
    )
    est.fit(X, y, sample_weight=sw)
    assert np.isfinite(est.learning_rate_init_) and est.learning_rate_init_ > 0
    assert np.all(np.isfinite(est.coef_)) and np.all(np.isfinite(est.intercept_))


# ======================================================================
# F. The messages of unavailable methods
# ======================================================================
def test_predict_proba_of_a_margin_loss_says_why():
    X, y = _label_data(2)
    clf = LinearNNClassifier(loss="hinge", max_iter=5, tol=None, random_state=0)
    clf.fit(X, y)
    assert not hasattr(clf, "predict_proba")
    with pytest.raises(AttributeError, match="only available"):
        clf.predict_proba(X)
    with pytest.raises(AttributeError, match="log_loss"):
        clf.predict_proba(X)


@pytest.mark.parametrize(
    "est",
    [LinearNNClassifier(optimizer="lbfgs"), LinearNNRegressor(optimizer="newton")],
    ids=["classifier-lbfgs", "regressor-newton"],
)
def test_partial_fit_of_a_full_batch_optimizer_says_why(est):
    X, y = _label_data(2)
    assert not hasattr(est, "partial_fit")
    with pytest.raises(
        AttributeError, match="only available for stochastic optimizers"
    ):
        est.partial_fit(X, y)


def test_stream_whose_features_grow_gets_a_smaller_step():
    # After X is scaled 10x, the automatic step set on the first calls would
    # overshoot 100x; each call's data may shrink it (never grow it).
    X, y = make_regression(n_samples=6000, n_features=5, noise=1.0, random_state=0)
    reg = LinearNNRegressor(random_state=0)
    chunks = np.array_split(np.arange(6000), 60)
    for c in chunks[:15]:
        reg.partial_fit(X[c], y[c])
    lr = reg.learning_rate_init_
    for c in chunks[15:]:
        reg.partial_fit(10 * X[c], y[c])
    assert reg.learning_rate_init_ < lr / 50
    assert reg.score(10 * X[chunks[-1]], y[chunks[-1]]) > 0.99


def test_stream_of_one_batch_calls_diverging_raises_each_call():
    # Each call is one batch, whose objective the epoch check only sees before
    # its step. With a numeric step that is too large once X is scaled 10x,
    # every such call must raise and change nothing, instead of compounding
    # to coefficients of 1e37 one call at a time.
    X, y = make_regression(n_samples=3000, n_features=5, noise=1.0, random_state=0)
    reg = LinearNNRegressor(optimizer="sgd", learning_rate_init=0.3, random_state=0)
    chunks = np.array_split(np.arange(3000), 30)
    for c in chunks[:15]:
        reg.partial_fit(X[c], y[c])
    coef = reg.coef_.copy()
    for c in chunks[15:]:
        with pytest.raises(DivergenceError):
            reg.partial_fit(10 * X[c], y[c])
        assert_array_equal(reg.coef_, coef)


def test_stream_with_rare_features_learns_like_sgdclassifier():
    # precondition=True took its coordinates from the first chunk: a pixel
    # constant there got a spread of 1e-17, and its first later value
    # collapsed the automatic step (accuracy 0.24). partial_fit now trains in
    # the user's coordinates.
    X, y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    clf, peer = LinearNNClassifier(random_state=0), SGDClassifier(random_state=0)
    lrs = []
    for _ in range(3):
        for start in range(0, len(y), 100):
            rows = slice(start, start + 100)
            clf.partial_fit(X[rows], y[rows], classes=np.arange(10))
            peer.partial_fit(X[rows], y[rows], classes=np.arange(10))
            lrs.append(clf.learning_rate_init_)
    assert min(lrs) > 0.1 * lrs[0]
    # 54 minibatch steps against SGDClassifier's 5,391 per-row updates: 0.897
    # against 0.965 when this was written (0.24 with the collapsed step).
    assert clf.score(X, y) >= max(0.85, peer.score(X, y) - 0.1)


def test_diverging_call_of_a_trained_stream_raises():
    # Three batches that each raise the objective less than 100-fold took one
    # call from 27.5 to 1.8e7: judged against the call's start, it raises.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 5))
    y = X @ np.arange(1.0, 6.0) + rng.normal(size=500)
    reg = LinearNNRegressor(optimizer="sgd", learning_rate_init=1e-3, random_state=0)
    reg.partial_fit(X, y)
    reg.partial_fit(X, y)
    before = joblib.hash(vars(reg))
    reg.set_params(learning_rate_init=10.0)
    with pytest.raises(DivergenceError, match="in this partial_fit call"):
        reg.partial_fit(X, y)
    reg.set_params(learning_rate_init=1e-3)
    assert joblib.hash(vars(reg)) == before


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("chunk", [33, 40, 65])
@pytest.mark.parametrize("lr", [10.0, 1e4])
def test_diverging_stream_with_a_short_last_batch_raises(lr, chunk, sparse):
    # Chunks one row past a multiple of the batch end on a batch of one row,
    # which its own step fits whatever the model: judged alone, 61 calls of
    # 33 rows (batches of 32) ended at coefficients of 3e7 with no error.
    # The call's first batch is judged again at its end.
    import scipy.sparse as sp

    rng = np.random.default_rng(0)
    X = rng.standard_normal((2000, 80)) * (rng.random((2000, 80)) < 0.08)
    y = (X @ rng.standard_normal(80) > 0).astype(int)
    X = 1e3 * X
    if sparse:
        X = sp.csr_matrix(X)
    # A fixed shuffle: with random_state=None, 10 of 300 shuffles (chunks of
    # 33, lr 10) are not caught (the xfail test below), which
    # made this test fail at random.
    clf = LinearNNClassifier(
        optimizer="sgd",
        learning_rate_init=lr,
        penalty=None,
        batch_size=32,
        random_state=0,
    )
    before = joblib.hash(vars(clf))
    with pytest.raises(DivergenceError, match="in this partial_fit call"):
        for start in range(0, 2000, chunk):
            rows = slice(start, start + chunk)
            clf.partial_fit(X[rows], y[rows], classes=[0, 1])
            before = joblib.hash(vars(clf))
    assert joblib.hash(vars(clf)) == before  # as before the call that raised


@pytest.mark.xfail(
    reason="known gap: the partial_fit divergence check judges the call's first "
    "and last batches; a stream degraded in its first call (mean log-loss 1e5) "
    "whose judged batches the model still fits goes on silently (lr 10 on X "
    "scaled by 1e3: 10 of 300 shuffles, mean log-loss 2e6 at the end)",
    strict=True,
)
def test_diverging_stream_is_caught_whatever_the_shuffle():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((2000, 80)) * (rng.random((2000, 80)) < 0.08)
    y = (X @ rng.standard_normal(80) > 0).astype(int)
    X = 1e3 * X
    clf = LinearNNClassifier(
        optimizer="sgd",
        learning_rate_init=10.0,
        penalty=None,
        batch_size=32,
        random_state=74,  # one of the shuffles that is not caught
    )
    with pytest.raises(DivergenceError):
        for start in range(0, 2000, 33):
            clf.partial_fit(X[start : start + 33], y[start : start + 33], [0, 1])


@pytest.mark.parametrize("chunk", [33, 65])
def test_sane_stream_with_a_short_last_batch_does_not_raise(chunk):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((2000, 20))
    y = (X @ rng.standard_normal(20) + 0.5 * rng.standard_normal(2000) > 0).astype(int)
    for lr in ("auto", 0.01, 1.0):
        clf = LinearNNClassifier(optimizer="sgd", learning_rate_init=lr, batch_size=32)
        for start in range(0, 2000, chunk):
            clf.partial_fit(X[start : start + chunk], y[start : start + chunk], [0, 1])
        assert clf.score(X, y) > 0.8


@pytest.mark.parametrize("scale", [1e-200, 1e-100, 1e100, 1e150])
def test_extreme_weight_scales_fit_as_unit_weights(scale):
    X, y = make_classification(n_samples=200, n_features=4, random_state=0)
    unit = LinearNNClassifier(random_state=0).fit(X, y)
    scaled = LinearNNClassifier(random_state=0)
    scaled.fit(X, y, sample_weight=np.full(len(y), scale))
    assert_allclose(scaled.coef_, unit.coef_, rtol=1e-6)
    stream = LinearNNClassifier(random_state=0)
    stream.partial_fit(X, y, classes=[0, 1], sample_weight=np.full(len(y), scale))
    assert np.all(np.isfinite(stream.coef_))


@pytest.mark.parametrize(
    "labels",
    [
        np.array([2**63 - 2, 2**63 - 1], dtype=np.int64),
        np.array([-(2**63), -(2**63) + 1], dtype=np.int64),
        np.array([2**64 - 2, 2**64 - 1], dtype=np.uint64),
    ],
    ids=["int64-top", "int64-bottom", "uint64-top"],
)
def test_labels_at_the_ends_of_their_dtype(labels):
    # Found by the property test above: the label lookup table was built with
    # np.arange(lo, hi + 1), whose hi + 1 overflows int64 at its top.
    X, y = make_classification(
        n_samples=60, n_features=3, n_informative=2, n_redundant=0, random_state=0
    )
    y_labels = labels[y]
    clf = LinearNNClassifier(random_state=0).fit(X, y_labels)
    reference = LinearNNClassifier(random_state=0).fit(X, y)
    assert_array_equal(clf.classes_, labels)
    assert_array_equal(clf.predict(X), labels[reference.predict(X)])
    stream = LinearNNClassifier(random_state=0)
    stream.partial_fit(X, y_labels, classes=labels)
    assert_array_equal(stream.classes_, labels)
