"""Tests of the per-sample losses against DESIGN.md section 2.

Every reference formula below is written out independently of
``sklearn_nnopt.losses``; the table ``LOSS_CASES`` must have a row for every
registered loss name (see ``test_every_registered_loss_has_a_test_row``).
"""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.optimize import approx_fprime, minimize_scalar
from sklearn.linear_model import SGDClassifier

from sklearn_nnopt.losses import (
    LOSSES,
    AbsoluteError,
    EpsilonInsensitive,
    Hinge,
    Huber,
    LogLoss,
    ModifiedHuber,
    Perceptron,
    Poisson,
    Quantile,
    SquaredEpsilonInsensitive,
)

# --------------------------------------------------------------------------
# Reference formulas of DESIGN.md section 2: per-sample loss, shape (n,).
# ``y`` is the encoded target (``t`` in {-1, +1} for margin losses).
# --------------------------------------------------------------------------


def _ref_squared_error(loss, y, z):
    return (0.5 * (y - z) ** 2).sum(axis=1)


def _ref_absolute_error(loss, y, z):
    return np.abs(y - z).sum(axis=1)


def _ref_huber(loss, y, z):
    d = loss.delta
    a = np.abs(y - z)
    quad = 0.5 * a**2
    lin = d * (a - 0.5 * d)
    return np.where(a <= d, quad, lin).sum(axis=1)


def _ref_epsilon_insensitive(loss, y, z):
    return np.maximum(0.0, np.abs(y - z) - loss.epsilon).sum(axis=1)


def _ref_squared_epsilon_insensitive(loss, y, z):
    return (np.maximum(0.0, np.abs(y - z) - loss.epsilon) ** 2).sum(axis=1)


def _ref_quantile(loss, y, z):
    q = loss.quantile
    r = y - z
    return np.maximum(q * r, (q - 1) * r).sum(axis=1)


def _ref_poisson(loss, y, z):
    return (np.exp(z) - y * z).sum(axis=1)


def _ref_log_loss(loss, y, z):
    if z.shape[1] == 1:
        return (np.log(1 + np.exp(z)) - y * z)[:, 0]
    z_y = z[np.arange(len(z)), np.argmax(y, axis=1)]
    return np.log(np.exp(z).sum(axis=1)) - z_y


def _ref_hinge(loss, t, z):
    return np.maximum(0.0, 1 - t * z).sum(axis=1)


def _ref_squared_hinge(loss, t, z):
    return (np.maximum(0.0, 1 - t * z) ** 2).sum(axis=1)


def _ref_modified_huber(loss, t, z):
    m = t * z
    return np.where(m >= -1, np.maximum(0.0, 1 - m) ** 2, -4 * m).sum(axis=1)


def _ref_perceptron(loss, t, z):
    return np.maximum(0.0, -t * z).sum(axis=1)


# Kinks: pairs ``(v0, dphi)`` where the elementwise loss ``phi`` of the variable
# ``v`` (the residual ``r = y - z`` or the margin ``m = t z``) has a kink (or a
# change of formula) at ``v0``, and ``dphi`` is the documented (sub)derivative
# ``phi'(v0)``. Then ``d loss / d z = -dphi`` (residual) or ``t * dphi`` (margin).
def _no_kinks(loss):
    return []


def _kinks_at_zero(loss):
    return [(0.0, 0.0)]


def _kinks_huber(loss):
    d = loss.delta
    return [(-d, -d), (d, d)]  # phi'(r) = clip(r, -d, d): differentiable there


def _kinks_epsilon(loss):
    e = loss.epsilon
    return [(-e, 0.0), (e, 0.0)]


def _kinks_hinge(loss):
    return [(1.0, 0.0)]


def _kinks_modified_huber(loss):
    return [(-1.0, -4.0), (1.0, 0.0)]


def _kinks_perceptron(loss):
    return [(0.0, -1.0)]  # the perceptron's update rule, not the subgradient 0


