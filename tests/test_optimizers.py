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
    Prodigy,
    RMSprop,
    ScheduleFreeAdamW,
    ScheduleFreeSGD,
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


def prodigy_reference(
    beta_1=0.9,
    beta_2=0.999,
    beta_3=None,
    epsilon=1e-8,
    weight_decay=0.0,
    decouple=True,
    use_bias_correction=False,
    safeguard_warmup=False,
    d0=1e-6,
    d_coef=1.0,
    growth_rate=math.inf,
):
    """``prodigyopt.Prodigy.step`` (github.com/konstmish/prodigy), one group.

    Not elementwise: the ``d`` estimate sums over every parameter, so the rule
    is ``update.step_all(theta, grad, lr)`` on dicts ``key -> float`` of all
    the scalar parameters at once (``reference_run`` calls it).  The weight
    decay applies to ``coef`` (``key[0] == 0``) only.  ``update.group`` holds
    the group's scalars (``d``, ``d_max``, ``d_numerator``, ``k``) after a step.
    """
    group = {"d": d0, "d_max": d0, "d_numerator": 0.0, "k": 0}
    state = {}
    step_size = {}

    def step_all(theta, grad, lr):
        beta3 = math.sqrt(beta_2) if beta_3 is None else beta_3
        k, d, d_max = group["k"], group["d"], group["d_max"]
        if use_bias_correction:
            bias_correction = ((1 - beta_2 ** (k + 1)) ** 0.5) / (1 - beta_1 ** (k + 1))
        else:
            bias_correction = 1
        dlr = d * lr * bias_correction
        d_numerator = group["d_numerator"] * beta3
        delta_numerator = 0.0
        d_denom = 0.0
        grad = dict(grad)
        for key, p in theta.items():
            if weight_decay != 0 and not decouple and key[0] == 0:
                grad[key] = grad[key] + weight_decay * p
            g = grad[key]
            if key not in state:
                state[key] = {"s": 0.0, "p0": p, "exp_avg": 0.0, "exp_avg_sq": 0.0}
            st = state[key]
            delta_numerator += (d / d0) * dlr * g * (st["p0"] - p)
            st["exp_avg"] = beta_1 * st["exp_avg"] + d * (1 - beta_1) * g
            st["exp_avg_sq"] = beta_2 * st["exp_avg_sq"] + d * d * (1 - beta_2) * g * g
            if safeguard_warmup:
                st["s"] = beta3 * st["s"] + (d / d0) * d * g
            else:
                st["s"] = beta3 * st["s"] + (d / d0) * dlr * g
            d_denom += abs(st["s"])
        if d_denom == 0:
            return dict(theta)
        global_d_numerator = d_numerator + delta_numerator
        d_hat = d_coef * global_d_numerator / d_denom
        d_old = d
        if d == d0:
            d = max(d, d_hat)
        d_max = max(d_max, d_hat)
        d = min(d_max, d * growth_rate)
        group.update(d=d, d_max=d_max, d_numerator=global_d_numerator, k=k + 1)
        new = {}
        for key, p in theta.items():
            st = state[key]
            denom = math.sqrt(st["exp_avg_sq"]) + d * epsilon
            if weight_decay != 0 and decouple and key[0] == 0:
                p = p - weight_decay * dlr * p
            if beta_1 > 0:
                p = p - dlr * st["exp_avg"] / denom
                # g entered exp_avg with weight d_old (1 - beta_1).
                step_size[key] = dlr * d_old / denom
            else:
                p = p - dlr * d * grad[key] / denom
                step_size[key] = dlr * d / denom
            new[key] = p
        return new

    def update(key, theta, g, lr, t):
        raise TypeError("Prodigy's rule is not elementwise: use step_all")

    update.step_all = step_all
    update.step_size = step_size
    update.group = group
    return update


# ---------------------------------------------------------------------------
# Schedule-free references, written from facebookresearch/schedule_free at
# commit 70785b53e778d0e872c0bbb75ff4ee54ee10c291: the step of
# ``SGDScheduleFree`` (schedulefree/sgd_schedulefree.py) and of
# ``AdamWScheduleFree`` (schedulefree/adamw_schedulefree.py), their non-foreach
# branch, one scalar parameter at a time. The group's scalars (k, lr_max,
# weight_sum) advance once per step, at its first parameter. The parameter is
# y; ``update.z`` holds z, ``update.x`` the average x kept explicitly as the
# ``*Reference`` classes do (x.mul_(1 - ckp1).add_(z, alpha=ckp1)), and
# ``update.eval`` the reference's eval(), p.lerp_(z, 1 - 1 / beta).
# ---------------------------------------------------------------------------


