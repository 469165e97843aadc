"""Learning-rate schedules: each rule on its own, and as the estimators use it.

Every registered schedule needs a row in ``SCHEDULE_CASES``: its parameters
and the step size it must give at step ``t`` in ``epoch``, written out here.
"""

import math
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

from sklearn_nnopt import (
    OPTIMIZERS,
    SCHEDULES,
    SGD,
    Hinge,
    LinearNNClassifier,
    LogLoss,
)
from sklearn_nnopt.schedules import Auto, Cosine, InvScaling, Optimal, Schedule

STOCHASTIC = [n for n, cls, _ in OPTIMIZERS.items() if cls.stochastic]
LR0 = 0.3


def _optimal_rate(alpha, loss_derivative):
    typw = math.sqrt(1.0 / math.sqrt(alpha))
    t0 = 1.0 / (typw / max(1.0, loss_derivative) * alpha)
    return lambda t, epoch: 1.0 / (alpha * (t0 + t - 1))


# (name, schedule, start keyword arguments, expected rate(t, epoch))
SCHEDULE_CASES = [
    # Before Pflug's test sees noise, "auto" keeps the initial step.
    ("auto", "auto", {"tol": 1e-4}, lambda t, e: LR0),
    ("constant", "constant", {}, lambda t, e: LR0),
    ("invscaling", InvScaling(power_t=0.7), {}, lambda t, e: LR0 / t**0.7),
    ("optimal", Optimal(), {"alpha": 1e-3}, _optimal_rate(1e-3, -1.0)),
    ("adaptive", "adaptive", {}, lambda t, e: LR0),
    (
        "cosine",
        Cosine(T_max=6),
        {},
        lambda t, e: 0.5 * LR0 * (1 + math.cos(math.pi * min(e, 6) / 6)),
    ),
]


def _create(spec):
    return SCHEDULES.create(spec, "learning_rate")


def test_every_registered_schedule_has_a_row():
    covered = {name for name, *_ in SCHEDULE_CASES}
    assert covered == set(SCHEDULES), set(SCHEDULES) ^ covered


@pytest.mark.parametrize("name, spec, kwargs, expected", SCHEDULE_CASES)
def test_rate_follows_its_formula(name, spec, kwargs, expected):
    schedule = _create(spec).start(LR0, loss=Hinge(), **kwargs)
    assert isinstance(schedule, Schedule)
    for t, epoch in [(1, 0), (2, 0), (7, 1), (50, 3), (1000, 9)]:
        assert schedule.rate(t, epoch) == pytest.approx(expected(t, epoch), rel=1e-14)


@pytest.mark.parametrize("name, spec, kwargs, expected", SCHEDULE_CASES)
def test_schedules_read_no_estimator_and_clone_fresh(name, spec, kwargs, expected):
    schedule = _create(spec)
    fresh = clone(schedule)
    schedule.start(LR0, loss=Hinge(), **kwargs)
    assert fresh.get_params() == schedule.get_params()
    # Fitted values end in "_" and a clone does not carry them.
    assert not [k for k in vars(clone(schedule)) if k.endswith("_")]


def test_adaptive_on_stall_divides_by_five_until_below_1e_6():
    schedule = _create("adaptive").start(0.1, loss=Hinge())
    rates = [schedule.rate(1)]
    while not schedule.on_stall():
        rates.append(schedule.rate(1))
    assert_allclose(rates, [0.1 / 5**k for k in range(len(rates))])
    assert rates[-1] / 5 < 1e-6 <= rates[-1]


def test_optimal_needs_alpha_and_takes_its_own():
    with pytest.raises(ValueError, match="alpha > 0"):
        Optimal().start(None, loss=LogLoss(), alpha=0.0)
    own = Optimal(alpha=0.5).start(None, loss=LogLoss(), alpha=0.0)
    assert own.alpha_ == 0.5


def test_cosine_defaults_to_max_iter():
    schedule = Cosine().start(1.0, loss=Hinge(), max_iter=4)
    assert [round(schedule.rate(1, e), 4) for e in range(5)] == [
        1.0,
        0.8536,
        0.5,
        0.1464,
        0.0,
    ]


def test_auto_with_decay_1_keeps_the_step_and_tests_the_level_alone():
    # What "auto" gives the schedule-free optimizers. Gradients that keep
    # pointing the same way (a full batch) never decay the step; the level
    # is compared window to window, with either decay, and is stationary once
    # it stops falling (before, decay < 1 never tested it without noise, and
    # a converged noiseless run, a Lasso problem, went on to max_iter).
    falling, flat = np.array([4.0, 3.0, 2.0, 1.0]), np.full(4, 1.0)
    progress = np.array([3.0, 2.0, 1.0, 0.5])
    for decay, expected in [(0.2, [False, False, True]), (1.0, [False, False, True])]:
        schedule = Auto(decay=decay, min_window=4)
        schedule.start(LR0, loss=Hinge(), tol=1e-4)
        got = [schedule.end_epoch(losses, progress) for losses in (falling, flat, flat)]
        assert got == expected, decay
        assert schedule.rate(13) == LR0
    # Noise with decay=1: no decay either.
    schedule = Auto(decay=1.0, min_window=4).start(LR0, loss=Hinge(), tol=1e-4)
    schedule.end_epoch(falling, np.array([0.5, -1.0, 0.2, -0.9]))
    assert schedule.rate(5) == LR0


