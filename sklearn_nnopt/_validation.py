"""Checks of the estimators' parameters and inputs, and what they resolve to."""

import numbers

import numpy as np
from sklearn.utils.extmath import row_norms
from sklearn.utils.validation import _check_sample_weight, assert_all_finite

from .losses import LOSSES
from .optimizers import OPTIMIZERS
from .schedules import SCHEDULES, Schedule

PENALTIES = ("l2", "l1", "elasticnet", None)


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_bool(value):
    return isinstance(value, bool | np.bool_)


# name -> (test, what the message says is expected)
_RULES = {
    "learning_rate": (
        lambda v: v in SCHEDULES or isinstance(v, Schedule),
        # At call time: schedules registered after import are valid too.
        lambda: f"one of {SCHEDULES.names()} or a Schedule instance",
    ),
    "learning_rate_init": (
        lambda v: v == "auto" or (_is_real(v) and v > 0 and np.isfinite(v)),
        '"auto" or a float > 0',
    ),
    "power_t": (_is_real, "a float"),
    "penalty": (lambda v: v in PENALTIES, f"one of {PENALTIES}"),
    "alpha": (lambda v: _is_real(v) and 0 <= v < np.inf, "a float >= 0"),
    "l1_ratio": (lambda v: _is_real(v) and 0 <= v <= 1, "a float in [0, 1]"),
    "fit_intercept": (_is_bool, "a bool"),
    "batch_size": (
        lambda v: v == "auto" or (_is_int(v) and v >= 1),
        '"auto" or an int >= 1',
    ),
    "max_iter": (lambda v: _is_int(v) and v >= 1, "an int >= 1"),
    "tol": (lambda v: v is None or (_is_real(v) and v >= 0), "None or a float >= 0"),
    "n_iter_no_change": (lambda v: _is_int(v) and v >= 1, "an int >= 1"),
    "early_stopping": (_is_bool, "a bool"),
    "validation_fraction": (lambda v: _is_real(v) and 0 < v < 1, "a float in (0, 1)"),
    "shuffle": (_is_bool, "a bool"),
    "warm_start": (_is_bool, "a bool"),
    "precondition": (_is_bool, "a bool"),
    "verbose": (lambda v: _is_int(v) and v >= 0, "an int >= 0"),
    "average": (
        lambda v: _is_bool(v) or (_is_int(v) and v >= 1),
        "a bool or an int >= 1 (the first averaged step)",
    ),
}


def check_hyperparameters(estimator):
    """Raise ``ValueError`` naming the first parameter out of its range."""
    for name, (valid, expected) in _RULES.items():
        value = getattr(estimator, name)
        if not valid(value):
            expected = expected() if callable(expected) else expected
            raise ValueError(
                f"The {name!r} parameter of {type(estimator).__name__} must be "
                f"{expected}; got {value!r}."
            )


def resolve_loss(estimator):
    """A fresh loss for the estimator's ``loss``, valid for its task."""
    loss = LOSSES.create(estimator.loss, "loss")
    task = estimator._task
    if task not in loss.tasks:
        valid = [n for n, cls, _ in LOSSES.items() if task in cls.tasks]
        raise ValueError(
            f"loss={estimator.loss!r} is a "
            f"{' and '.join(sorted(loss.tasks))} loss and cannot be used by "
            f"{type(estimator).__name__}; valid losses are {valid}."
        )
    loss._validate()
    return loss


#: What ``optimizer="auto"`` runs when L-BFGS is not the right tool.
AUTO_STOCHASTIC = "adam"
#: ``partial_fit``'s pick: plain SGD at its automatic step (1 / the expected
#: smoothness of a minibatch gradient). A stream gives one step per chunk and
#: may shift its level; Adam's steps, about 1% of the coefficients' scale, need
#: hundreds of them: on a 2,000-row stream in chunks of 200 (5 passes), Adam
#: reached accuracy 0.90 and SGD 0.957 (``SGDClassifier`` 0.946, ``fit`` 0.96),
#: and after a +1000 shift of a regression target SGD was back at R^2 0.997
#: within 30 chunks, Adam at -27 (tests/test_streams.py).
AUTO_INCREMENTAL = "sgd"