def _schedule_free_group(warmup_steps, r, weight_lr_power):
    """The reference's per-group scalars: ``scalars(lr, t) -> (lr, ckp1)``."""
    group = {"k": 0, "lr_max": -1.0, "weight_sum": 0.0, "t": None}

    def scalars(lr, t):
        if group["t"] != t:  # the first parameter of step t: the group's update
            k = group["k"]
            if k < warmup_steps:
                sched = (k + 1) / warmup_steps
            else:
                sched = 1.0
            lr = lr * sched
            lr_max = group["lr_max"] = max(lr, group["lr_max"])
            weight = ((k + 1) ** r) * (lr_max**weight_lr_power)
            weight_sum = group["weight_sum"] = group["weight_sum"] + weight
            try:
                ckp1 = weight / weight_sum
            except ZeroDivisionError:
                ckp1 = 0
            group.update(t=t, k=k + 1, lr=lr, ckp1=ckp1)
        return group["lr"], group["ckp1"]

    scalars.group = group
    return scalars


def _schedule_free_step(update, key, y, direction, lr, ckp1, beta):
    """y.lerp_(end=z, weight=ckp1); y.add_(d, alpha=lr*(beta*(1-ckp1)-1));
    z.sub_(d, alpha=lr); and the explicit x of the *Reference classes."""
    z = update.z.setdefault(key, y)  # state['z'] = torch.clone(p)
    x = update.x.setdefault(key, y)
    y = y + ckp1 * (z - y)
    y = y + lr * (beta * (1 - ckp1) - 1) * direction
    z = z - lr * direction
    update.z[key] = z
    update.x[key] = x * (1 - ckp1) + z * ckp1
    return y


def schedule_free_sgd(momentum=0.9, warmup_steps=0, r=0.0, weight_lr_power=2.0):
    """``SGDScheduleFree(lr, momentum, weight_decay=0, warmup_steps, r,
    weight_lr_power)``."""
    scalars = _schedule_free_group(warmup_steps, r, weight_lr_power)
    step_size = {}

    def update(key, y, g, lr, t):
        lr, ckp1 = scalars(lr, t)
        # A gradient's whole effect: z moves by lr g (and x follows).
        step_size[key] = lr
        return _schedule_free_step(update, key, y, g, lr, ckp1, momentum)

    update.step_size, update.z, update.x, update.group = step_size, {}, {}, scalars
    update.eval = lambda key, y: y + (1 - 1 / momentum) * (update.z[key] - y)
    return update


def schedule_free_adamw(
    beta_1=0.9,
    beta_2=0.999,
    epsilon=1e-8,
    weight_decay=0.0,
    warmup_steps=0,
    r=0.0,
    weight_lr_power=2.0,
    lr_unit=None,
):
    """``AdamWScheduleFree(lr, betas, eps, weight_decay, warmup_steps, r,
    weight_lr_power)`` with the decay on ``coef`` (``params[0]``) only; with
    ``lr_unit`` the decay is ``weight_decay / lr_unit``."""
    scalars = _schedule_free_group(warmup_steps, r, weight_lr_power)
    exp_avg_sq = {}
    step_size = {}

    def update(key, y, g, lr, t):
        k = t - 1
        bias_correction2 = 1 - beta_2 ** (k + 1)
        lr, ckp1 = scalars(lr, t)
        v = exp_avg_sq[key] = beta_2 * exp_avg_sq.get(key, 0.0) + (1 - beta_2) * g * g
        denom = math.sqrt(v / bias_correction2) + epsilon
        grad_normalized = g / denom
        decay = weight_decay if lr_unit is None else weight_decay / lr_unit
        if decay != 0 and key[0] == 0:
            grad_normalized = grad_normalized + decay * y  # at y
        step_size[key] = lr / denom
        return _schedule_free_step(update, key, y, grad_normalized, lr, ckp1, beta_1)

    update.step_size, update.z, update.x, update.group = step_size, {}, {}, scalars
    update.eval = lambda key, y: y + (1 - 1 / beta_1) * (update.z[key] - y)
    return update


