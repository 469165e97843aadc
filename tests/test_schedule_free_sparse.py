"""Schedule-Free AdamW's lazy column steps on CSR ``X`` (``lazy=True``).

The rule is written out here step by step on a tiny CSR problem (every
missed step of an absent column applied one at a time) and both steppers
must follow it: the numpy :class:`~sklearn_nnopt._sparse.SparseColumnStepper`
(with :class:`~sklearn_nnopt._sparse.LazyScheduleFree`), the reference, and
the compiled kernel, which must also give the numpy stepper's iterates step
for step (1e-12 relative in float64, 1e-5 in float32). Then the estimators:
compiled against numpy fits, ``lazy=False`` against dense ``X``, continued
fits against one longer fit, and what falls back to dense steps.
"""

import math

import numpy as np
import pytest
import scipy.sparse as sp
from lockstep import lockstep, relative
from numpy.testing import assert_allclose, assert_array_equal

from sklearn_nnopt import (
    LinearNNClassifier,
    LinearNNRegressor,
    ScheduleFreeAdamW,
    _kernels,
)
from sklearn_nnopt._kernels import CompiledSparseStepper
from sklearn_nnopt._objective import Objective
from sklearn_nnopt._parameters import Parameters
from sklearn_nnopt._sparse import SparseColumnStepper
from sklearn_nnopt._steppers import DenseStepper
from sklearn_nnopt._training import TrainingData
from sklearn_nnopt.losses import LOSSES

RTOL = {np.float64: 1e-12, np.float32: 1e-5}


@pytest.fixture(scope="module")
def text():
    """A CSR problem with Zipf-like column frequencies (many columns absent
    from most batches), binary, three-class and real targets."""
    rng = np.random.RandomState(0)
    n, p = 300, 150
    freq = 1.0 / np.arange(1, p + 1) ** 0.8
    freq /= freq.sum()
    rows, cols = [], []
    for i in range(n):
        chosen = np.unique(rng.choice(p, size=rng.randint(3, 12), p=freq))
        rows += [i] * len(chosen)
        cols += chosen.tolist()
    X = sp.csr_matrix((rng.rand(len(rows)) + 0.1, (rows, cols)), shape=(n, p))
    raw = X @ rng.randn(p)
    y_class = (raw + 0.3 * rng.randn(n) > np.median(raw)).astype(int)
    y_multi = np.digitize(raw, np.quantile(raw, [0.33, 0.66]))
    y_reg = raw * 10 + 50 + rng.randn(n)
    return X, y_class, y_multi, y_reg


# ------------------------------------------------------- the rule written out
def _presence(X, batch_size):
    """p_j = 1 - C(n - c_j, B) / C(n, B), c_j the rows holding column j."""
    n = X.shape[0]
    counts = np.bincount(X.indices, minlength=X.shape[1])
    return np.array(
        [1 - math.comb(n - c, batch_size) / math.comb(n, batch_size) for c in counts]
    )


def written_rule(X, y, batches, lrs, *, alpha, beta_1=0.9, beta_2=0.999, eps=1e-8):
    """Lazy Schedule-Free AdamW on the squared error, one missed step at a time.

    Parameters theta = [w, b] from w = 0, b = 0.1. Before a step, each of the
    batch's columns j applies the steps it missed, one by one:
    x_j <- (1 - c_i) x_j + c_i z_j (z_j, v_j unchanged), then y_j = (1 - beta_1)
    z_j + beta_1 x_j. The step on the batch's columns J and the intercept:
    g = the batch's mean gradient at y (+ alpha y_j / p_j on J),
    v <- beta_2 v + (1 - beta_2) g^2, z <- z - lr g / (sqrt(v / (1 - beta_2^t))
    + eps), x <- (1 - c_t) x + c_t z, y from them; lr_max, the weight
    lr_max^2 and c_t = weight / sum of weights as the reference's (r = 0, no
    warmup). Every column catches up at the end of each epoch (``batches`` is
    a list of epochs, each a list of row arrays). Returns y, x, z, v.
    """
    n, p = X.shape
    presence = _presence(X, len(batches[0][0]))
    yk = np.concatenate([np.zeros(p), [0.1]])
    z, x, v = yk.copy(), yk.copy(), np.zeros(p + 1)
    last = np.zeros(p, dtype=int)  # the last step each column took part in
    cs = {}  # c_i of each step i
    lr_max, weight_sum, t = -1.0, 0.0, 0

    def catch_up(j, until):
        for i in range(last[j] + 1, until + 1):
            x[j] = (1 - cs[i]) * x[j] + cs[i] * z[j]
        yk[j] = (1 - beta_1) * z[j] + beta_1 * x[j]
        last[j] = until

    for epoch in batches:
        for rows in epoch:
            Xb = X[rows]
            J = np.unique(Xb.indices)
            for j in J:
                catch_up(j, t)
            t += 1
            lr = lrs[t - 1]
            lr_max = max(lr_max, lr)
            weight = lr_max**2
            weight_sum += weight
            c = cs[t] = weight / weight_sum
            residual = Xb @ yk[:p] + yk[p] - y[rows]
            g_w = Xb.T @ residual / len(rows) + alpha * yk[:p] / np.maximum(
                presence, 1e-300
            )
            index = np.append(J, p)
            g = np.append(g_w[J], residual.mean())
            v[index] = beta_2 * v[index] + (1 - beta_2) * g**2
            denom = np.sqrt(v[index] / (1 - beta_2**t)) + eps
            z[index] -= lr * g / denom
            x[index] = (1 - c) * x[index] + c * z[index]
            yk[index] = (1 - beta_1) * z[index] + beta_1 * x[index]
            last[J] = t
        for j in range(p):
            catch_up(j, t)
    return yk, x, z, v


