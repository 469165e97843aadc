"""The candidate grid of ``compare``: losses x optimizers (x learning rates).

The defaults come from the registries: the default optimizers are those
registered with ``candidate=True`` (:meth:`Registry.candidates`), the default
losses every registered loss of the task without aliases; see
:func:`default_optimizers` and :func:`default_losses` for their order.
"""

import math
import numbers
from dataclasses import dataclass, field

import numpy as np
from sklearn.model_selection import ParameterGrid

from .._classifier import LinearNNClassifier
from .._regressor import LinearNNRegressor
from .._validation import resolve_optimizer
from ..losses import LOSSES, Loss
from ..optimizers import OPTIMIZERS, Optimizer
from ._errors import CompareError

#: The estimator of each task.
ESTIMATORS = {"classification": LinearNNClassifier, "regression": LinearNNRegressor}


def _accepted(loss, optimizer):
    """Whether the estimator trains ``loss`` with ``optimizer`` (no refusal)."""
    if optimizer.stochastic:
        return True
    return loss.smooth and loss.full_batch


def refusal(params):
    """Why the estimator refuses a grid point (its own error message), or None.

    The perceptron with L-BFGS, a non-smooth loss with Newton, ...: the
    estimator's ``fit`` would raise this ``ValueError`` before training.
    """
    loss = LOSSES.create(params["model__loss"], "loss")
    optimizer = OPTIMIZERS.create(params["model__optimizer"], "optimizer")
    if _accepted(loss, optimizer):
        return None
    task = "classification" if "classification" in loss.tasks else "regression"
    estimator = ESTIMATORS[task](
        loss=params["model__loss"], optimizer=params["model__optimizer"]
    )
    try:
        resolve_optimizer(estimator, loss)
    except ValueError as exc:
        return str(exc).split(". ")[0].rstrip(".") + "."
    return "refused by the estimator."


def default_optimizers():
    """The default optimizers: those registered with ``candidate=True``.

    In registration order (:meth:`Registry.candidates`): sgd, momentum, adam,
    rmsprop, adagrad, schedulefree_adamw, lbfgs, newton. Schedule-Free AdamW
    joined them on the tuning-free benchmark (``benchmarks/tuning_free.md``):
    at its defaults the fastest stochastic optimizer to the target score and
    within 1e-3 of the optimum on all four sets, where Adam's defaults warned
    on three; on breast_cancer it converged in more folds than Adam.
    """
    return OPTIMIZERS.candidates()


def default_losses(task):
    """The default losses of ``task``: every registered loss of it, no aliases.

    In this order: the task's estimator's default loss, then the losses made
    for this task only, then those shared with another task, each group in
    registration order. Classification: log_loss, hinge, squared_hinge,
    modified_huber, perceptron, squared_error; regression: squared_error,
    absolute_error, huber, epsilon_insensitive, squared_epsilon_insensitive,
    quantile, poisson.

    >>> default_losses("classification")[:2]
    ['log_loss', 'hinge']
    """
    own = ESTIMATORS[task]().loss
    canonical = set(_canonical_names(LOSSES))
    classes = {name: cls for name, cls, _ in LOSSES.items()}
    names = [
        name
        for name in LOSSES.names(sort=False)
        if name in canonical and task in classes[name].tasks
    ]
    return sorted(names, key=lambda n: (n != own, classes[n].tasks != {task}))


def _canonical_names(registry):
    """Registered names, each (class, defaults) once: aliases are dropped.

    Among names sharing a class and defaults, the one spelling the class name in
    snake case is kept (``log_loss`` for ``LogLoss``, not ``cross_entropy``).
    """
    groups = {}
    for name, cls, defaults in registry.items():
        groups.setdefault((cls, tuple(sorted(defaults.items()))), []).append(name)
    keep = set()
    for (cls, _), names in groups.items():
        snake = "".join(
            "_" + c.lower() if c.isupper() and i else c.lower()
            for i, c in enumerate(cls.__name__)
        )
        keep.add(snake if snake in names else names[0])
    return [name for name in registry.names() if name in keep]


@dataclass
class Grid:
    """The resolved axes of the grid.

    ``learning_rates`` is None when not searched; ``skipped`` lists the default
    losses left out because the target is outside their domain.
    """

    losses: list
    optimizers: list
    learning_rates: list | None = None
    skipped: list = field(default_factory=list)

    def points(self):
        """Every grid point, as ``ParameterGrid`` orders them."""
        grid = {"model__loss": self.losses, "model__optimizer": self.optimizers}
        if self.learning_rates is None:
            return list(ParameterGrid(grid))
        grid["model__learning_rate_init"] = self.learning_rates
        points, seen = [], set()
        for point in ParameterGrid(grid):
            optimizer = OPTIMIZERS.create(point["model__optimizer"], "optimizer")
            if not optimizer.stochastic:
                # A full-batch optimizer ignores the learning rate: one point,
                # at "auto", not one identical fit per rate.
                key = (id(point["model__loss"]), id(point["model__optimizer"]))
                if key in seen:
                    continue
                seen.add(key)
                point = {**point, "model__learning_rate_init": "auto"}
            points.append(point)
        return points

    def refusals(self):
        """``[(point, reason)]`` in grid order: why the estimator refuses each
        point (:func:`refusal`), None for the candidates that run."""
        return [(point, refusal(point)) for point in self.points()]

    def describe(self, params):
        """``"loss x optimizer"``, with ``" (lr=...)"`` if rates are searched."""
        text = f"{_label(params['model__loss'])} x {_label(params['model__optimizer'])}"
        if self.learning_rates is not None:
            text += f" (lr={_fmt_rate(params['model__learning_rate_init'])})"
        return text

    def notes(self):
        """One line per skipped default loss, for under the table."""
        return [
            f"Skipped {name}: y is outside its domain (e.g. poisson needs y >= 0)."
            for name in self.skipped
        ]