#: Smooth losses to suggest instead of a non-smooth one, by task.
_SMOOTH_ALTERNATIVES = {
    "classification": "'squared_hinge', 'modified_huber', 'log_loss'",
    "regression": "'huber', 'squared_epsilon_insensitive', 'squared_error'",
}


#: The largest Hessian, in multiply-adds, for which ``optimizer="auto"``
#: picks Newton: about 10 ms on one core (benchmarks/auto_crossover.py).
NEWTON_BUDGET = 1e7


def auto_optimizer(loss, penalty, incremental, shape=None, stochastic_settings=False):
    """The optimizer that ``optimizer="auto"`` picks, by name.

    A full-batch method where it is the right tool: ``fit`` on data in memory
    (not ``partial_fit``) with a smooth loss that a full-batch method can
    minimize and an ``l2`` penalty or none. Among those, Newton while one
    Hessian costs at most :data:`NEWTON_BUDGET` multiply-adds
    (``n_samples (n_features + 1)^2 n_outputs (n_outputs + 1) / 2``): it
    reaches the optimum to machine precision in 5-15 iterations, where
    L-BFGS can stall on an ill-conditioned small problem (the budget also
    covers factorizing it, ``(n_outputs (n_features + 1))^3``, which
    dominates on wide, short data); above, L-BFGS,
    which reached the same optimum faster on every larger problem measured
    (``benchmarks/auto_crossover.py``; up to 160,000 x 100 dense and
    80,000 x 100,000 sparse, faster than every stochastic optimizer too, so
    no upper size limit applies). ``partial_fit``: plain SGD
    (:data:`AUTO_INCREMENTAL`). Otherwise (non-smooth losses,
    ``l1``/``elasticnet``, and settings a full-batch method would ignore:
    ``early_stopping``, ``average``, ``batch_size``, ``learning_rate``,
    ``learning_rate_init``), Adam, with the estimator's ``learning_rate``
    (``"auto"`` is the one that converges).

    Parameters
    ----------
    loss : Loss
    penalty : {"l2", "l1", "elasticnet", None}
    incremental : bool
    shape : tuple of (n_samples, n_features, n_outputs), optional
        The training data's; without it, no Newton.
    stochastic_settings : bool, default=False
        Whether a setting only a stochastic optimizer uses was given
        (``early_stopping``, ``average``, ``batch_size``, ``learning_rate``,
        ``learning_rate_init``).
    """
    if incremental:
        return AUTO_INCREMENTAL
    if stochastic_settings:
        return AUTO_STOCHASTIC
    if not incremental and loss.smooth and loss.full_batch and penalty in ("l2", None):
        if shape is not None:
            n, p, k = shape
            # Forming the Hessian, and factorizing it (wide, short data).
            cost = n * (p + 1) ** 2 * k * (k + 1) / 2 + (k * (p + 1)) ** 3
            if cost <= NEWTON_BUDGET:
                return "newton"
        return "lbfgs"
    return AUTO_STOCHASTIC


def _asks_for_steps(estimator):
    """Whether a setting only a stochastic optimizer uses is not its default.

    ``early_stopping``, ``average``, ``batch_size``, ``learning_rate`` and
    ``learning_rate_init``: a full-batch optimizer would silently ignore
    them, so ``optimizer="auto"`` takes one that honours them.
    """
    return bool(
        estimator.early_stopping
        or estimator.average is not False
        or not _is(estimator.batch_size, "auto")
        or not _is(estimator.learning_rate, "auto")
        or not _is(estimator.learning_rate_init, "auto")
    )


def _is(value, name):
    return isinstance(value, str) and value == name


