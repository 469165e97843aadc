"""l1 / elastic-net fits recover the exact optimum's support (issue 16).

Every stochastic optimizer that takes an l1 penalty (from the registry: a new
one is covered by its class alone) is fitted at its defaults and compared
with the exact optimum of the same objective (``LogisticRegression(saga)``
or ``Lasso``/``ElasticNet`` at tight tolerances): at least 90% of the
optimum's zeros are exact zeros, at most 5% of its non-zeros are zeroed, and
the objective is within 1% of the optimum's. On CSR ``X`` the penalty is
applied just in time, with the iterates of the dense steps.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose
from sklearn.datasets import make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import ElasticNet, Lasso, LogisticRegression
from sklearn.preprocessing import StandardScaler

from sklearn_nnopt import OPTIMIZERS, LinearNNClassifier, LinearNNRegressor, _steppers
from sklearn_nnopt._objective import Objective
from sklearn_nnopt._parameters import Parameters
from sklearn_nnopt._training import TrainingData, full_gradient
from sklearn_nnopt.losses import LogLoss, SquaredError

#: The stochastic optimizers that take the l1 penalty (the schedule-free
#: ones refuse it: tests/test_schedule_free.py).
L1_OPTIMIZERS = [
    n for n, cls, _ in OPTIMIZERS.items() if cls.stochastic and not cls.exposes_average
]


def _objective(X, y, coef, intercept, task, penalty, alpha, l1_ratio):
    """The library's objective J at (coef, intercept)."""
    loss = LogLoss() if task == "classification" else SquaredError()
    objective = Objective(loss, alpha, penalty, l1_ratio, True)
    Y = np.asarray(y, dtype=np.float64).reshape(-1, 1)
    data = TrainingData(X, Y, np.ones(len(y)), batch_size=len(y))
    params = Parameters(
        np.asarray(coef, dtype=np.float64).reshape(1, -1),
        np.asarray(intercept, dtype=np.float64).reshape(1),
    )
    return full_gradient(objective, data, params)[0]


def _exact(X, y, task, penalty, alpha, l1_ratio):
    r = 1.0 if penalty == "l1" else l1_ratio
    if task == "classification":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = LogisticRegression(
                l1_ratio=r,
                solver="saga",
                C=1 / (len(y) * alpha),
                tol=1e-10,
                max_iter=100_000,
            ).fit(X, y)
    elif penalty == "l1":
        ref = Lasso(alpha=alpha, tol=1e-12, max_iter=100_000).fit(X, y)
    else:
        ref = ElasticNet(alpha=alpha, l1_ratio=r, tol=1e-12, max_iter=100_000)
        ref.fit(X, y)
    coef = np.ravel(ref.coef_)
    J = _objective(X, y, coef, np.ravel(ref.intercept_), task, penalty, alpha, r)
    return coef, J


def _support_scores(problem, coef):
    X, y, task, penalty, alpha, l1_ratio, coef_star, J_star = problem
    zero = coef_star == 0
    coef = np.ravel(coef)
    return (
        np.mean(coef[zero] == 0),
        np.mean(coef[~zero] == 0) if (~zero).any() else 0.0,
        coef,
    )


def _fit(problem, optimizer, **params):
    X, y, task, penalty, alpha, l1_ratio, _, _ = problem
    Est = LinearNNClassifier if task == "classification" else LinearNNRegressor
    return Est(
        optimizer=optimizer,
        penalty=penalty,
        alpha=alpha,
        l1_ratio=l1_ratio,
        random_state=0,
        **params,
    ).fit(X, y)


def _problem(X, y, task, penalty, alpha, l1_ratio=0.5):
    coef_star, J_star = _exact(X, y, task, penalty, alpha, l1_ratio)
    return X, y, task, penalty, alpha, l1_ratio, coef_star, J_star


