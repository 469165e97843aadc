"""Tests of the optimizers against independent re-implementations of torch.optim.

Every stochastic optimizer registered in ``OPTIMIZERS`` needs a row in
``OPTIMIZER_CASES``; full-batch optimizers are listed in ``FULL_BATCH`` and
have their own tests. The finite-sum SAGA's row checks its update on the
gradient estimate (a plain step); the estimate, built from its table by the
training loop, is checked step by step in ``test_saga.py``.
"""

import math
import re
from functools import partial

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import BaseEstimator, clone
from sklearn.linear_model import LinearRegression

from sklearn_nnopt import OPTIMIZERS
from sklearn_nnopt.optimizers import (
    LBFGS,
    SAGA,
    SGD,
    Adadelta,
    Adagrad,
    Adam,
    Adamax,
    AdamW,
    NAdam,
    Newton,
    Optimizer,
    ProblemScale,
    RMSprop,
)

# ---------------------------------------------------------------------------
# Reference update rules, written from the torch.optim documentation on plain
# Python floats, one scalar parameter at a time.  ``update(key, theta, g, lr, t)``
# returns the new value of the scalar parameter ``key = (k, j)`` (entry ``j`` of
# ``params[k]``; ``k == 0`` is ``coef``) at step ``t`` (1-based), and records in
# ``update.step_size[key]`` the step size the update applied to that entry's
# gradient (what the ``StepSize`` that ``Optimizer.step`` returns gives for ``coef``).
# ---------------------------------------------------------------------------


def torch_sgd(momentum=0.0, nesterov=False):
    """``torch.optim.SGD(lr, momentum, dampening=0, nesterov, weight_decay=0)``."""
    bufs = {}
    step_size = {}

    def update(key, theta, g, lr, t):
        if momentum != 0:
            buf = g if t == 1 else momentum * bufs[key] + g
            bufs[key] = buf
            g = g + momentum * buf if nesterov else buf
        # A gradient's whole effect through the momentum buffer (README): a
        # gradient seen once moves theta by lr (1 + mu + mu**2 + ...) g.
        step_size[key] = lr / (1 - momentum)
        return theta - lr * g

    update.step_size = step_size
    return update


def torch_adam(beta_1=0.9, beta_2=0.999, epsilon=1e-8, amsgrad=False):
    """``torch.optim.Adam(lr, betas=(beta_1, beta_2), eps, amsgrad)``."""
    state = {}
    step_size = {}

    def update(key, theta, g, lr, t):
        m, v, v_max = state.get(key, (0.0, 0.0, 0.0))
        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g * g
        bias_correction1 = 1 - beta_1**t
        bias_correction2 = 1 - beta_2**t
        if amsgrad:
            v_max = max(v_max, v)
            denom = math.sqrt(v_max) / math.sqrt(bias_correction2) + epsilon
        else:
            denom = math.sqrt(v) / math.sqrt(bias_correction2) + epsilon
        state[key] = (m, v, v_max)
        step_size[key] = lr / bias_correction1 / denom
        return theta - (lr / bias_correction1) * m / denom

    update.step_size = step_size
    return update


def torch_adamw(
    beta_1=0.9,
    beta_2=0.999,
    epsilon=1e-8,
    weight_decay=0.01,
    amsgrad=False,
    lr_unit=None,
):
    """``torch.optim.AdamW(lr, betas, eps, weight_decay, amsgrad)`` on ``coef`` only.

    theta <- theta (1 - lr lambda), then the Adam step.  The decay applies to
    ``params[0]`` (``coef``) and never to the intercept.  With ``lr_unit`` (the
    ``lr_unit`` passed to each step) the decay rate is ``lr / lr_unit`` instead of
    ``lr``.
    """
    adam = torch_adam(beta_1, beta_2, epsilon, amsgrad)

    def update(key, theta, g, lr, t):
        if key[0] == 0:
            rate = lr if lr_unit is None else lr / lr_unit
            theta = theta * (1 - rate * weight_decay)
        return adam(key, theta, g, lr, t)

    update.step_size = adam.step_size
    return update


def torch_nadam(beta_1=0.9, beta_2=0.999, epsilon=1e-8, momentum_decay=0.004):
    """``torch.optim.NAdam(lr, betas, eps, momentum_decay)`` (not decoupled)."""
    state = {}
    step_size = {}

    def mu(i):
        return beta_1 * (1 - 0.5 * 0.96 ** (i * momentum_decay))

    def update(key, theta, g, lr, t):
        m, v = state.get(key, (0.0, 0.0))
        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g * g
        state[key] = (m, v)
        mu_t, mu_next = mu(t), mu(t + 1)
        prod_t = math.prod(mu(i) for i in range(1, t + 1))
        prod_next = math.prod(mu(i) for i in range(1, t + 2))
        m_hat = mu_next * m / (1 - prod_next) + (1 - mu_t) * g / (1 - prod_t)
        v_hat = v / (1 - beta_2**t)
        denom = math.sqrt(v_hat) + epsilon
        # g_t's whole effect, directly (1 - mu) and through the momentum
        # average (mu), is lr / denom, as for Adam after bias correction.
        step_size[key] = lr / denom
        return theta - lr * m_hat / denom

    update.step_size = step_size
    return update


def torch_adamax(beta_1=0.9, beta_2=0.999, epsilon=1e-8):
    """``torch.optim.Adamax(lr, betas, eps)``."""
    state = {}
    step_size = {}

    def update(key, theta, g, lr, t):
        m, u = state.get(key, (0.0, 0.0))
        m = beta_1 * m + (1 - beta_1) * g
        u = max(beta_2 * u, abs(g) + epsilon)
        state[key] = (m, u)
        step_size[key] = lr / (1 - beta_1**t) / u
        return theta - lr / (1 - beta_1**t) * m / u

    update.step_size = step_size
    return update


def torch_rmsprop(rho=0.99, epsilon=1e-8, momentum=0.0, centered=False):
    """``torch.optim.RMSprop(lr, alpha=rho, eps, momentum, centered)``."""
    state = {}
    step_size = {}

    def update(key, theta, g, lr, t):
        v, g_ave, b = state.get(key, (0.0, 0.0, 0.0))
        v = rho * v + (1 - rho) * g * g
        v_tilde = v
        if centered:
            g_ave = rho * g_ave + (1 - rho) * g
            v_tilde = v - g_ave * g_ave
        denom = math.sqrt(v_tilde) + epsilon
        # With momentum, the whole effect through b (README): 1 / (1 - mu) times.
        step_size[key] = lr / (1 - momentum) / denom
        if momentum > 0:
            b = momentum * b + g / denom
            theta = theta - lr * b
        else:
            theta = theta - lr * g / denom
        state[key] = (v, g_ave, b)
        return theta

    update.step_size = step_size
    return update