def resolve_optimizer(estimator, loss, incremental=False, shape=None):
    """A fresh optimizer for the estimator's ``optimizer``, valid with ``loss``.

    ``shape`` ``(n_samples, n_features, n_outputs)`` lets ``"auto"`` weigh
    the cost of Newton's Hessian.
    """
    spec = estimator.optimizer
    if isinstance(spec, str) and spec == "auto":
        spec = auto_optimizer(
            loss, estimator.penalty, incremental, shape, _asks_for_steps(estimator)
        )
    elif isinstance(spec, str) and spec not in OPTIMIZERS:
        raise ValueError(
            f"Unknown optimizer {spec!r} for parameter 'optimizer'; valid names "
            f"are {['auto', *OPTIMIZERS.names()]} or an instance of Optimizer."
        )
    optimizer = OPTIMIZERS.create(spec, "optimizer")
    optimizer._validate()
    if getattr(optimizer, "finite_sum", False):
        _check_finite_sum(estimator, optimizer, loss, incremental)
    if not optimizer.stochastic and estimator.penalty in ("l1", "elasticnet"):
        raise ValueError(
            f"penalty={estimator.penalty!r} needs a stochastic optimizer (its "
            f"proximal step gives exact zeros); {estimator.optimizer!r} is "
            f"full-batch. Use e.g. optimizer='sgd' or 'adam', or penalty='l2'."
        )
    if optimizer.exposes_average:
        name = type(optimizer).__name__
        if estimator.penalty in ("l1", "elasticnet"):
            raise ValueError(
                f"penalty={estimator.penalty!r} is not supported by {name}: the "
                f"model it exposes is a running average of its iterates, whose "
                f"entries the l1 proximal step's exact zeros do not survive "
                f"(and thresholding the point its gradients are taken at would "
                f"break the interpolation between the average and the "
                f"iterates). Use penalty='l2' or None, or an optimizer such as "
                f"'sgd' or 'adam' for the l1 penalty."
            )
        if estimator.average is not False:
            raise ValueError(
                f"average={estimator.average!r} is not supported by {name}: it "
                f"averages its iterates itself (the model it exposes is that "
                f"average), and average would average the points its gradients "
                f"are taken at instead. Leave average=False."
            )
    if not optimizer.stochastic and not loss.full_batch:
        raise ValueError(
            f"loss={estimator.loss!r} needs a stochastic optimizer: the zero model "
            f"minimizes it, so {estimator.optimizer!r} would return a constant "
            f"model. Use e.g. optimizer='sgd'."
        )
    if not optimizer.stochastic and not loss.smooth:
        # Newton needs second derivatives; L-BFGS's line search stalls at the
        # first kink it meets (hinge on digits: 4 iterations, accuracy 0.86
        # against 0.95, and no way to tell it from an optimum).
        only_classification = loss.tasks == {"classification"}
        alternatives = _SMOOTH_ALTERNATIVES[
            "classification" if only_classification else "regression"
        ]
        raise ValueError(
            f"optimizer={estimator.optimizer!r} needs a smooth loss: "
            f"loss={estimator.loss!r} has kinks, where its derivative jumps and a "
            f"full-batch method stalls. Use a stochastic optimizer such as "
            f"'adam' (optimizer='auto' does), or a smooth loss (e.g. "
            f"{alternatives})."
        )
    return optimizer


def _check_finite_sum(estimator, optimizer, loss, incremental):
    """Refuse what a finite-sum optimizer (SAGA) cannot do: a stream, a kink."""
    if incremental:
        raise ValueError(
            f"partial_fit is unavailable with optimizer={estimator.optimizer!r}: "
            f"{type(optimizer).__name__} keeps a table of per-row gradients over "
            f"the rows of one fit. Use fit, or an incremental optimizer such as "
            f"'sgd' or 'adam'."
        )
    if not loss.smooth:
        only_classification = loss.tasks == {"classification"}
        alternatives = _SMOOTH_ALTERNATIVES[
            "classification" if only_classification else "regression"
        ]
        raise ValueError(
            f"optimizer={estimator.optimizer!r} needs a smooth loss: "
            f"loss={estimator.loss!r} has kinks, where its derivative jumps, and "
            f"{type(optimizer).__name__}'s constant step does not converge there. "
            f"Use a stochastic optimizer such as 'adam' (optimizer='auto' does), "
            f"or a smooth loss (e.g. {alternatives})."
        )