REG, CLF = "regression", "classification"
RES, MAR, SMOOTH = "residual", "margin", None

# (registered name, constructor kwargs, task, variable, reference, kinks)
LOSS_CASES = [
    ("absolute_error", {}, REG, RES, _ref_absolute_error, _kinks_at_zero),
    ("cross_entropy", {}, CLF, SMOOTH, _ref_log_loss, _no_kinks),
    ("epsilon_insensitive", {}, REG, RES, _ref_epsilon_insensitive, _kinks_epsilon),
    (
        "epsilon_insensitive",
        {"epsilon": 0.3},
        REG,
        RES,
        _ref_epsilon_insensitive,
        _kinks_epsilon,
    ),
    ("hinge", {}, CLF, MAR, _ref_hinge, _kinks_hinge),
    ("huber", {}, REG, RES, _ref_huber, _kinks_huber),
    ("huber", {"delta": 2.5}, REG, RES, _ref_huber, _kinks_huber),
    ("log_loss", {}, CLF, SMOOTH, _ref_log_loss, _no_kinks),
    ("modified_huber", {}, CLF, MAR, _ref_modified_huber, _kinks_modified_huber),
    ("perceptron", {}, CLF, MAR, _ref_perceptron, _kinks_perceptron),
    ("poisson", {}, REG, SMOOTH, _ref_poisson, _no_kinks),
    ("quantile", {}, REG, RES, _ref_quantile, _kinks_at_zero),
    ("quantile", {"quantile": 0.1}, REG, RES, _ref_quantile, _kinks_at_zero),
    ("quantile", {"quantile": 0.9}, REG, RES, _ref_quantile, _kinks_at_zero),
    (
        "squared_epsilon_insensitive",
        {},
        REG,
        RES,
        _ref_squared_epsilon_insensitive,
        _kinks_epsilon,
    ),
    (
        "squared_epsilon_insensitive",
        {"epsilon": 0.3},
        REG,
        RES,
        _ref_squared_epsilon_insensitive,
        _kinks_epsilon,
    ),
    ("squared_error", {}, REG, RES, _ref_squared_error, _no_kinks),
    ("squared_error", {}, CLF, RES, _ref_squared_error, _no_kinks),
    ("squared_hinge", {}, CLF, MAR, _ref_squared_hinge, _kinks_hinge),
]


def _case_id(case):
    name, kwargs, task = case[:3]
    parts = [name] + [f"{k}={v}" for k, v in kwargs.items()]
    if task == CLF and name == "squared_error":
        parts.append("clf")
    return "-".join(parts)


CASES = [pytest.param(case, id=_case_id(case)) for case in LOSS_CASES]
# "single": one output (binary classification); "multi": 3 regression outputs
# or 4 classes.
LAYOUTS = ["single", "multi"]


def _make_loss(case):
    name, kwargs = case[:2]
    entries = {n: (cls, defaults) for n, cls, defaults in LOSSES.items()}
    cls, defaults = entries[name]
    loss = cls(**{**defaults, **kwargs})
    loss._validate()
    return loss


def _n_outputs(task, layout):
    if layout == "single":
        return 1
    return 3 if task == REG else 4


def _targets(case, layout, n, rng, dtype=np.float64):
    """Targets encoded as the regressor / classifier passes them to the loss."""
    loss = _make_loss(case)
    task = case[2]
    k = _n_outputs(task, layout)
    if task == REG:
        if isinstance(loss, Poisson):
            y = rng.poisson(3.0, size=(n, k)).astype(float)
        else:
            y = rng.normal(scale=2.0, size=(n, k))
        return y.astype(dtype)
    if k == 1:
        y = rng.integers(0, 2, size=n)[:, None].astype(float)
    else:
        y = np.zeros((n, k))
        y[np.arange(n), rng.integers(0, k, size=n)] = 1.0
    if loss.classification_target == "sign":
        y = 2 * y - 1
    else:
        assert loss.classification_target == "zero_one"
    return y.astype(dtype)