def torch_adagrad(epsilon=1e-10, initial_accumulator_value=0.0):
    """``torch.optim.Adagrad(lr, lr_decay=0, eps, initial_accumulator_value)``."""
    state_sum = {}
    step_size = {}

    def update(key, theta, g, lr, t):
        s = state_sum.get(key, initial_accumulator_value) + g * g
        state_sum[key] = s
        denom = math.sqrt(s) + epsilon
        step_size[key] = lr / denom
        return theta - lr * g / denom

    update.step_size = step_size
    return update


def torch_adadelta(rho=0.9, epsilon=1e-6):
    """``torch.optim.Adadelta(lr, rho, eps)``."""
    state = {}
    step_size = {}

    def update(key, theta, g, lr, t):
        v, u = state.get(key, (0.0, 0.0))
        v = rho * v + (1 - rho) * g * g
        ratio = math.sqrt(u + epsilon) / math.sqrt(v + epsilon)
        delta = ratio * g
        u = rho * u + (1 - rho) * delta * delta
        state[key] = (v, u)
        step_size[key] = lr * ratio
        return theta - lr * delta

    update.step_size = step_size
    return update


def reference_run(update, params0, grad_seq, lrs):
    """Apply a scalar reference rule elementwise.

    Returns the params after each step and the reference's step size of every
    ``coef`` entry at each step.
    """
    flat = [p.astype(float).ravel().tolist() for p in params0]
    trajectory, coef_steps = [], []
    for t, (grads, lr) in enumerate(zip(grad_seq, lrs, strict=True), start=1):
        for k, g in enumerate(grads):
            g_flat = g.astype(float).ravel().tolist()
            flat[k] = [
                update((k, j), theta, g_flat[j], lr, t)
                for j, theta in enumerate(flat[k])
            ]
        trajectory.append(
            [np.array(f).reshape(p.shape) for f, p in zip(flat, params0, strict=True)]
        )
        coef_steps.append(
            np.array(
                [update.step_size[(0, j)] for j in range(params0[0].size)]
            ).reshape(params0[0].shape)
        )
    return trajectory, coef_steps


def reference_trajectory(update, params0, grad_seq, lrs):
    """Params after each step under a scalar reference rule."""
    return reference_run(update, params0, grad_seq, lrs)[0]


# (label, registered name or instance, factory of a fresh reference rule).  The
# reference gets its hyperparameters written out here, not read from the
# optimizer, so the registry's defaults are checked too.
OPTIMIZER_CASES = [
    ("sgd", "sgd", partial(torch_sgd)),
    ("momentum", "momentum", partial(torch_sgd, momentum=0.9)),
    ("nesterov", "nesterov", partial(torch_sgd, momentum=0.9, nesterov=True)),
    ("adam", "adam", partial(torch_adam)),
    ("amsgrad", "amsgrad", partial(torch_adam, amsgrad=True)),
    ("SGD(momentum=0.5)", SGD(momentum=0.5), partial(torch_sgd, momentum=0.5)),
    (
        "SGD(momentum=0.5, nesterov=True)",
        SGD(momentum=0.5, nesterov=True),
        partial(torch_sgd, momentum=0.5, nesterov=True),
    ),
    (
        "Adam(beta_1=0.8, beta_2=0.99, epsilon=1e-3)",
        Adam(beta_1=0.8, beta_2=0.99, epsilon=1e-3),
        partial(torch_adam, beta_1=0.8, beta_2=0.99, epsilon=1e-3),
    ),
    (
        "Adam(amsgrad=True, beta_2=0.9)",
        Adam(amsgrad=True, beta_2=0.9),
        partial(torch_adam, beta_2=0.9, amsgrad=True),
    ),
    ("adamw", "adamw", partial(torch_adamw)),
    ("nadam", "nadam", partial(torch_nadam)),
    ("adamax", "adamax", partial(torch_adamax)),
    ("rmsprop", "rmsprop", partial(torch_rmsprop)),
    ("adagrad", "adagrad", partial(torch_adagrad)),
    ("adadelta", "adadelta", partial(torch_adadelta)),
    (
        "AdamW(weight_decay=0.1)",
        AdamW(weight_decay=0.1),
        partial(torch_adamw, weight_decay=0.1),
    ),
    ("AdamW(amsgrad=True)", AdamW(amsgrad=True), partial(torch_adamw, amsgrad=True)),
    (
        "NAdam(momentum_decay=0.01, beta_1=0.8)",
        NAdam(momentum_decay=0.01, beta_1=0.8),
        partial(torch_nadam, beta_1=0.8, momentum_decay=0.01),
    ),
    ("Adamax(beta_2=0.9)", Adamax(beta_2=0.9), partial(torch_adamax, beta_2=0.9)),
    (
        "RMSprop(momentum=0.5)",
        RMSprop(momentum=0.5),
        partial(torch_rmsprop, momentum=0.5),
    ),
    (
        "RMSprop(centered=True)",
        RMSprop(centered=True),
        partial(torch_rmsprop, centered=True),
    ),
    (
        "RMSprop(momentum=0.5, centered=True, rho=0.9)",
        RMSprop(momentum=0.5, centered=True, rho=0.9),
        partial(torch_rmsprop, rho=0.9, momentum=0.5, centered=True),
    ),
    (
        "Adagrad(initial_accumulator_value=0.1)",
        Adagrad(initial_accumulator_value=0.1),
        partial(torch_adagrad, initial_accumulator_value=0.1),
    ),
    (
        "Adagrad(epsilon=1e-3)",
        Adagrad(epsilon=1e-3),
        partial(torch_adagrad, epsilon=1e-3),
    ),
    (
        "Adadelta(rho=0.5, epsilon=1e-3)",
        Adadelta(rho=0.5, epsilon=1e-3),
        partial(torch_adadelta, rho=0.5, epsilon=1e-3),
    ),
    # SAGA and SAG step plainly on the estimate the loop builds from their
    # table (tests/test_saga.py writes the table out step by step).
    ("saga", "saga", partial(torch_sgd)),
    ("sag", "sag", partial(torch_sgd)),
]
CASE_IDS = [label for label, _, _ in OPTIMIZER_CASES]
REFERENCES = {label: reference for label, _, reference in OPTIMIZER_CASES}
SPECS = {label: spec for label, spec, _ in OPTIMIZER_CASES}