def resolve_schedule(estimator, optimizer=None):
    """A fresh schedule for ``learning_rate``.

    A schedule named by string takes the estimator's parameters of the same
    names (``power_t`` for "invscaling", ``alpha`` for "optimal").
    ``"auto"`` is the optimizer's ``default_schedule`` (the schedule "auto",
    except for SAGA, whose constant step converges); for a ``schedule_free``
    optimizer it keeps the step constant (``Auto(decay=1.0)``: it still
    decides when the objective has stopped falling), and it tests
    stationarity with the optimizer's ``stationarity_statistic``. A schedule named
    explicitly, or an ``Auto`` instance, applies as given.
    """
    spec = estimator.learning_rate
    if isinstance(spec, str) and spec == "auto" and optimizer is not None:
        spec = getattr(optimizer, "default_schedule", "auto")
    schedule = SCHEDULES.create(spec, "learning_rate")
    if isinstance(estimator.learning_rate, str):
        own = estimator.get_params(deep=False)
        shared = {k: own[k] for k in schedule.get_params(deep=False) if k in own}
        schedule.set_params(**shared)
        if estimator.learning_rate == "auto" and "statistic" in schedule.get_params():
            if getattr(optimizer, "schedule_free", False):
                schedule.set_params(decay=1.0)
            schedule.set_params(
                statistic=getattr(optimizer, "stationarity_statistic", "pflug")
            )
    return schedule


def check_sample_weight(sample_weight, X, n_samples):
    """Sample weights as an array of ``X``'s dtype: finite, >= 0, not all zero."""
    if sample_weight is not None and hasattr(sample_weight, "__len__"):
        if len(sample_weight) != n_samples:
            raise ValueError(
                f"sample_weight has {len(sample_weight)} elements but X has "
                f"{n_samples} samples."
            )
    sw = _check_sample_weight(sample_weight, X, dtype=X.dtype)
    if not np.all(np.isfinite(sw)):
        raise ValueError("sample_weight contains NaN or infinity.")
    if np.any(sw < 0):
        raise ValueError("sample_weight must be non-negative.")
    if not np.any(sw > 0):
        raise ValueError("sample_weight must not be all zero.")
    return sw


def squared_row_norms(X, estimator_name):
    """Squared row norms of dense ``X``, raising ``ValueError`` on NaN or inf.

    The row norms, which the automatic step size needs, are finite for finite
    rows unless squares overflow: computing them makes one pass over ``X`` do
    the work of two.

    Raises
    ------
    ValueError
        If ``X`` has NaN or inf, or values whose squares overflow.
    """
    sq_norms = row_norms(X, squared=True)
    # (The sum first: one number to test where all is well.)
    if not np.isfinite(np.add.reduce(sq_norms)) and not np.all(np.isfinite(sq_norms)):
        raise_non_finite(X, estimator_name)
    return sq_norms


def raise_non_finite(X, estimator_name):
    """Raise ``ValueError`` for ``X`` whose statistics came out non-finite:
    scikit-learn's for NaN or inf in ``X``, else that its values are too large.

    A fit needs the squares of ``X``'s values (row norms, column variances,
    the curvature): beyond about 1e154 in float64 (1e19 in float32) they are
    inf, and a fit would go on with a zero step or a useless scale.
    """
    values = X.data if hasattr(X, "data") and not isinstance(X, np.ndarray) else X
    assert_all_finite(values, input_name="X", estimator_name=estimator_name)
    largest = float(np.max(np.abs(values))) if values.size else 0.0
    name = estimator_name or "the estimator"
    raise ValueError(
        f"X has values too large for {name}: the largest absolute value is "
        f"{largest:.3g}, and squares of values that large overflow "
        f"{X.dtype}. Rescale X, for example with "
        f"sklearn.preprocessing.StandardScaler."
    )
