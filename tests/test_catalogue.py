"""l1/elasticnet penalties and averaging, with every stochastic optimizer."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.datasets import make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from sklearn_nnopt import (
    OPTIMIZERS,
    LinearNNClassifier,
    LinearNNRegressor,
)

#: The stochastic optimizers that take the l1 proximal step and ``average``:
#: the schedule-free ones refuse both, their model being an average already
#: (tests/test_schedule_free.py).
PROXIMAL = [
    n for n, cls, _ in OPTIMIZERS.items() if cls.stochastic and not cls.exposes_average
]


def _objective_l1(X, y, coef, intercept, alpha):
    z = X @ coef.ravel() + intercept
    return np.mean(np.logaddexp(0, z) - y * z) + alpha * np.abs(coef).sum()


# ---------------------------------------------------------------- penalties
@pytest.mark.parametrize("penalty", ["l1", "elasticnet"])
@pytest.mark.parametrize("optimizer", PROXIMAL)
def test_large_alpha_gives_exact_zeros(data, optimizer, penalty):
    X, y = data
    est = LinearNNClassifier(
        optimizer=optimizer,
        penalty=penalty,
        alpha=0.1,
        l1_ratio=0.9,
        random_state=0,
        max_iter=100,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    assert np.mean(est.coef_ == 0) >= 0.75


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam", "rmsprop"])
def test_l1_reaches_saga_objective(data, optimizer):
    X, y = data
    alpha = 0.02
    with warnings.catch_warnings():
        # scikit-learn >= 1.8 deprecates `penalty` in favour of `l1_ratio`.
        warnings.simplefilter("ignore", (FutureWarning, UserWarning))
        ref = LogisticRegression(
            penalty="l1",
            solver="saga",
            C=1 / (len(y) * alpha),
            tol=1e-10,
            max_iter=10000,
        ).fit(X, y)
    est = LinearNNClassifier(
        optimizer=optimizer,
        penalty="l1",
        alpha=alpha,
        learning_rate="adaptive",
        random_state=0,
        max_iter=300,
    )
    # The convergence check's proximal gradient steps on the full batch take
    # the fit to the optimum (before them, within 0.2% of its objective, the
    # fits failed the first-order check and warned); no warning.
    est.fit(X, y)
    ours = _objective_l1(X, y, est.coef_, est.intercept_, alpha)
    best = _objective_l1(X, y, ref.coef_, ref.intercept_, alpha)
    assert ours <= 1.001 * best
    assert np.array_equal(est.coef_.ravel() == 0, ref.coef_.ravel() == 0)


def test_l1_recovers_known_support():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(2000, 30))
    w = np.zeros(30)
    w[[2, 7, 11, 20]] = [1.5, -2.0, 1.0, 2.5]
    y = X @ w + 0.1 * rng.normal(size=2000)
    est = LinearNNRegressor(penalty="l1", alpha=0.05, random_state=0, max_iter=100)
    est.fit(X, y)
    assert set(np.flatnonzero(est.coef_)) == {2, 7, 11, 20}


def test_elasticnet_objective_mixes_l1_and_l2(data):
    X, y = data
    est = LinearNNClassifier(
        penalty="elasticnet",
        alpha=0.05,
        l1_ratio=0.5,
        max_iter=3,
        tol=None,
        random_state=0,
        shuffle=False,
        batch_size=500,
        optimizer="sgd",
    ).fit(X, y)
    # One batch: the last epoch's objective is J at the start of the last step;
    # check the penalty formula on the final coefficients instead.
    from sklearn_nnopt._objective import Objective

    objective = Objective(est.loss_function_, 0.05, "elasticnet", 0.5, True)
    w = est.coef_
    expected = 0.05 * (0.5 * 0.5 * np.sum(w**2) + 0.5 * np.abs(w).sum())
    assert objective.penalty(w) == pytest.approx(expected)


@pytest.mark.parametrize("penalty", ["l1", "elasticnet"])
def test_l1_with_lbfgs_is_a_clear_error(data, penalty):
    with pytest.raises(ValueError, match="stochastic optimizer"):
        LinearNNClassifier(optimizer="lbfgs", penalty=penalty).fit(*data)


# ---------------------------------------------------------------- averaging
def _final_objective(X, y, est):
    r = y - est.predict(X)
    return 0.5 * np.mean(r**2) + 0.5 * est.alpha * np.sum(est.coef_**2)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_averaging_reduces_objective_variance(optimizer):
    X, y = make_regression(n_samples=400, n_features=10, noise=30.0, random_state=0)
    plain, averaged = [], []
    for seed in range(8):
        # A constant step: the iterates bounce in its noise ball ("auto" decays it).
        params = dict(
            optimizer=optimizer,
            learning_rate="constant",
            batch_size=8,
            max_iter=20,
            tol=None,
            random_state=seed,
        )
        plain.append(_final_objective(X, y, LinearNNRegressor(**params).fit(X, y)))
        est = LinearNNRegressor(average=400, **params).fit(X, y)
        averaged.append(_final_objective(X, y, est))
    assert np.var(averaged) < np.var(plain)
    assert np.mean(averaged) < np.mean(plain)


@pytest.mark.parametrize("optimizer", PROXIMAL)
def test_average_works_with_every_optimizer(easy, optimizer):
    X, y = easy
    est = LinearNNClassifier(
        optimizer=optimizer, average=True, max_iter=40, tol=None, random_state=0
    ).fit(X, y)
    assert est.score(X, y) > 0.7
    assert est._last_iterate is not None
    assert not np.array_equal(est.coef_, est._last_iterate[0])


def test_average_is_the_mean_of_iterates(data):
    X, y = data
    params = dict(optimizer="sgd", batch_size=100, shuffle=False, random_state=0)
    # average=11 averages the iterates after steps 11..15, the third epoch's.
    avg = LinearNNClassifier(average=11, max_iter=3, tol=None, **params).fit(X, y)
    manual = LinearNNClassifier(**params)
    manual.partial_fit(X, y, classes=[0, 1])
    manual.partial_fit(X, y)
    steps = []
    for start in range(0, 500, 100):
        manual.partial_fit(X[start : start + 100], y[start : start + 100])
        steps.append(manual.coef_.copy())
    assert_allclose(avg.coef_, np.mean(steps, axis=0), rtol=1e-10)
    assert_allclose(avg._last_iterate[0], steps[-1], rtol=1e-10)


def test_invalid_average(data):
    with pytest.raises(ValueError, match="average"):
        LinearNNClassifier(average=-1).fit(*data)


def test_warm_start_with_a_new_optimizer_gets_its_own_automatic_step():
    from sklearn_nnopt import AdamW

    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 3))
    y = 1000.0 * (X @ [1.0, -2.0, 0.5])
    est = LinearNNRegressor(
        optimizer="sgd", warm_start=True, max_iter=3, tol=None, random_state=0
    ).fit(X, y)
    sgd_step = est.learning_rate_init_
    est.set_params(optimizer=AdamW(weight_decay=0.2)).fit(X, y)
    assert est.learning_rate_init_ != sgd_step
    assert est._lr_unit > 0
    fresh = LinearNNRegressor(
        optimizer=AdamW(weight_decay=0.2), max_iter=3, tol=None, random_state=0
    ).fit(X, y)
    assert est.learning_rate_init_ == fresh.learning_rate_init_
    assert est.score(X, y) > 0
