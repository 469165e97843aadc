"""The training engine on its own: ``train``, the batch steppers, ``Parameters``.

No estimator is involved: the tests build ``TrainingData``, ``Parameters``,
an ``Objective``, an optimizer and a schedule directly, as the estimators do.
"""

import ast
import copy
import pathlib
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning

from sklearn_nnopt import SGD, Adam, SquaredError, _kernels
from sklearn_nnopt._kernels import CompiledDenseStepper, CompiledSparseStepper
from sklearn_nnopt._objective import Objective
from sklearn_nnopt._parameters import Parameters
from sklearn_nnopt._sparse import SparseColumnStepper
from sklearn_nnopt._steppers import DenseStepper, make_stepper
from sklearn_nnopt._training import (
    MIN_PATIENCE_STEPS,
    DivergenceError,
    Progress,
    TrainingConfig,
    TrainingData,
    train,
)
from sklearn_nnopt.schedules import Constant

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "sklearn_nnopt"
ENGINE = ["_training.py", "_steppers.py", "_sparse.py", "_parameters.py"]
ESTIMATOR_MODULES = {"_base", "_classifier", "_regressor"}


@pytest.mark.parametrize("module", ENGINE)
def test_the_engine_does_not_import_the_estimators(module):
    tree = ast.parse((PACKAGE / module).read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[-1])
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[-1] for alias in node.names)
    assert not imported & ESTIMATOR_MODULES


@pytest.fixture
def problem():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(120, 4))
    w = np.array([1.0, -2.0, 0.5, 0.0])
    y = X @ w + 3.0 + 0.01 * rng.normal(size=120)
    Y = np.asfortranarray(y[:, None])
    data = TrainingData(X, Y, np.ones(120), batch_size=20)
    params = Parameters(np.zeros((1, 4)), np.zeros(1))
    return data, params, Objective(SquaredError(), 0.0, None, 0.0, True)


def _train(data, params, objective, optimizer=None, lr=0.05, **config):
    config = {"max_iter": 30, "tol": None, "shuffle": False, **config}
    return train(
        data,
        params,
        objective,
        SGD() if optimizer is None else optimizer,
        Constant().start(lr, loss=objective.loss),
        TrainingConfig(learning_rate_init=lr, **config),
        rng=np.random.RandomState(0),
    )


def test_train_reaches_the_least_squares_solution(problem):
    data, params, objective = problem
    data.batch_size = len(data.X)  # full batch: constant steps then converge
    result = _train(data, params, objective, max_iter=200, lr=0.3)
    X1 = np.column_stack([data.X, np.ones(len(data.X))])
    expected = np.linalg.lstsq(X1, data.Y[:, 0], rcond=None)[0]
    assert_allclose(result.coef[0], expected[:4], atol=1e-6)
    assert_allclose(result.intercept, expected[4:], atol=1e-6)
    assert result.progress.n_iter == 200
    assert result.optimizer.t_ == 200
    assert len(result.progress.loss_curve) == 200


def test_train_changes_none_of_its_inputs_but_the_parameters(problem):
    data, params, objective = problem
    optimizer = Adam()
    optimizer.step([np.zeros(5)], [np.ones(5)], 0.1)  # some state
    before = copy.deepcopy((optimizer.state_.values, optimizer.t_))
    progress = Progress(n_iter=3, loss_curve=[1.0, 0.5, 0.4])
    schedule = Constant().start(0.01, loss=objective.loss)
    result = train(
        data,
        params,
        objective,
        optimizer,
        schedule,
        TrainingConfig(max_iter=2, tol=None),
        progress=progress,
        rng=np.random.RandomState(0),
    )
    # The parameters it was handed are what it trained and returns.
    assert result.params is params
    assert optimizer.t_ == before[1]
    assert result.optimizer.t_ == before[1] + 12
    assert not hasattr(schedule, "current_")
    for name, value in before[0].items():
        for a, b in zip(value, optimizer.state_.values[name], strict=True):
            assert_array_equal(a, b)
    assert progress.n_iter == 3 and progress.loss_curve == [1.0, 0.5, 0.4]


def test_divergence_raises_and_leaves_the_inputs(problem):
    data, params, objective = problem
    optimizer = SGD()
    with pytest.raises(DivergenceError, match="diverged in epoch"):
        _train(data, params, objective, optimizer, lr=50.0)
    assert not hasattr(optimizer, "state_")


def test_progress_continues_across_calls(problem):
    data, params, objective = problem
    once = _train(data, params.copy(), objective, max_iter=4)
    first = _train(data, params, objective, max_iter=2)
    second = train(
        data,
        first.params,
        objective,
        first.optimizer,
        Constant().start(0.05, loss=objective.loss),
        TrainingConfig(max_iter=2, tol=None, shuffle=False, learning_rate_init=0.05),
        progress=first.progress,
    )
    assert_array_equal(second.params.buffer, once.params.buffer)
    assert second.progress.loss_curve == once.progress.loss_curve
    assert second.progress.n_iter == 4


def test_incremental_runs_one_epoch_without_warning(problem):
    data, params, objective = problem
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = _train(data, params, objective, incremental=True, tol=1e-4)
    assert result.progress.n_iter == 1


def test_max_iter_without_stopping_warns(problem):
    data, params, objective = problem
    with pytest.warns(ConvergenceWarning, match="did not reach the optimum"):
        _train(data, params, objective, max_iter=2, tol=1e-12)