def reference_run(update, params0, grad_seq, lrs):
    """Apply a scalar reference rule elementwise.

    Returns the params after each step and the reference's step size of every
    ``coef`` entry at each step.
    """
    flat = [p.astype(float).ravel().tolist() for p in params0]
    trajectory, coef_steps = [], []
    for t, (grads, lr) in enumerate(zip(grad_seq, lrs, strict=True), start=1):
        g_flats = [g.astype(float).ravel().tolist() for g in grads]
        if hasattr(update, "step_all"):  # a rule over all parameters at once
            keys = [(k, j) for k, f in enumerate(flat) for j in range(len(f))]
            theta = {(k, j): flat[k][j] for k, j in keys}
            new = update.step_all(theta, {(k, j): g_flats[k][j] for k, j in keys}, lr)
            flat = [[new[(k, j)] for j in range(len(f))] for k, f in enumerate(flat)]
        else:
            for k, g_flat in enumerate(g_flats):
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
_SF_ADAMW_LABEL = (
    "ScheduleFreeAdamW(beta_1=0.8, beta_2=0.9, epsilon=1e-3, weight_lr_power=0.0)"
)
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
    ("prodigy", "prodigy", partial(prodigy_reference)),
    # Larger d0 (the steps of d0=1e-6 are a millionth of Adam's) and the
    # variants' switches.
    ("Prodigy(d0=0.1)", Prodigy(d0=0.1), partial(prodigy_reference, d0=0.1)),
    (
        "Prodigy(d0=0.1, weight_decay=0.5)",
        Prodigy(d0=0.1, weight_decay=0.5),
        partial(prodigy_reference, d0=0.1, weight_decay=0.5),
    ),
    (
        "Prodigy(d0=0.1, weight_decay=0.5, decouple=False)",
        Prodigy(d0=0.1, weight_decay=0.5, decouple=False),
        partial(prodigy_reference, d0=0.1, weight_decay=0.5, decouple=False),
    ),
    (
        "Prodigy(d0=0.1, use_bias_correction=True, safeguard_warmup=True)",
        Prodigy(d0=0.1, use_bias_correction=True, safeguard_warmup=True),
        partial(
            prodigy_reference, d0=0.1, use_bias_correction=True, safeguard_warmup=True
        ),
    ),
    (
        "Prodigy(beta_1=0.0, beta_3=0.5, d0=0.1, d_coef=2.0, growth_rate=1.5)",
        Prodigy(beta_1=0.0, beta_3=0.5, d0=0.1, d_coef=2.0, growth_rate=1.5),
        partial(
            prodigy_reference,
            beta_1=0.0,
            beta_3=0.5,
            d0=0.1,
            d_coef=2.0,
            growth_rate=1.5,
        ),
    ),
    ("schedulefree_sgd", "schedulefree_sgd", partial(schedule_free_sgd)),
    ("schedulefree_adamw", "schedulefree_adamw", partial(schedule_free_adamw)),
    (
        "ScheduleFreeSGD(momentum=0.5, warmup_steps=3, r=1.0, weight_lr_power=1.0)",
        ScheduleFreeSGD(momentum=0.5, warmup_steps=3, r=1.0, weight_lr_power=1.0),
        partial(
            schedule_free_sgd, momentum=0.5, warmup_steps=3, r=1.0, weight_lr_power=1.0
        ),
    ),
    (
        "ScheduleFreeAdamW(weight_decay=0.5, warmup_steps=4, r=0.5)",
        ScheduleFreeAdamW(weight_decay=0.5, warmup_steps=4, r=0.5),
        partial(schedule_free_adamw, weight_decay=0.5, warmup_steps=4, r=0.5),
    ),
    (
        _SF_ADAMW_LABEL,
        ScheduleFreeAdamW(beta_1=0.8, beta_2=0.9, epsilon=1e-3, weight_lr_power=0.0),
        partial(
            schedule_free_adamw,
            beta_1=0.8,
            beta_2=0.9,
            epsilon=1e-3,
            weight_lr_power=0.0,
        ),
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
    # The parameters actually moved (Prodigy's default d0 = 1e-6 makes its
    # steps a millionth of Adam's: d does not grow on these random gradients).
    tolerance = dict(rtol=0, atol=1e-9) if label == "prodigy" else {}
    assert not np.allclose(trajectory[-1][0], params0[0], **tolerance)


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
        ("Prodigy(d0=0.1)", "prodigy"),
        ("Prodigy(d0=0.1, weight_decay=0.5)", "Prodigy(d0=0.1)"),
        (
            "Prodigy(d0=0.1, weight_decay=0.5, decouple=False)",
            "Prodigy(d0=0.1, weight_decay=0.5)",
        ),
        (
            "Prodigy(d0=0.1, use_bias_correction=True, safeguard_warmup=True)",
            "Prodigy(d0=0.1)",
        ),
        (
            "Prodigy(beta_1=0.0, beta_3=0.5, d0=0.1, d_coef=2.0, growth_rate=1.5)",
            "Prodigy(d0=0.1)",
        ),
        ("schedulefree_sgd", "sgd"),
        ("schedulefree_adamw", "adam"),
        (
            "ScheduleFreeSGD(momentum=0.5, warmup_steps=3, r=1.0, weight_lr_power=1.0)",
            "schedulefree_sgd",
        ),
        (
            "ScheduleFreeAdamW(weight_decay=0.5, warmup_steps=4, r=0.5)",
            "schedulefree_adamw",
        ),
        (
            _SF_ADAMW_LABEL,
            "schedulefree_adamw",
        ),
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
        # c_1 = 1: y_1 = x_1 = z_1 = theta - lr d, a plain (normalized) step.
        ("schedulefree_sgd", THETA1 - LR1 * G1),
        ("schedulefree_adamw", THETA1 - LR1 * G1 / (np.abs(G1) + 1e-8)),
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
        "prodigy": [
            *["d", "d_denom", "d_hat", "d_max", "d_numerator"],
            *["exp_avg", "exp_avg_sq", "k", "p0", "s", "step"],
        ],
        "Prodigy(beta_1=0.0, beta_3=0.5, d0=0.1, d_coef=2.0, growth_rate=1.5)": [
            *["d", "d_denom", "d_hat", "d_max", "d_numerator"],
            *["exp_avg_sq", "k", "p0", "s", "step"],
        ],
        "schedulefree_sgd": ["lr_max", "step", "weight_sum", "x", "z"],
        "schedulefree_adamw": ["exp_avg_sq", "lr_max", "step", "weight_sum", "x", "z"],
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
        (Prodigy(beta_1=1.0), "beta_1"),
        (Prodigy(beta_2=-0.1), "beta_2"),
        (Prodigy(beta_3=1.0), "beta_3"),
        (Prodigy(epsilon=0), "epsilon"),
        (Prodigy(weight_decay=-0.1), "weight_decay"),
        (Prodigy(decouple=1), "decouple"),
        (Prodigy(use_bias_correction="yes"), "use_bias_correction"),
        (Prodigy(safeguard_warmup=None), "safeguard_warmup"),
        (Prodigy(d0=0), "d0"),
        (Prodigy(d0=np.inf), "d0"),
        (Prodigy(d_coef=0), "d_coef"),
        (Prodigy(growth_rate=0.5), "growth_rate"),
        (Prodigy(growth_rate=np.nan), "growth_rate"),
        (Prodigy(growth_rate="inf"), "growth_rate"),
        # x is recovered from y and z by 1 / beta: beta in (0, 1).
        (ScheduleFreeSGD(momentum=0.0), "momentum"),
        (ScheduleFreeSGD(momentum=1.0), "momentum"),
        (ScheduleFreeSGD(warmup_steps=-1), "warmup_steps"),
        (ScheduleFreeSGD(warmup_steps=2.5), "warmup_steps"),
        (ScheduleFreeSGD(warmup_steps=True), "warmup_steps"),
        (ScheduleFreeSGD(r=-0.5), "r"),
        (ScheduleFreeSGD(weight_lr_power=-1.0), "weight_lr_power"),
        (ScheduleFreeAdamW(beta_1=0.0), "beta_1"),
        (ScheduleFreeAdamW(beta_1=1.0), "beta_1"),
        (ScheduleFreeAdamW(beta_2=1.0), "beta_2"),
        (ScheduleFreeAdamW(epsilon=0.0), "epsilon"),
        (ScheduleFreeAdamW(weight_decay=-0.1), "weight_decay"),
        (ScheduleFreeAdamW(r=np.nan), "r"),
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
        Prodigy(beta_1=0.0, beta_2=0.0, beta_3=0.0, weight_decay=0.0),
        Prodigy(growth_rate=1.0, d0=1e-300, use_bias_correction=np.bool_(True)),
        Prodigy(growth_rate=np.inf),
        LBFGS(),
        ScheduleFreeSGD(momentum=1e-3, warmup_steps=0, r=0.0, weight_lr_power=0.0),
        ScheduleFreeAdamW(beta_1=0.999, beta_2=0.0, weight_decay=0.0),
        ScheduleFreeAdamW(warmup_steps=np.int64(10)),
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


@pytest.mark.parametrize(
    "momentum, factor",
    [(0.01, 1 / 0.99), (0.5, 2.0), (0.6, 2.5), (0.9, 3.0), (0.98, 3.0)],
)
def test_schedule_free_sgd_auto_learning_rate(momentum, factor):
    # min(3, 1 / (1 - beta)) / L, in gradient units: y's steady step (1 - beta)
    # eta is at most 1 / L, and the first steps (c_t near 1) at most 3 / L.
    scale = ProblemScale(smoothness=4.0, param_scale=123.0)
    lr, unit = ScheduleFreeSGD(momentum=momentum).auto_learning_rate(scale)
    assert lr == pytest.approx(factor / 4.0, rel=1e-14)
    assert unit == 1.0


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
        (ScheduleFreeAdamW(), 0.1),
        (ScheduleFreeAdamW(beta_1=0.5, weight_decay=0.1), 0.1),
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
    + [(RMSprop(), True), (Adagrad(), False), (Adadelta(), False), (SGD(), False)]
    + [(ScheduleFreeAdamW(), True), (ScheduleFreeSGD(), False)],
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
            "prodigy": 1.0,  # a multiplier of its own d estimate
            # min(3, 1 / (1 - 0.9)) / smoothness; 0.1 * param_scale.
            "schedulefree_sgd": 1.5,
            "schedulefree_adamw": 0.5,
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
    "beta_3": 0.5,
    "decouple": False,
    "use_bias_correction": True,
    "safeguard_warmup": True,
    "d0": 1e-3,
    "d_coef": 2.0,
    "growth_rate": 1.02,
    "warmup_steps": 7,
    "r": 1.5,
    "weight_lr_power": 1.0,
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
        "prodigy": "Prodigy()",
        "rmsprop": "RMSprop()",
        "schedulefree_adamw": "ScheduleFreeAdamW()",
        "schedulefree_sgd": "ScheduleFreeSGD()",
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
        (
            "prodigy",
            Prodigy,
            {
                "beta_1": 0.9,
                "beta_2": 0.999,
                "beta_3": None,
                "epsilon": 1e-8,
                "weight_decay": 0.0,
                "decouple": True,
                "use_bias_correction": False,
                "safeguard_warmup": False,
                "d0": 1e-6,
                "d_coef": 1.0,
                "growth_rate": math.inf,
            },
        ),
        (
            "schedulefree_sgd",
            ScheduleFreeSGD,
            {"momentum": 0.9, "warmup_steps": 0, "r": 0.0, "weight_lr_power": 2.0},
        ),
        (
            "schedulefree_adamw",
            ScheduleFreeAdamW,
            {
                "beta_1": 0.9,
                "beta_2": 0.999,
                "epsilon": 1e-8,
                "weight_decay": 0.0,
                "warmup_steps": 0,
                "r": 0.0,
                "weight_lr_power": 2.0,
                "lazy": True,
            },
        ),
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
    # AdamW's decay lives in step() (it is never lazy); Prodigy's d estimate
    # sums over every position (it is never lazy either).
    if name not in ("adamw", "prodigy"):
        assert_allclose(theta_sub[index], theta_full[index], rtol=1e-12)


# ---------------------------------------------------------------------------
# Prodigy: the d estimate on a problem where it grows.
# ---------------------------------------------------------------------------


def _prodigy_numpy_step(params, grads, lr, state, hp):
    """A transcription of ``prodigyopt.Prodigy.step`` on numpy arrays.

    ``params`` (updated in place) and ``grads`` are ``[coef, intercept]``, one
    parameter group; the weight decay applies to ``params[0]`` only.  ``state``
    is a dict: the group's scalars and, per parameter, its buffers.
    """
    beta1, beta2 = hp["betas"]
    beta3 = hp["beta3"] if hp["beta3"] is not None else math.sqrt(beta2)
    group = state.setdefault(
        "group", {"d": hp["d0"], "d_max": hp["d0"], "d_numerator": 0.0, "k": 0}
    )
    k, d, d_max = group["k"], group["d"], group["d_max"]
    d0, decay, eps = hp["d0"], hp["weight_decay"], hp["eps"]
    if hp["use_bias_correction"]:
        bias_correction = ((1 - beta2 ** (k + 1)) ** 0.5) / (1 - beta1 ** (k + 1))
    else:
        bias_correction = 1
    dlr = d * lr * bias_correction
    d_numerator = group["d_numerator"] * beta3
    delta_numerator = 0.0
    d_denom = 0.0
    grads = [g.copy() for g in grads]
    for i, (p, grad) in enumerate(zip(params, grads, strict=True)):
        if decay != 0 and not hp["decouple"] and i == 0:
            grad += decay * p
        st = state.setdefault(i, {})
        if "p0" not in st:
            st["s"] = np.zeros(p.size)
            st["p0"] = p.ravel().copy()
            st["exp_avg"] = np.zeros_like(p)
            st["exp_avg_sq"] = np.zeros_like(p)
        delta_numerator += (d / d0) * dlr * np.dot(grad.ravel(), st["p0"] - p.ravel())
        st["exp_avg"] = beta1 * st["exp_avg"] + d * (1 - beta1) * grad
        st["exp_avg_sq"] = beta2 * st["exp_avg_sq"] + d * d * (1 - beta2) * grad * grad
        rate = (d / d0) * d if hp["safeguard_warmup"] else (d / d0) * dlr
        st["s"] = beta3 * st["s"] + rate * grad.ravel()
        d_denom += np.abs(st["s"]).sum()
    if d_denom == 0:
        return
    global_d_numerator = d_numerator + delta_numerator
    d_hat = hp["d_coef"] * global_d_numerator / d_denom
    if d == d0:
        d = max(d, d_hat)
    d_max = max(d_max, d_hat)
    d = min(d_max, d * hp["growth_rate"])
    group.update(d_numerator=global_d_numerator, d=d, d_max=d_max, k=k + 1)
    for i, p in enumerate(params):
        st = state[i]
        denom = np.sqrt(st["exp_avg_sq"]) + d * eps
        if decay != 0 and hp["decouple"] and i == 0:
            p += -decay * dlr * p
        if beta1 > 0:
            p += -dlr * st["exp_avg"] / denom
        else:
            p += -dlr * d * grads[i] / denom


_PRODIGY_DEFAULTS = dict(
    betas=(0.9, 0.999),
    beta3=None,
    eps=1e-8,
    weight_decay=0.0,
    decouple=True,
    use_bias_correction=False,
    safeguard_warmup=False,
    d0=1e-6,
    d_coef=1.0,
    growth_rate=math.inf,
)
# Prodigy's keyword -> the reference's.
_PRODIGY_NAMES = {
    "beta_3": "beta3",
    "epsilon": "eps",
    "weight_decay": "weight_decay",
    "decouple": "decouple",
    "use_bias_correction": "use_bias_correction",
    "safeguard_warmup": "safeguard_warmup",
    "d0": "d0",
    "growth_rate": "growth_rate",
}

# A tiny quadratic, 0.5 sum a (theta - c)^2 over coef (1, 3) and intercept (1,).
_QUAD_A = [np.array([[1.0, 4.0, 0.25]]), np.array([2.0])]
_QUAD_C = [np.array([[3.0, -1.0, 0.5]]), np.array([-2.0])]


def _quadratic_grads(params):
    return [a * (p - c) for p, a, c in zip(params, _QUAD_A, _QUAD_C, strict=True)]


@pytest.mark.parametrize("flat", [False, True])
@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"weight_decay": 0.1},
        {"weight_decay": 0.1, "decouple": False},
        {"safeguard_warmup": True},
        {"use_bias_correction": True},
        {"use_bias_correction": True, "safeguard_warmup": True, "weight_decay": 0.05},
        {"growth_rate": 1.5, "d0": 1e-4},
        {"beta_3": 0.9, "epsilon": 1e-3},
    ],
    ids=repr,
)
def test_prodigy_first_steps_and_d_match_reference_on_quadratic(kwargs, flat):
    # The gradients follow the iterates, so d grows from d0: the parameters
    # and the group's d, d_max and d_numerator follow the reference each step.
    hp = dict(_PRODIGY_DEFAULTS, **{_PRODIGY_NAMES[k]: v for k, v in kwargs.items()})
    opt = Prodigy(**kwargs)
    params0 = [np.zeros((1, 3)), np.zeros(1)]
    ref_params = [p.copy() for p in params0]
    ref_state = {}
    from sklearn_nnopt._parameters import one_buffer

    buffer, params = one_buffer(*params0)
    d_values = []
    for t in range(1, 41):
        lr = 1.0 if t % 3 else 0.5  # the learning rate may change between steps
        grads = _quadratic_grads(params)
        if flat:
            grad_buffer, grad_views = one_buffer(*grads)
            opt.step(params, grad_views, lr, flat=(buffer, grad_buffer))
        else:
            opt.step(params, grads, lr)
        _prodigy_numpy_step(ref_params, _quadratic_grads(ref_params), lr, ref_state, hp)
        for got, want in zip(params, ref_params, strict=True):
            assert_allclose(got, want, rtol=1e-10, atol=1e-300, err_msg=f"step {t}")
        group = ref_state["group"]
        for name in ["d", "d_max", "d_numerator", "k"]:
            assert opt.state_[name] == pytest.approx(group[name], rel=1e-10), name
        d_values.append(opt.state_["d"])
    d0 = hp["d0"]
    # The first step leaves d at d0 (theta = theta_0 there); it grows within
    # the first few steps and never decreases; once it has left d0, by at
    # most growth_rate per step (the jump from d0 is growth_rate times d_hat).
    d_values = np.array(d_values)
    assert d_values[0] == d0
    # Bias correction's larger first steps with the safeguard (no lr in s)
    # make d's estimate lag: it leaves d0 at step 21 and grows 7x by step 40.
    slow = kwargs.get("safeguard_warmup") and kwargs.get("use_bias_correction")
    assert d_values[25 if slow else 3] > d0
    assert d_values[-1] > (5 if slow else 1e3) * d0
    assert np.all(np.diff(d_values) >= 0)
    left = d_values[:-1] > d0
    ratios = d_values[1:][left] / d_values[:-1][left]
    assert np.all(ratios <= hp["growth_rate"] * (1 + 1e-12))
    # It has moved toward the minimizer (where the weight decay allows).
    if not kwargs.get("weight_decay"):
        start = np.linalg.norm(np.concatenate([c.ravel() for c in _QUAD_C]))
        now = np.linalg.norm(
            np.concatenate(
                [(p - c).ravel() for p, c in zip(params, _QUAD_C, strict=True)]
            )
        )
        assert now < 0.5 * start