def _variable_values(kinks, shape, rng, margin=1e-3):
    """Values of r or m on both sides of every kink, at least ``margin`` away."""
    near = [v0 + s for v0, _ in kinks for s in (-0.3, -2e-3, 2e-3, 0.3)]
    far = rng.uniform(-4, 4, size=int(np.prod(shape)))
    values = np.concatenate([near, far])
    for v0, _ in kinks:
        values = values[np.abs(values - v0) > margin]
    values = values[: int(np.prod(shape))]
    assert values.size == np.prod(shape)
    # Every near-kink point is used, in a random position.
    return rng.permutation(values).reshape(shape)


def _raw(case, y, rng):
    """Raw predictions whose residuals / margins avoid the kinks."""
    loss = _make_loss(case)
    variable, kinks = case[3], case[5](loss)
    if variable == RES:
        return y - _variable_values(kinks, y.shape, rng)
    if variable == MAR:
        return y * _variable_values(kinks, y.shape, rng)
    if isinstance(loss, Poisson):
        return rng.uniform(-2, 2, size=y.shape)
    return rng.normal(scale=2.0, size=y.shape)


def _numerical_gradient(loss, y, raw, h=1e-6):
    """Central differences of ``loss.loss(y, raw).sum()`` w.r.t. ``raw``."""

    def f(flat):
        return loss.loss(y, flat.reshape(raw.shape)).sum()

    x = raw.ravel().astype(float)
    forward = approx_fprime(x, f, h)
    backward = approx_fprime(x, f, -h)
    return (0.5 * (forward + backward)).reshape(raw.shape)


# --------------------------------------------------------------------------
# 1. The table covers the registry.
# --------------------------------------------------------------------------


def test_every_registered_loss_has_a_test_row():
    rows = {(case[0], case[2]) for case in LOSS_CASES}
    missing = [
        (name, task)
        for name, cls, _ in LOSSES.items()
        for task in sorted(cls.tasks)
        if (name, task) not in rows
    ]
    assert not missing, f"registered losses without a row in LOSS_CASES: {missing}"
    unknown = {case[0] for case in LOSS_CASES} - set(LOSSES.names())
    assert not unknown, f"rows for unregistered losses: {unknown}"
    for case in LOSS_CASES:
        assert case[2] in type(_make_loss(case)).tasks, _case_id(case)


def test_table_rows_use_the_requested_parameters():
    for case in LOSS_CASES:
        params = _make_loss(case).get_params()
        for key, value in case[1].items():
            assert params[key] == value, _case_id(case)


# --------------------------------------------------------------------------
# 2. Loss values equal the formulas.
# --------------------------------------------------------------------------


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("case", CASES)
def test_loss_matches_formula(case, layout):
    rng = np.random.default_rng(0)
    loss = _make_loss(case)
    y = _targets(case, layout, 30, rng)
    raw = _raw(case, y, rng)
    # Also points right at the kinks and far from them.
    raw[:3] = rng.normal(scale=10.0, size=(3, y.shape[1]))
    expected = case[4](loss, y, raw)
    value = loss.loss(y, raw)
    assert value.shape == (y.shape[0],)
    assert_allclose(value, expected, rtol=1e-12, atol=1e-12)


def test_multiclass_log_loss_is_softmax_cross_entropy():
    # logsumexp(z) - z_y with one-hot y, on hand-checked numbers.
    z = np.array([[0.0, 0.0, 0.0], [1.0, 2.0, 3.0]])
    y = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    expected = [np.log(3.0), np.log(np.exp(-2) + np.exp(-1) + 1)]
    assert_allclose(LogLoss().loss(y, z), expected, rtol=1e-14)