# Full-batch optimizers: tested separately below.
FULL_BATCH = ["lbfgs", "newton"]

N_STEPS = 6
LRS = [0.1 / t for t in range(1, N_STEPS + 1)]
# Gradient sizes vary over steps (large first, tiny later) so that the second
# moment decreases at some point and AMSGrad's running maximum matters.
GRAD_SCALES = [3.0, 1.0, 0.05, 2.0, 0.01, 0.5]


def _make(spec):
    """A fresh optimizer: created from its name, or a clone of the table's instance."""
    if isinstance(spec, str):
        return OPTIMIZERS.create(spec, "optimizer")
    return clone(spec)


def _problem(fit_intercept=True, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    params0 = [rng.standard_normal((2, 3)).astype(dtype)]
    if fit_intercept:
        params0.append(rng.standard_normal(2).astype(dtype))
    grad_seq = [
        [(scale * rng.standard_normal(p.shape)).astype(dtype) for p in params0]
        for scale in GRAD_SCALES
    ]
    return params0, grad_seq


def _run(opt, params0, grad_seq, lrs, **step_kwargs):
    params = [p.copy() for p in params0]
    trajectory = []
    for grads, lr in zip(grad_seq, lrs, strict=True):
        opt.step(params, [g.copy() for g in grads], lr, **step_kwargs)
        trajectory.append([p.copy() for p in params])
    return params, trajectory


def _state_names(opt):
    """What an optimizer's state holds: its step count and its buffers, by name."""
    state = vars(opt).get("state_")
    return [] if state is None else sorted(["step", *state.values])


# ---------------------------------------------------------------------------
# The table covers the registry.
# ---------------------------------------------------------------------------


def test_every_registered_optimizer_has_a_test_row():
    covered = {spec for _, spec, _ in OPTIMIZER_CASES if isinstance(spec, str)}
    covered |= set(FULL_BATCH)
    missing = set(OPTIMIZERS.names()) - covered
    assert not missing, f"optimizers without a row in OPTIMIZER_CASES: {missing}"
    unknown = covered - set(OPTIMIZERS.names())
    assert not unknown, f"test rows for unregistered names: {unknown}"


def test_full_batch_list_matches_stochastic_flag():
    for name, cls, _ in OPTIMIZERS.items():
        assert cls.stochastic is (name not in FULL_BATCH), name


@pytest.mark.parametrize("label, spec, reference", OPTIMIZER_CASES, ids=CASE_IDS)
def test_table_rows_are_valid_stochastic_optimizers(label, spec, reference):
    opt = _make(spec)
    assert isinstance(opt, Optimizer)
    assert opt.stochastic is True
    opt._validate()  # must not raise


# ---------------------------------------------------------------------------
# Update rules against the torch.optim references.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("label, spec, reference", OPTIMIZER_CASES, ids=CASE_IDS)
def test_step_matches_torch_reference(label, spec, reference, fit_intercept):
    params0, grad_seq = _problem(fit_intercept)
    opt = _make(spec)
    _, trajectory = _run(opt, params0, grad_seq, LRS)
    expected = reference_trajectory(reference(), params0, grad_seq, LRS)
    for t, (got, want) in enumerate(zip(trajectory, expected, strict=True), 1):
        assert len(got) == len(want)
        for p_got, p_want in zip(got, want, strict=True):
            assert p_got.dtype == np.float64
            assert_allclose(p_got, p_want, rtol=1e-12, atol=0, err_msg=f"step {t}")
    # The parameters actually moved.
    assert not np.allclose(trajectory[-1][0], params0[0])


@pytest.mark.parametrize(
    "a, b",
    [
        ("momentum", "nesterov"),
        ("sgd", "momentum"),
        ("adam", "amsgrad"),
        ("Adam(beta_1=0.8, beta_2=0.99, epsilon=1e-3)", "adam"),
        ("Adam(amsgrad=True, beta_2=0.9)", "adam"),
        ("adamw", "adam"),
        ("AdamW(weight_decay=0.1)", "adamw"),
        ("AdamW(amsgrad=True)", "adamw"),
        ("NAdam(momentum_decay=0.01, beta_1=0.8)", "nadam"),
        ("nadam", "adam"),
        ("Adamax(beta_2=0.9)", "adamax"),
        ("adamax", "adam"),
        ("RMSprop(momentum=0.5)", "rmsprop"),
        ("RMSprop(centered=True)", "rmsprop"),
        (
            "RMSprop(momentum=0.5, centered=True, rho=0.9)",
            "RMSprop(momentum=0.5)",
        ),
        ("Adagrad(initial_accumulator_value=0.1)", "adagrad"),
        ("Adagrad(epsilon=1e-3)", "adagrad"),
        ("Adadelta(rho=0.5, epsilon=1e-3)", "adadelta"),
    ],
)
def test_variants_give_different_trajectories(a, b):
    # Guards the table: the gradient sequence exercises what distinguishes rows.
    params0, grad_seq = _problem()
    last_a = reference_trajectory(REFERENCES[a](), params0, grad_seq, LRS)[-1]
    last_b = reference_trajectory(REFERENCES[b](), params0, grad_seq, LRS)[-1]
    assert not np.allclose(last_a[0], last_b[0], rtol=1e-6, atol=0)


def test_amsgrad_differs_from_adam_with_same_betas():
    params0, grad_seq = _problem()
    adam, _ = _run(Adam(beta_2=0.9), params0, grad_seq, LRS)
    ams, _ = _run(Adam(beta_2=0.9, amsgrad=True), params0, grad_seq, LRS)
    assert not np.allclose(adam[0], ams[0], rtol=1e-6, atol=0)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("label, spec, reference", OPTIMIZER_CASES, ids=CASE_IDS)
def test_coef_step_size_matches_reference(label, spec, reference, fit_intercept):
    # The StepSize each step returns gives the step size the reference applied
    # to each coefficient's gradient, from the state the step left.
    params0, grad_seq = _problem(fit_intercept)
    _, expected = reference_run(reference(), params0, grad_seq, LRS)
    opt = _make(spec)
    params = [p.copy() for p in params0]
    for t, (grads, lr, want) in enumerate(zip(grad_seq, LRS, expected, strict=True)):
        step_size = opt.step(params, [g.copy() for g in grads], lr)
        got = step_size.for_coef(params[0])
        assert np.shape(got) in [(), params0[0].shape]
        got = np.broadcast_to(got, params0[0].shape)
        assert_allclose(got, want, rtol=1e-12, atol=0, err_msg=f"step {t + 1}")
        assert np.all(got > 0)
        # A query, not an update: asking again gives the same answer.
        again = np.broadcast_to(step_size.for_coef(params[0]), got.shape)
        assert_array_equal(again, got)


@pytest.mark.parametrize(
    "label",
    [
        "sgd",
        "rmsprop",
        "RMSprop(centered=True)",
        "adagrad",
        "Adagrad(initial_accumulator_value=0.1)",
        "adadelta",
        "Adadelta(rho=0.5, epsilon=1e-3)",
    ],
)
def test_coef_step_size_is_the_applied_step_without_momentum(label):
    # Without momentum these rules move coef by exactly -step_size * g.
    opt = _make(SPECS[label])
    params0, grad_seq = _problem()
    params = [p.copy() for p in params0]
    for grads, lr in zip(grad_seq, LRS, strict=True):
        before = params[0].copy()
        step = opt.step(params, [g.copy() for g in grads], lr).for_coef(params[0])
        assert_allclose(params[0] - before, -step * grads[0], rtol=1e-9, atol=1e-15)


G1 = np.array([2.0, -0.5, 1e-3, 0.0, -7.0])
THETA1 = np.array([1.0, 2.0, 3.0, -1.0, 0.5])
LR1 = 0.05
_MU1 = 0.9 * (1 - 0.5 * 0.96**0.004)
_MU2 = 0.9 * (1 - 0.5 * 0.96**0.008)


@pytest.mark.parametrize(
    "name, expected",
    [
        # Decay first, then Adam's normalized step g / (|g| + eps).
        ("adamw", THETA1 * (1 - LR1 * 0.01) - LR1 * G1 / (np.abs(G1) + 1e-8)),
        # m_hat = mu_2 (1 - beta_1) g / (1 - mu_1 mu_2) + g; v_hat = g**2.
        (
            "nadam",
            THETA1
            - LR1 * (_MU2 * 0.1 / (1 - _MU1 * _MU2) + 1) * G1 / (np.abs(G1) + 1e-8),
        ),
        # m_1 / (1 - beta_1) = g; u_1 = |g| + eps.
        ("adamax", THETA1 - LR1 * G1 / (np.abs(G1) + 1e-8)),
        # sqrt(v_1) = 0.1 |g|.
        ("rmsprop", THETA1 - LR1 * G1 / (0.1 * np.abs(G1) + 1e-8)),
        ("adagrad", THETA1 - LR1 * G1 / (np.abs(G1) + 1e-10)),
        # u_0 = 0: delta = sqrt(eps) g / sqrt(0.1 g**2 + eps).
        ("adadelta", THETA1 - LR1 * 1e-3 * G1 / np.sqrt(0.1 * G1**2 + 1e-6)),
    ],
)
def test_first_step_hand_computed(name, expected):
    params = [THETA1.copy()]
    OPTIMIZERS.create(name, "optimizer").step(params, [G1.copy()], LR1)
    assert_allclose(params[0], expected, rtol=1e-13, atol=0)
    assert params[0][3] == THETA1[3] * (1 - LR1 * 0.01 if name == "adamw" else 1)


def _zero_grads(params):
    return [np.zeros_like(p) for p in params]


@pytest.mark.parametrize("lr_unit", [None, 4.0, 0.25])
def test_adamw_decay_is_on_coef_only_and_uses_lr_unit(lr_unit):
    # A zero gradient makes the Adam part exactly zero (m = v = 0), so the step
    # is the decay alone: coef *= 1 - (lr / lr_unit) * weight_decay.
    params0, _ = _problem()
    opt = AdamW(weight_decay=0.5)
    unit = {} if lr_unit is None else {"lr_unit": lr_unit}
    rate = 1.0 if lr_unit is None else 1.0 / lr_unit
    params = [p.copy() for p in params0]
    expected_coef = params0[0].copy()
    for lr in [0.2, 0.1, 0.05]:
        opt.step(params, _zero_grads(params), lr, **unit)
        expected_coef = expected_coef * (1 - lr * rate * 0.5)
        assert_allclose(params[0], expected_coef, rtol=1e-14, atol=0)
        assert_array_equal(params[1], params0[1])
    assert opt.t_ == 3


def test_adamw_intercept_follows_adam_exactly():
    # With gradients, AdamW's intercept takes exactly Adam's steps (no decay)...
    params0, grad_seq = _problem()
    adamw, _ = _run(AdamW(weight_decay=0.5), params0, grad_seq, LRS)
    adam, _ = _run(Adam(), params0, grad_seq, LRS)
    assert_array_equal(adamw[1], adam[1])
    assert not np.allclose(adamw[0], adam[0], rtol=1e-6, atol=0)
    # ...and without decay AdamW is Adam.
    no_decay, _ = _run(AdamW(weight_decay=0.0), params0, grad_seq, LRS)
    for a, b in zip(no_decay, adam, strict=True):
        assert_array_equal(a, b)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_adamw_with_lr_unit_matches_reference(fit_intercept):
    params0, grad_seq = _problem(fit_intercept)
    opt = AdamW(weight_decay=0.3)
    _, trajectory = _run(opt, params0, grad_seq, LRS, lr_unit=0.2)
    expected = reference_trajectory(
        torch_adamw(weight_decay=0.3, lr_unit=0.2), params0, grad_seq, LRS
    )
    for got, want in zip(trajectory, expected, strict=True):
        for p_got, p_want in zip(got, want, strict=True):
            assert_allclose(p_got, p_want, rtol=1e-12, atol=0)
    # Not torch's plain rule (decay rate lr / 0.2 = 5 lr here).
    plain = reference_trajectory(torch_adamw(weight_decay=0.3), params0, grad_seq, LRS)
    assert not np.allclose(trajectory[-1][0], plain[-1][0], rtol=1e-6, atol=0)


@pytest.mark.parametrize("param_scale", [1.0, 40.0, 0.02])
def test_adamw_auto_learning_rate_returns_its_unit(param_scale):
    opt = AdamW(weight_decay=0.1)
    scale = ProblemScale(smoothness=1.0, param_scale=param_scale)
    lr, lr_unit = opt.auto_learning_rate(scale)
    assert lr == pytest.approx(0.01 * param_scale, rel=1e-15)
    assert lr_unit == param_scale
    # Asking sets nothing on the optimizer.
    assert vars(opt) == vars(clone(opt))
    # The decay is then unit-free: 1 - 0.01 * weight_decay whatever the scale.
    params0, _ = _problem()
    params = [p.copy() for p in params0]
    opt.step(params, _zero_grads(params), lr, lr_unit=lr_unit)
    assert_allclose(params[0], params0[0] * (1 - 0.01 * 0.1), rtol=1e-14, atol=0)
    assert_array_equal(params[1], params0[1])


# ---------------------------------------------------------------------------
# Hand-computed steps.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("epsilon", [1e-8, 1e-3])
def test_adam_first_step_is_normalized_gradient(epsilon):
    # m_hat = g and v_hat = g**2 on the first step, so the update is
    # -lr * g / (|g| + eps), about -lr * sign(g) when |g| >> eps.
    g = np.array([2.0, -0.5, 1e-3, 0.0, -7.0, 1e-12])
    theta0 = np.array([1.0, 2.0, 3.0, -1.0, 0.0, 0.5])
    lr = 0.05
    params = [theta0.copy()]
    Adam(epsilon=epsilon).step(params, [g.copy()], lr)
    expected = theta0 - lr * g / (np.abs(g) + epsilon)
    assert_allclose(params[0], expected, rtol=1e-13, atol=0)
    # Sign step, to relative error eps / (|g| + eps) <= 2 eps, where |g| >= 0.5;
    # no move where g == 0.
    big = np.abs(g) >= 0.5
    step = params[0][big] - theta0[big]
    assert_allclose(step, -lr * np.sign(g[big]), rtol=2 * epsilon)
    assert np.all(np.abs(step) < lr)
    assert params[0][3] == theta0[3]


def test_adam_first_step_with_large_epsilon_hand_computed():
    # g = eps: update = -lr * eps / (eps + eps) = -lr / 2.
    params = [np.array([1.0])]
    Adam(epsilon=1e-3).step(params, [np.array([1e-3])], 0.2)
    assert_allclose(params[0], [0.9], rtol=1e-12)


@pytest.mark.parametrize(
    "nesterov, expected_first, expected_second",
    [
        # buf1 = g1, p1 = p0 - 0.1 * g1;
        # buf2 = 0.5 * g1 + g2 = [-0.75, 0.75], p2 = p1 - 0.2 * buf2.
        (False, [0.95, -2.1], [1.1, -2.25]),
        # d1 = g1 + 0.5 * g1 = [0.75, 1.5];
        # d2 = g2 + 0.5 * buf2 = [-1.375, 0.625].
        (True, [0.925, -2.15], [1.2, -2.275]),
    ],
)
def test_sgd_momentum_second_step_hand_computed(
    nesterov, expected_first, expected_second
):
    opt = SGD(momentum=0.5, nesterov=nesterov)
    params = [np.array([1.0, -2.0])]
    opt.step(params, [np.array([0.5, 1.0])], 0.1)
    assert_allclose(params[0], expected_first, rtol=1e-14)
    opt.step(params, [np.array([-1.0, 0.25])], 0.2)
    assert_allclose(params[0], expected_second, rtol=1e-14)
    assert_allclose(opt.state_["momentum_buffer"][0], [-0.75, 0.75], rtol=1e-14)


def test_plain_sgd_step_and_no_buffer():
    opt = SGD()
    params = [np.array([1.0, -2.0]), np.array([3.0])]
    opt.step(params, [np.array([0.5, 1.0]), np.array([-2.0])], 0.1)
    assert_allclose(params[0], [0.95, -2.1], rtol=1e-14)
    assert_allclose(params[1], [3.2], rtol=1e-14)
    assert _state_names(opt) == ["step"]


# ---------------------------------------------------------------------------
# State.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("label, spec, reference", OPTIMIZER_CASES, ids=CASE_IDS)
def test_state_is_lazy_and_clone_has_none(label, spec, reference):
    opt = _make(spec)
    assert _state_names(opt) == []
    params0, grad_seq = _problem()
    _, trajectory = _run(opt, params0, grad_seq[:3], LRS[:3])
    assert opt.t_ == 3
    assert "step" in _state_names(opt)

    fresh = clone(opt)
    assert _state_names(fresh) == []
    assert fresh.get_params() == opt.get_params()
    # The clone starts over: its first step is the original's first step.
    _, fresh_trajectory = _run(fresh, params0, grad_seq[:1], LRS[:1])
    assert fresh.t_ == 1
    for a, b in zip(fresh_trajectory[0], trajectory[0], strict=True):
        assert_array_equal(a, b)
    # The original's state was not touched by cloning and stepping the clone.
    assert opt.t_ == 3


@pytest.mark.parametrize("label, spec, reference", OPTIMIZER_CASES, ids=CASE_IDS)
def test_t_counts_steps(label, spec, reference):
    opt = _make(spec)
    params0, grad_seq = _problem()
    params = [p.copy() for p in params0]
    for t, (grads, lr) in enumerate(zip(grad_seq, LRS, strict=True), start=1):
        opt.step(params, grads, lr)
        assert opt.t_ == t


@pytest.mark.parametrize("lr_type", [float, np.float64])
@pytest.mark.parametrize("label, spec, reference", OPTIMIZER_CASES, ids=CASE_IDS)
def test_float32_params_keep_float32(label, spec, reference, lr_type):
    params0, grad_seq = _problem(dtype=np.float32)
    opt = _make(spec)
    params = [p.copy() for p in params0]
    for grads, lr in zip(grad_seq, LRS, strict=True):
        step_size = opt.step(params, grads, lr_type(lr))
        assert [p.dtype for p in params] == [np.float32, np.float32]
    for name, value in opt.state_.values.items():
        if isinstance(value, list):
            assert [b.dtype for b in value] == [np.float32, np.float32], name
            assert [b.shape for b in value] == [p.shape for p in params], name
    if lr_type is float:
        # The l1 threshold is float32 too (a Python float for SGD).
        step = step_size.for_coef(params[0])
        assert isinstance(step, float) or step.dtype == np.float32
    # Same trajectory as in float64, to float32 accuracy.
    expected = reference_trajectory(reference(), params0, grad_seq, LRS)
    for got, want in zip(params, expected[-1], strict=True):
        assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_state_buffers_by_optimizer():
    params0, grad_seq = _problem()
    expected = {
        "sgd": ["step"],
        "momentum": ["momentum_buffer", "step"],
        "nesterov": ["momentum_buffer", "step"],
        "adam": ["exp_avg", "exp_avg_sq", "step"],
        "amsgrad": ["exp_avg", "exp_avg_sq", "max_exp_avg_sq", "step"],
        "adamw": ["exp_avg", "exp_avg_sq", "step"],
        "AdamW(amsgrad=True)": ["exp_avg", "exp_avg_sq", "max_exp_avg_sq", "step"],
        "nadam": ["exp_avg", "exp_avg_sq", "mu_product", "step"],
        "adamax": ["exp_avg", "exp_inf", "step"],
        "rmsprop": ["square_avg", "step"],
        "RMSprop(momentum=0.5)": ["momentum_buffer", "square_avg", "step"],
        "RMSprop(centered=True)": ["grad_avg", "square_avg", "step"],
        "RMSprop(momentum=0.5, centered=True, rho=0.9)": [
            "grad_avg",
            "momentum_buffer",
            "square_avg",
            "step",
        ],
        "adagrad": ["step", "sum"],
        "adadelta": ["acc_delta", "square_avg", "step"],
    }
    for name, attributes in expected.items():
        opt = _make(SPECS[name])
        _run(opt, params0, grad_seq[:2], LRS[:2])
        assert _state_names(opt) == attributes, name


# ---------------------------------------------------------------------------
# Validation.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "opt, param",
    [
        (SGD(momentum=-0.1), "momentum"),
        (SGD(momentum=1.0), "momentum"),
        (SGD(nesterov=True), "nesterov"),
        (SGD(nesterov=1), "nesterov"),
        (Adam(beta_1=1.0), "beta_1"),
        (Adam(beta_1=-0.1), "beta_1"),
        (Adam(beta_2=-0.1), "beta_2"),
        (Adam(beta_2=1.0), "beta_2"),
        (Adam(epsilon=0), "epsilon"),
        (Adam(epsilon=-1), "epsilon"),
        (Adam(epsilon=np.nan), "epsilon"),
        (Adam(amsgrad="yes"), "amsgrad"),
        (AdamW(weight_decay=-1), "weight_decay"),
        (AdamW(beta_1=1.0), "beta_1"),
        (AdamW(amsgrad="yes"), "amsgrad"),
        (NAdam(momentum_decay=-0.1), "momentum_decay"),
        (NAdam(beta_2=1.0), "beta_2"),
        (Adamax(beta_1=1.0), "beta_1"),
        (Adamax(epsilon=0), "epsilon"),
        (RMSprop(rho=1.0), "rho"),
        (RMSprop(momentum=-0.1), "momentum"),
        (RMSprop(momentum=1.0), "momentum"),
        (RMSprop(centered="yes"), "centered"),
        (Adagrad(epsilon=0), "epsilon"),
        (Adagrad(initial_accumulator_value=-1), "initial_accumulator_value"),
        (Adadelta(rho=1.0), "rho"),
        (Adadelta(epsilon=0), "epsilon"),
        (SAGA(variant="svrg"), "variant"),
        (SAGA(variant=None), "variant"),
    ],
    ids=repr,
)
def test_validate_rejects_out_of_range(opt, param):
    with pytest.raises(ValueError, match=re.escape(param)):
        opt._validate()