@pytest.mark.parametrize("compiled", [False, True])
def test_lazy_steps_follow_the_written_rule(text, compiled):
    X, _, _, y_reg = text
    X, y = X[:40, :30].tocsr(), y_reg[:40] / 50
    X = X[X.getnnz(axis=1) > 0]
    y = y[: X.shape[0]]
    rng = np.random.RandomState(4)
    batches = [
        np.array_split(rng.permutation(X.shape[0]), X.shape[0] // 5) for _ in range(3)
    ]
    batch_size = max(len(b) for b in batches[0])
    batches = [[b for b in epoch if len(b) == batch_size] for epoch in batches]
    steps = sum(len(epoch) for epoch in batches)
    lrs = 0.05 * (1 + np.arange(steps) % 3)  # the weights see several lr_max
    expected = written_rule(X, y, batches, lrs, alpha=0.03)

    data = TrainingData(X, y[:, None].copy(order="F"), np.ones(len(y)), batch_size)
    objective = Objective(LOSSES.create("squared_error", "loss"), 0.03, "l2", 0, True)
    params = Parameters(np.zeros((1, X.shape[1])), np.array([0.1]))
    opt = ScheduleFreeAdamW()
    if compiled:
        stepper = _kernels.sparse_stepper(data, objective, opt, params)
        assert isinstance(stepper, CompiledSparseStepper)
    else:
        stepper = SparseColumnStepper(X, len(y), batch_size, objective, opt, params)
    t = 0
    for epoch in batches:
        for rows in epoch:
            stepper.step(X[rows], data.Y[rows], None, lrs[t], rows)
            t += 1
        stepper.finish()
    state = opt.state_.values
    got = params.buffer, state["x"][0], state["z"][0], state["exp_avg_sq"][0]
    for a, b in zip(got, expected, strict=True):
        assert relative(a, b) <= 1e-10


# --------------------------------------------------- compiled against numpy
LOSS_TARGETS = ["log_loss", "hinge", "squared_error", "poisson"]


def _targets(loss, n_outputs, y_class, y_reg):
    if loss == "log_loss":
        Y = y_class[:, None]
        if n_outputs > 1:
            Y = np.eye(n_outputs)[np.digitize(y_reg, np.quantile(y_reg, [0.3, 0.6]))]
    elif loss == "hinge":
        Y = 2 * y_class[:, None] - 1
        if n_outputs > 1:
            Y = np.column_stack([Y, -Y, Y[::-1]])
    else:
        Y = np.column_stack([y_reg, -y_reg / 2, y_reg[::-1]])[:, :n_outputs] / 50
        if loss == "poisson":
            Y = np.abs(Y)
    return Y


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("n_outputs", [1, 3])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("loss", LOSS_TARGETS)
def test_compiled_steps_match_numpy_stepper(
    text, loss, dtype, n_outputs, fit_intercept
):
    """Step by step: the lazy coordinates z and w, the product, the second
    moment, the loss and Pflug's statistic; at each epoch's end the
    parameters (y) and the sequences x and z."""
    X, y_class, _, y_reg = text
    X = X.astype(dtype)
    Y = np.asfortranarray(_targets(loss, n_outputs, y_class, y_reg).astype(dtype))
    sw = np.random.RandomState(2).rand(X.shape[0]) + 0.5
    data = TrainingData(X, Y, sw, batch_size=20)
    objective = Objective(LOSSES.create(loss, "loss"), 1e-2, "l2", 0, fit_intercept)
    start = Parameters(
        np.zeros((n_outputs, X.shape[1]), dtype),
        np.full(n_outputs, 0.1, dtype),
        fit_intercept=fit_intercept,
    )
    params = [start.copy(), start.copy()]
    opts = [ScheduleFreeAdamW(warmup_steps=5), ScheduleFreeAdamW(warmup_steps=5)]
    compiled = _kernels.sparse_stepper(data, objective, opts[0], params[0], track=True)
    assert isinstance(compiled, CompiledSparseStepper)
    numpy_stepper = SparseColumnStepper(
        X, X.shape[0], 20, objective, opts[1], params[1], track=True
    )
    rtol = RTOL[dtype]

    def after_step():
        # Within the epoch the state is z, w (zw), v and the product P.
        sequences = compiled.sequences, numpy_stepper.sequences
        assert sequences[0].product == sequences[1].product
        a, b = opts[0].state_["exp_avg_sq"][0], opts[1].state_["exp_avg_sq"][0]
        assert a.dtype == b.dtype == dtype
        assert relative(a, b) <= rtol
        for column in (0, 1):
            a, b = (seq.zw[:, column] for seq in sequences)
            assert a.dtype == b.dtype == dtype
            assert relative(a, b) <= rtol

    def after_epoch():
        assert relative(params[0].buffer, params[1].buffer) <= rtol
        for name in ("z", "x", "exp_avg_sq"):
            a, b = opts[0].state_[name][0], opts[1].state_[name][0]
            assert a.dtype == b.dtype == dtype
            assert relative(a, b) <= rtol
        # Every column caught up: y = beta_1 x + (1 - beta_1) z everywhere.
        state = opts[0].state_.values
        expected = 0.9 * state["x"][0] + 0.1 * state["z"][0]
        assert_allclose(params[0].buffer, expected, rtol=10 * rtol, atol=1e-7)
        assert opts[0].t_ == opts[1].t_

    lockstep(
        compiled,
        numpy_stepper,
        X,
        Y,
        sw,
        20,
        0.05,
        rtol,
        after_step=after_step,
        after_epoch=after_epoch,
    )


def _fit_both(make, X, y, spy, monkeypatch, **fit_params):
    """Fit with the compiled kernel and with numpy; assert each ran."""
    compiled = make().fit(X, y, **fit_params)
    assert spy[-1] is CompiledSparseStepper
    monkeypatch.setattr(_kernels, "ENABLED", False)
    reference = make().fit(X, y, **fit_params)
    monkeypatch.setattr(_kernels, "ENABLED", True)
    assert spy[-1] is SparseColumnStepper
    return compiled, reference


def _assert_same_fit(compiled, reference, dtype=np.float64):
    rtol = RTOL[dtype]
    assert relative(compiled.coef_, reference.coef_) <= rtol
    assert relative(compiled.intercept_, reference.intercept_) <= rtol
    assert_allclose(compiled.loss_curve_, reference.loss_curve_, rtol=rtol)
    assert compiled.n_iter_ == reference.n_iter_


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    "task", ["binary", "multiclass", "regression", "no_intercept", "weighted"]
)
def test_compiled_fit_matches_numpy_fit(text, spy, monkeypatch, task, dtype):
    X, y_class, y_multi, y_reg = text
    X = X.astype(dtype)
    fit_params = {}
    params = dict(optimizer=ScheduleFreeAdamW(), alpha=1e-3, batch_size=30, max_iter=4)
    params.update(tol=None, random_state=0)
    if task == "regression":
        estimator, y = LinearNNRegressor, y_reg
    else:
        estimator = LinearNNClassifier
        y = y_multi if task == "multiclass" else y_class
    if task == "no_intercept":
        params["fit_intercept"] = False
    if task == "weighted":
        fit_params["sample_weight"] = np.random.RandomState(1).rand(len(y)) + 0.2

    def make():
        return estimator(**params)

    compiled, reference = _fit_both(make, X, y, spy, monkeypatch, **fit_params)
    assert compiled.coef_.dtype == dtype
    _assert_same_fit(compiled, reference, dtype)