def _named():
    # The case of issue 16: the optimum has 46 zeros, SGDClassifier 54, and
    # the proximal step after each minibatch step left 10 (sgd) or 41 (adam).
    X, y = make_classification(
        n_samples=3000, n_features=60, n_informative=6, n_redundant=0, random_state=0
    )
    return _problem(StandardScaler().fit_transform(X), y, "classification", "l1", 0.01)


def _sparse_classification():
    rng = np.random.RandomState(0)
    X = sp.random(1500, 400, density=0.02, random_state=rng, format="csr")
    X.data = rng.exponential(size=X.nnz) + 0.5
    w = np.zeros(400)
    w[rng.choice(400, 12, replace=False)] = rng.choice([-4.0, 4.0], 12)
    y = (rng.random_sample(1500) < 1 / (1 + np.exp(-(X @ w)))).astype(int)
    return _problem(X, y, "classification", "l1", 0.002)


def _regression():
    X, y = make_regression(
        n_samples=1000, n_features=50, n_informative=6, noise=10.0, random_state=1
    )
    return _problem(StandardScaler().fit_transform(X), y, "regression", "l1", 1.0)


def _elasticnet():
    X, y = make_classification(
        n_samples=1000, n_features=40, n_informative=5, n_redundant=3, random_state=2
    )
    X = StandardScaler().fit_transform(X)
    return _problem(X, y, "classification", "elasticnet", 0.02, 0.5)


PROBLEMS = {
    "named": _named,
    "sparse": _sparse_classification,
    "regression": _regression,
    "elasticnet": _elasticnet,
}


@pytest.fixture(scope="module", params=list(PROBLEMS))
def named_problem(request):
    return request.param, PROBLEMS[request.param]()


@pytest.mark.parametrize("optimizer", L1_OPTIMIZERS)
def test_l1_recovers_the_optimum_support(named_problem, optimizer):
    name, problem = named_problem
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        est = _fit(problem, optimizer)
    if caught:
        # Known: SAGA/SAG's proximal steps on the uncentered CSR problem end
        # at max_iter short of the finite-sum bound on the gradient (1e-4 of
        # its start; 1-2e-2 reached), and say so; their zeros and objective
        # meet the targets all the same.
        assert name == "sparse" and OPTIMIZERS.create(optimizer, "o").finite_sum
    recovered, wrong, coef = _support_scores(problem, est.coef_)
    assert recovered >= 0.9
    assert wrong <= 0.05
    X, y, task, penalty, alpha, l1_ratio, _, J_star = problem
    J = _objective(X, y, coef, est.intercept_, task, penalty, alpha, l1_ratio)
    assert (J - J_star) / abs(J_star) <= 0.01


def test_the_named_case_has_the_issue_numbers():
    X, y, *_, coef_star, _ = _named()
    assert np.sum(coef_star == 0) == 46


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "rmsprop"])
def test_minibatch_steps_alone_give_the_zeros(optimizer):
    # Without the convergence check's proximal gradient steps (tol=None), the
    # cumulative penalty alone keeps the optimum's zeros at zero (the
    # proximal step kept 10 of 46 with sgd).
    problem = _named()
    est = _fit(problem, optimizer, max_iter=30, tol=None)
    recovered, _, _ = _support_scores(problem, est.coef_)
    assert recovered >= 0.9


# ------------------------------------------------------- sparse: just in time
def _csr_data(seed=0, n_features=60):
    rng = np.random.RandomState(seed)
    X = sp.random(300, n_features, density=0.08, random_state=rng, format="csr")
    y = (X @ rng.normal(size=n_features) > 0).astype(int)
    return X, y