def resolve_grid(losses, optimizers, learning_rates, task, y):
    """Check ``compare``'s grid arguments and return the :class:`Grid`."""
    loss_specs, skipped = _resolve_losses(losses, task, y)
    optimizer_specs = _resolve_optimizers(optimizers)
    rates = _resolve_learning_rates(learning_rates)
    loss_specs = _unique_specs(loss_specs, LOSSES, "loss")
    optimizer_specs = _unique_specs(optimizer_specs, OPTIMIZERS, "optimizer")
    if rates is not None:
        rates = list(dict.fromkeys(rates))
    return Grid(loss_specs, optimizer_specs, rates, skipped)


def _unique_specs(specs, registry, kind):
    """``specs`` without repeats: the same class and parameters count once.

    ``log_loss,log_loss`` or ``cross_entropy,log_loss`` (an alias) would fit
    the same candidate twice; the first spelling is kept.
    """
    out, seen = [], set()
    for spec in specs:
        obj = registry.create(spec, kind) if isinstance(spec, str) else spec
        key = (type(obj), repr(sorted(obj.get_params().items())))
        if key not in seen:
            seen.add(key)
            out.append(spec)
    return out


def _split_names(spec):
    if isinstance(spec, str):
        return [part.strip() for part in spec.split(",")]
    return list(spec)


def _label(spec):
    return spec if isinstance(spec, str) else repr(spec)


def _fmt_rate(rate):
    return rate if isinstance(rate, str) else f"{rate:g}"


def _resolve_losses(losses, task, y):
    valid = [n for n, cls, _ in LOSSES.items() if task in cls.tasks]
    if losses is None or _split_names(losses) == ["all"]:
        if losses is None:
            names = default_losses(task)
        else:
            names = [n for n in _canonical_names(LOSSES) if n in valid]
        chosen = [name for name in names if _target_ok(name, task, y)]
        skipped = [name for name in names if name not in chosen]
        return chosen, skipped
    specs = _split_names(losses)
    if not specs:
        raise CompareError("no loss given")
    for spec in specs:
        if isinstance(spec, str):
            if spec not in LOSSES.names():
                raise CompareError(
                    f"unknown loss {spec!r}; valid {task} losses: {', '.join(valid)}"
                    f" (or 'all')"
                )
            tasks = LOSSES.create(spec, "loss").tasks
        elif isinstance(spec, Loss):
            tasks = spec.tasks
        else:
            raise CompareError(
                f"a loss must be a name or a Loss instance; got {spec!r}"
            )
        if task not in tasks:
            raise CompareError(
                f"loss {_label(spec)!r} is a {'/'.join(sorted(tasks))} loss, not "
                f"valid for {task}; valid {task} losses: {', '.join(valid)}"
            )
    return specs, []


def _target_ok(name, task, y):
    """False if ``y`` is outside the loss's domain (Poisson needs y >= 0)."""
    if task != "regression":
        return True
    Y = np.asarray(y, dtype=float).reshape(len(y), -1)
    try:
        LOSSES.create(name, "loss").check_target(Y)
    except ValueError:
        return False
    return True


def _resolve_optimizers(optimizers):
    if optimizers is None:
        return default_optimizers()
    specs = _split_names(optimizers)
    if specs == ["all"]:
        return _canonical_names(OPTIMIZERS)
    if not specs:
        raise CompareError("no optimizer given")
    for spec in specs:
        if isinstance(spec, str):
            if spec not in OPTIMIZERS.names():
                raise CompareError(
                    f"unknown optimizer {spec!r}; valid optimizers: "
                    f"{', '.join(OPTIMIZERS.names())} (or 'all')"
                )
        elif not isinstance(spec, Optimizer):
            raise CompareError(
                f"an optimizer must be a name or an Optimizer instance; got {spec!r}"
            )
    return specs


def resolve_alphas(alphas):
    """``compare``'s ``alphas``: finite numbers >= 0, sorted; the default if None."""
    from ._run import DEFAULT_ALPHAS

    if alphas is None:
        return list(DEFAULT_ALPHAS)
    if isinstance(alphas, numbers.Real):
        alphas = [alphas]
    values = list(alphas)
    if not values:
        raise CompareError("alphas is empty")
    for alpha in values:
        ok = (
            isinstance(alpha, numbers.Real)
            and not isinstance(alpha, bool)
            and math.isfinite(alpha)
            and alpha >= 0
        )
        if not ok:
            raise CompareError(f"an alpha must be a number >= 0; got {alpha!r}")
    return sorted({float(a) for a in values})


def _resolve_learning_rates(learning_rates):
    if learning_rates is None:
        return None
    if isinstance(learning_rates, str | numbers.Real):
        learning_rates = [learning_rates]
    rates = list(learning_rates)
    if not rates:
        raise CompareError("learning_rates is empty")
    for rate in rates:
        ok = rate == "auto" or (
            isinstance(rate, numbers.Real)
            and not isinstance(rate, bool)
            and math.isfinite(rate)
            and rate > 0
        )
        if not ok:
            raise CompareError(
                f"a learning rate must be a number > 0 or 'auto'; got {rate!r}"
            )
    return [r if r == "auto" else float(r) for r in rates]