# ------------------------------------------------------------------ estimators
def test_lazy_false_on_csr_gives_the_dense_fit(text, spy):
    X, y, _, _ = text
    params = dict(alpha=1e-3, batch_size=30, max_iter=3, tol=None, random_state=0)
    params["precondition"] = False  # (dense X would be centered)
    sparse = LinearNNClassifier(optimizer=ScheduleFreeAdamW(lazy=False), **params)
    sparse.fit(X, y)
    assert spy[-1] is DenseStepper
    dense = LinearNNClassifier(optimizer=ScheduleFreeAdamW(), **params)
    dense.fit(X.toarray(), y)
    assert_allclose(sparse.coef_, dense.coef_, rtol=1e-10, atol=1e-13)
    assert_allclose(sparse.intercept_, dense.intercept_, rtol=1e-10)


@pytest.mark.parametrize("enabled", [True, False])
def test_lazy_steps_without_absent_columns_are_the_dense_steps(
    spy, monkeypatch, enabled
):
    """A CSR matrix without zeros: every column is in every batch (p_j = 1),
    nothing is missed, and the lazy steps are the dense rule's."""
    monkeypatch.setattr(_kernels, "ENABLED", enabled)
    rng = np.random.RandomState(0)
    X = rng.rand(60, 5) + 0.5
    y = X @ rng.randn(5) + 0.1 * rng.randn(60)
    params = dict(alpha=1e-2, batch_size=10, max_iter=4, tol=None, random_state=0)
    params.update(precondition=False, optimizer=ScheduleFreeAdamW())
    lazy = LinearNNRegressor(**params).fit(sp.csr_matrix(X), y)
    assert spy[-1] is (CompiledSparseStepper if enabled else SparseColumnStepper)
    dense = LinearNNRegressor(**params).fit(X, y)
    assert_allclose(lazy.coef_, dense.coef_, rtol=1e-10)
    assert_allclose(lazy.intercept_, dense.intercept_, rtol=1e-10)