def test_prodigy_first_step_hand_computed():
    # d = d0: m = d0 (1 - beta_1) g, sqrt(v) = d0 sqrt(1 - beta_2) |g|; the
    # step is d0 lr m / (sqrt(v) + d0 eps); theta = theta_0, so d stays d0.
    params = [THETA1.copy()]
    opt = Prodigy()
    opt.step(params, [G1.copy()], LR1)
    d0 = 1e-6
    expected = THETA1 - d0 * LR1 * (0.1 * G1) / (math.sqrt(0.001) * np.abs(G1) + 1e-8)
    assert_allclose(params[0], expected, rtol=1e-13, atol=0)
    assert opt.state_["d"] == d0 and opt.state_["d_numerator"] == 0.0
    assert opt.state_["k"] == 1
    assert_array_equal(opt.state_["p0"][0], THETA1)


def test_prodigy_zero_gradients_take_no_step():
    # Every gradient so far zero: the reference returns before the step (its
    # group's k and d do not move), the parameters stay where they are.
    params0, _ = _problem()
    opt = Prodigy(weight_decay=0.5)
    params = [p.copy() for p in params0]
    step = opt.step(params, _zero_grads(params), 0.1)
    for p, p0 in zip(params, params0, strict=True):
        assert_array_equal(p, p0)
    assert step.for_coef(params[0]) == 0.0
    assert opt.t_ == 1 and "k" not in opt.state_