@pytest.mark.parametrize(
    "opt",
    [
        SGD(),
        SGD(momentum=0.0),
        SGD(momentum=0.999, nesterov=True),
        Adam(beta_1=0.0, beta_2=0.0),
        Adam(epsilon=1e-300, amsgrad=np.bool_(True)),
        AdamW(weight_decay=0.0),
        NAdam(beta_1=0.0, momentum_decay=0.0),
        Adamax(beta_1=0.0, beta_2=0.0),
        RMSprop(rho=0.0, momentum=0.0, centered=np.bool_(True)),
        Adagrad(initial_accumulator_value=0.0),
        Adadelta(rho=0.0),
        LBFGS(),
        SAGA(variant="sag"),
    ],
    ids=repr,
)
def test_validate_accepts_boundary_values(opt):
    assert opt._validate() is None


# ---------------------------------------------------------------------------
# Automatic step size.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("momentum", [0.0, 0.5, 0.9])
def test_sgd_auto_learning_rate(momentum):
    scale = ProblemScale(smoothness=4.0, param_scale=123.0)
    lr, unit = SGD(momentum=momentum).auto_learning_rate(scale)
    assert lr == pytest.approx((1 - momentum) / 4.0, rel=1e-15)
    assert unit == 1.0  # a step in gradient units