def test_multi_output_regression_sums_columns():
    rng = np.random.default_rng(1)
    y = rng.normal(size=(10, 3))
    raw = rng.normal(size=(10, 3))
    for loss in (Huber(delta=0.5), Quantile(quantile=0.2), Poisson()):
        yy = np.abs(y) if isinstance(loss, Poisson) else y
        per_column = [loss.loss(yy[:, [j]], raw[:, [j]]) for j in range(3)]
        assert_allclose(loss.loss(yy, raw), np.sum(per_column, axis=0), rtol=1e-12)


# --------------------------------------------------------------------------
# 3. Gradients match finite differences; loss_gradient is (loss, gradient).
# --------------------------------------------------------------------------


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("case", CASES)
def test_gradient_matches_finite_differences(case, layout):
    rng = np.random.default_rng(2)
    loss = _make_loss(case)
    n = 20 if layout == "single" else 10
    y = _targets(case, layout, n, rng)
    raw = _raw(case, y, rng)
    grad = loss.gradient(y, raw)
    assert grad.shape == y.shape
    assert_allclose(grad, _numerical_gradient(loss, y, raw), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("case", CASES)
def test_loss_gradient_is_loss_and_gradient(case, layout):
    rng = np.random.default_rng(3)
    loss = _make_loss(case)
    y = _targets(case, layout, 15, rng)
    raw = _raw(case, y, rng)
    y_copy, raw_copy = y.copy(), raw.copy()
    value, grad = loss.loss_gradient(y, raw)
    assert_array_equal(value, loss.loss(y, raw))
    assert_array_equal(grad, loss.gradient(y, raw))
    # The inputs are not modified in place.
    assert_array_equal(y, y_copy)
    assert_array_equal(raw, raw_copy)


# --------------------------------------------------------------------------
# 4. Documented subgradients at the kinks.
# --------------------------------------------------------------------------

KINK_CASES = [c for c in CASES if c.values[0][5](_make_loss(c.values[0]))]


def _at_kink(variable, v0, y):
    """Raw predictions putting every entry exactly at the kink ``v0``."""
    if variable == MAR:
        return y * v0  # t * (t v0) = v0 exactly
    # r = y - z = v0 exactly for these pairs (y, z).
    pairs = np.array([(v0, 0.0), (0.0, -v0), (2 * v0, v0)])
    assert_array_equal(pairs[:, 0] - pairs[:, 1], v0)
    choice = np.arange(y.size).reshape(y.shape) % len(pairs)
    return pairs[choice, 0], pairs[choice, 1]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("case", KINK_CASES)
def test_gradient_at_kinks_is_the_documented_subgradient(case, layout):
    rng = np.random.default_rng(4)
    loss = _make_loss(case)
    variable, kinks = case[3], case[5](loss)
    for v0, dphi in kinks:
        y = _targets(case, layout, 12, rng)
        if variable == MAR:
            raw = _at_kink(variable, v0, y)
            expected = y * dphi
        else:
            y, raw = _at_kink(variable, v0, y)
            expected = np.full(y.shape, -dphi)
        assert_array_equal(loss.gradient(y, raw), expected, err_msg=f"kink {v0}")
        assert_allclose(loss.loss(y, raw), case[4](loss, y, raw), atol=1e-15)


def test_documented_subgradients_explicit():
    t = np.array([[1.0], [-1.0]])
    # hinge at t z = 1
    assert_array_equal(Hinge().gradient(t, t.copy()), 0.0)
    # absolute error and quantiles at r = 0
    y = np.array([[2.0], [-0.5]])
    assert_array_equal(AbsoluteError().gradient(y, y.copy()), 0.0)
    for q in (0.1, 0.5, 0.9):
        assert_array_equal(Quantile(quantile=q).gradient(y, y.copy()), 0.0)
    # epsilon losses at |r| = epsilon
    y = np.array([[0.3], [-0.3]])
    zero = np.zeros_like(y)
    assert_array_equal(EpsilonInsensitive(epsilon=0.3).gradient(y, zero), 0.0)
    assert_array_equal(SquaredEpsilonInsensitive(epsilon=0.3).gradient(y, zero), 0.0)
    # ... and just outside the insensitive zone the slope is -sign(r)
    y_out = np.array([[0.31], [-0.31]])
    assert_allclose(EpsilonInsensitive(epsilon=0.3).gradient(y_out, zero), [[-1], [1]])
    # perceptron at t z = 0 uses -t, binary and one-vs-rest multiclass
    assert_array_equal(Perceptron().gradient(t, np.zeros_like(t)), -t)
    T = 2 * np.eye(3) - 1
    assert_array_equal(Perceptron().gradient(T, np.zeros_like(T)), -T)


# --------------------------------------------------------------------------
# 5. The baseline is the best constant raw prediction.
# --------------------------------------------------------------------------

OPTIMAL_BASELINE_NAMES = {
    "squared_error",
    "absolute_error",
    "quantile",
    "poisson",
    "log_loss",
    "cross_entropy",
    "hinge",
    "squared_hinge",
    "modified_huber",
}
BASELINE_CASES = [c for c in CASES if c.values[0][0] in OPTIMAL_BASELINE_NAMES]
MEDIAN_BASELINE_CASES = [
    c
    for c in CASES
    if c.values[0][0] in {"huber", "epsilon_insensitive", "squared_epsilon_insensitive"}
]


def _baseline_data(case, layout, weighted, rng):
    n = 41
    task = case[2]
    y = _targets(case, layout, n, rng)
    if task == CLF:
        # Imbalanced classes, so that the best constant is not 0.
        loss = _make_loss(case)
        k = y.shape[1]
        probs = [0.3, 0.7] if k == 1 else [0.45, 0.3, 0.2, 0.05]
        labels = rng.choice(len(probs), size=n, p=probs)
        y = (labels == 1).astype(float)[:, None] if k == 1 else np.eye(k)[labels]
        if loss.classification_target == "sign":
            y = 2 * y - 1
    elif not isinstance(_make_loss(case), Poisson):
        y = y + 5.0
    sw = rng.uniform(0.1, 2.0, size=n) if weighted else None
    return y, sw


def _objective(loss, y, sw, c):
    raw = np.broadcast_to(np.asarray(c, dtype=float), y.shape)
    per_sample = loss.loss(y, raw)
    return float(np.sum(per_sample if sw is None else sw * per_sample))


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("case", BASELINE_CASES)
def test_baseline_is_the_best_constant(case, layout, weighted):
    rng = np.random.default_rng(5)
    loss = _make_loss(case)
    y, sw = _baseline_data(case, layout, weighted, rng)
    c = np.asarray(loss.baseline(y, sw), dtype=float)
    assert c.shape == (y.shape[1],)
    best = _objective(loss, y, sw, c)
    tol = 1e-10 * max(1.0, abs(best))
    for j in range(y.shape[1]):
        for delta in (-0.5, -1e-2, -1e-4, 1e-4, 1e-2, 0.5):
            moved = c.copy()
            moved[j] += delta
            assert _objective(loss, y, sw, moved) >= best - tol, (j, delta)
    if y.shape[1] == 1:
        res = minimize_scalar(
            lambda s: _objective(loss, y, sw, [s]),
            bounds=(c[0] - 5, c[0] + 5),
            method="bounded",
            options={"xatol": 1e-10},
        )
        assert best <= res.fun + tol


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("case", MEDIAN_BASELINE_CASES)
def test_huber_and_epsilon_baselines_are_weighted_medians(case, weighted):
    # DESIGN.md section 1 starts these losses at the median.
    rng = np.random.default_rng(6)
    loss = _make_loss(case)
    y, sw = _baseline_data(case, "multi", weighted, rng)
    w = np.ones(len(y)) if sw is None else sw
    c = loss.baseline(y, sw)
    for j in range(y.shape[1]):
        assert w[y[:, j] < c[j]].sum() <= 0.5 * w.sum()
        assert w[y[:, j] > c[j]].sum() <= 0.5 * w.sum()


def test_baseline_of_absent_class_and_zero_counts_is_finite():
    y = np.zeros((5, 1))
    assert np.all(np.isfinite(Poisson().baseline(y)))
    y = np.zeros((4, 3))
    y[:, 0] = 1
    c = LogLoss().baseline(y)
    assert np.all(np.isfinite(c))
    assert np.argmax(c) == 0


# --------------------------------------------------------------------------
# 6. Probabilities, link, target checks and parameter validation.
# --------------------------------------------------------------------------


def test_log_loss_predict_proba():
    rng = np.random.default_rng(7)
    z = rng.normal(scale=3.0, size=(20, 1))
    proba = LogLoss().predict_proba(z)
    assert proba.shape == (20, 2)
    assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    assert_allclose(proba[:, 1], 1 / (1 + np.exp(-z[:, 0])), rtol=1e-12)
    Z = rng.normal(scale=3.0, size=(20, 4))
    proba = LogLoss().predict_proba(Z)
    assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    softmax = np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)
    assert_allclose(proba, softmax, rtol=1e-12)