def test_prodigy_auto_learning_rate_is_one():
    for scale in [ProblemScale(0.5, 3.0), ProblemScale(100.0, 0.02, 400)]:
        assert Prodigy().auto_learning_rate(scale) == (1.0, 1.0)


def test_prodigy_state_survives_pickle_and_continues():
    import pickle

    params0, grad_seq = _problem()
    whole = Prodigy(d0=0.1, weight_decay=0.1)
    whole_params, _ = _run(whole, params0, grad_seq, LRS)
    half = Prodigy(d0=0.1, weight_decay=0.1)
    params, _ = _run(half, params0, grad_seq[:3], LRS[:3])
    half = pickle.loads(pickle.dumps(half))
    params, _ = _run(half, params, grad_seq[3:], LRS[3:])
    for got, want in zip(params, whole_params, strict=True):
        assert_array_equal(got, want)
    assert half.t_ == 6 and half.state_["k"] == 6


# Schedule-free: the exposed average, warmup, weights, decay, flat buffers.
# ---------------------------------------------------------------------------

SCHEDULE_FREE_CASES = [
    case for case in OPTIMIZER_CASES if isinstance(_make(case[1]), ScheduleFreeSGD)
] + [case for case in OPTIMIZER_CASES if isinstance(_make(case[1]), ScheduleFreeAdamW)]
SCHEDULE_FREE_IDS = [label for label, _, _ in SCHEDULE_FREE_CASES]
# Rising, then falling: lr_max moves, so weight_lr_power matters.
RISING_LRS = [0.02, 0.05, 0.2, 0.1, 0.4, 0.05]