def test_auto_level_statistic_decays_when_the_level_stops_falling():
    # Pflug's inner products say "progress" in every window here (what a
    # method with momentum shows in its noise ball); the level decides.
    falling, flat = np.array([4.0, 3.0, 2.0, 1.0]), np.full(4, 1.0)
    positive = np.array([3.0, 2.0, 1.0, 0.5])
    schedule = Auto(min_window=4, statistic="level")
    schedule.start(LR0, loss=Hinge(), tol=1e-4)
    assert schedule.end_epoch(falling, positive) is False  # no previous level
    assert schedule.end_epoch(falling - 1.0, positive) is False  # falls: kept
    assert schedule.rate(9) == LR0
    assert schedule.end_epoch(falling - 1.0, positive) is False  # flat: decays
    assert schedule.rate(13) == pytest.approx(0.2 * LR0)
    # The decayed step lowers the level: kept; then flat again: decays again.
    assert schedule.end_epoch(falling - 2.0, positive) is False
    assert schedule.rate(17) == pytest.approx(0.2 * LR0)
    assert schedule.end_epoch(falling - 2.0, positive) is False
    assert schedule.rate(21) == pytest.approx(0.04 * LR0)
    # A decay after which the level does not fall: stationary.
    assert schedule.end_epoch(falling - 2.0, positive) is True
    # The check failed: the step was too small to make progress, not too
    # noisy, so its last decay is taken back and the test starts over.
    schedule.not_converged()
    assert schedule.rate(25) == pytest.approx(0.2 * LR0)
    assert schedule.end_epoch(flat, positive) is False
    assert schedule.rate(29) == pytest.approx(0.2 * LR0)


def test_auto_pflug_statistic_ignores_a_flat_level_while_gradients_agree():
    flat, positive = np.full(4, 1.0), np.array([3.0, 2.0, 1.0, 0.5])
    schedule = Auto(min_window=4).start(LR0, loss=Hinge(), tol=1e-4)
    for _ in range(4):
        schedule.end_epoch(flat, positive)
    assert schedule.rate(17) == LR0


def test_auto_statistic_must_be_known():
    with pytest.raises(ValueError, match="statistic must be 'pflug' or 'level'"):
        Auto(statistic="trend").start(LR0, loss=Hinge())


@pytest.mark.parametrize("name", sorted(OPTIMIZERS.names()))
def test_auto_uses_the_optimizers_stationarity_statistic(name):
    from sklearn_nnopt._validation import resolve_schedule

    optimizer = OPTIMIZERS.create(name, "optimizer")
    schedule = resolve_schedule(LinearNNClassifier(), optimizer)
    if isinstance(schedule, Auto):
        assert schedule.statistic == optimizer.stationarity_statistic
    explicit = resolve_schedule(LinearNNClassifier(learning_rate=Auto()), optimizer)
    assert getattr(explicit, "statistic", "pflug") == "pflug"  # as given


@pytest.mark.parametrize("decay", [0.0, 1.5, -0.2])
def test_auto_decay_out_of_range(decay):
    with pytest.raises(ValueError, match=r"decay must be in \(0, 1\]"):
        Auto(decay=decay).start(LR0, loss=Hinge())


# ------------------------------------------------------- in the estimators
class RecordingSGD(SGD):
    """Plain SGD that records the step size of every update."""

    def _update(self, params, grads, lr, state):
        state.values.setdefault("rates", []).append(lr)
        return super()._update(params, grads, lr, state)


def _rates(X, y, **params):
    est = LinearNNClassifier(optimizer=RecordingSGD(), batch_size=100, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    return est, np.array(est.optimizer_.state_["rates"])


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
    assert_allclose(est.optimizer_.state_["rates"], 1.0 / np.arange(1, 11) ** 0.5)


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
    # A stochastic optimizer: full-batch ones ignore the schedule.
    with pytest.raises(ValueError, match="alpha > 0"):
        LinearNNClassifier(optimizer="sgd", learning_rate="optimal", alpha=0).fit(*data)


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


def test_schedule_instance_carries_its_own_parameters(data):
    # power_t of the instance, not the estimator's.
    _, rates = _rates(
        *data,
        learning_rate=InvScaling(power_t=0.25),
        learning_rate_init=0.3,
        power_t=0.9,
        max_iter=2,
        tol=None,
    )
    t = np.arange(1, len(rates) + 1)
    assert_allclose(rates, 0.3 / t**0.25, rtol=1e-14)


def test_schedule_parameters_are_searchable(data):
    est = LinearNNClassifier(learning_rate=InvScaling())
    est.set_params(learning_rate__power_t=0.1)
    assert est.learning_rate.power_t == 0.1
    assert clone(est).learning_rate.power_t == 0.1


def test_invalid_schedule_is_a_clear_error(data):
    with pytest.raises(ValueError, match="learning_rate"):
        LinearNNClassifier(learning_rate="warmup").fit(*data)
