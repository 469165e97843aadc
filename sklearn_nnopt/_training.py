r"""The training engine: from prepared data to trained parameters.

:func:`train` owns the epoch loop, the stopping rule, averaging, divergence
detection and the full-batch (L-BFGS) path. It never sees an estimator: the
estimator hands over :class:`TrainingData`, the starting ``Parameters``, the
objective, the optimizer, the schedule and a :class:`TrainingConfig`, and gets
back a :class:`TrainingResult`. Early stopping scores through a
``score(coef, intercept)`` function; callbacks get what they need as
arguments. :func:`train` trains the ``Parameters`` it is handed (a fresh
object the estimator builds for each call) and changes nothing else it is
given (the optimizer, schedule and progress are copied), so a fit that raises
leaves the estimator as it was::

    fit(X, y) -> estimator: validate, encode targets -> TrainingData + Parameters
              -> train(data, params, objective, optimizer, schedule, config)
                   epoch loop -> stepper.step(Xb, Yb, sw_b, lr)  (dense | sparse)
                                   -> objective gradient -> optimizer update
                   stopping rule, averaging, divergence
              <- TrainingResult -> estimator writes every fitted attribute once
"""

import contextlib
import copy
import math
import os
import sys
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import gen_batches
from sklearn.utils.validation import assert_all_finite

from . import _steppers
from ._parameters import Parameters
from ._precondition import Preconditioner
from ._targets import OneHot
from .schedules import Optimal


class DivergenceError(RuntimeError):
    """Training produced a non-finite objective or non-finite parameters.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_nnopt import DivergenceError, LinearNNRegressor
    >>> X, y = np.array([[1.0], [2.0], [3.0]]), np.array([1.0, 2.0, 3.0])
    >>> reg = LinearNNRegressor(optimizer="sgd", learning_rate_init=100.0)
    >>> try:
    ...     reg.fit(X, y)
    ... except DivergenceError:
    ...     print("diverged; fitted:", hasattr(reg, "coef_"))
    diverged; fitted: False
    """


@dataclass
class TrainingData:
    """What one training call trains on.

    Attributes
    ----------
    X : ndarray or CSR matrix of shape (n_samples, n_features)
        The training rows and, with early stopping, the held-out ones.
    Y : ndarray of shape (n_samples, n_outputs)
        Encoded targets, column-major like the raw predictions.
    sample_weight : ndarray of shape (n_samples,)
    batch_size : int
        Rows per minibatch (at most the training rows).
    rows : ndarray of int or None, default=None
        The training rows of ``X`` (None: all; early stopping holds some out).
    sq_row_norms : ndarray of shape (n_samples,) or None, default=None
        Squared row norms of ``X``, where computed.
    estimator_name : str, default="estimator"
        For error messages.
    """

    X: object
    Y: np.ndarray
    sample_weight: np.ndarray
    batch_size: int
    rows: np.ndarray | None = None
    sq_row_norms: np.ndarray | None = None
    estimator_name: str = "estimator"

    @property
    def n_train(self):
        """Rows trained on."""
        return self.X.shape[0] if self.rows is None else len(self.rows)

    def assert_finite(self):
        """Raise scikit-learn's ``ValueError`` if ``X`` has NaN or inf."""
        X = self.X if isinstance(self.X, np.ndarray) else self.X.data
        assert_all_finite(X, input_name="X", estimator_name=self.estimator_name)


@dataclass(frozen=True)
class TrainingConfig:
    """The loop's settings (the estimator's parameters of the same names).

    ``incremental`` runs one epoch with no stopping rule (``partial_fit``);
    ``learning_rate_init`` and ``lr_unit`` are the resolved step and its unit.
    """

    max_iter: int = 200
    tol: float | None = 1e-4
    n_iter_no_change: int = 10
    shuffle: bool = True
    average: bool | int = False
    incremental: bool = False
    verbose: int = 0
    learning_rate_init: float = 1.0
    lr_unit: float = 1.0


@dataclass
class Progress:
    """What training carries from one call to the next (warm start, partial_fit).

    Attributes
    ----------
    n_iter : int
        Epochs (L-BFGS: iterations) so far.
    loss_curve : list of float
        Training objective per epoch.
    best_loss : float
    best_loss_for_stopping : float
        Best objective of the stopping rule (the first epoch does not count).
    no_improvement_count : int
        Epochs since the stopping rule last saw an improvement.
    validation_scores : list of float or None
        Per epoch, with early stopping.
    validation_stalled_steps : int
        Optimizer steps since early stopping last saw its score improve.
    validation_steps : int
        Optimizer steps of this fit's early stopping so far.
    best_validation_score : float
    best_params : tuple of ndarray or None
        The coefficients of the best validation score.
    averager : Averager or None
    """

    n_iter: int = 0
    loss_curve: list = field(default_factory=list)
    best_loss: float = np.inf
    best_loss_for_stopping: float = np.inf
    no_improvement_count: int = 0
    validation_scores: list | None = None
    validation_stalled_steps: int = 0
    validation_steps: int = 0
    best_validation_score: float = -np.inf
    best_params: tuple | None = None
    averager: object = None


@dataclass
class TrainingResult:
    """What :func:`train` returns.

    Attributes
    ----------
    coef, intercept : ndarray
        The coefficients to expose (the running average when averaging).
    params : Parameters
        The last iterate, which training continues from.
    progress : Progress
    optimizer : Optimizer
        With its state.
    rng : RandomState
        Advanced by the shuffles.
    """

    coef: np.ndarray
    intercept: np.ndarray
    params: object
    progress: Progress
    optimizer: object
    rng: object


class Averager:
    """Polyak-Ruppert running mean of the iterates from optimizer step ``start`` on.

    Parameters
    ----------
    params : list of ndarray
        The parameters being trained (their current values seed the mean).
    start : bool or int
        ``True`` averages from the first step, an int from that step on.
    """

    def __init__(self, params, start):
        self.start = 1 if start is True else int(start)
        self.mean = [p.copy() for p in params]
        self.count = 0

    def update(self, params, t):
        if t < self.start:
            return
        self.count += 1
        for mean, p in zip(self.mean, params, strict=True):
            mean += (p - mean) / self.count

    def reset_to(self, params):
        for mean, p in zip(self.mean, params, strict=True):
            mean[...] = p


class _NoCallbacks:
    """The callback protocol of :func:`train`, doing nothing.

    ``begin(label)`` opens an epoch's task; ``end(task, model)`` closes it and
    returns True to stop training; ``model`` is a function returning the
    current ``(coef, intercept)``, or None on the L-BFGS path.
    """

    active = False

    def begin(self, label):
        return None

    def end(self, task, model=None):
        return False


def train(
    data,
    params,
    objective,
    optimizer,
    schedule,
    config,
    *,
    progress=None,
    rng=None,
    callbacks=None,
    score=None,
    reference=None,
):
    """Train ``params`` on ``data``; the caller's other objects are not changed.

    Parameters
    ----------
    data : TrainingData
    params : Parameters
        The starting point, trained in place and returned as
        ``result.params`` (pass ``params.copy()`` to keep it; the estimators
        build a fresh one for each call).
    objective : Objective
    optimizer : Optimizer
        Copied, with its state; the trained copy is returned.
    schedule : Schedule
        Started (:meth:`~sklearn_nnopt.schedules.Schedule.start`); copied.
        Ignored by full-batch optimizers.
    config : TrainingConfig
    progress : Progress, optional
        Where an earlier call left off (copied); a fresh one by default.
    rng : RandomState, optional
        For shuffling (copied).
    callbacks : object, optional
        ``begin(label)`` and ``end(task, model)``, see ``_NoCallbacks``.
    score : callable, optional
        ``score(coef, intercept) -> float`` on held-out data, higher is better:
        early stopping on it, restoring the best epoch's coefficients.
    reference : Parameters, optional
        The point whose gradient sets the scale of the convergence check
        (the default start; ``params`` if None).

    Returns
    -------
    TrainingResult

    Raises
    ------
    DivergenceError
        If the objective or the parameters become non-finite, or the
        objective explodes.
    ValueError
        If every training sample has zero weight, or ``X`` has NaN or inf.
    """
    optimizer = copy.deepcopy(optimizer)
    schedule = copy.deepcopy(schedule)
    progress = copy.deepcopy(progress) if progress is not None else Progress()
    rng = copy.deepcopy(rng)
    run = _Run(data, params, objective, optimizer, config, progress)
    callbacks = _NoCallbacks() if callbacks is None else callbacks
    with (
        np.errstate(over="ignore", invalid="ignore", divide="ignore"),
        _single_blas_thread(data.X),
    ):
        run.set_reference(params if reference is None else reference)
        if optimizer.stochastic:
            run.stochastic(schedule, rng, callbacks, score)
        else:
            run.full_batch(callbacks)
    coef, intercept = run.exposed()
    return TrainingResult(coef, intercept, params, progress, optimizer, rng)


_BLAS = None  # threadpoolctl's controller of the loaded BLAS (made once)


def _single_blas_thread(X):
    """A context running BLAS on one thread for a fit on sparse ``X``
    (elsewhere, a context that does nothing).

    Such a fit's products are scipy's sparse kernels or the compiled steps,
    on one thread; its BLAS calls are vector operations of the parameters'
    length (L-BFGS-B's own, the penalty, an optimizer's state), where threads
    gain nothing. But after a call, each BLAS thread pool (numpy's and
    scipy's are two) keeps its threads spinning a while, and they take the
    cores from the products: on 2 cores, a one-iteration L-BFGS fit on the
    80,000 x 100,000 tf-idf set took 0.097 s instead of 0.059 s, and an
    epoch of SGD with momentum (numpy steps) 145 ms instead of 122 ms.
    """
    global _BLAS
    if not sp.issparse(X):
        return contextlib.nullcontext()
    if _BLAS is None:
        # (threadpoolctl comes with scikit-learn, which limits BLAS threads
        # with it too.)
        from threadpoolctl import ThreadpoolController

        _BLAS = ThreadpoolController()
    return _BLAS.limit(limits=1, user_api="blas")