@pytest.mark.parametrize("enabled", [True, False])
def test_warm_start_and_partial_fit_continue_exactly(text, monkeypatch, enabled):
    """The missed steps are caught up at the end of each epoch (and the
    product restarts): a fit continued by warm_start repeats one longer fit bit
    for bit, and partial_fit calls continue one another."""
    monkeypatch.setattr(_kernels, "ENABLED", enabled)
    X, y, _, _ = text
    params = dict(alpha=1e-3, batch_size=30, tol=None, shuffle=False)

    def make(**extra):
        return LinearNNClassifier(optimizer=ScheduleFreeAdamW(), **params, **extra)

    whole = make(max_iter=4).fit(X, y)
    continued = make(max_iter=2).fit(X, y)
    continued.set_params(warm_start=True).fit(X, y)
    assert continued.t_ == whole.t_ == 4 * 10
    assert_array_equal(continued.coef_, whole.coef_)
    assert_array_equal(continued.intercept_, whole.intercept_)
    assert_array_equal(
        continued.optimizer_.state_["z"][0], whole.optimizer_.state_["z"][0]
    )

    # Without a penalty (whose 1 / p_j follows each call's rows), two calls
    # of 5 batches each are one call of the 10 (up to the rounding of the
    # product, which restarts with each call; no intercept or column scaling,
    # whose starts follow the first call's rows).
    params.update(alpha=0.0, learning_rate_init=0.05, fit_intercept=False)
    params["precondition"] = False
    two = make().partial_fit(X[:150], y[:150], classes=[0, 1])
    two.partial_fit(X[150:], y[150:])
    one = make().partial_fit(X, y, classes=[0, 1])
    assert two.t_ == one.t_ == 10
    assert_allclose(two.coef_, one.coef_, rtol=1e-12, atol=1e-15)


def test_compiled_partial_fit_matches_numpy(text, spy, monkeypatch):
    X, y, _, _ = text
    results = []
    for enabled in (True, False):
        monkeypatch.setattr(_kernels, "ENABLED", enabled)
        clf = LinearNNClassifier(
            optimizer=ScheduleFreeAdamW(), alpha=1e-3, batch_size=25, random_state=0
        )
        for start in range(0, X.shape[0], 100):
            rows = slice(start, start + 100)
            clf.partial_fit(X[rows], y[rows], classes=[0, 1])
        assert spy[-1] is (CompiledSparseStepper if enabled else SparseColumnStepper)
        results.append(clf)
    _assert_same_fit(*results)


@pytest.mark.parametrize(
    "params, reason",
    [
        ({"optimizer": ScheduleFreeAdamW(lazy=False)}, "lazy=False"),
        ({"optimizer": ScheduleFreeAdamW(weight_decay=0.01)}, "weight_decay"),
    ],
)
def test_dense_steps_where_lazy_steps_do_not_apply(text, spy, params, reason):
    X, y, _, _ = text
    LinearNNClassifier(max_iter=1, tol=None, **params).fit(X, y)
    assert spy[-1] is DenseStepper
    assert params["optimizer"].sparse_mode == "dense"


def test_lazy_is_validated():
    with pytest.raises(ValueError, match="lazy must be a bool"):
        ScheduleFreeAdamW(lazy="yes")._validate()
