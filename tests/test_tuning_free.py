"""The optimizers that need no tuning reach the optimum at their defaults.

Issue 15's target, "at its defaults, with no learning rate given, each new
optimizer reaches an objective gap <= 1e-3", checked on standardized problems
shaped like the benchmark's dense sets (fewer rows), and as a property: a fit
at the defaults either is within the check's gap bound (``10 tol``) or says
that it is not.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import logsumexp
from sklearn.datasets import make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

from sklearn_nnopt import LinearNNClassifier, LinearNNRegressor
from sklearn_nnopt.schedules import Auto

TUNING_FREE = ("prodigy", "schedulefree_sgd", "schedulefree_adamw", "saga")


def _objective(est, X, y, sample_weight=None):
    """The library's objective: weighted mean loss + alpha / 2 ||W||^2."""
    if isinstance(est, LinearNNRegressor):
        losses = 0.5 * (y - est.predict(X)) ** 2
    else:
        raw = est.decision_function(X)
        if raw.ndim == 1:
            raw = np.c_[np.zeros_like(raw), raw]
        index = np.searchsorted(est.classes_, y)
        losses = logsumexp(raw, axis=1) - raw[np.arange(len(y)), index]
    loss = np.average(losses, weights=sample_weight)
    return loss + 0.5 * est.alpha * np.sum(est.coef_**2)


def _problem(kind, n_samples, seed, class_sep=1.0):
    if kind == "regression":
        X, y = make_regression(
            n_samples=n_samples, n_features=40, noise=10, random_state=seed
        )
        cls = LinearNNRegressor
    else:
        X, y = make_classification(
            n_samples=n_samples,
            n_features=40,
            n_informative=15,
            n_classes=2 if kind == "binary" else 6,
            class_sep=class_sep,
            random_state=seed,
        )
        cls = LinearNNClassifier
    return cls, StandardScaler().fit_transform(X), y


def _gap(cls, X, y, sample_weight=None, **params):
    best = cls(optimizer="newton", tol=1e-10, max_iter=500)
    best.fit(X, y, sample_weight=sample_weight)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        est = cls(**params).fit(X, y, sample_weight=sample_weight)
    reference = _objective(best, X, y, sample_weight)
    return (_objective(est, X, y, sample_weight) - reference) / reference, caught, est


@pytest.mark.parametrize("kind", ["binary", "multiclass", "regression"])
@pytest.mark.parametrize("optimizer", TUNING_FREE)
def test_defaults_reach_the_optimum_on_benchmark_like_sets(optimizer, kind):
    cls, X, y = _problem(kind, 8000, seed=0)
    gap, caught, _ = _gap(cls, X, y, optimizer=optimizer, random_state=0)
    assert gap <= 1e-3 and not caught, (gap, [str(w.message) for w in caught])


def test_prodigy_decays_its_step_where_pflugs_test_never_fires():
    # Named case: Prodigy's momentum keeps successive minibatch gradients
    # positively correlated in its noise ball, so with the Pflug test its step
    # stayed at d for all 200 epochs (1.5e-2 to 1.9 above the optimum on the
    # benchmark sets, 0.26 here); the level test decays it.
    cls, X, y = _problem("regression", 8000, seed=0)
    gap, caught, est = _gap(cls, X, y, optimizer="prodigy", random_state=0)
    assert gap <= 1e-4 and not caught and est.n_iter_ < 100
    pflug = {"learning_rate": Auto(statistic="pflug")}
    gap, caught, est = _gap(cls, X, y, optimizer="prodigy", random_state=0, **pflug)
    assert gap > 1e-2 and caught and est.n_iter_ == est.max_iter


def test_schedule_free_adamw_is_held_to_the_gap_bound():
    # Named case: with the sqrt(tol) bound on what a truncated Newton step
    # still gains, Schedule-Free AdamW stopped after 3 epochs 3.3e-3 above the
    # optimum on the benchmark's regression set (2.5e-3 after 4 epochs here).
    # The bound is now 10 tol: 9.1e-4 after 8 epochs.
    cls, X, y = _problem("regression", 8000, seed=3)
    gap, caught, _ = _gap(cls, X, y, optimizer="schedulefree_adamw", random_state=0)
    assert gap <= 1e-3 and not caught


def test_prodigy_level_is_the_epochs_weighted_loss():
    # QA case: with sample weights (0 to 3) the plain mean of the batch means
    # moved by 1e-3 from one shuffle to the next; the level test took that
    # for progress, decayed the step again and again (to 1e-28 of its start)
    # and ran to max_iter with a warning. The level is now the epoch's
    # weighted mean loss: 48 epochs, no warning.
    X, y = make_classification(8000, 20, n_informative=10, n_classes=5, random_state=14)
    sample_weight = np.random.RandomState(14).randint(0, 4, 8000).astype(float)
    gap, caught, est = _gap(
        LinearNNClassifier,
        X,
        y,
        sample_weight=sample_weight,
        optimizer="prodigy",
        random_state=0,
    )
    assert gap <= 1e-3 and not caught and est.n_iter_ < 100, (gap, est.n_iter_)


@settings(max_examples=10, deadline=None)
@given(
    optimizer=st.sampled_from(TUNING_FREE),
    kind=st.sampled_from(["binary", "multiclass", "regression"]),
    n_samples=st.sampled_from([500, 2000, 5000]),
    class_sep=st.sampled_from([0.5, 1.0, 2.0]),
    seed=st.integers(0, 100),
    weighted=st.booleans(),
)
def test_a_default_fit_is_within_the_gap_bound_or_warns(
    optimizer, kind, n_samples, class_sep, seed, weighted
):
    cls, X, y = _problem(kind, n_samples, seed, class_sep)
    sample_weight = None
    if weighted:
        sample_weight = np.random.RandomState(seed).randint(0, 4, len(y)) + 0.0
        sample_weight[0] = 1.0  # not all zero
    gap, caught, _ = _gap(
        cls, X, y, sample_weight, optimizer=optimizer, random_state=seed
    )
    # The bound holds what a truncated Newton step still gains, a lower bound
    # of the gap: 2x margin for what it misses on a curved objective.
    assert gap <= 2e-3 or caught, gap


def test_a_warning_on_unscaled_sparse_X_advises_a_scaler():
    # QA case: CSR columns scaled 0.1 to 100 (the stochastic optimizers train
    # sparse X in its own units); every tuning-free optimizer warned, and the
    # warning did not say that scaling the columns is the remedy.
    rng = np.random.RandomState(17)
    X = sp.random(2000, 200, density=0.02, format="csr", random_state=rng)
    X = (X @ sp.diags(np.logspace(-1, 2, 200))).tocsr()
    y = X @ rng.randn(200) / 50 + 0.1 * rng.randn(2000)
    with pytest.warns(ConvergenceWarning, match="MaxAbsScaler keeps X sparse"):
        LinearNNRegressor(optimizer="saga", random_state=0, max_iter=5).fit(X, y)