class _Run:
    """One call of :func:`train`: its loops and the checks they share."""

    def __init__(self, data, params, objective, optimizer, config, progress):
        self.data, self.params, self.objective = data, params, objective
        self.optimizer, self.config, self.progress = optimizer, config, progress
        # The divergence check's references: this call's start and best epoch.
        self.call_start, self.call_best = None, np.inf
        # The call's first batch (as check_last_step takes it), judged again
        # at a partial_fit call's end.
        self.call_first = None
        # Whether params hold the optimizer's training point rather than the
        # model it exposes (Optimizer.to_train/to_eval: schedule-free's y, x).
        self.training = False
        self.stepper, self.table_bound = None, None
        self.epoch = progress.n_iter + 1  # the epoch running, for messages
        # A full-batch run's remembered evaluation of the whole objective,
        # until used: ``(theta, value, gradient)``, flat float64
        # (:meth:`full_gradient`, :meth:`evaluated`).
        self.evaluation = None
        if config.average and optimizer.exposes_average:
            raise ValueError(
                f"average={config.average!r} is not supported by "
                f"{type(optimizer).__name__}, which averages its iterates itself."
            )
        if not config.average:
            progress.averager = None
        elif progress.averager is None:
            progress.averager = Averager(params.arrays, config.average)

    # ------------------------------------------------------------- checks
    def set_reference(self, reference):
        """The gradient scale of the convergence check (one pass).

        The check measures gradients in standardized coordinates whatever the
        training coordinates: without a preconditioner, the data's own column
        spreads (so that the largest-scale column does not hide the others).
        """
        self.reference_gradient = self.reference_value = None
        self.nonsmooth_next = 0
        self.check_scale = None
        # partial_fit never checks (one epoch, no stopping rule): no passes.
        if self.config.tol is None or self.config.incremental:
            return
        if callable(reference):
            reference = reference()
        if not self.objective.loss.smooth:
            # No gradient vanishes at a kink: the check is a lower bound of the
            # gap alone (:func:`nonsmooth_decrease`), against J's scale.
            self.reference_value = full_gradient(self.objective, self.data, reference)[
                0
            ]
            return
        if self.objective.preconditioner is None:
            self.check_scale = Preconditioner.fit(
                self.data.X,
                self.data.sample_weight,
                center=self.params.fit_intercept,
                estimator_name=self.data.estimator_name,
            )
        self.reference_value, self.reference_gradient = self.optimality(reference)

    def optimality(self, params):
        """``(J, optimality)`` of ``params`` in the check's coordinates."""
        value, grads = self.full_gradient(params)
        return value, gradient_optimality(
            self.objective, params.coef, grads, self.check_scale
        )

    def full_gradient(self, params):
        """:func:`full_gradient` at ``params``; in a full-batch run, the
        remembered evaluation's where it was at the same point.

        L-BFGS's and Newton's first evaluation is at the check's reference
        start and their last one at the point they stop: the check's
        evaluation at the start is scipy's first call's, and scipy's at the
        stop is the check's (a one-iteration L-BFGS fit on the tf-idf set made
        5 passes of products where 3 are its own). Only these two are
        remembered, each until it is used: the run keeps no copy of the
        parameters alive (a copy per evaluation added 2% of a tf-idf ``X``
        to the fit's peak).
        """
        if not self.remembers():
            return full_gradient(self.objective, self.data, params)
        theta = _flatten(params.arrays)
        remembered = self.evaluated(theta)
        if remembered is not None:
            return remembered[0], _split(remembered[1], params.arrays)
        self.evaluation = None
        value, grads = full_gradient(self.objective, self.data, params)
        self.evaluation = (theta, value, _flatten(grads))
        return value, grads

    def remembers(self):
        """Whether :meth:`full_gradient` and L-BFGS's objective share their
        evaluations: full-batch runs on all of the training rows (the
        stochastic ones would keep a copy of the parameters for nothing)."""
        return not self.optimizer.stochastic and self.data.rows is None

    def evaluated(self, theta):
        """``(value, flat gradient)`` of the objective at the flat float64
        parameters ``theta`` if the remembered evaluation was there, else None."""
        last = self.evaluation
        if last is None or not np.array_equal(last[0], theta):
            return None
        return last[1], last[2]

    def converged(self, params=None, backoff=False):
        """First-order optimality: the gradient within sqrt(tol) of its scale
        (max(tol, 1e-6) for the full-batch optimizers).

        Returns ``(converged, ratio)``: the gradient's largest entry relative
        to the reference's. Non-smooth losses have no gradient to check at a
        kink: their check is what L-BFGS steps on the exact objective still
        gain (:func:`nonsmooth_decrease`), a lower bound of the gap; their
        ratio is nan.
        """
        if self.reference_gradient is None:
            return self.nonsmooth_converged(params, backoff)
        if params is None:
            self.polish_l1()
            coef, intercept = self.exposed()
            params = Parameters(coef, intercept, self.params.fit_intercept)
        _, value = self.optimality(params)
        ratio = value / max(self.reference_gradient, np.finfo(float).tiny)
        # A start that is already optimal (a constant target) has no gradient
        # scale: then rounding-level gradients count as converged.
        floor = 1e-10 * max(abs(self.reference_value), np.finfo(float).tiny)
        self.decrease = None
        if value <= floor:
            return True, ratio
        if ratio > self.threshold():
            return False, ratio
        if self.lbfgs and quadratic_gap_bound(
            self.objective, self.data, params
        ) <= 0.1 * self.threshold() * max(abs(self.reference_value), floor):
            return True, ratio  # certified without the flat test (2 passes)
        if self.optimizer.stochastic or self.lbfgs:
            # A small gradient is not a small gap where the objective is flat
            # (near-separable classes, a weak penalty): a gradient 1e-2 of its
            # start left gaps of 0.09-0.6 on breast_cancer. What a truncated
            # Newton step still gains is a lower bound of the gap (24 passes
            # or more where the step overshoots; one step along the gradient
            # missed most of these gaps). With l1: 20 proximal gradient steps
            # (Adam + l1 ended 2.8% above the optimum without a warning).
            # L-BFGS too: on 180 near-separable sets it stopped once 17% above
            # the optimum with its gradient at tol**1.5 of the start's.
            lower_bound = (
                proximal_gradient_decrease if self.objective.l1 else newton_cg_decrease
            )
            # L-BFGS's own steps already follow the curvature: 5 CG steps
            # (about 7 passes, not 24) catch its flat stops.
            steps = FLAT_TEST_STEPS if self.lbfgs else 20
            J, decrease = lower_bound(self.objective, self.data, params, steps)
            bound = (
                max(self.config.tol, 1e-6) if self.polishes_l1 else self.gap_threshold()
            )
            if decrease > bound * max(abs(J), floor):
                self.decrease = decrease / max(abs(J), floor)
                return False, ratio
        return True, ratio

    def nonsmooth_converged(self, params, backoff=False):
        """:meth:`converged` for a non-smooth loss: ``(converged, nan)``.

        With ``backoff`` (a stop the schedule proposes), a check that failed
        at epoch ``e`` is not repeated before epoch ``2 e``: the check costs
        about 15 passes and has no one-pass pre-test, and a schedule that
        finds the objective stationary again each epoch would otherwise
        spend most of the fit on it (15x the fit's time on hinge loss).
        """
        self.decrease = None
        loss = self.objective.loss
        # The zero model minimizes the perceptron criterion (full_batch=False):
        # no gap to measure, only the update dynamics learn.
        if self.reference_value is None or loss.smooth or not loss.full_batch:
            return None, float("nan")
        if backoff and self.progress.n_iter < self.nonsmooth_next:
            return False, float("nan")
        if params is None:
            coef, intercept = self.exposed()
            params = Parameters(coef, intercept, self.params.fit_intercept)
        J, decrease = nonsmooth_decrease(self.objective, self.data, params)
        floor = 1e-10 * max(abs(self.reference_value), np.finfo(float).tiny)
        if decrease > self.threshold() * max(abs(J), floor):
            self.decrease = decrease / max(abs(J), floor)
            self.nonsmooth_next = 2 * self.progress.n_iter
            return False, float("nan")
        return True, float("nan")

    def polish_l1(self):
        """Full-batch proximal gradient steps on the iterate, before an l1 check.

        Minibatch steps bring an l1 fit close to the optimum's objective;
        proximal gradient steps on the full batch (ISTA) then settle the
        coefficients on the optimum's support: one whose full gradient stays
        within the threshold goes to exactly zero, one whose gradient exceeds
        it leaves zero (the proximal gradient method identifies the support
        of a non-degenerate optimum in finitely many steps: Hare & Lewis,
        2004; Nutini, Schmidt & Hare, 2019). They are kept only where they
        lower the objective: ``POLISH_STEPS`` passes over the data, at each
        convergence check of a stochastic l1 fit whose iterate is its model
        (not with ``average``).
        """
        if not self.polishes_l1:
            return
        params = self.params
        _, _, point = proximal_gradient_steps(
            self.objective, self.data, params, POLISH_STEPS
        )
        if point is not None:
            params.coef[...] = point.coef
            if params.fit_intercept:
                params.intercept[...] = point.intercept

    @property
    def lbfgs(self):
        """Whether L-BFGS runs (its stop on the gradient gets the flat test)."""
        return type(self.optimizer).__name__ == "LBFGS"

    def threshold(self):
        """The check's bound on the gradient ratio.

        Full-batch methods aim at tol**1.25 or tol**2 (an exact gradient): tol
        leaves them a margin, though not below 1e-6 (a line search in double
        precision certifies gradients down to about sqrt(eps) = 1.5e-8 of
        their scale, and stalls on rounding 10-100x above). Minibatch noise
        allows stochastic methods sqrt(tol): with tol, their "auto" schedule
        never stopped on the large benchmark sets (200 epochs where 9 reached
        a 1e-4 gap). Finite-sum methods (SAGA), whose gradient noise vanishes
        at the optimum, are held to the full-batch bound.
        """
        if not _exact(self.optimizer):
            return self.config.tol**0.5
        return max(self.config.tol, 1e-6)

    def gap_threshold(self):
        """The check's bound on what a truncated Newton step still gains,
        relative to the objective (a lower bound of the relative gap).

        A gradient within sqrt(tol) of its scale corresponds to a gap of
        order tol, so a stochastic fit is held to 10 tol (never looser than
        sqrt(tol)): with sqrt(tol), Schedule-Free AdamW stopped 3.3e-3 above
        the optimum on the benchmark's regression set after 3 epochs, and
        Prodigy 2e-3 to 4e-3 above it on near-separable sets. Full-batch
        methods keep their gradient bound.
        """
        if not _exact(self.optimizer):
            tol = self.config.tol
            return min(tol**0.5, 10.0 * tol)
        return self.threshold()

    @property
    def polishes_l1(self):
        """Whether the check's iterate comes from full-batch proximal gradient
        steps (:meth:`polish_l1`), free of minibatch noise: then what further
        such steps gain is held to the full-batch bound. With sqrt(tol),
        Adam and Adadelta on an l1 problem with two correlated features
        stopped 0.4-0.5% above the optimum, with one of its 8 non-zeros
        swapped for a zero's feature."""
        return bool(
            self.objective.l1
            and self.optimizer.stochastic
            and self.progress.averager is None
            and not self.optimizer.exposes_average
            and not self.config.incremental
        )

    def table_converged(self, score):
        """A finite-sum optimizer's stop at the end of an epoch.

        Its stepper's table holds every training row's gradient at the
        iterate of its last visit (within the last epoch): their mean, at no
        pass over ``X``, estimates the objective's gradient, and is exact
        once the iterates stop moving. When the estimate meets the check's
        bound, the check itself (one pass) decides. After a failed check,
        the estimate must halve before the next one, so that a misleading
        estimate costs few passes.
        """
        full_gradient = getattr(self.stepper, "full_gradient", None)
        if (
            full_gradient is None
            or self.reference_gradient is None
            or score is not None
            or self.config.incremental
        ):
            return False
        if self.table_bound is None:
            self.table_bound = self.threshold()
        estimate = gradient_optimality(
            self.objective, self.params.coef, full_gradient(), self.check_scale
        )
        ratio = estimate / max(self.reference_gradient, np.finfo(float).tiny)
        if ratio > self.table_bound:
            return False
        if self.converged()[0] is not False:
            return True
        self.table_bound = ratio / 2
        return False

    def exposed(self):
        """The coefficients the model predicts with: averaged once averaging runs.

        During training, for an optimizer that exposes an average of its own
        (``exposes_average``: schedule-free's :math:`x`, while the parameters
        hold :math:`y`), a copy of the parameters turned into it.
        """
        params, averager = self.params, self.progress.averager
        if self.training and self.optimizer.exposes_average:
            buffer = params.buffer.copy()
            self.optimizer.to_eval([buffer])
            coef = buffer[: params.coef.size].reshape(params.coef.shape)
            if not params.fit_intercept:
                return coef, params.intercept
            return coef, buffer[params.coef.size :]
        if averager is None or averager.count == 0:
            return params.coef, params.intercept
        mean = averager.mean
        return mean[0], mean[1] if params.fit_intercept else params.intercept

    def check_finite(self, value):
        if not (math.isfinite(value) and self.params.all_finite()):
            raise self.divergence_error()

    def divergence_error(self):
        where = (
            "in this partial_fit call"
            if self.config.incremental
            else f"in epoch {self.epoch}"
        )
        rate = f"learning rate {self.config.learning_rate_init:.3g}"
        advice = "Use a smaller learning_rate_init (or 'auto')"
        schedule = getattr(self, "schedule", None)
        if isinstance(schedule, Optimal):
            # Its step is 1 / (alpha (t0 + t - 1)): learning_rate_init unused.
            rate = (
                f"the 'optimal' schedule's step 1 / (alpha (t0 + t - 1)), "
                f"{schedule.rate(1):.3g} at the first step (learning_rate_init is "
                f"not used)"
            )
            advice = "Use a larger alpha or another learning_rate"
        return DivergenceError(
            f"Training diverged {where}: the objective "
            f"exploded or the coefficients became non-finite with {rate} and "
            f"optimizer {self.optimizer!r}. {advice}, or standardize X (e.g. with "
            f"StandardScaler). The estimator is left as it was (unfitted if this "
            f"was its first fit)."
        )

    def check_explosion(self, epoch_loss):
        """Raise DivergenceError when the objective blows up while staying finite.

        A run whose objective grows 10^4-fold over the larger of its value at
        this call's start, its best epoch in this call and 1 (a loss of 10^4
        per sample is far from any sensible fit; the floor keeps near-zero
        objectives, e.g. separable data, from tripping it) is diverging, even
        before it overflows; stopping on the stall rule would return that
        model silently. Only this call's data count: a stream whose level
        shifts between ``partial_fit`` calls starts a call far above earlier
        calls' objectives, and must keep training. The start's value is the
        first batch's objective before its step (a sample of this call's
        data at its start point: no extra pass).
        """
        if self.call_start is not None:
            best = self.call_best if self.call_best < np.inf else 0.0
            reference = max(self.call_start, best, 1.0)
            if epoch_loss > 1e4 * reference:
                raise self.divergence_error()
        self.call_best = min(self.call_best, epoch_loss)

    def check_last_step(self, Xb, Yb, swb, before, rows=None):
        """The explosion rule of :meth:`check_explosion` at the call's end.

        A ``partial_fit`` call of one batch measures its objective only before
        its one step, so the epoch check cannot see that step diverge, and a
        stream of such calls diverged one call at a time (a numeric step
        too large for X rescaled 10x: coefficients of 3e37 and no error).
        The last batch, before and after its step, is the same data, and one
        step of a sane size lowers its objective or raises it a little: a
        rise above 100 times its value before (and 1) raises. (The epoch rule
        allows 10^4 over many steps, for early transients; per call, 10^4
        let a stream compound a 3,600-fold rise per call.) One product with
        the batch, once per call. The call's first batch is judged the same
        way at the call's end (its objective at the call's start against
        now): a last batch of one row is fitted by its own step whatever the
        model, and streams of 33-row chunks in batches of 32 diverged to
        coefficients of 3e7 with no error.
        """
        params, objective = self.params, self.objective
        if Xb is None:  # a stepper that reads its rows itself
            Xb = self.data.X[rows]
        raw = objective.raw(Xb, params.coef, params.intercept)
        weighted_loss, weight_sum, _ = objective.output_gradient(raw, Yb, swb)
        after = weighted_loss / weight_sum + objective.penalty(params.coef)
        self.check_finite(after)
        # Against the same batch before the step, and against the call's start
        # (its first batch before any step): steps that each raise the
        # objective less than 100-fold compound within a call (three batches
        # took one call from 27.5 to 1.8e7 with no error).
        start = self.call_start if self.call_start is not None else before
        if after > 1e2 * max(before, 1.0) or after > 1e4 * max(start, 1.0):
            raise self.divergence_error()

    # ------------------------------------------------------ stopping rule
    def record_epoch(self, epoch_loss, score, steps=1):
        """Track the stopping rule for one finished epoch of ``steps`` steps."""
        progress, tol = self.progress, self.config.tol or 0.0
        progress.loss_curve.append(epoch_loss)
        progress.best_loss = min(progress.best_loss, epoch_loss)
        if score is not None:
            self.record_validation(score, steps, tol)
            return
        if len(progress.loss_curve) == 1:
            # The first epoch's objective is mostly that of the starting point,
            # not a result of training: for the perceptron loss the zero start is
            # the global minimum, and would stop every fit after the patience.
            stalled = False
        elif getattr(self.optimizer, "finite_sum", False):
            # A linearly converging objective falls by less than tol per epoch
            # long before its gradient meets the check, which stops the fit
            # (:meth:`table_converged`); with small batches its epoch means
            # also wobble by more than what is left. No stall rule: the check
            # or max_iter ends it.
            stalled = False
        else:
            stalled = epoch_loss > progress.best_loss_for_stopping - tol
            progress.best_loss_for_stopping = min(
                progress.best_loss_for_stopping, epoch_loss
            )
        progress.no_improvement_count = (
            progress.no_improvement_count + 1 if stalled else 0
        )

    def record_validation(self, score, steps, tol):
        """Early stopping's bookkeeping, in optimizer steps.

        The first score, that of a barely trained model, is not a best (a
        lucky one would make every later score look like a stall). A score
        above the best by more than ``tol`` resets the patience; any other
        uses up ``steps`` of it, as in scikit-learn: when ties did not count,
        a validation score that stayed put from epoch 85 (or from the first
        epoch with sgd) ran every fit to ``max_iter``. The later of tied
        models, trained longer, is the one kept.
        """
        progress = self.progress
        coef, intercept = self.exposed()
        value = score(coef, intercept)
        progress.validation_scores.append(value)
        progress.validation_steps += steps
        if len(progress.validation_scores) == 1:
            return
        best = progress.best_validation_score
        if value > best + tol:
            progress.validation_stalled_steps = 0
        else:
            progress.validation_stalled_steps += steps
        if value >= best:  # a tie keeps the later, longer trained model
            progress.best_validation_score = value
            progress.best_params = (coef.copy(), intercept.copy())

    def validation_patience(self):
        """Early stopping's patience in optimizer steps.

        ``n_iter_no_change`` epochs of at least ``MIN_PATIENCE_STEPS`` steps:
        on small data an epoch is a single step, and ten steps of a small
        learning rate are no evidence that the score stopped improving.
        """
        data = self.data
        steps_per_epoch = -(-data.n_train // data.batch_size)
        return self.config.n_iter_no_change * max(steps_per_epoch, MIN_PATIENCE_STEPS)

    def restore_best(self):
        """Early stopping ends on the best epoch's coefficients."""
        best = self.progress.best_params
        if best is None:
            return
        params, averager = self.params, self.progress.averager
        params.coef[...] = best[0]
        params.intercept[...] = best[1]
        if averager is not None:
            averager.reset_to(list(best)[: len(params.arrays)])

    # ---------------------------------------------------------- the loops
    def stochastic(self, schedule, rng, callbacks, score):
        data, config, progress = self.data, self.config, self.progress
        optimizer, params, averager = self.optimizer, self.params, progress.averager
        if score is not None:
            # The best score and coefficients are those of this call's data.
            progress.best_params = None
            progress.best_validation_score = -np.inf
            progress.validation_stalled_steps = progress.validation_steps = 0
            if progress.validation_scores is None:
                progress.validation_scores = []
        stepper = _steppers.make_stepper(
            data,
            self.objective,
            optimizer,
            params,
            averaging=averager is not None,
            lr_unit=config.lr_unit,
            track=schedule.controls_stopping,
        )
        self.stepper = stepper
        self.schedule = schedule
        stopped = False
        # The steps run at the optimizer's training point (schedule-free: y,
        # from the exposed x and the state; the others: the model itself).
        optimizer.to_train([params.buffer])
        self.training = True
        # Every stepper takes one optimizer step per batch: count them here.
        t = getattr(optimizer, "t_", 0)
        step_losses = np.empty(-(-data.n_train // data.batch_size))
        step_inners = np.empty_like(step_losses)
        step_sums = np.empty_like(step_losses)  # each batch's weighted loss sum
        # A partial_fit call judges its last batch (check_last_step), whose
        # index is known unless zero-weight batches may be skipped.
        last_index = None
        if config.incremental and np.all(data.sample_weight > 0):
            last_index = len(step_losses) - 1
        for epoch in range(1 if config.incremental else config.max_iter):
            self.epoch = progress.n_iter + 1
            task = callbacks.begin(f"epoch {self.epoch}")
            start = time.perf_counter()
            total_loss = total_weight = 0.0
            steps = 0
            if getattr(stepper, "runs_epochs", False):
                # A compiled stepper runs the epoch's batches in one call; a
                # partial_fit call's last batch is then stepped below, judged
                # on its own (check_last_step).
                steps, total_loss, total_weight, batches = self.whole_epoch(
                    stepper,
                    schedule,
                    rng,
                    t,
                    epoch,
                    step_losses,
                    step_inners,
                    step_sums,
                    hold_last=config.incremental,
                )
                t += steps
            else:
                batches = _batches(data, config.shuffle, rng, stepper.gathers)
            for Xb, Yb, swb, rows in batches:
                t += 1
                lr = schedule.rate(t, epoch)
                # The objective before this step, for the divergence checks:
                # the call's first batch, and a partial_fit call's last one
                # (check_last_step judges it; each batch, where which is
                # last is not known). The others skip the penalty's pass
                # over the coefficients.
                judged = self.call_start is None or (
                    config.incremental and last_index in (None, steps)
                )
                penalty = self.objective.penalty(params.coef) if judged else 0.0
                batch_loss, batch_weight = stepper.step(Xb, Yb, swb, lr, rows)
                step_losses[steps] = batch_loss / batch_weight
                step_sums[steps] = batch_loss
                if judged and batch_weight > 0:
                    before = step_losses[steps] + penalty
                    if self.call_start is None:
                        self.call_start = before
                        # Its rows, not Xb (a reused buffer), for the end.
                        self.call_first = (None, Yb, swb, before, _own(rows))
                    last = (Xb, Yb, swb, before, rows)
                step_inners[steps] = stepper.inner
                steps += 1
                if averager is not None:
                    averager.update(params.arrays, t)
                if not math.isfinite(batch_loss):
                    self.check_finite(batch_loss)
                total_loss += batch_loss
                total_weight += batch_weight
            stepper.finish()
            if total_weight == 0:
                raise ValueError("All training samples have zero sample_weight.")
            if config.incremental:
                self.check_last_step(*last)
                if self.call_first is not None and self.call_first[4] is not last[4]:
                    # A last batch of one row is fitted by its own step
                    # whatever the model: the first batch's rows again.
                    self.check_last_step(*self.call_first)
            progress.n_iter += 1
            epoch_loss = total_loss / total_weight + self.objective.penalty(params.coef)
            self.check_finite(epoch_loss)
            self.check_explosion(epoch_loss)
            self.record_epoch(epoch_loss, score, steps)
            if config.verbose:
                lr = schedule.rate(max(t, 1), epoch + 1)
                scores = progress.validation_scores if score is not None else None
                _print_epoch(progress.n_iter, epoch_loss, scores, lr, start)
            if callbacks.end(task, self.exposed):
                stopped = True
                break
            # Each step's loss weighted by its batch's share, so that the
            # schedule's level over an epoch is the epoch's weighted mean
            # loss: the plain mean of the batch means moved with the batches'
            # weights from one shuffle to the next (1e-3 with sample weights),
            # and Prodigy's level test took that noise for progress.
            level_losses = step_sums[:steps] * (steps / total_weight)
            if self.should_stop(schedule, score, level_losses, step_inners[:steps]):
                stopped = True
                break
            if config.incremental:
                break
        # Back to the model exposed, which the estimator keeps and continues.
        optimizer.to_eval([params.buffer])
        self.training = False
        if config.incremental:
            return
        if score is not None:
            self.restore_best()
        if not stopped and config.tol is not None:
            done, ratio = (
                (False, float("nan")) if score is not None else self.converged()
            )
            if not done:  # also None: the stopping rule did not fire
                decayed = schedule.rate(max(t, 1), config.max_iter) / max(
                    config.learning_rate_init, np.finfo(float).tiny
                )
                _warn_not_converged(self, ratio, _name(optimizer), decayed=decayed)

    def whole_epoch(
        self,
        stepper,
        schedule,
        rng,
        t,
        epoch,
        step_losses,
        step_inners,
        step_sums,
        hold_last=False,
    ):
        """One epoch of a stepper that runs all its batches in one call.

        The batches (:func:`_epoch_batches`: those of :func:`_batches`) and
        step sizes (``schedule.rate`` of each step) of the loop of
        :meth:`stochastic`, and its bookkeeping: each step's mean loss and
        loss sum, the call's first objective, the finiteness check. With
        ``hold_last`` (a ``partial_fit`` call), the last batch is not run but
        returned, as :func:`_batches` yields it, for the loop to step and
        judge.

        Returns
        -------
        steps : int
        loss, weight : float
            The sums of the batches' weighted losses and weights.
        held : list
            The held batch ``(None, Y_b, sample_weight_b, rows)``, or empty.
        """
        data = self.data
        order, starts, stops, weighted = _epoch_batches(data, self.config.shuffle, rng)

        def batch(i):  # as _batches yields it, reading its rows of X itself
            rows = slice(starts[i], stops[i])
            if order is not None:
                rows = order[rows]
            swb = data.sample_weight[rows] if weighted else None
            return None, data.Y[rows], swb, rows

        held = []
        if hold_last and len(starts):
            held = [batch(-1)]
            starts, stops = starts[:-1], stops[:-1]
        steps = len(starts)
        rates = np.fromiter(
            (schedule.rate(t + i, epoch) for i in range(1, steps + 1)), float, steps
        )
        first = self.call_start is None
        penalty = self.objective.penalty(self.params.coef) if first else 0.0
        losses, weights = stepper.run_epoch(order, starts, stops, rates, weighted)
        step_sums[:steps] = losses
        np.divide(losses, weights, out=step_losses[:steps])
        step_inners[:steps] = stepper.inner
        if first and steps and weights[0] > 0:
            self.call_start = step_losses[0] + penalty
            Xb, Yb, swb, rows = batch(0)
            self.call_first = (Xb, Yb, swb, self.call_start, _own(rows))
        total_loss = float(np.sum(losses))
        if not math.isfinite(total_loss):
            self.check_finite(total_loss)
        return steps, total_loss, float(np.sum(weights)), held

    def should_stop(self, schedule, score, step_losses, step_inners):
        """The stopping decision at the end of an epoch.

        A schedule that controls stopping (``"auto"``) tests whether the
        objective still falls, and the fit stops once it does not and the
        convergence check passes. Otherwise the stall rule (no improvement by
        ``tol`` for ``n_iter_no_change`` epochs) stops it, with a warning when
        the check fails (early stopping ends on the validation score).
        """
        config, progress = self.config, self.progress
        if self.table_converged(score):
            if config.verbose:
                print("The convergence check passed. Stopping.")
            return True
        if schedule.controls_stopping:
            # The level is the objective's: with the epoch's penalty (its data
            # loss alone rose on sparse X while the penalty fell faster).
            penalty = self.objective.penalty(self.params.coef)
            stationary = schedule.end_epoch(step_losses + penalty, step_inners)
            if stationary and not config.incremental:
                if config.tol is not None and score is None:
                    if self.converged(backoff=True)[0] is not False:
                        return True
                    schedule.not_converged()
            if score is None:
                return False
        if config.incremental:
            return False
        if score is not None:
            # Early stopping: the patience and the least training, in steps.
            patience = self.validation_patience()
            if progress.validation_steps < patience:
                return False
            if progress.validation_stalled_steps < patience:
                return False
        elif progress.no_improvement_count < config.n_iter_no_change:
            return False
        if not schedule.on_stall():
            progress.no_improvement_count = 0
            progress.validation_stalled_steps = 0
            return False
        if config.tol is None:
            return False
        if score is None:
            done, ratio = self.converged()
            if done is False:
                what = _name(self.optimizer)
                _warn_not_converged(self, ratio, what, stalled=True)
        if config.verbose:
            print(
                f"Objective did not improve more than tol={config.tol} for "
                f"{config.n_iter_no_change} consecutive epochs. Stopping."
            )
        return True

    def full_batch(self, callbacks):
        data, config, progress, params = (
            self.data,
            self.config,
            self.progress,
            self.params,
        )
        X, Y, sw = data.X, data.Y, data.sample_weight
        fit_intercept = params.fit_intercept
        arrays = params.arrays

        def unpack(theta):
            # (views of scipy's copy of x where the dtypes agree)
            return _split(theta, arrays)

        # Equal weights need no per-sample weighting (the same mean).
        weights = None if np.all(sw == sw[0]) else sw
        if self.separable_outputs(callbacks):
            return self.full_batch_by_output(weights)

        # By blocks of rows (full_gradient) where one evaluation's
        # temporaries would be large next to X (several outputs, few features);
        # a large dense X by blocks that stay in cache (_cache_rows).
        n_outputs = params.coef.shape[0]
        memory_rows = _objective_rows(data, n_outputs) if data.rows is None else None
        block_rows = None
        if isinstance(X, np.ndarray) and data.rows is None:
            block_rows = _cache_rows(X, n_outputs)
            if memory_rows is not None:
                block_rows = min(block_rows or memory_rows, memory_rows)
        by_blocks = memory_rows is not None and block_rows is None

        def fun(theta):
            current = unpack(theta)
            if self.evaluation is not None:
                # The check's evaluation at the reference start (or at the
                # last stop, which a continuation starts from): scipy's first
                # call. Kept for that call only, not alive through the run.
                remembered = self.evaluated(_flatten(current))
                self.evaluation = None
                if remembered is not None:
                    return float(remembered[0]), remembered[1]
            W = current[0]
            b = current[1] if fit_intercept else params.intercept
            if by_blocks:
                current = Parameters(W, b, fit_intercept)
                value, grads = full_gradient(self.objective, data, current)
            else:
                value, grads = self.objective.value_grad(
                    X, Y, weights, W, b, block_rows=block_rows
                )
            if not math.isfinite(value) and isinstance(X, np.ndarray):
                # NaN or inf in dense X (not checked before: L-BFGS skips that
                # pass), or an overflow, which L-BFGS's line search handles.
                data.assert_finite()
            flat = np.concatenate([g.ravel() for g in grads], dtype=np.float64)
            return float(value), flat

        curve = []
        tasks = [callbacks.begin("iteration 1")]

        def callback(value):
            curve.append(float(value))
            if config.verbose:
                print(f"Iteration {len(curve)}, loss = {value:.8f}")
            # L-BFGS's iterates stay inside scipy: the task carries no model.
            if callbacks.end(tasks.pop()):
                raise StopIteration  # scipy ends the minimization cleanly
            if len(curve) < config.max_iter:
                tasks.append(callbacks.begin(f"iteration {len(curve) + 1}"))

        x0 = _flatten(arrays)
        # Relative to the gradient at the start, in the training coordinates;
        # never on a small change of the objective alone. tol**LBFGS_POWER
        # leaves a margin under the check's tol (LBFGS_POWER); tol**2 cost
        # 15-35% more iterations on the benchmark sets for gaps of 1e-13
        # instead of 1e-8.
        gtol = None
        if config.tol is not None:
            # Newton's last iterations are quadratic, so nearly free: tol**2.
            power = (
                2.0 if getattr(self.optimizer, "needs_hessian", False) else LBFGS_POWER
            )
            gtol = config.tol**power * (self.reference_gradient or 1.0)
        hess = None
        if getattr(self.optimizer, "needs_hessian", False):

            def hess(theta):
                current = unpack(theta)
                W = current[0]
                b = current[1] if fit_intercept else params.intercept
                return self.objective.hessian(X, Y, weights, W, b)

        nit = 0
        for _ in range(1 + FLAT_CONTINUATIONS):
            result = self.optimizer.minimize(
                fun,
                x0,
                max_iter=config.max_iter - nit,
                tol=gtol,
                callback=callback,
                hess=hess,
            )
            nit += int(result.nit)
            for p, new in zip(arrays, unpack(result.x), strict=True):
                p[...] = new
            self.check_finite(float(result.fun))
            if self.remembers():
                # scipy's last evaluation is at the point it returns (its
                # value and gradient there): the check's, where the
                # parameters hold that point exactly (float64).
                self.evaluation = (
                    np.asarray(result.x, dtype=np.float64),
                    float(result.fun),
                    np.asarray(result.jac, dtype=np.float64).ravel(),
                )
            if config.tol is None:
                break
            done, ratio = self.converged(self.params)
            # Stopped on the gradient where the objective is flat: go on with
            # a 100x smaller gradient tolerance, while iterations remain.
            if done is not False or self.decrease is None or nit >= config.max_iter:
                break
            x0, gtol = result.x, gtol / 100
        result.nit = nit
        progress.n_iter += nit
        progress.loss_curve.extend(curve)
        progress.best_loss = min([progress.best_loss, float(result.fun), *curve])
        if config.tol is not None:
            if done is False or (done is None and result.status != 0):
                stalled = nit < config.max_iter
                _warn_not_converged(self, ratio, _name(self.optimizer), stalled=stalled)

    def separable_outputs(self, callbacks):
        """Whether L-BFGS runs output by output (:meth:`full_batch_by_output`).

        The objective separates across outputs when each output's loss
        depends on its own column alone (``independent_outputs``: one-vs-rest
        margin losses, multilabel, multi-output regression) and the penalty
        is a sum over coefficients, as every penalty here is. Not with user
        callbacks, whose tasks follow the joint iterations.
        """
        return (
            type(self.optimizer).__name__ == "LBFGS"
            and self.params.coef.shape[0] > 1
            and getattr(self.objective.loss, "independent_outputs", False)
            and not getattr(callbacks, "active", True)
            and not self.config.verbose
        )

    def full_batch_by_output(self, weights):
        r"""L-BFGS on each output's objective in turn; the same minimizer.

        :math:`J(W, b) = \sum_k J_k(W_k, b_k)` when the outputs are
        independent, so minimizing each :math:`J_k` minimizes :math:`J`, as
        ``MultiOutputClassifier`` does with one estimator per output. The
        joint L-BFGS needed as many iterations as its hardest output, each
        costing every output: 200 iterations (``max_iter``, a warning) where
        the outputs alone took 13 to 65, on 4,000 x 100 with 20 labels.
        ``n_iter_`` is the largest output's count, and ``loss_curve_[t]`` the
        objective of the outputs' iterates after ``t + 1`` iterations (each
        output's last one once it stopped).
        """
        config, progress, W_all = self.config, self.progress, self.params.coef
        self.evaluation = None  # (the joint start's: no output's run reads it)
        gtol = None
        if config.tol is not None:
            gtol = config.tol**LBFGS_POWER * (self.reference_gradient or 1.0)
        curves = [[] for _ in range(W_all.shape[0])]
        iterations = [0] * W_all.shape[0]
        for _ in range(1 + FLAT_CONTINUATIONS):
            results = self.by_output_runs(weights, gtol, curves, iterations)
            if config.tol is None:
                break
            done, ratio = self.converged(self.params)
            if done is not False or self.decrease is None:
                break
            if max(iterations) >= config.max_iter:
                break
            gtol /= 100  # as for the joint run: flat, go on
        # The optimizer counted every output's iterations: keep the largest.
        n_iter = max(iterations)
        self.optimizer.state_.step -= sum(iterations) - n_iter
        joint = [
            float(sum(c[min(t, len(c) - 1)] for c in curves)) for t in range(n_iter)
        ]
        progress.n_iter += n_iter
        progress.loss_curve.extend(joint)
        progress.best_loss = min([progress.best_loss, *joint])
        if config.tol is not None:
            failed = any(r.status != 0 for r in results)
            if done is False or (done is None and failed):
                stalled = n_iter < config.max_iter
                _warn_not_converged(self, ratio, _name(self.optimizer), stalled=stalled)

    def by_output_runs(self, weights, gtol, curves, iterations):
        """One L-BFGS run per output from its current coefficients (in place)."""
        data, config, params = self.data, self.config, self.params
        X, Y = data.X, data.Y
        fit_intercept = params.fit_intercept
        W_all, b_all = params.coef, params.intercept
        dtype = W_all.dtype
        p = W_all.shape[1]
        results = []
        for k in range(W_all.shape[0]):
            Yk = np.ascontiguousarray(Y[:, k : k + 1])

            def fun(theta, Yk=Yk, k=k):
                W = theta[:p].reshape(1, p).astype(dtype)
                b = theta[p:].astype(dtype) if fit_intercept else b_all[k : k + 1]
                value, grads = self.objective.value_grad(X, Yk, weights, W, b)
                if not math.isfinite(value) and isinstance(X, np.ndarray):
                    data.assert_finite()
                flat = np.concatenate([g.ravel() for g in grads])
                return float(value), flat.astype(np.float64)

            curve = curves[k]
            x0 = W_all[k].astype(np.float64)
            if fit_intercept:
                x0 = np.concatenate([x0, b_all[k : k + 1].astype(np.float64)])
            result = self.optimizer.minimize(
                fun,
                x0,
                max_iter=max(config.max_iter - iterations[k], 0),
                tol=gtol,
                callback=curve.append,
            )
            W_all[k] = result.x[:p].astype(dtype)
            if fit_intercept:
                b_all[k] = dtype.type(result.x[p])
            if not curve:
                curve.append(float(result.fun))
            iterations[k] += int(result.nit)
            results.append(result)
            self.check_finite(float(result.fun))
        return results


def _batches(data, shuffle, rng, gather=True):
    """The epoch's minibatches ``(Xb, Yb, sample_weight_b, rows)``, shuffled or not.

    Training rows are addressed by index, so that neither shuffling nor the
    validation split copies ``X``; gathered dense batches go to one reused
    buffer. ``sample_weight_b`` is None for equal weights; all-zero-weight
    batches (which have no weighted mean) are skipped. ``rows`` are the
    batch's rows of ``X`` (a slice, or an index array); with
    ``gather=False``, ``Xb`` is None, for a stepper that reads the rows
    itself.
    """
    X, Y, sw, rows = data.X, data.Y, data.sample_weight, data.rows
    n_samples, batch_size = data.n_train, data.batch_size
    buffer = None
    if (shuffle or rows is not None) and isinstance(X, np.ndarray) and gather:
        buffer = np.empty((batch_size, X.shape[1]), dtype=X.dtype)
    # Equal weights (the usual case) need no per-sample weighting at all.
    weighted = not np.all(sw == sw[0])
    may_skip = not np.all(sw > 0)
    order = _epoch_order(data, shuffle, rng)
    for batch in gen_batches(n_samples, batch_size):
        if order is None:
            Xb, Yb, swb = X[batch] if gather else None, Y[batch], sw[batch]
            idx = batch
        else:
            idx = order[batch]
            # The indices are valid by construction; mode="raise" would make
            # numpy gather into a temporary and copy it (2x the time).
            if not gather:
                Xb = None
            elif buffer is None:
                Xb = X[idx]
            else:
                Xb = X.take(idx, axis=0, out=buffer[: len(idx)], mode="clip")
            if isinstance(Y, OneHot):
                Yb = Y.take(idx)
            else:
                Yb = Y.T.take(idx, axis=1).T  # column-major, as Y
            swb = sw.take(idx) if weighted or may_skip else None
        if may_skip and not swb.any():
            continue
        yield Xb, Yb, (swb if weighted else None), idx


def _own(rows):
    """``rows``, not as a view of the epoch's order: kept for the end of the
    call, a view would keep the whole order (a row index each) alive
    through the next epoch's (4% of a 50-feature X instead of 2%)."""
    if isinstance(rows, np.ndarray) and rows.base is not None:
        return rows.copy()
    return rows


def _epoch_order(data, shuffle, rng):
    """The training rows of ``X`` in the epoch's order (None: all, in order)."""
    if shuffle:
        return rng.permutation(data.n_train if data.rows is None else data.rows)
    return data.rows


def _epoch_batches(data, shuffle, rng):
    """The batches of :func:`_batches` as arrays, for a stepper that runs them all.

    Returns
    -------
    order : ndarray of intp or None
        The epoch's rows of ``X`` (None: ``0, 1, ...``).
    starts, stops : ndarray of intp
        Batch ``t`` is ``order[starts[t]:stops[t]]`` (all-zero-weight batches
        are left out, as :func:`_batches` skips them).
    weighted : bool
        Whether the weights differ (:func:`_batches` yields ``sample_weight_b``).
    """
    sw, n_samples, batch_size = data.sample_weight, data.n_train, data.batch_size
    order = _epoch_order(data, shuffle, rng)
    if order is not None:
        order = order.astype(np.intp, copy=False)
    starts = np.arange(0, n_samples, batch_size, dtype=np.intp)
    stops = np.minimum(starts + batch_size, n_samples)
    if not np.all(sw > 0):
        kept = (sw if order is None else sw.take(order)) != 0
        kept = np.logical_or.reduceat(kept, starts)
        starts, stops = starts[kept], stops[kept]
    return order, starts, stops, not np.all(sw == sw[0])


def _print_epoch(n_iter, epoch_loss, validation_scores, lr, start):
    line = f"Epoch {n_iter}, loss = {epoch_loss:.8f}"
    if validation_scores is not None:
        line += f", validation score = {validation_scores[-1]:.6f}"
    line += f", lr = {lr:.3g}, time = {time.perf_counter() - start:.3f}s"
    print(line)


#: L-BFGS stops once the gradient's largest entry is tol**LBFGS_POWER of the
#: start's. 1.25 (1.5 before): 28% fewer iterations on the convergence panel
#: (digits 132 -> 95), largest gap at a stop 2.3e-5; the flat test after the
#: stop catches the flat objectives where a small gradient is not a small gap.
LBFGS_POWER = 1.25

#: Conjugate-gradient steps of the flat test after an L-BFGS stop.
FLAT_TEST_STEPS = 5

#: Times L-BFGS goes on (gradient tolerance / 100) after its stop failed the
#: flat test, while iterations remain.
FLAT_CONTINUATIONS = 2

#: Full-batch proximal gradient steps before each convergence check of a
#: stochastic l1 fit (:meth:`_Run.polish_l1`).
POLISH_STEPS = 20

#: Early stopping's patience counts ``n_iter_no_change`` epochs of at least
#: this many optimizer steps (see :meth:`_Run.validation_patience`).
MIN_PATIENCE_STEPS = 10

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def _name(optimizer):
    """The optimizer's name in messages: its class, or SAG for SAGA's variant."""
    if getattr(optimizer, "variant", None) == "sag":
        return "SAG"
    return type(optimizer).__name__


def _warn_not_converged(run, ratio, what, stalled=False, decayed=1.0):
    """The ConvergenceWarning of a fit that failed the check: how far, what to do."""
    n_iter = run.progress.n_iter
    threshold = run.threshold()
    rule = "max(tol, 1e-6)" if _exact(run.optimizer) else "sqrt(tol)"
    howfar = (
        f"the objective's gradient is still {ratio:.1e} of its size at the "
        f"start (converged means at most {rule} = {threshold:.1e})"
        if math.isfinite(ratio)
        else "the objective was still decreasing"
    )
    decrease = getattr(run, "decrease", None)
    if decrease is not None and not run.objective.loss.smooth:
        howfar = (
            f"L-BFGS steps on the exact objective (a {run.objective.loss!r} "
            f"loss, with a kink) still lower it by {decrease:.1e} of its value "
            f"(converged means at most {rule} = {threshold:.1e})"
        )
    elif decrease is not None:
        steps = (
            "proximal gradient steps still lower"
            if run.objective.l1
            else "a truncated Newton step still lowers"
        )
        if run.polishes_l1:  # its iterate is polished: the full-batch bound
            rule, threshold = "max(tol, 1e-6)", max(run.config.tol, 1e-6)
        elif not _exact(run.optimizer):
            rule, threshold = "min(sqrt(tol), 10 tol)", run.gap_threshold()
        howfar = (
            f"{steps} the objective by "
            f"{decrease:.1e} of its value (converged means at most {rule} = "
            f"{threshold:.1e}), although the gradient is {ratio:.1e} of its size "
            f"at the start: the objective is flat, the optimum still far"
        )
    unit = "iterations" if not run.optimizer.stochastic else "epochs"
    unscaled = "" if run.objective.preconditioner else "precondition=True, or "
    if stalled and not run.optimizer.stochastic:
        where = (
            f"stopped after {n_iter} {unit}, when its line search could make "
            f"no more progress, away from the optimum"
        )
        advice = f"Use {unscaled}a scaler such as StandardScaler"
    elif stalled:
        where = (
            f"stopped after {n_iter} {unit}, when the objective stalled for "
            f"n_iter_no_change={run.config.n_iter_no_change} epochs, away "
            f"from the optimum"
        )
        advice = (
            "Use learning_rate='auto' (it decays the step until the check "
            "passes) or a smaller learning_rate_init"
        )
        if run.optimizer.schedule_free:
            advice = (
                "Use learning_rate='auto' (it keeps the step and stops once the "
                "check passes), a larger max_iter, or warmup_steps"
            )
        if getattr(run.optimizer, "finite_sum", False):
            # Its constant step converges: a stall is a step too large.
            advice = "Use a smaller learning_rate_init (or 'auto')"
        if run.objective.loss.smooth and not run.objective.l1:
            advice += ", or optimizer='lbfgs'"
    else:
        where = (
            f"did not reach the optimum in max_iter={run.config.max_iter} "
            f"{unit} ({n_iter} so far)"
        )
        advice = "Increase max_iter (or continue with warm_start=True)"
        if type(run.optimizer).__name__ == "LBFGS":
            advice += ", or use optimizer='newton'"
        if not run.objective.loss.smooth:
            # Subgradient steps near a kink must shrink: slow by nature.
            advice = (
                "First-order steps approach the optimum of a loss with a kink "
                "slowly (their step must shrink near it): a smooth loss "
                "(log_loss, squared_hinge, modified_huber, huber) reaches its "
                "optimum with optimizer='auto'; or increase max_iter"
            )
        elif decayed < 1e-3:
            # More epochs at a step decayed this far would not move it.
            advice = (
                f"The step has decayed to {decayed:.1e} of learning_rate_init "
                f"while the objective still falls slowly (ill-conditioning, "
                f"not noise): more epochs will not help"
            )
            if run.objective.loss.smooth and not run.objective.l1:
                advice += "; use optimizer='auto' (Newton or L-BFGS)"
    if (
        run.optimizer.stochastic
        and sp.issparse(run.data.X)
        and run.objective.preconditioner is None
    ):
        # precondition=True does not rescale sparse X for these optimizers:
        # with columns scaled 0.1 to 100, every one of them warned (QA).
        advice += (
            "; sparse X is trained in its own units by the stochastic "
            "optimizers: if its columns' scales differ, scale them "
            "(MaxAbsScaler keeps X sparse)"
        )
    warnings.warn(
        f"{what} {where}: {howfar}. {advice}.",
        ConvergenceWarning,
        stacklevel=_caller_level(),
    )


def _caller_level():
    """``stacklevel`` of the first frame outside this package and scikit-learn.

    So that a warning points at the user's ``fit`` call, however many frames
    (scikit-learn's callback wrapper, for one) stand in between.
    """
    import sklearn

    skip = (_PACKAGE_DIR, os.path.dirname(os.path.abspath(sklearn.__file__)))
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(
        skip
    ):
        frame, level = frame.f_back, level + 1
    return level


def _block_rows(X, n, budget):
    """Rows per block of a pass over ``X`` whose temporaries hold about
    ``budget`` entries: a dense block's rows are ``n_features`` wide, a
    sparse block's hold its non-zeros. Each block also builds a gradient of
    ``n_features`` entries: sized by the width on sparse ``X`` (41 rows of a
    100,000-column tf-idf matrix), the convergence check's passes took 8.5 s
    of a 9 s SAGA fit."""
    if sp.issparse(X):
        per_row = X.nnz / max(X.shape[0], 1)
    else:
        per_row = X.shape[1]
    return max(1, min(n, int(budget // max(per_row, 1.0))))


def _row_blocks(data, budget, max_rows=None):
    """The training rows by blocks for a pass over ``X``: ``(index, X_block)``.

    ``budget`` entries per block (:func:`_block_rows`), and at most
    ``max_rows`` rows. A block of sparse rows, or of rows picked by index,
    is a copy: those blocks hold at most a 16th of ``X``'s entries (the
    convergence check's passes over a tf-idf ``X`` had copied all of it, 48
    MB, in one block, twice per fit), and all of ``X``'s rows in one block
    are ``X`` itself.
    """
    X, rows, n = data.X, data.rows, data.n_train
    size = _block_rows(X, n, budget)
    if max_rows is not None:
        size = max(1, min(size, max_rows))
    if rows is not None or (sp.issparse(X) and size < n):
        # Copies: a 16th of X at most. (All of a sparse X's rows, within
        # the budget, are X itself: the convergence check of a stochastic
        # fit on the tf-idf set copied it in 16 blocks, 6-12% of X.)
        entries = X.nnz if sp.issparse(X) else X.size
        size = min(size, _block_rows(X, n, max(entries // 16, 1 << 16)))
    for block in gen_batches(n, size):
        if rows is not None:
            idx = rows[block]
            yield idx, X[idx]
        elif block.start == 0 and block.stop == X.shape[0]:
            yield block, X
        else:
            yield block, X[block]


#: Bytes of a block of dense rows in a full-batch evaluation, with the block's
#: raw predictions and their gradient: within the caches (1-2 MB blocks were
#: the fastest on 31-153 MB of X, one and two BLAS threads; 256 KB ones paid
#: their numpy calls).
CACHE_BLOCK_BYTES = 1 << 21

#: Fewest rows of such a block: each block costs a few numpy calls and a
#: gradient of n_outputs x n_features; wide rows take blocks past the cache.
MIN_BLOCK_ROWS = 256

#: Dense X of fewer bytes is evaluated whole: it stays in the last-level cache
#: between the two products, and blocks only add their calls (1.3-2.4x slower
#: evaluations at 1.5-15 MB of X; 0.7-0.9x from about 30 MB up, 0.5x at 61 MB
#: of 20 features with two BLAS threads).
BLOCKED_MIN_BYTES = 1 << 25


def _cache_rows(X, n_outputs):
    """Rows per cache-sized block of dense ``X`` (:data:`CACHE_BLOCK_BYTES`),
    or None where ``X`` is evaluated whole (:data:`BLOCKED_MIN_BYTES`)."""
    if X.nbytes < BLOCKED_MIN_BYTES:
        return None
    row_bytes = X.dtype.itemsize * (X.shape[1] + 3 * n_outputs)
    return max(MIN_BLOCK_ROWS, CACHE_BLOCK_BYTES // max(row_bytes, 1))


def _objective_rows(data, n_outputs):
    """Rows per block of a full-batch objective evaluation, or None (all).

    An evaluation holds a few arrays of ``n_rows x n_outputs`` (the raw
    predictions, the loss's gradient in them, the softmax's work): 63% of
    a dense 10-class ``X`` of 50 features, where L-BFGS's fit allocated
    69% of ``X`` beyond it. Blocks of rows keep them within a 16th of ``X``
    once they would exceed it (small data stay one block).
    """
    X, n = data.X, data.n_train
    # In bytes: a sparse X's entries each hold a value and a column index.
    if sp.issparse(X):
        x_bytes = X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
    else:
        x_bytes = X.nbytes
    item = X.dtype.itemsize
    limit = max(x_bytes // 16, (1 << 16) * item)
    per_row = 4 * n_outputs * item
    if n * per_row <= limit:
        return None
    return max(1, limit // per_row)


def full_gradient(objective, data, params):
    """The objective's value and gradient on all training rows, by blocks.

    Blocks of rows keep the temporaries small next to ``X`` (the copies of
    :func:`_row_blocks`, the per-row arrays of :func:`_objective_rows`);
    each block's weighted mean gradient is weighted by its share of the
    total weight.

    Returns
    -------
    value : float
    grads : list of ndarray
        Shaped like ``params.arrays``.
    """
    Y, sw = data.Y, data.sample_weight
    grads = [np.zeros_like(p) for p in params.arrays]
    parts = [np.empty_like(p) for p in params.arrays]
    total_loss = total_weight = 0.0
    max_rows = _objective_rows(data, params.coef.shape[0])
    for idx, Xb in _row_blocks(data, 1 << 22, max_rows):
        swb = sw[idx]
        if swb.any():
            loss, weight = objective.batch(
                Xb, Y[idx], swb, params.coef, params.intercept, parts
            )
            total_loss += loss
            total_weight += weight
            for g, part in zip(grads, parts, strict=True):
                g += weight * part
        # A copied block: freed before the next is made (the loop would
        # rebind Xb only after), so that one copy at a time exists.
        del Xb
    # Each block's gradient carries the whole l2 term: its weights sum to 1.
    for g in grads:
        g /= total_weight
    return total_loss / total_weight + objective.penalty(params.coef), grads


def _flatten(parts):
    """Arrays as one flat float64 vector (the inverse of :func:`_unflatten`)."""
    return np.concatenate([np.ravel(a).astype(np.float64) for a in parts])


def _split(flat, like):
    """A flat float64 vector as arrays shaped and typed as ``like`` (views
    where the dtypes agree; the inverse of :func:`_flatten`)."""
    parts = np.split(flat, np.cumsum([a.size for a in like])[:-1])
    return [
        part.reshape(a.shape).astype(a.dtype, copy=False)
        for part, a in zip(parts, like, strict=True)
    ]


def _unflatten(params):
    """``theta -> Parameters``: a flat float64 vector as ``params``' arrays
    (their shapes and dtype; the intercept kept where it is not trained)."""
    arrays = params.arrays
    dtype = arrays[0].dtype
    sizes = [a.size for a in arrays]

    def at(theta):
        parts = np.split(theta, np.cumsum(sizes)[:-1])
        new = [
            part.reshape(a.shape).astype(dtype)
            for part, a in zip(parts, arrays, strict=True)
        ]
        intercept = new[1] if params.fit_intercept else params.intercept
        return Parameters(new[0], intercept, params.fit_intercept)

    return at


def newton_cg_decrease(objective, data, params, iterations=20):
    r"""What a truncated Newton step from ``params`` lowers the objective by.

    ``iterations`` conjugate-gradient steps on the Newton system
    :math:`H d = -g` (each Hessian-vector product a difference of two full
    gradients), then the objective at :math:`w + s d` for :math:`s = 1, 1/2,
    1/4, \ldots` while it improves (the quadratic model overshoots where the
    loss saturates, its Hessian tiny). Since :math:`J^*
    \le J(w + s d)` for every :math:`s`, the decrease found is a lower bound
    of the gap :math:`J(w) - J^*`; it grows with ``iterations`` towards the
    quadratic model's :math:`\tfrac12 g^\top H^{-1} g` (one iteration is a
    step along the gradient). Each iteration and each evaluation is one pass
    over the data.

    Returns
    -------
    value : float
        :math:`J(w)`.
    decrease : float
        Non-negative.
    """
    arrays = params.arrays
    at = _unflatten(params)

    value, grads = full_gradient(objective, data, params)
    theta, g = _flatten(arrays), _flatten(grads)
    if not np.all(np.isfinite(g)) or not np.any(g):
        return value, 0.0
    # Differences of gradients in the training dtype: steps of sqrt(eps).
    h = np.sqrt(np.finfo(arrays[0].dtype).eps) * max(1.0, float(np.linalg.norm(theta)))
    d, r = np.zeros_like(g), -g
    p, rr = r.copy(), float(r @ r)
    for _ in range(iterations):
        norm = float(np.linalg.norm(p))
        Hp = _flatten(full_gradient(objective, data, at(theta + h / norm * p))[1]) - g
        Hp *= norm / h
        curvature = float(p @ Hp)
        if not curvature > 0 or not math.isfinite(curvature):
            break
        a = rr / curvature
        d += a * p
        r -= a * Hp
        rr, previous = float(r @ r), rr
        if rr <= 1e-12 * float(g @ g):
            break
        p = r + (rr / previous) * p
    # Along d the objective is convex: halve the step from 1 while it
    # overshoots (on saturated rows the Hessian is tiny and the Newton step
    # far too long), and stop once a decrease stops improving.
    best, previous = value, math.inf
    scale = 1.0
    for _ in range(30 if np.any(d) else 0):
        trial, _ = full_gradient(objective, data, at(theta + scale * d))
        if not math.isfinite(trial):
            trial = math.inf
        if best < value and trial >= previous:
            break
        best, previous = min(best, trial), trial
        scale *= 0.5
    return value, max(0.0, value - best)


def quadratic_gap_bound(objective, data, params):
    r"""An upper estimate of the gap :math:`J(w) - J^*` from the curvature.

    The l2 penalty makes :math:`J` strongly convex in the coefficients, with
    curvature :math:`\mu_j = \alpha_2 / s_j^2` on coordinate :math:`j` (in
    the training coordinates of the preconditioner's scales :math:`s`), so
    :math:`J^* \ge J(w) - \sum_j g_j^2 / (2 \mu_j)`. The intercepts have
    no penalty: they count with the loss's own curvature at ``params``
    (the mean second derivative of each output's loss, one pass), which
    makes the bound an estimate there rather than a certificate. Losses
    whose outputs interact (the softmax, flat along one common intercept
    shift) and ``alpha = 0`` get ``inf``: nothing to bound with.

    Returns
    -------
    float
        Non-negative, or ``inf``.
    """
    l2 = objective.l2
    if not l2 or (
        params.fit_intercept
        and not getattr(objective.loss, "independent_outputs", False)
    ):
        return math.inf
    _, grads = full_gradient(objective, data, params)
    mu = objective.l2_curvatures(params.coef.shape[1])
    bound = float(np.sum(np.square(grads[0]) / (2.0 * mu)))
    if params.fit_intercept:
        Y, sw = data.Y, data.sample_weight
        curvature = np.zeros(params.coef.shape[0])
        total = 0.0
        for idx, Xb in _row_blocks(data, 1 << 20):
            raw = objective.raw(Xb, params.coef, params.intercept)
            D = objective.output_hessian(raw, Y[idx])
            diagonal = np.einsum("ikk->ik", D)
            curvature += sw[idx] @ diagonal
            total += float(np.sum(sw[idx]))
            del Xb  # (one copied block at a time, as in full_gradient)
        curvature /= max(total, np.finfo(float).tiny)
        if not np.all(curvature > 0):
            return math.inf
        bound += float(np.sum(np.square(grads[1]) / (2.0 * curvature)))
    return bound if math.isfinite(bound) else math.inf


def nonsmooth_decrease(objective, data, params, iterations=10):
    r"""What L-BFGS steps from ``params`` lower a non-smooth objective by.

    The counterpart of :func:`newton_cg_decrease` for the losses with a kink
    (hinge, absolute error, quantile, ...), where no gradient vanishes at the
    optimum: ``iterations`` iterations of L-BFGS on the exact objective with
    a subgradient (``scipy.optimize.minimize(method="L-BFGS-B")``; quasi-Newton
    methods make steady progress on such piecewise-smooth functions until
    near the optimum, Lewis & Overton, Math. Program. 141, 2013). The l1 term
    enters with its subgradient :math:`\lambda \operatorname{sign}(w)`.
    Every point evaluated has :math:`J \ge J^*`, so the decrease found is a
    lower bound of the gap :math:`J(w) - J^*`; about one pass per function
    evaluation.

    Returns
    -------
    value : float
        :math:`J(w)`.
    decrease : float
        Non-negative.
    """
    from scipy.optimize import minimize

    arrays = params.arrays
    at = _unflatten(params)
    l1 = objective.l1_strengths()
    best = [math.inf]

    def fun(theta):
        point = at(theta)
        value, grads = full_gradient(objective, data, point)
        if objective.l1:
            grads[0] = grads[0] + l1 * np.sign(point.coef)
        if not math.isfinite(value):
            return math.inf, np.zeros_like(theta)
        best[0] = min(best[0], value)
        return value, _flatten(grads)

    theta = _flatten(arrays)
    value = fun(theta)[0]
    if not math.isfinite(value):
        return value, 0.0
    minimize(
        fun,
        theta,
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": iterations, "gtol": 0.0, "ftol": 0.0, "maxls": 20},
    )
    return value, max(0.0, value - best[0])


def proximal_gradient_decrease(objective, data, params, iterations=20):
    r"""What proximal gradient steps from ``params`` lower the objective by (l1).

    The l1 counterpart of :func:`newton_cg_decrease`: ``iterations`` steps of
    :func:`proximal_gradient_steps`. Every accepted point is evaluated, so
    the decrease is a lower bound of the gap (one pass per step).

    Returns
    -------
    value : float
        :math:`J(w)`.
    decrease : float
        Non-negative.
    """
    value, best, _ = proximal_gradient_steps(objective, data, params, iterations)
    return value, max(0.0, value - best)


def proximal_gradient_steps(objective, data, params, iterations=20):
    r"""Full-batch proximal gradient steps from ``params`` (l1), while they help.

    ``iterations`` steps :math:`w \leftarrow \operatorname{prox}_{t \lambda
    \lVert\cdot\rVert_1} (w - t \nabla f(w))` (ISTA; the intercept a plain
    gradient step), :math:`t` first :math:`1 / c` for the secant curvature
    :math:`c` along the gradient, halved when a step does not lower the
    objective and kept otherwise. One pass per step.

    Returns
    -------
    value : float
        :math:`J(w)` at ``params``.
    best : float
        The lowest objective found (``value`` if no step lowered it).
    point : Parameters or None
        Where ``best`` is; None if no step lowered the objective.
    """
    l1 = objective.l1_strengths()
    dtype = params.coef.dtype

    def make(W, b):
        intercept = b.astype(dtype) if params.fit_intercept else params.intercept
        return Parameters(W.astype(dtype), intercept, params.fit_intercept)

    def prox_step(W, b, grads, t):
        V = W - t * grads[0]
        V = np.sign(V) * np.maximum(np.abs(V) - t * l1, 0.0)
        c = b - t * grads[1] if params.fit_intercept else b
        return V, c

    W = params.coef.astype(np.float64)
    b = params.intercept.astype(np.float64)
    value, grads = full_gradient(objective, data, params)
    norm2 = float(sum(np.vdot(g, g) for g in grads))
    if not norm2 > 0 or not math.isfinite(norm2):
        return value, value, None
    h = 1e-4 * max(1.0, math.sqrt(float(np.vdot(W, W) + np.vdot(b, b))))
    h /= math.sqrt(norm2)
    probe = make(W - h * grads[0], b - h * grads[1] if params.fit_intercept else b)
    _, probe_grads = full_gradient(objective, data, probe)
    change = float(
        sum(np.vdot(g, g - q) for g, q in zip(grads, probe_grads, strict=True))
    )
    t = h * norm2 / change if change > 0 and math.isfinite(change) else h
    current, point = value, None
    for _ in range(iterations):
        V, c = prox_step(W, b, grads, t)
        trial_point = make(V, c)
        trial, trial_grads = full_gradient(objective, data, trial_point)
        if math.isfinite(trial) and trial < current:
            W, b, grads, current, point = V, c, trial_grads, trial, trial_point
        else:
            t *= 0.5
    return value, current, point


def optimality(objective, data, params, scale=None):
    r"""First-order optimality of ``params``: the largest entry of the gradient.

    For the l1 (elastic-net) penalty, the minimum-norm subgradient of the
    composite objective: :math:`g_j + \lambda_j \operatorname{sign}(w_j)` where
    :math:`w_j \ne 0` and :math:`\max(|g_j| - \lambda_j, 0)` where
    :math:`w_j = 0`, :math:`\lambda_j` the l1 strength in the training
    coordinates. Zero exactly at the minimizer of a smooth objective.

    Parameters
    ----------
    objective, data, params
        The objective (in its training coordinates), the data and the point.
    scale : Preconditioner, optional
        Coordinates to measure the gradient in, for an objective trained in
        the user's: :math:`(g_W - g_b m^\top) / s` (the chain rule of the
        preconditioner's reparameterization).

    Returns
    -------
    value : float
        The objective at ``params``.
    optimality : float
        Max-abs over coef and intercept.
    """
    value, grads = full_gradient(objective, data, params)
    return value, gradient_optimality(objective, params.coef, grads, scale)


def gradient_optimality(objective, coef, grads, scale=None):
    """The largest entry of the (minimum-norm sub)gradient ``grads`` at ``coef``.

    :func:`optimality`'s measure, for a gradient computed otherwise (a
    finite-sum optimizer's table estimates it).

    Parameters
    ----------
    objective : Objective
    coef : ndarray of shape (n_outputs, n_features)
        In the objective's training coordinates.
    grads : list of ndarray
        The smooth part's gradient ``[dW, db]`` in those coordinates.
    scale : Preconditioner, optional
        As for :func:`optimality`.

    Returns
    -------
    float
    """
    g = grads[0]
    if objective.l1:
        l1 = objective.l1_strengths()
        W = coef
        g = np.where(W != 0, g + l1 * np.sign(W), np.maximum(np.abs(g) - l1, 0.0))
    if scale is not None:
        if scale.mean is not None:
            g = g - np.outer(grads[1], scale.mean)
        g = g * scale.inv_scale
    parts = [g, *grads[1:]]
    return float(max(np.max(np.abs(part), initial=0.0) for part in parts))


def _exact(optimizer):
    """Whether the optimizer converges to the optimum itself (full batch or
    finite sum), rather than to a noise ball that its schedule shrinks."""
    return not optimizer.stochastic or getattr(optimizer, "finite_sum", False)
