"""Multiclass targets as class indices (:class:`~sklearn_nnopt._targets.OneHot`).

A classifier with more than two classes keeps its targets as one index per
row, not as ``n_samples x n_classes`` one-hot floats (a fifth of ``X`` on 50
features and 10 classes). The indices must stand for the dense rows
exactly: as arrays (rows, columns, sums), in every classification loss
(the same values bit for bit, numpy and compiled), in the compiled steps
(the same iterates bit for bit), and in whole fits of every optimizer (the
same model as with the dense targets, to rounding: the class frequencies of
the start are summed in another order). And a 10-class fit allocates at
most a tenth of ``X``.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from peak import fit_peak_memory
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning

from sklearn_nnopt import SGD, Adam, LinearNNClassifier, ScheduleFreeAdamW, _kernels
from sklearn_nnopt import _classifier as classifier_module
from sklearn_nnopt._objective import Objective
from sklearn_nnopt._parameters import Parameters
from sklearn_nnopt._steppers import make_stepper
from sklearn_nnopt._targets import OneHot
from sklearn_nnopt._training import TrainingData
from sklearn_nnopt.losses import LOSSES, LogLoss, targets_for

CLASSIFICATION_LOSSES = sorted(
    name
    for name in LOSSES.names()
    if "classification" in LOSSES.create(name, "loss").tasks
)


def _dense_one_hot(idx, n_classes, dtype, loss):
    """The targets as the classifier encoded them before: dense rows."""
    Y = np.zeros((len(idx), n_classes), dtype=dtype, order="F")
    Y[np.arange(len(idx)), idx] = 1
    if n_classes == 2:
        Y = Y[:, 1:]
    if loss.classification_target == "sign":
        Y *= 2
        Y -= 1
    return np.asfortranarray(Y)


def _pair(n, k, low, dtype=np.float64, seed=0):
    rng = np.random.RandomState(seed)
    idx = rng.randint(0, k, n)
    targets = OneHot(idx, k, dtype, low=low)
    dense = np.full((n, k), low, dtype=dtype, order="F")  # as the estimator's
    dense[np.arange(n), idx] = 1
    return targets, dense


# ------------------------------------------------------------------ as arrays
@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 40),
    k=st.integers(3, 7),
    low=st.sampled_from([0.0, -1.0]),
    seed=st.integers(0, 2**16),
    weighted=st.booleans(),
)
def test_one_hot_stands_for_its_dense_rows(n, k, low, seed, weighted):
    targets, dense = _pair(n, k, low, seed=seed)
    rng = np.random.RandomState(seed + 1)
    assert targets.shape == dense.shape and len(targets) == n
    np.testing.assert_array_equal(np.asarray(targets), dense)
    rows = rng.randint(0, n, 5)
    mask = rng.rand(n) > 0.5
    for key in (rows, mask, slice(1, None, 2)):
        part = targets[key]
        assert isinstance(part, OneHot)
        np.testing.assert_array_equal(part.toarray(), dense[key])
    np.testing.assert_array_equal(targets.take(rows).toarray(), dense[rows])
    np.testing.assert_array_equal(targets[:, 1:3], dense[:, 1:3])
    np.testing.assert_array_equal(targets[rows, 2], dense[rows, 2])
    sw = rng.rand(n) + 0.1 if weighted else np.ones(n)
    np.testing.assert_allclose(sw @ targets, sw @ dense, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(targets.mean(axis=0), dense.mean(axis=0), rtol=1e-12)
    assert targets.mean(axis=0).dtype == dense.mean(axis=0).dtype
    # Operators, numpy functions and ndarray methods see the dense rows.
    for got, want in (
        (targets * 2, dense * 2),
        (2 * targets, 2 * dense),
        (-targets, -dense),
        (targets == 1, dense == 1),
        (targets.T, dense.T),
        (targets.sum(axis=0), dense.sum(axis=0)),
        (np.mean(targets, axis=0), np.mean(dense, axis=0)),
        (targets.astype(np.float32), dense.astype(np.float32)),
        (targets.max(), dense.max()),
    ):
        np.testing.assert_allclose(got, want, rtol=1e-12)
        assert np.asarray(got).dtype == np.asarray(want).dtype


# ------------------------------------------------------------------ losses
@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "numpy"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", CLASSIFICATION_LOSSES)
def test_every_classification_loss_reads_indices_exactly(
    monkeypatch, name, dtype, compiled
):
    monkeypatch.setattr(_kernels, "ENABLED", compiled)
    loss = LOSSES.create(name, "loss")
    low = -1.0 if loss.classification_target == "sign" else 0.0
    targets, dense = _pair(300, 5, low, dtype)
    rng = np.random.RandomState(3)
    raw = np.asfortranarray(rng.randn(300, 5).astype(dtype) * 3)
    raw[:7] *= 40  # saturated rows: the floors of the softmax and sigmoid
    got = loss.loss_gradient(targets, raw)
    want = loss.loss_gradient(dense, raw)
    for a, b in zip(got, want, strict=True):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    sw = rng.rand(300) + 0.5
    for method in ("baseline", "smoothness", "sample_curvature", "target_scale"):
        a = getattr(loss, method)(targets, sw)
        b = getattr(loss, method)(dense, sw)
        np.testing.assert_allclose(a, b, rtol=1e-6 if dtype == np.float32 else 1e-12)


def test_a_loss_defined_elsewhere_gets_dense_rows():
    seen = []

    class Recording(LogLoss):
        def loss_gradient(self, y_true, raw_prediction):
            seen.append(type(y_true))
            return super().loss_gradient(y_true, raw_prediction)

    targets, dense = _pair(10, 4, 0.0)
    got = targets_for(Recording(), "loss_gradient", targets)
    np.testing.assert_array_equal(got, dense)
    assert targets_for(LogLoss(), "loss_gradient", targets) is targets
    assert targets_for(LogLoss(), "baseline", dense) is dense
    X, y = make_classification(200, 6, n_informative=4, n_classes=3, random_state=0)
    clf = LinearNNClassifier(loss=Recording(), optimizer="adam", max_iter=3, tol=None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    assert seen and set(seen) == {np.ndarray}


def test_a_loss_defined_elsewhere_checks_its_targets():
    """``check_target`` of a user's loss runs on multiclass targets too."""

    class Strict(LogLoss):
        def check_target(self, y_true):
            assert isinstance(y_true, np.ndarray) and y_true.ndim == 2
            raise ValueError("rejected")

    X, y = make_classification(120, 5, n_informative=3, n_classes=3, random_state=0)
    for labels in (y, y == 1):
        with pytest.raises(ValueError, match="rejected"):
            LinearNNClassifier(loss=Strict(), optimizer="lbfgs").fit(X, labels)