@pytest.mark.parametrize("amsgrad", [False, True])
@pytest.mark.parametrize("param_scale", [1.0, 3.0, 0.02])
def test_adam_auto_learning_rate(param_scale, amsgrad):
    for smoothness in [0.5, 100.0]:
        scale = ProblemScale(smoothness=smoothness, param_scale=param_scale)
        lr, unit = Adam(amsgrad=amsgrad).auto_learning_rate(scale)
        assert lr == pytest.approx(0.01 * param_scale, rel=1e-15)
        assert unit == param_scale  # a step in parameter units


@pytest.mark.parametrize(
    "opt, factor",
    [
        (AdamW(), 0.01),
        (AdamW(weight_decay=0.5, amsgrad=True), 0.01),
        (NAdam(), 0.01),
        (NAdam(beta_1=0.5, momentum_decay=0.1), 0.01),
        (Adamax(), 0.01),
        (RMSprop(), 0.01),
        (RMSprop(momentum=0.5), 0.005),
        (RMSprop(momentum=0.9, centered=True), 0.001),
        (Adagrad(), 0.1),
        (Adagrad(initial_accumulator_value=1.0), 0.1),
        (Adadelta(), 1.0),
        (Adadelta(rho=0.5), 1.0),
    ],
    ids=repr,
)
@pytest.mark.parametrize("param_scale", [1.0, 3.0, 0.02])
def test_adaptive_auto_learning_rate(opt, factor, param_scale):
    # In parameter units: proportional to param_scale, independent of smoothness.
    for smoothness in [0.5, 100.0]:
        scale = ProblemScale(smoothness=smoothness, param_scale=param_scale)
        lr, unit = clone(opt).auto_learning_rate(scale)
        assert lr == pytest.approx(factor * param_scale, rel=1e-14)
        assert unit == param_scale