def test_schedule_free_cases_cover_the_variants():
    assert len(SCHEDULE_FREE_CASES) == 5


@pytest.mark.parametrize("lrs", [LRS, RISING_LRS], ids=["falling", "rising"])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize(
    "label, spec, reference", SCHEDULE_FREE_CASES, ids=SCHEDULE_FREE_IDS
)
def test_schedule_free_exposed_model_is_the_average(
    label, spec, reference, fit_intercept, lrs
):
    # The parameters hold y; to_eval turns them into the average x, which the
    # reference keeps explicitly (x <- (1 - c) x + c z), and to_train back.
    params0, grad_seq = _problem(fit_intercept)
    opt = _make(spec)
    params, trajectory = _run(opt, params0, grad_seq, lrs)
    ref = reference()
    expected = reference_trajectory(ref, params0, grad_seq, lrs)
    for got, want in zip(trajectory[-1], expected[-1], strict=True):
        assert_allclose(got, want, rtol=1e-12, atol=0)
    y = [p.copy() for p in params]
    opt.to_eval(params)
    for k, p in enumerate(params):
        x = np.array([ref.x[(k, j)] for j in range(p.size)]).reshape(p.shape)
        x_by_eval = np.array(
            [ref.eval((k, j), v) for j, v in enumerate(y[k].ravel())]
        ).reshape(p.shape)
        assert_allclose(p, x, rtol=1e-10, atol=1e-14)
        assert_allclose(p, x_by_eval, rtol=1e-12, atol=1e-15)
        assert not np.allclose(p, y[k], rtol=1e-6, atol=0)  # x is not y
    # x is kept, y recomputed with the step's own expression: bit for bit.
    opt.to_train(params)
    for p, before in zip(params, y, strict=True):
        assert_array_equal(p, before)