def test_modified_huber_predict_proba():
    z = np.array([[-3.0], [-1.0], [-0.5], [0.0], [0.4], [1.0], [7.0]])
    proba = ModifiedHuber().predict_proba(z)
    p1 = (np.clip(z[:, 0], -1, 1) + 1) / 2
    assert_allclose(proba, np.column_stack([1 - p1, p1]), rtol=1e-15)

    Z = np.array(
        [
            [0.5, -0.2, 2.0],
            [-2.0, -0.5, -3.0],
            [-2.0, -5.0, -1.5],  # every column < -1: uniform
            [1.0, 1.0, 1.0],
        ]
    )
    proba = ModifiedHuber().predict_proba(Z)
    unnorm = (np.clip(Z, -1, 1) + 1) / 2
    assert_array_equal(unnorm[2], 0.0)
    unnorm[2] = 1.0  # no evidence for any class
    expected = unnorm / unnorm.sum(axis=1, keepdims=True)
    assert_allclose(proba, expected, rtol=1e-15)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_modified_huber_predict_proba_matches_sgd_classifier(n_classes):
    rng = np.random.default_rng(8)
    k = 1 if n_classes == 2 else n_classes
    Z = rng.uniform(-3, 3, size=(30, k))
    Z[0] = -2.0  # all columns below -1
    X = rng.normal(size=(30, 2))
    y = np.arange(30) % n_classes
    clf = SGDClassifier(loss="modified_huber", max_iter=5, tol=None).fit(X, y)
    # Make decision_function(Z) == Z.
    clf.coef_ = np.eye(k)
    clf.intercept_ = np.zeros(k)
    clf.n_features_in_ = k
    assert_allclose(clf.decision_function(Z).reshape(30, k), Z)
    assert_allclose(ModifiedHuber().predict_proba(Z), clf.predict_proba(Z))