@pytest.mark.parametrize(
    "opt, shrinks",
    [(Adam(), True), (AdamW(), True), (NAdam(), True), (Adamax(), True)]
    + [(RMSprop(), True), (Adagrad(), False), (Adadelta(), False), (SGD(), False)],
    ids=repr,
)
def test_parameter_steps_shrink_beyond_100_steps_per_epoch(opt, shrinks):
    base = ProblemScale(smoothness=2.0, param_scale=3.0)
    for steps, factor in [(1, 1.0), (100, 1.0), (400, 0.5), (10_000, 0.1)]:
        scale = ProblemScale(smoothness=2.0, param_scale=3.0, steps_per_epoch=steps)
        lr = clone(opt).auto_learning_rate(base)[0]
        expected = lr * (factor if shrinks else 1.0)
        assert clone(opt).auto_learning_rate(scale)[0] == pytest.approx(expected)


def test_registered_auto_learning_rates():
    scale = ProblemScale(smoothness=2.0, param_scale=5.0)
    lr = {
        n: OPTIMIZERS.create(n, "o").auto_learning_rate(scale)[0]
        for n in OPTIMIZERS.names()
        if n not in FULL_BATCH  # their line search / trust region picks the step
    }
    assert lr == pytest.approx(
        {
            "sgd": 0.5,
            "momentum": 0.05,
            "nesterov": 0.05,
            "adam": 0.05,
            "amsgrad": 0.05,
            "adamw": 0.05,
            "nadam": 0.05,
            "adamax": 0.05,
            "rmsprop": 0.05,
            "adagrad": 0.5,
            "adadelta": 5.0,
            # 1 / (3 L), L the batch smoothness (here: smoothness), and
            # SAG's 1 / (L max(3, N / 2)) with N = 1 step per epoch.
            "saga": 1 / 6,
            "sag": 1 / 6,
        },
        rel=1e-14,
    )