def test_early_stopping_restores_the_best_scored_coefficients(problem):
    data, params, objective = problem
    seen = []

    def score(coef, intercept):
        # Best at the third epoch, then worse: the patience (2 epochs of at
        # least MIN_PATIENCE_STEPS steps) runs out after it.
        seen.append(coef.copy())
        return -abs(len(seen) - 3)

    result = train(
        data,
        params,
        objective,
        SGD(),
        Constant().start(0.05, loss=objective.loss),
        TrainingConfig(max_iter=50, tol=0.0, n_iter_no_change=2, shuffle=False),
        score=score,
    )
    steps = -(-data.n_train // data.batch_size)
    patience = 2 * max(steps, MIN_PATIENCE_STEPS)
    n_epochs = 3 + -(-patience // steps)
    assert len(seen) == n_epochs
    expected = [-abs(epoch - 3) for epoch in range(1, n_epochs + 1)]
    assert result.progress.validation_scores == expected
    assert result.progress.best_validation_score == 0
    assert_array_equal(result.coef, seen[2])
    assert_array_equal(result.params.coef, seen[2])


def test_callbacks_see_every_epoch_and_can_stop(problem):
    data, params, objective = problem
    events = []

    class Recorder:
        def begin(self, label):
            events.append(("begin", label))
            return label

        def end(self, task, model=None):
            coef, intercept = model()
            events.append(("end", task, coef.shape, intercept.shape))
            return task == "epoch 3"

    result = train(
        data,
        params,
        objective,
        SGD(),
        Constant().start(0.05, loss=objective.loss),
        TrainingConfig(max_iter=10, tol=None, shuffle=False),
        callbacks=Recorder(),
    )
    assert result.progress.n_iter == 3
    assert events[:2] == [("begin", "epoch 1"), ("end", "epoch 1", (1, 4), (1,))]
    assert len(events) == 6


def test_averaging_exposes_the_mean_and_continues_from_the_last_iterate(problem):
    data, params, objective = problem
    result = _train(data, params, objective, max_iter=3, average=True)
    averager = result.progress.averager
    assert averager.count == result.optimizer.t_
    assert_array_equal(result.coef, averager.mean[0])
    assert not np.array_equal(result.coef, result.params.coef)


@pytest.mark.parametrize("compiled", [False, True], ids=["numpy", "compiled"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_dense_and_sparse_steppers_take_the_same_sgd_steps(
    dtype, compiled, monkeypatch
):
    # The loop drives either through the same protocol; plain SGD's column
    # steps on CSR data are exact, so both give the same iterates.
    monkeypatch.setattr(_kernels, "ENABLED", compiled)
    sparse_stepper = CompiledSparseStepper if compiled else SparseColumnStepper
    dense_stepper = CompiledDenseStepper if compiled else DenseStepper
    rng = np.random.RandomState(1)
    X = rng.normal(size=(60, 30)) * (rng.uniform(size=(60, 30)) < 0.2)
    X = X.astype(dtype)
    Y = np.asfortranarray((X @ rng.normal(size=30))[:, None].astype(dtype))
    objective = Objective(SquaredError(), 0.01, "l2", 0.0, True)
    results = []
    for matrix in (X, sp.csr_matrix(X)):
        data = TrainingData(matrix, Y, np.ones(60, dtype=dtype), batch_size=10)
        params = Parameters(np.zeros((1, 30), dtype), np.zeros(1, dtype))
        stepper = make_stepper(data, objective, SGD(), params, averaging=False)
        assert isinstance(
            stepper, sparse_stepper if sp.issparse(matrix) else dense_stepper
        )
        for start in range(0, 60, 10):
            rows = slice(start, start + 10)
            stepper.step(matrix[rows], Y[rows], None, 0.05, rows)
        stepper.finish()
        results.append(params.buffer.copy())
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    assert_allclose(
        results[1], results[0], rtol=rtol, atol=rtol * np.abs(results[0]).max()
    )


def test_make_stepper_falls_back_to_dense_where_column_steps_do_not_apply(
    monkeypatch,
):
    # The numpy dispatch (tests/test_kernels.py: the compiled one).
    monkeypatch.setattr(_kernels, "ENABLED", False)
    X = sp.csr_matrix(np.eye(4))
    data = TrainingData(X, np.zeros((4, 1)), np.ones(4), batch_size=2)
    params = Parameters(np.zeros((1, 4)), np.zeros(1))
    l2 = Objective(SquaredError(), 0.1, "l2", 0.0, True)
    l1 = Objective(SquaredError(), 0.1, "l1", 0.0, True)
    cases = [
        (l2, Adam(), False, SparseColumnStepper),
        (l1, Adam(), False, SparseColumnStepper),  # l1 just in time (issue 16)
        (l2, Adam(), True, DenseStepper),  # averaging reads every coefficient
        (l2, Adam(lazy=False), False, DenseStepper),
        (l2, SGD(momentum=0.5), False, DenseStepper),
    ]
    for objective, optimizer, averaging, expected in cases:
        stepper = make_stepper(data, objective, optimizer, params, averaging=averaging)
        assert isinstance(stepper, expected)


def test_parameters_views_share_one_buffer():
    params = Parameters(np.ones((2, 3)), np.array([5.0, 6.0]))
    params.buffer[:] = np.arange(8)
    assert_array_equal(params.coef, [[0, 1, 2], [3, 4, 5]])
    assert_array_equal(params.intercept, [6, 7])
    copy_ = params.copy()
    copy_.buffer[:] = 0
    assert params.buffer[7] == 7
    no_intercept = Parameters(np.ones((1, 2)), np.zeros(1), fit_intercept=False)
    assert no_intercept.buffer.size == 2 and len(no_intercept.arrays) == 1