def test_poisson_inverse_link_is_exp():
    z = np.linspace(-5, 5, 11)[:, None]
    assert_allclose(Poisson().inverse_link(z), np.exp(z), rtol=1e-15)
    # Identity for the identity-link losses.
    assert_array_equal(Huber().inverse_link(z), z)


def test_poisson_check_target():
    Poisson().check_target(np.array([[0.0], [3.0]]))
    with pytest.raises(ValueError, match="non-negative"):
        Poisson().check_target(np.array([[1.0], [-0.5]]))


@pytest.mark.parametrize(
    "loss",
    [
        Huber(delta=0),
        Huber(delta=-1.0),
        Quantile(quantile=1.0),
        Quantile(quantile=0.0),
        EpsilonInsensitive(epsilon=-1),
        SquaredEpsilonInsensitive(epsilon=-1),
        Huber(delta="1"),
        Quantile(quantile=np.nan),
    ],
    ids=repr,
)
def test_validate_rejects_bad_parameters(loss):
    with pytest.raises(ValueError):
        loss._validate()


@pytest.mark.parametrize(
    "loss",
    [Huber(delta=1e-3), Quantile(quantile=0.01), EpsilonInsensitive(epsilon=0)],
    ids=repr,
)
def test_validate_accepts_edge_parameters(loss):
    loss._validate()  # does not raise
    assert loss.get_params()