# ---------------------------------------------------------------------------
# L-BFGS.
# ---------------------------------------------------------------------------


def _quadratic(n=5, cond=10.0, seed=0):
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    a = q @ np.diag(np.geomspace(1.0, cond, n)) @ q.T
    b = rng.standard_normal(n)

    def fun(x):
        return 0.5 * x @ a @ x - b @ x, a @ x - b

    return fun, np.linalg.solve(a, b)


def test_lbfgs_is_full_batch():
    assert LBFGS.stochastic is False
    assert OPTIMIZERS.create("lbfgs", "optimizer").stochastic is False


def test_lbfgs_minimizes_quadratic():
    fun, x_star = _quadratic()
    values = []
    opt = LBFGS()
    x0 = np.full(5, 3.0)
    result = opt.minimize(fun, x0, max_iter=200, tol=1e-10, callback=values.append)
    assert result.success
    assert_allclose(result.x, x_star, rtol=0, atol=1e-8)
    assert opt.t_ == result.nit
    assert result.nit > 1
    # One callback per iteration, with the objective value (a float).
    assert len(values) == result.nit
    assert all(isinstance(v, float) for v in values)
    assert np.all(np.diff(values) <= 0)
    assert values[0] < fun(x0)[0]
    assert values[-1] == pytest.approx(fun(x_star)[0], rel=1e-12)
    # x0 is not modified in place.
    assert_array_equal(x0, np.full(5, 3.0))


def test_lbfgs_t_accumulates_and_max_iter_is_respected():
    fun, _ = _quadratic(n=8, cond=1e3)
    opt = LBFGS()
    first = opt.minimize(fun, np.zeros(8), max_iter=3, tol=None)
    assert first.nit == 3
    assert opt.t_ == 3
    second = opt.minimize(fun, first.x, max_iter=2, tol=None)
    assert second.nit == 2
    assert opt.t_ == 5
    assert fun(second.x)[0] < fun(first.x)[0]


def test_lbfgs_without_callback_and_clone():
    fun, x_star = _quadratic(seed=1)
    opt = LBFGS()
    result = opt.minimize(fun, np.zeros(5), max_iter=100, tol=1e-10)
    assert_allclose(result.x, x_star, rtol=0, atol=1e-8)
    assert _state_names(clone(opt)) == []


def test_lbfgs_auto_learning_rate_is_positive():
    lr, unit = LBFGS().auto_learning_rate(ProblemScale(10.0, param_scale=2.0))
    assert np.isfinite(lr) and lr > 0 and unit == 1.0


# ---------------------------------------------------------------------------
# scikit-learn estimator API and the registry.
# ---------------------------------------------------------------------------

ALL_OPTIMIZERS = [cls(**kwargs) for _, cls, kwargs in OPTIMIZERS.items()] + [
    _make(spec) for _, spec, _ in OPTIMIZER_CASES if not isinstance(spec, str)
]
NEW_VALUES = {
    "momentum": 0.25,
    "nesterov": True,
    "beta_1": 0.5,
    "beta_2": 0.75,
    "epsilon": 1e-4,
    "amsgrad": True,
    "lazy": False,
    "weight_decay": 0.5,
    "momentum_decay": 0.01,
    "rho": 0.5,
    "centered": True,
    "initial_accumulator_value": 0.25,
    "restarts": 1,
    "variant": "sag",
}


@pytest.mark.parametrize("opt", ALL_OPTIMIZERS, ids=repr)
def test_estimator_api(opt):
    assert isinstance(opt, BaseEstimator)
    params = opt.get_params()
    # repr round-trips.
    namespace = {cls.__name__: cls for _, cls, _ in OPTIMIZERS.items()}
    rebuilt = eval(repr(opt), namespace)
    assert type(rebuilt) is type(opt)
    assert rebuilt.get_params() == params
    # clone: a different object with the same parameters.
    cloned = clone(opt)
    assert cloned is not opt
    assert type(cloned) is type(opt)
    assert cloned.get_params() == params
    # set_params on every parameter.
    for key in params:
        assert key in NEW_VALUES, f"add a value for {key!r} to NEW_VALUES"
        assert cloned.set_params(**{key: NEW_VALUES[key]}) is cloned
        assert cloned.get_params()[key] == NEW_VALUES[key]
        assert getattr(cloned, key) == NEW_VALUES[key]
    assert opt.get_params() == params  # the original is unchanged
    with pytest.raises(ValueError):
        clone(opt).set_params(not_a_parameter=1)