@pytest.mark.parametrize("r", [0.0, 1.0, 2.0])
def test_schedule_free_sgd_average_weights(r):
    # Constant lr, no warmup: w_t = t**r * lr**2, so x_T is the t**r-weighted
    # mean of z_1..z_T, with z_t = theta_0 - lr * (g_1 + ... + g_t) (the
    # gradients are given, not computed at y).
    params0, grad_seq = _problem()
    lr = 0.1
    opt = ScheduleFreeSGD(r=r)
    params, _ = _run(opt, params0, grad_seq, [lr] * N_STEPS)
    opt.to_eval(params)
    weights = np.arange(1, N_STEPS + 1, dtype=float) ** r
    for k, p in enumerate(params):
        zs = params0[k] - lr * np.cumsum([g[k] for g in grad_seq], axis=0)
        x = np.tensordot(weights / weights.sum(), zs, axes=1)
        assert_allclose(p, x, rtol=1e-12, atol=1e-14)
    # The state: the sum of the weights and the largest step.
    assert opt.state_["weight_sum"] == pytest.approx(lr**2 * weights.sum(), rel=1e-14)
    assert opt.state_["lr_max"] == lr
    z_coef = params0[0] - lr * np.sum([g[0] for g in grad_seq], axis=0)
    assert_allclose(opt.state_["z"][0], z_coef, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("opt_class", [ScheduleFreeSGD, ScheduleFreeAdamW])
def test_schedule_free_warmup_and_weight_lr_power(opt_class):
    # lr_t = lr min(1, t / 3); w_t = t**r * max_{s<=t}(lr_s)**p; the step the
    # gradient gets on z (the StepSize's factor) is lr_t.
    r, p, warmup = 0.5, 1.5, 3
    opt = opt_class(warmup_steps=warmup, r=r, weight_lr_power=p)
    params0, grad_seq = _problem()
    params = [q.copy() for q in params0]
    lr_max, weight_sum = -1.0, 0.0
    for t, (grads, lr) in enumerate(zip(grad_seq, RISING_LRS, strict=True), start=1):
        step = opt.step(params, grads, lr)
        lr_t = lr * min(1.0, t / warmup)
        lr_max = max(lr_max, lr_t)
        weight_sum += t**r * lr_max**p
        assert step.factor == pytest.approx(lr_t, rel=1e-14)
        assert opt.state_["lr_max"] == pytest.approx(lr_max, rel=1e-14)
        assert opt.state_["weight_sum"] == pytest.approx(weight_sum, rel=1e-14)


def test_schedule_free_adamw_decay_is_at_y_on_coef_only():
    # A zero gradient leaves only the decay: d = lambda y on coef, 0 on the
    # intercept, which therefore stays (to the rounding of y = beta x +
    # (1 - beta) z with x = z); lr_unit divides lambda.
    params0, _ = _problem()
    for lr_unit in [1.0, 4.0]:
        opt = ScheduleFreeAdamW(weight_decay=0.5)
        ref = schedule_free_adamw(weight_decay=0.5, lr_unit=lr_unit)
        params = [p.copy() for p in params0]
        zeros = _zero_grads(params)
        expected = reference_trajectory(ref, params0, [zeros] * 3, [0.2, 0.1, 0.05])
        for lr, want in zip([0.2, 0.1, 0.05], expected, strict=True):
            opt.step(params, zeros, lr, lr_unit=lr_unit)
            assert_allclose(params[0], want[0], rtol=1e-13, atol=0)
            assert_allclose(params[1], params0[1], rtol=1e-15, atol=0)
        assert np.all(np.abs(params[0]) < np.abs(params0[0]))


@pytest.mark.parametrize(
    "label, spec, reference", SCHEDULE_FREE_CASES, ids=SCHEDULE_FREE_IDS
)
def test_schedule_free_flat_buffer_matches_separate_arrays(label, spec, reference):
    # The training loop steps one flat buffer holding coef then intercept:
    # the same iterates, the decay still on coef alone, and to_eval on the
    # buffer gives the same x.
    from sklearn_nnopt._parameters import one_buffer

    params0, grad_seq = _problem()
    separate, flat_opt = _make(spec), _make(spec)
    params = [p.copy() for p in params0]
    buffer, views = one_buffer(*params0)
    grad_buffer, grad_views = one_buffer(*[np.empty_like(p) for p in params0])
    for grads, lr in zip(grad_seq, LRS, strict=True):
        separate.step(params, [g.copy() for g in grads], lr, lr_unit=2.0)
        for view, g in zip(grad_views, grads, strict=True):
            view[...] = g
        flat_opt.step(views, grad_views, lr, flat=(buffer, grad_buffer), lr_unit=2.0)
    for view, p in zip(views, params, strict=True):
        assert_allclose(view, p, rtol=1e-13, atol=1e-15)
    separate.to_eval(params)
    flat_opt.to_eval([buffer])
    for view, p in zip(views, params, strict=True):
        assert_allclose(view, p, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("opt_class", [ScheduleFreeSGD, ScheduleFreeAdamW])
def test_schedule_free_zero_step_and_fresh_conversions(opt_class):
    # A fresh optimizer has no z: to_eval and to_train leave params alone.
    params = [np.array([1.0, -2.0])]
    opt = opt_class()
    opt.to_eval(params)
    opt.to_train(params)
    assert_array_equal(params[0], [1.0, -2.0])
    # lr = 0: the reference's weight is 0 and so is weight_sum (ZeroDivisionError,
    # ckp1 = 0): nothing moves, without a warning.
    with np.errstate(all="raise"):
        opt.step(params, [np.array([3.0, 4.0])], 0.0)
    assert_array_equal(params[0], [1.0, -2.0])
    # The state must fit the arrays converted.
    with pytest.raises(ValueError, match="shapes"):
        opt.to_eval([np.zeros(3)])
