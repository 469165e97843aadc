"""Schedules, l1/elasticnet penalties and averaging, with every stochastic optimizer."""

import math
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.datasets import make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from sklearn_nnopt import (
    OPTIMIZERS,
    SCHEDULES,
    SGD,
    LinearNNClassifier,
    LinearNNRegressor,
)

STOCHASTIC = [n for n, cls, _ in OPTIMIZERS.items() if cls.stochastic]


class RecordingSGD(SGD):
    """Plain SGD that records the step size of every update."""

    def _update(self, params, grads, lr):
        self.rates_ = [*getattr(self, "rates_", []), lr]
        super()._update(params, grads, lr)


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(
        n_samples=500, n_features=20, n_informative=4, n_redundant=0, random_state=0
    )
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="module")
def easy():
    X, y = make_classification(
        n_samples=500,
        n_features=20,
        n_informative=4,
        n_redundant=0,
        class_sep=2.0,
        random_state=0,
    )
    return StandardScaler().fit_transform(X), y  # LogisticRegression: 0.876


def _objective_l1(X, y, coef, intercept, alpha):
    z = X @ coef.ravel() + intercept
    return np.mean(np.logaddexp(0, z) - y * z) + alpha * np.abs(coef).sum()


# ---------------------------------------------------------------- schedules
def _rates(X, y, **params):
    est = LinearNNClassifier(optimizer=RecordingSGD(), batch_size=100, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    return est, np.array(est.optimizer_.rates_)


def test_every_schedule_is_tested():
    assert set(SCHEDULES) == {"constant", "invscaling", "optimal", "adaptive", "cosine"}


def test_constant_schedule(data):
    est, rates = _rates(*data, learning_rate_init=0.05, max_iter=3, tol=None)
    assert_allclose(rates, 0.05)
    assert len(rates) == est.t_ == 15


def test_invscaling_schedule(data):
    _, rates = _rates(
        *data,
        learning_rate="invscaling",
        learning_rate_init=0.3,
        power_t=0.7,
        max_iter=4,
        tol=None,
    )
    t = np.arange(1, len(rates) + 1)
    assert_allclose(rates, 0.3 / t**0.7, rtol=1e-14)


def test_invscaling_continues_the_step_count_across_partial_fit(data):
    X, y = data
    est = LinearNNClassifier(
        optimizer=RecordingSGD(),
        learning_rate="invscaling",
        batch_size=100,
        learning_rate_init=1.0,
    )
    est.partial_fit(X, y, classes=[0, 1])
    est.partial_fit(X, y)
    assert_allclose(est.optimizer_.rates_, 1.0 / np.arange(1, 11) ** 0.5)


def test_optimal_schedule_matches_sgdclassifier_formula(data):
    alpha = 1e-3
    _, rates = _rates(
        *data, loss="hinge", learning_rate="optimal", alpha=alpha, max_iter=2, tol=None
    )
    typw = math.sqrt(1.0 / math.sqrt(alpha))
    eta0 = typw / max(1.0, -1.0)  # hinge: dloss(1, -typw) = -1
    t0 = 1.0 / (eta0 * alpha)
    t = np.arange(1, len(rates) + 1)
    assert_allclose(rates, 1.0 / (alpha * (t0 + t - 1)), rtol=1e-14)
    assert rates[0] == pytest.approx(eta0)


def test_optimal_schedule_needs_alpha(data):
    with pytest.raises(ValueError, match="alpha > 0"):
        LinearNNClassifier(learning_rate="optimal", alpha=0).fit(*data)


def test_adaptive_divides_by_five_on_each_stall(data):
    # tol=10 makes every epoch after the first a stall.
    est, rates = _rates(
        *data,
        learning_rate="adaptive",
        learning_rate_init=0.1,
        tol=10.0,
        n_iter_no_change=2,
        max_iter=100,
    )
    per_epoch = rates.reshape(-1, 5)[:, 0]
    # Epoch 1 (the starting point) is not compared, epoch 2 sets the reference,
    # epochs 3-4 stall, then every 2 epochs stall again.
    expected = [0.1] * 4 + [0.1 / 5**k for k in range(1, 20) for _ in (0, 1)]
    assert_allclose(per_epoch, expected[: len(per_epoch)])
    assert per_epoch[-1] / 5 < 1e-6 <= per_epoch[-1]
    assert est.n_iter_ < 100


def test_adaptive_keeps_rate_while_improving(data):
    _, rates = _rates(
        *data,
        learning_rate="adaptive",
        learning_rate_init=0.01,
        tol=0.0,
        n_iter_no_change=50,
        max_iter=10,
    )
    assert_allclose(rates, 0.01)


def test_cosine_schedule(data):
    est, rates = _rates(
        *data, learning_rate="cosine", learning_rate_init=0.2, max_iter=6, tol=None
    )
    per_epoch = rates.reshape(6, 5)
    for e in range(6):
        assert_allclose(per_epoch[e], 0.1 * (1 + math.cos(math.pi * e / 6)))


def test_schedules_ignored_by_lbfgs(data):
    a = LinearNNClassifier(optimizer="lbfgs", learning_rate="cosine").fit(*data)
    b = LinearNNClassifier(optimizer="lbfgs").fit(*data)
    assert_allclose(a.coef_, b.coef_)


@pytest.mark.parametrize("schedule", sorted(SCHEDULES))
@pytest.mark.parametrize("optimizer", STOCHASTIC)
def test_every_schedule_with_every_optimizer(easy, schedule, optimizer):
    # "Works": trains, stays finite, well above chance (0.5). Not every pair is
    # a good choice: "optimal" is made for plain SGD.
    X, y = easy
    est = LinearNNClassifier(
        optimizer=optimizer,
        learning_rate=schedule,
        max_iter=40,
        tol=None,
        random_state=0,
        alpha=1e-3,
    )
    est.fit(X, y)
    assert np.all(np.isfinite(est.coef_))
    assert est.score(X, y) > 0.7


# ---------------------------------------------------------------- penalties
@pytest.mark.parametrize("penalty", ["l1", "elasticnet"])
@pytest.mark.parametrize("optimizer", STOCHASTIC)
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
    ).fit(X, y)
    ours = _objective_l1(X, y, est.coef_, est.intercept_, alpha)
    best = _objective_l1(X, y, ref.coef_, ref.intercept_, alpha)
    assert ours <= 1.01 * best


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
        params = dict(
            optimizer=optimizer, batch_size=8, max_iter=20, tol=None, random_state=seed
        )
        plain.append(_final_objective(X, y, LinearNNRegressor(**params).fit(X, y)))
        est = LinearNNRegressor(average=400, **params).fit(X, y)
        averaged.append(_final_objective(X, y, est))
    assert np.var(averaged) < np.var(plain)
    assert np.mean(averaged) < np.mean(plain)


@pytest.mark.parametrize("optimizer", STOCHASTIC)
def test_average_works_with_every_optimizer(easy, optimizer):
    X, y = easy
    est = LinearNNClassifier(
        optimizer=optimizer, average=True, max_iter=40, tol=None, random_state=0
    ).fit(X, y)
    assert est.score(X, y) > 0.7
    assert est._standard_params is not None
    assert not np.array_equal(est.coef_, est._standard_params[0])


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
    assert_allclose(avg._standard_params[0], steps[-1], rtol=1e-10)


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
    assert est.optimizer_.lr_unit_ > 0
    fresh = LinearNNRegressor(
        optimizer=AdamW(weight_decay=0.2), max_iter=3, tol=None, random_state=0
    ).fit(X, y)
    assert est.learning_rate_init_ == fresh.learning_rate_init_
    assert est.score(X, y) > 0