def test_repr_of_registered_names():
    reprs = {n: repr(OPTIMIZERS.create(n, "optimizer")) for n in OPTIMIZERS.names()}
    assert reprs == {
        "adadelta": "Adadelta()",
        "adagrad": "Adagrad()",
        "adam": "Adam()",
        "adamax": "Adamax()",
        "adamw": "AdamW()",
        "amsgrad": "Adam(amsgrad=True)",
        "lbfgs": "LBFGS()",
        "momentum": "SGD(momentum=0.9)",
        "nadam": "NAdam()",
        "newton": "Newton()",
        "nesterov": "SGD(momentum=0.9, nesterov=True)",
        "rmsprop": "RMSprop()",
        "sag": "SAGA(variant='sag')",
        "saga": "SAGA()",
        "sgd": "SGD()",
    }


@pytest.mark.parametrize(
    "name, cls, params",
    [
        ("sgd", SGD, {"momentum": 0.0, "nesterov": False}),
        ("momentum", SGD, {"momentum": 0.9, "nesterov": False}),
        ("nesterov", SGD, {"momentum": 0.9, "nesterov": True}),
        (
            "adam",
            Adam,
            {
                "beta_1": 0.9,
                "beta_2": 0.999,
                "epsilon": 1e-8,
                "amsgrad": False,
                "lazy": True,
            },
        ),
        (
            "amsgrad",
            Adam,
            {
                "beta_1": 0.9,
                "beta_2": 0.999,
                "epsilon": 1e-8,
                "amsgrad": True,
                "lazy": True,
            },
        ),
        (
            "adamw",
            AdamW,
            {
                "beta_1": 0.9,
                "beta_2": 0.999,
                "epsilon": 1e-8,
                "weight_decay": 0.01,
                "amsgrad": False,
            },
        ),
        (
            "nadam",
            NAdam,
            {
                "beta_1": 0.9,
                "beta_2": 0.999,
                "epsilon": 1e-8,
                "momentum_decay": 0.004,
            },
        ),
        ("adamax", Adamax, {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-8}),
        (
            "rmsprop",
            RMSprop,
            {"rho": 0.99, "epsilon": 1e-8, "momentum": 0.0, "centered": False},
        ),
        ("adagrad", Adagrad, {"epsilon": 1e-10, "initial_accumulator_value": 0.0}),
        ("adadelta", Adadelta, {"rho": 0.9, "epsilon": 1e-6}),
        ("lbfgs", LBFGS, {"restarts": 3}),
        ("newton", Newton, {}),
        ("saga", SAGA, {"variant": "saga"}),
        ("sag", SAGA, {"variant": "sag"}),
    ],
)
def test_create_by_name(name, cls, params):
    opt = OPTIMIZERS.create(name, "optimizer")
    assert type(opt) is cls
    assert opt.get_params() == params
    # Each call gives a new object.
    assert OPTIMIZERS.create(name, "optimizer") is not opt


def test_items_are_consistent_with_create():
    items = OPTIMIZERS.items()
    assert [name for name, _, _ in items] == OPTIMIZERS.names()
    assert OPTIMIZERS.names() == sorted(OPTIMIZERS.names())
    for name, cls, kwargs in items:
        opt = OPTIMIZERS.create(name, "optimizer")
        assert type(opt) is cls
        assert issubclass(cls, Optimizer)
        assert opt.get_params() == cls(**kwargs).get_params()


def test_create_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match="optimizer") as excinfo:
        OPTIMIZERS.create("adagradd", "optimizer")
    message = str(excinfo.value)
    assert "adagradd" in message
    for name in OPTIMIZERS.names():
        assert repr(name) in message


@pytest.mark.parametrize("spec", [42, None, SGD, LinearRegression(), ["sgd"]], ids=repr)
def test_create_rejects_non_optimizers(spec):
    with pytest.raises(TypeError, match="optimizer"):
        OPTIMIZERS.create(spec, "optimizer")


@pytest.mark.parametrize(
    "spec",
    [
        SGD(momentum=0.5, nesterov=True),
        Adam(beta_2=0.9),
        AdamW(weight_decay=0.1),
        RMSprop(momentum=0.5, centered=True),
        LBFGS(),
    ],
    ids=repr,
)
def test_create_with_instance_returns_clone(spec):
    # Give the instance some state: the created optimizer must not share it.
    if spec.stochastic:
        params0, grad_seq = _problem()
        _run(spec, params0, grad_seq[:2], LRS[:2])
    else:
        fun, _ = _quadratic()
        spec.minimize(fun, np.zeros(5), max_iter=2, tol=None)
    opt = OPTIMIZERS.create(spec, "optimizer")
    assert opt is not spec
    assert type(opt) is type(spec)
    assert opt.get_params() == spec.get_params()
    assert _state_names(opt) == []
    assert spec.t_ == 2


# ---------------------------------------------------------------------------
# Steps at a subset of the positions (the sparse column steps).
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", [n for n, cls, _ in OPTIMIZERS.items() if cls.stochastic]
)
def test_step_at_updates_only_its_positions_as_step_would(name):
    # The rules are elementwise: positions stepped every time follow step()'s
    # rule exactly, and the others (and their state) do not move.
    rng = np.random.RandomState(0)
    theta0 = rng.normal(size=12)
    index = np.array([0, 3, 4, 9, 11])
    full = OPTIMIZERS.create(name, "optimizer")
    sub = OPTIMIZERS.create(name, "optimizer")
    theta_full, theta_sub = theta0.copy(), theta0.copy()
    for t in range(1, 5):
        g = rng.normal(size=12)
        full.step([theta_full], [g], 0.1)
        sub.step_at(theta_sub, g[index], 0.1, index)
        assert sub.t_ == t
    untouched = np.setdiff1d(np.arange(12), index)
    assert_array_equal(theta_sub[untouched], theta0[untouched])
    if name != "adamw":  # AdamW's decay lives in step() (it is never lazy)
        assert_allclose(theta_sub[index], theta_full[index], rtol=1e-12)