# --------------------------------------------------------------------------
# 7. Finite values at large raw predictions.
# --------------------------------------------------------------------------

CLF_CASES = [c for c in CASES if c.values[0][2] == CLF]


def _stable_log_loss(y, z):
    # Reference written with the max trick, so that it never overflows.
    if z.shape[1] == 1:
        z, y = z[:, 0], y[:, 0]
        return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z))) - y * z
    zmax = z.max(axis=1)
    lse = zmax + np.log(np.exp(z - zmax[:, None]).sum(axis=1))
    return lse - z[np.arange(len(z)), np.argmax(y, axis=1)]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("case", CLF_CASES)
def test_large_raw_predictions_are_finite(case, layout, dtype):
    rng = np.random.default_rng(9)
    loss = _make_loss(case)
    y = _targets(case, layout, 40, rng)
    raw = rng.choice([-1e4, -1e3, -50.0, 0.0, 50.0, 1e3, 1e4], size=y.shape)
    with np.errstate(under="ignore"):
        if case[4] is _ref_log_loss:
            expected = _stable_log_loss(y, raw)
        else:
            expected = case[4](loss, y, raw)
    y, raw = y.astype(dtype), raw.astype(dtype)
    # Everything raises, except for log_loss the underflow of exp(-1e4) to 0
    # inside logaddexp / softmax, which is harmless (numpy ignores it by default,
    # without a RuntimeWarning).
    is_log_loss = isinstance(loss, LogLoss)
    errstate = {"all": "raise", "under": "ignore" if is_log_loss else "raise"}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(**errstate):
            value, grad = loss.loss_gradient(y, raw)
            if hasattr(loss, "predict_proba"):
                proba = loss.predict_proba(raw)
                assert np.all(np.isfinite(proba))
    assert np.all(np.isfinite(value))
    assert np.all(np.isfinite(grad))
    # Cancellation in lse(z) - z_y loses up to a few ulps of max|z| = 1e4.
    eps = np.finfo(dtype).eps
    assert_allclose(value, expected, rtol=100 * eps, atol=4e4 * eps)


# --------------------------------------------------------------------------
# 8. float32 in, float32 out.
# --------------------------------------------------------------------------


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("case", CASES)
def test_float32_inputs_give_float32_outputs(case, layout):
    rng = np.random.default_rng(10)
    loss = _make_loss(case)
    y = _targets(case, layout, 25, rng)
    raw = _raw(case, y, rng)
    y32, raw32 = y.astype(np.float32), raw.astype(np.float32)
    value, grad = loss.loss_gradient(y32, raw32)
    assert grad.dtype == np.float32
    assert loss.gradient(y32, raw32).dtype == np.float32
    assert value.dtype == np.float32
    assert loss.baseline(y32).dtype == np.float32
    sw = rng.uniform(0.5, 1.5, size=len(y))
    assert loss.baseline(y32, sw).dtype == np.float32
    # Same values as in float64 (no kink lies between the two roundings).
    value64, grad64 = loss.loss_gradient(y32.astype(float), raw32.astype(float))
    assert_allclose(grad, grad64, rtol=1e-4, atol=1e-4)
    assert_allclose(value, value64, rtol=1e-4, atol=1e-4)