# ------------------------------------------------------------- compiled steps
@pytest.mark.skipif(not _kernels.AVAILABLE, reason="kernels not built")
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("optimizer", ["sgd", "adam", "schedulefree_adamw"])
@pytest.mark.parametrize("name", ["log_loss", "hinge", "squared_hinge"])
def test_compiled_steps_read_indices_exactly(name, optimizer, dtype, sparse):
    rng = np.random.RandomState(0)
    n, p, k = 300, 12, 4
    X = rng.randn(n, p).astype(dtype)
    if sparse:
        X[rng.rand(n, p) > 0.3] = 0
        X = sp.csr_matrix(X)
    loss = LOSSES.create(name, "loss")
    low = -1.0 if loss.classification_target == "sign" else 0.0
    targets, dense = _pair(n, k, low, dtype)
    sw = rng.rand(n) + 0.5
    make = {
        "sgd": lambda: SGD(momentum=0.0),
        "adam": lambda: Adam(),
        "schedulefree_adamw": lambda: ScheduleFreeAdamW(),
    }[optimizer]
    results = []
    for Y in (targets, dense):
        data = TrainingData(X, Y, sw, batch_size=32)
        objective = Objective(loss, 1e-3, "l2", 0, True)
        params = Parameters(np.zeros((k, p), dtype), np.full(k, 0.1, dtype))
        stepper = make_stepper(data, objective, make(), params, averaging=False)
        assert type(stepper).__name__.startswith("Compiled")
        order = np.random.RandomState(1).permutation(n)
        sums = [
            stepper.step(None, Y[rows], sw[rows], 0.05, rows)
            for rows in (order[i : i + 32] for i in range(0, n, 32))
        ]
        results.append((params.buffer.copy(), sums))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    assert results[0][1] == results[1][1]
    assert np.any(results[0][0] != 0)