@pytest.mark.parametrize(
    "penalty, learning_rate",
    [
        ("l1", "auto"),
        ("l1", "constant"),
        ("l1", "invscaling"),
        ("elasticnet", "constant"),
        ("elasticnet", "invscaling"),
    ],
)
def test_csr_gives_the_iterates_of_dense_steps(penalty, learning_rate):
    # Plain SGD's column steps (sparse_mode "exact") catch up the penalty of
    # the steps a column missed: the same iterates as dense steps on every
    # column. (invscaling moves the step every step: the sums are rescaled
    # each time it has halved.)
    X, y = _csr_data()
    params = dict(
        optimizer="sgd",
        penalty=penalty,
        alpha=0.01,
        l1_ratio=0.5,
        learning_rate=learning_rate,
        precondition=False,
        batch_size=16,
        max_iter=15,
        tol=None,
        random_state=0,
    )
    sparse = LinearNNClassifier(**params).fit(X, y)
    dense = LinearNNClassifier(**params).fit(X.toarray(), y)
    assert np.any(sparse.coef_ == 0)
    assert_allclose(sparse.coef_, dense.coef_, rtol=0, atol=1e-10)
    assert_allclose(sparse.intercept_, dense.intercept_, rtol=0, atol=1e-10)
    assert np.array_equal(sparse.coef_ == 0, dense.coef_ == 0)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_l1_on_csr_touches_only_the_batch_columns(monkeypatch, optimizer):
    # One epoch: the penalty touches each batch's columns (twice for plain
    # SGD: the catch-up before the step and the penalty after it) and every
    # column once at the end of the epoch, whatever n_features; a CSR
    # column stepper runs, as for l2.
    steppers = []
    make = _steppers.make_stepper

    def spy(*args, **kwargs):
        steppers.append(make(*args, **kwargs))
        return steppers[-1]

    monkeypatch.setattr(_steppers, "make_stepper", spy)
    for n_features in (200, 20_000):
        rng = np.random.RandomState(0)
        X = sp.random(400, n_features, density=20 / n_features, random_state=rng)
        X = X.tocsr()
        y = rng.randint(0, 2, 400)
        LinearNNClassifier(
            optimizer=optimizer,
            penalty="l1",
            alpha=1e-3,
            batch_size=50,
            learning_rate="constant",
            shuffle=False,
            max_iter=1,
            tol=None,
        ).fit(X, y)
        stepper = steppers[-1]
        assert type(stepper).__name__ == "SparseColumnStepper"
        batch_columns = sum(
            len(np.unique(X[start : start + 50].indices)) for start in range(0, 400, 50)
        )
        per_step = 2 if optimizer == "sgd" else 1
        end = n_features if optimizer == "sgd" else 0
        assert stepper.l1.touched == per_step * batch_columns + end
        # The steps' work is bounded by the non-zeros of X, not n_features.
        assert stepper.l1.touched - end <= per_step * X.nnz


# ------------------------------------------------------------- property test
@settings(max_examples=8)
@given(
    seed=st.integers(0, 10_000),
    n_informative=st.integers(1, 4),
    alpha=st.sampled_from([0.3, 1.0, 3.0]),
    optimizer=st.sampled_from(["sgd", "adam", "adagrad", "rmsprop"]),
)
def test_a_fit_without_warning_meets_the_targets(seed, n_informative, alpha, optimizer):
    # Random sparse-truth regressions: a fit that does not warn is at the
    # optimum's support and objective (and one that is not must warn).
    X, y = make_regression(
        n_samples=300,
        n_features=12,
        n_informative=n_informative,
        noise=5.0,
        random_state=seed,
    )
    X = StandardScaler().fit_transform(X)
    problem = _problem(X, y, "regression", "l1", alpha)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        est = _fit(problem, optimizer)
    if any(issubclass(w.category, ConvergenceWarning) for w in caught):
        return
    recovered, wrong, coef = _support_scores(problem, est.coef_)
    J = _objective(X, y, coef, est.intercept_, "regression", "l1", alpha, 0.5)
    J_star = problem[-1]
    assert (J - J_star) / abs(J_star) <= 0.01
    assert recovered >= 0.9
    assert wrong <= 0.05