# --------------------------------------------------------------- whole fits
FITS = {
    "adam": dict(optimizer="adam"),
    "sgd": dict(optimizer="sgd"),
    "schedulefree_adamw": dict(optimizer="schedulefree_adamw"),
    "lbfgs": dict(optimizer="lbfgs"),
    "newton": dict(optimizer="newton"),
    "saga": dict(optimizer="saga"),
    "adam_early_stopping": dict(optimizer="adam", early_stopping=True),
    "sgd_average": dict(optimizer="sgd", average=True),
    "adam_balanced": dict(optimizer="adam", class_weight="balanced"),
}


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize(
    "fit, name",
    [
        (fit, name)
        for fit in FITS
        for name in ("log_loss", "squared_hinge", "hinge")
        # (hinge has a kink: the full-batch optimizers refuse it)
        if not (name == "hinge" and fit in ("lbfgs", "newton", "saga"))
    ],
)
def test_fits_match_dense_targets(monkeypatch, fit, name, sparse):
    X, y = make_classification(
        400, 10, n_informative=6, n_classes=4, random_state=0, class_sep=0.5
    )
    if sparse:
        X[np.abs(X) < 0.7] = 0
        X = sp.csr_matrix(X)
    params = dict(FITS[fit], loss=name, max_iter=15, tol=None, random_state=0)
    if fit in ("lbfgs", "newton"):
        params["tol"] = 1e-6
    models = []
    for encode in (classifier_module._one_hot, _dense_one_hot):
        monkeypatch.setattr(classifier_module, "_one_hot", encode)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            models.append(LinearNNClassifier(**params).fit(X, y))
    indices, dense = models
    scale = np.max(np.abs(dense.coef_))
    np.testing.assert_allclose(indices.coef_, dense.coef_, rtol=0, atol=1e-9 * scale)
    np.testing.assert_allclose(
        indices.intercept_, dense.intercept_, rtol=0, atol=1e-9 * scale
    )
    assert indices.n_iter_ == dense.n_iter_


def test_partial_fit_matches_dense_targets(monkeypatch):
    X, y = make_classification(600, 8, n_informative=5, n_classes=5, random_state=1)
    models = []
    for encode in (classifier_module._one_hot, _dense_one_hot):
        monkeypatch.setattr(classifier_module, "_one_hot", encode)
        clf = LinearNNClassifier(optimizer="adam", random_state=0)
        for chunk in np.array_split(np.arange(600), 6):
            clf.partial_fit(X[chunk], y[chunk], classes=np.unique(y))
        models.append(clf)
    np.testing.assert_allclose(models[0].coef_, models[1].coef_, rtol=1e-9)


def test_the_classifier_keeps_indices(monkeypatch):
    """The training data holds class indices, not a one-hot matrix."""
    seen = []
    original = classifier_module._one_hot

    def spy(*args):
        seen.append(original(*args))
        return seen[-1]

    monkeypatch.setattr(classifier_module, "_one_hot", spy)
    X, y = make_classification(300, 6, n_informative=4, n_classes=3, random_state=0)
    LinearNNClassifier(loss="hinge", optimizer="sgd", max_iter=2, tol=None).fit(X, y)
    assert isinstance(seen[-1], OneHot) and seen[-1].low == -1.0
    LinearNNClassifier(optimizer="adam", max_iter=2, tol=None).fit(X, y == 1)
    assert isinstance(seen[-1], np.ndarray) and seen[-1].shape == (300, 1)


# ------------------------------------------------------------------- memory
@pytest.mark.parametrize("optimizer", ["adam", "sgd", "lbfgs"])
def test_ten_class_fit_allocates_a_tenth_of_x(optimizer):
    """Deliverable 3 of issue 17: the one-hot targets alone were a fifth of X."""
    rng = np.random.RandomState(0)
    n, p = 40_000, 50
    X = rng.randn(n, p)
    y = np.argmax(X[:, :10] + rng.randn(n, 10), axis=1)
    clf = LinearNNClassifier(optimizer=optimizer, max_iter=2, tol=None, random_state=0)
    peak = fit_peak_memory(clf, X, y)
    assert clf.coef_.shape == (10, p)
    assert peak <= 0.10 * X.nbytes, f"{peak / X.nbytes:.3f} x X"
