"""The training loop shared by the classifier and the regressor."""

import copy
import math
import numbers
import time
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state, gen_batches
from sklearn.utils.extmath import row_norms, safe_sparse_dot
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import (
    _check_sample_weight,
    assert_all_finite,
    validate_data,
)

from ._objective import Objective
from ._sparse import SparseColumnSteps
from .losses import LOSSES
from .optimizers import OPTIMIZERS, ProblemScale
from .schedules import SCHEDULES

try:  # scikit-learn >= 1.9: callbacks such as ProgressBar and ScoringMonitor.
    from sklearn.callback import CallbackSupportMixin, with_callbacks
except ImportError:  # pragma: no cover - older scikit-learn

    class CallbackSupportMixin:
        """Stand-in: this scikit-learn has no callback API."""

    def with_callbacks(method):
        return method


# Attributes of scikit-learn's callback machinery: never snapshotted or restored.
_CALLBACK_ATTRIBUTES = ("_skl_callbacks", "_callback_fit_ctx", "_parent_callback_ctx")


def _one_buffer(*arrays):
    """A 1-D buffer holding copies of ``arrays`` back to back, and views of them.

    Optimizers then run their elementwise rules once on the buffer instead of
    once per array (``Optimizer.step(..., flat=...)``).
    """
    buffer = np.concatenate([a.ravel() for a in arrays])
    views, start = [], 0
    for a in arrays:
        views.append(buffer[start : start + a.size].reshape(a.shape))
        start += a.size
    return buffer, views


def _sample_rows(X):
    """All rows of sparse ``X``; for dense ``X``, at most 10,000 evenly spaced.

    The mean count of non-zeros per row sets a scale, not a bound, and counting
    a dense array's non-zeros costs a pass over it.
    """
    n = X.shape[0]
    if sp.issparse(X) or n <= 10_000:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, 10_000).astype(np.intp))


def _row_nnz(X, rows):
    """Non-zero entries of the given rows, without allocating ``X``'s size."""
    if sp.issparse(X):
        counts = np.diff(X.indptr)
        if X.nnz and not np.all(X.data):
            # Explicitly stored zeros are not entries of the data.
            starts = np.minimum(X.indptr[:-1], X.nnz - 1)
            nonzero = np.add.reduceat(X.data != 0, starts, dtype=np.int64)
            counts = np.where(counts > 0, nonzero, 0)
        return counts[rows]
    # By blocks of rows: count_nonzero(X, axis=1) would allocate X's shape.
    return np.concatenate(
        [
            np.count_nonzero(X[rows[block]], axis=1)
            for block in gen_batches(len(rows), 256)
        ]
    )


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


class _Averager:
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


_PENALTIES = ("l2", "l1", "elasticnet", None)


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _stochastic_optimizer(estimator):
    """``available_if`` predicate: ``partial_fit`` needs a stochastic optimizer."""
    optimizer = estimator.optimizer
    if isinstance(optimizer, str) and optimizer in OPTIMIZERS.names():
        optimizer = OPTIMIZERS.create(optimizer, "optimizer")
    # An invalid name is reported by fit; here it only must not hide the method.
    if not getattr(optimizer, "stochastic", True):
        raise AttributeError(
            f"partial_fit is only available for stochastic optimizers; "
            f"{estimator.optimizer!r} trains on the full batch."
        )
    return True


class BaseLinearNN(CallbackSupportMixin, BaseEstimator):
    """Shared parameters, validation and the training loop.

    Subclasses define ``_task`` and the target handling
    (``_prepare_targets``) and prediction decoding.
    """

    _task = None

    def __init__(
        self,
        loss,
        optimizer,
        *,
        learning_rate="constant",
        learning_rate_init="auto",
        power_t=0.5,
        penalty="l2",
        alpha=1e-4,
        l1_ratio=0.15,
        fit_intercept=True,
        batch_size="auto",
        max_iter=200,
        tol=1e-4,
        n_iter_no_change=10,
        early_stopping=False,
        validation_fraction=0.1,
        shuffle=True,
        random_state=None,
        warm_start=False,
        average=False,
        verbose=0,
    ):
        self.loss = loss
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.penalty = penalty
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.shuffle = shuffle
        self.random_state = random_state
        self.warm_start = warm_start
        self.average = average
        self.verbose = verbose

    # ----------------------------------------------------------------- checks
    def _validate_hyperparameters(self):
        def bad(name, expected):
            value = getattr(self, name)
            raise ValueError(
                f"The {name!r} parameter of {type(self).__name__} must be "
                f"{expected}; got {value!r}."
            )

        if self.learning_rate not in SCHEDULES:
            bad("learning_rate", f"one of {sorted(SCHEDULES)}")
        lr0 = self.learning_rate_init
        if not (lr0 == "auto" or (_is_real(lr0) and lr0 > 0 and np.isfinite(lr0))):
            bad("learning_rate_init", '"auto" or a float > 0')
        if not _is_real(self.power_t):
            bad("power_t", "a float")
        if self.penalty not in _PENALTIES:
            bad("penalty", f"one of {_PENALTIES}")
        if not (_is_real(self.alpha) and 0 <= self.alpha < np.inf):
            bad("alpha", "a float >= 0")
        if not (_is_real(self.l1_ratio) and 0 <= self.l1_ratio <= 1):
            bad("l1_ratio", "a float in [0, 1]")
        if not isinstance(self.fit_intercept, bool | np.bool_):
            bad("fit_intercept", "a bool")
        bs = self.batch_size
        if not (bs == "auto" or (_is_int(bs) and bs >= 1)):
            bad("batch_size", '"auto" or an int >= 1')
        if not (_is_int(self.max_iter) and self.max_iter >= 1):
            bad("max_iter", "an int >= 1")
        if not (self.tol is None or (_is_real(self.tol) and self.tol >= 0)):
            bad("tol", "None or a float >= 0")
        if not (_is_int(self.n_iter_no_change) and self.n_iter_no_change >= 1):
            bad("n_iter_no_change", "an int >= 1")
        if not isinstance(self.early_stopping, bool | np.bool_):
            bad("early_stopping", "a bool")
        vf = self.validation_fraction
        if not (_is_real(vf) and 0 < vf < 1):
            bad("validation_fraction", "a float in (0, 1)")
        if not isinstance(self.shuffle, bool | np.bool_):
            bad("shuffle", "a bool")
        if not isinstance(self.warm_start, bool | np.bool_):
            bad("warm_start", "a bool")
        if not (_is_int(self.verbose) and self.verbose >= 0):
            bad("verbose", "an int >= 0")
        avg = self.average
        if not (isinstance(avg, bool | np.bool_) or (_is_int(avg) and avg >= 1)):
            bad("average", "a bool or an int >= 1 (the first averaged step)")

    def _resolve_loss(self):
        loss = LOSSES.create(self.loss, "loss")
        if self._task not in loss.tasks:
            valid = [n for n, cls, _ in LOSSES.items() if self._task in cls.tasks]
            raise ValueError(
                f"loss={self.loss!r} is a "
                f"{' and '.join(sorted(loss.tasks))} loss and cannot be used by "
                f"{type(self).__name__}; valid losses are {valid}."
            )
        loss._validate()
        return loss

    def _resolve_optimizer(self):
        optimizer = OPTIMIZERS.create(self.optimizer, "optimizer")
        optimizer._validate()
        if not optimizer.stochastic and self.penalty in ("l1", "elasticnet"):
            raise ValueError(
                f"penalty={self.penalty!r} needs a stochastic optimizer (its "
                f"proximal step gives exact zeros); {self.optimizer!r} is "
                f"full-batch. Use e.g. optimizer='sgd' or 'adam', or penalty='l2'."
            )
        return optimizer

    def _check_sample_weight(self, sample_weight, X, y_len):
        if sample_weight is not None and hasattr(sample_weight, "__len__"):
            if len(sample_weight) != y_len:
                raise ValueError(
                    f"sample_weight has {len(sample_weight)} elements but X has "
                    f"{y_len} samples."
                )
        sw = _check_sample_weight(sample_weight, X, dtype=X.dtype)
        if not np.all(np.isfinite(sw)):
            raise ValueError("sample_weight contains NaN or infinity.")
        if np.any(sw < 0):
            raise ValueError("sample_weight must be non-negative.")
        if not np.any(sw > 0):
            raise ValueError("sample_weight must not be all zero.")
        return sw

    # ------------------------------------------------------------------- fit
    def _fit(self, X, y, sample_weight, *, incremental, classes=None, init=None):
        """Validate, initialize or continue, train; shared by fit/partial_fit."""
        self._validate_hyperparameters()
        loss = self._resolve_loss()
        optimizer = self._resolve_optimizer()
        if not optimizer.stochastic and not loss.full_batch:
            raise ValueError(
                f"loss={self.loss!r} needs a stochastic optimizer: the zero model "
                f"minimizes it, so {self.optimizer!r} would return a constant "
                f"model. Use e.g. optimizer='sgd'."
            )
        if incremental and self.early_stopping:
            raise ValueError(
                "partial_fit does not support early_stopping=True; use fit, or "
                "hold out your own validation set."
            )
        # Everything fit sets, so that a diverged fit leaves the previous state.
        own_params = self.get_params(deep=False)

        def fitted_state():
            return {
                k: v
                for k, v in vars(self).items()
                if k not in own_params and not k.startswith(_CALLBACK_ATTRIBUTES)
            }

        snapshot = copy.deepcopy(fitted_state())
        try:
            self._fit_validated(
                X, y, sample_weight, loss, optimizer, incremental, classes, init
            )
        except DivergenceError:
            for key in fitted_state():
                delattr(self, key)
            vars(self).update(snapshot)
            raise
        return self

    def _validate_fit_data(self, X, y, *, reset, **kwargs):
        """``validate_data`` for fitting; dense X's finiteness is left to the fit.

        See :meth:`_finite_rows`: the check comes at no extra pass over ``X``.
        """
        X, y = validate_data(
            self,
            X,
            y,
            reset=reset,
            accept_sparse="csr",
            dtype=[np.float64, np.float32],
            ensure_all_finite=False,
            **kwargs,
        )
        if sp.issparse(X):
            self._assert_finite_X(X.data)
        return X, y

    def _assert_finite_X(self, X):
        assert_all_finite(X, input_name="X", estimator_name=type(self).__name__)

    def _finite_rows(self, X, stochastic):
        """Check dense ``X`` for NaN and inf; its squared row norms or None.

        The row norms, which the automatic step size needs, are finite for
        finite rows unless squares overflow: computing them makes one pass over
        ``X`` do the work of two. L-BFGS needs neither pass: its first objective
        is not finite when ``X`` is not, and ``_fit_full_batch`` checks it.
        """
        if sp.issparse(X) or not stochastic:
            return None
        sq_norms = row_norms(X, squared=True)
        if not np.isfinite(np.add.reduce(sq_norms)):
            self._assert_finite_X(X)
        return sq_norms

    def _fit_validated(
        self, X, y, sample_weight, loss, optimizer, incremental, classes, init
    ):
        first_call = not (incremental and hasattr(self, "coef_"))
        X, y, Y, sw = self._prepare_data(X, y, sample_weight, first_call, classes, loss)
        sq_norms = self._finite_rows(X, optimizer.stochastic)
        # Targets column-major like the raw predictions (Objective.raw), so that
        # the losses' elementwise work runs on matching layouts.
        Y = np.asfortranarray(Y)
        loss.check_target(Y)
        n_outputs = Y.shape[1]
        warm = hasattr(self, "coef_") and (incremental or self.warm_start)
        if warm:
            W, b = self._current_params(X.dtype)
            if W.shape != (n_outputs, X.shape[1]):
                raise ValueError(
                    f"warm_start needs data shaped like the previous fit's: "
                    f"coef_ has shape {W.shape} but X and y need "
                    f"({n_outputs}, {X.shape[1]}). Set warm_start=False to refit."
                )
            previous = self.optimizer_
            if type(previous) is type(optimizer) and (
                previous.get_params() == optimizer.get_params()
            ):
                optimizer = previous
        else:
            W, b = self._initial_params(X, Y, sw, loss, init)
            self.n_iter_ = 0
            self.t_ = 0
            self.loss_curve_ = []
            self.best_loss_ = np.inf
            self._best_loss_for_stopping = np.inf
            self._no_improvement_count = 0
            if self.early_stopping:
                self.validation_scores_ = []
                self.best_validation_score_ = -np.inf
        if not incremental:
            self._no_improvement_count = 0
        if not warm or self.average is False:
            self._averager = None
        if self.average is not False and self._averager is None:
            self._averager = _Averager([W, b][: 1 + self.fit_intercept], self.average)
        if incremental and not first_call:
            rng = self._random_state
        else:
            rng = check_random_state(self.random_state)
            self._random_state = rng
        if self.learning_rate_init == "auto":
            # A replaced optimizer needs its own automatic step (and AdamW its unit).
            if not optimizer.stochastic:
                self.learning_rate_init_ = optimizer.auto_learning_rate(None)
            elif not (warm and optimizer is self.optimizer_) or not hasattr(
                self, "learning_rate_init_"
            ):
                self.learning_rate_init_ = optimizer.auto_learning_rate(
                    self._problem_scale(X, Y, sw, loss, sq_norms)
                )
        else:
            self.learning_rate_init_ = float(self.learning_rate_init)
            # A numeric step is in torch's units: no automatic unit applies.
            vars(optimizer).pop("lr_unit_", None)
        self.loss_function_ = loss
        self.optimizer_ = optimizer

        objective = Objective(
            loss, self.alpha, self.penalty, self.l1_ratio, self.fit_intercept
        )
        if self.fit_intercept:
            theta, (W, b) = _one_buffer(W, b)
            params = [W, b]
        else:
            theta, (W,) = _one_buffer(W)
            params = [W]
        callback_ctx = None
        if hasattr(self, "_init_callback_context"):
            callback_ctx = self._init_callback_context(
                max_subtasks=1 if incremental else self.max_iter
            )
            callback_ctx.call_on_fit_task_begin(estimator=self, X=X, y=y)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            if optimizer.stochastic:
                self._fit_stochastic(
                    X, y, Y, sw, theta, params, b, objective, rng, incremental
                )
            else:
                self._fit_full_batch(X, Y, sw, params, b, objective)
        self._set_params_from(*self._exposed(W, b))
        if callback_ctx is not None:
            callback_ctx.call_on_fit_task_end(
                estimator=self, X=X, y=y, reconstruction_attributes={}
            )
        # Training continues from the last iterate, not from its average.
        self._standard_params = (W, b) if self._averager is not None else None
        self.loss_ = self.loss_curve_[-1] if self.loss_curve_ else self.best_loss_

    def _current_params(self, dtype):
        if getattr(self, "_standard_params", None) is not None:
            coef, intercept = self._standard_params
        else:
            coef, intercept = self.coef_, self.intercept_
        W = np.array(np.atleast_2d(coef), dtype=dtype, order="C")
        b = np.array(np.atleast_1d(intercept), dtype=dtype)
        return W, b

    def _initial_params(self, X, Y, sw, loss, init):
        coef_init, intercept_init = init if init is not None else (None, None)
        n_outputs, n_features = Y.shape[1], X.shape[1]
        if coef_init is None:
            W = np.zeros((n_outputs, n_features), dtype=X.dtype)
        else:
            W = (
                np.array(coef_init, dtype=X.dtype, order="C").reshape(
                    n_outputs, n_features
                )
                if np.size(coef_init) == n_outputs * n_features
                else None
            )
            if W is None:
                raise ValueError(
                    f"coef_init has shape {np.shape(coef_init)}; expected "
                    f"({n_outputs}, {n_features}) or ({n_features},) for one output."
                )
        if not self.fit_intercept:
            b = np.zeros(n_outputs, dtype=X.dtype)
        elif intercept_init is None:
            b = np.asarray(loss.baseline(Y, sw), dtype=X.dtype).reshape(n_outputs)
        else:
            if np.size(intercept_init) != n_outputs:
                raise ValueError(
                    f"intercept_init has shape {np.shape(intercept_init)}; expected "
                    f"({n_outputs},)."
                )
            b = np.array(intercept_init, dtype=X.dtype).reshape(n_outputs)
        return W, b.copy()

    def _problem_scale(self, X, Y, sw, loss, sq_norms=None):
        # Statistics of the weighted sample, so that integer weights and repeated
        # rows give the same step size.
        if sq_norms is None:
            sq_norms = row_norms(X, squared=True)
        uniform = bool(np.all(sw == sw[0]))
        mean_sq_norm = float(np.average(sq_norms, weights=None if uniform else sw))
        rows = _sample_rows(X)
        mean_nnz = float(np.average(_row_nnz(X, rows), weights=sw[rows]))
        x_scale = np.sqrt(mean_sq_norm / mean_nnz) if mean_nnz > 0 else 1.0
        if not 0 < x_scale < np.inf:
            # Squares under- or overflowed: fall back to the largest entry.
            x_scale = float(abs(X).max()) or 1.0
        # Expected smoothness of a minibatch gradient (Gower et al., 2019, sampling
        # without replacement): the mean curvature for the full batch, the
        # largest single row's for batch 1.
        l2 = self.alpha if self.penalty == "l2" else 0.0
        curvature = loss.sample_curvature(Y, sw)
        if uniform and np.ndim(curvature) == 0:
            mean_curvature = curvature * (mean_sq_norm + self.fit_intercept)
            max_curvature = curvature * (float(np.max(sq_norms)) + self.fit_intercept)
        else:
            row_curvature = curvature * (sq_norms + self.fit_intercept)
            mean_curvature = float(np.average(row_curvature, weights=sw))
            max_curvature = float(np.max(row_curvature * (sw / np.mean(sw))))
        n, batch = X.shape[0], self._batch_size(X.shape[0])
        if batch >= n:
            smoothness = mean_curvature + l2
        else:
            smoothness = (
                n * (batch - 1) / (batch * (n - 1)) * mean_curvature
                + (n - batch) / (batch * (n - 1)) * max_curvature
                + l2
            )
        # A coefficient's natural size is target / x_scale when each feature is
        # present in most rows (dense data: one feature may carry the
        # prediction). In sparse rows many rare features share it, and the
        # size is nearer target / row norm, sqrt(nnz) times smaller: there the
        # per-entry scale made Adam's steps 7x too large to settle (tf-idf-like
        # benchmark set). The factor moves from 1 to sqrt(nnz) with sparsity,
        # so that the same data dense or CSR gets the same step.
        target = loss.target_scale(Y, sw)
        density = mean_nnz / max(X.shape[1], 1)
        spread = np.sqrt(1.0 + mean_nnz * (1.0 - density))
        param_scale = target / (x_scale * spread)
        # The l2 penalty caps it near target * x_scale / alpha (its gradient
        # balances the loss's), which matters for features far below unit scale.
        if l2 > 0:
            param_scale = min(param_scale, target * x_scale / l2)
        return ProblemScale(
            smoothness=max(smoothness, np.finfo(np.float64).tiny),
            param_scale=param_scale,
            steps_per_epoch=-(-n // batch),
        )

    def _batch_size(self, n_samples):
        if self.batch_size == "auto":
            return min(200, n_samples)
        return min(self.batch_size, n_samples)

    def _check_finite(self, value, params):
        if not (np.isfinite(value) and all(np.all(np.isfinite(p)) for p in params)):
            raise self._divergence_error()

    def _divergence_error(self):
        return DivergenceError(
            f"Training diverged in epoch {self.n_iter_ + 1}: the objective exploded "
            f"or the coefficients became non-finite with learning rate "
            f"{self.learning_rate_init_:.3g} and optimizer {self.optimizer_!r}. "
            f"Use a smaller learning_rate_init (or 'auto'), or standardize X "
            f"(e.g. with StandardScaler). The coefficients of the previous "
            f"successful fit were kept."
        )

    def _check_explosion(self, epoch_loss):
        """Raise DivergenceError when the objective blows up while staying finite.

        A run whose objective grows 10^4-fold over its first epoch, its best
        later epoch and 1 (a loss of 10^4 per sample is far from any sensible
        fit; the floor keeps near-zero objectives, e.g. separable data, from
        tripping it) is diverging, even before it overflows; stopping on the
        stall rule would return that model silently.
        """
        if not self.loss_curve_:
            return
        reference = max(self.loss_curve_[0], self._best_loss_for_stopping, 1.0)
        if epoch_loss > 1e4 * reference:
            raise self._divergence_error()

    def _fit_stochastic(
        self, X, y, Y, sw, theta, params, b, objective, rng, incremental
    ):
        # Training rows are addressed by index, so that neither shuffling nor the
        # validation split copies X.
        rows, validation = None, None
        if self.early_stopping:
            rows, validation = self._split_validation(X, y, sw, rng)
        n_samples = X.shape[0] if rows is None else len(rows)
        batch_size = self._batch_size(n_samples)
        optimizer = self.optimizer_
        averager = self._averager
        W = params[0]
        l1 = objective.l1
        columns = grads = flat = None
        if (
            sp.issparse(X)
            and optimizer.sparse_update() != "dense"
            and not l1
            and averager is None
        ):
            # Steps on the batch's columns, which gather their own gradient.
            columns = SparseColumnSteps(
                X, n_samples, batch_size, objective, optimizer, theta, W, b
            )
        else:
            grad_buffer, grads = _one_buffer(*(np.empty_like(p) for p in params))
            flat = (theta, grad_buffer)
        buffer = None
        if (self.shuffle or rows is not None) and isinstance(X, np.ndarray):
            # Gathered batches go to one reused buffer.
            buffer = np.empty((batch_size, X.shape[1]), dtype=X.dtype)
        schedule = SCHEDULES[self.learning_rate](
            self.learning_rate_init_, self, objective.loss
        )
        # Equal weights (the usual case) need no per-sample weighting at all.
        weighted = not np.all(sw == sw[0])
        may_skip = not np.all(sw > 0)
        stopped = False
        for _ in range(1 if incremental else self.max_iter):
            task = self._begin_epoch_task(X, y)
            start = time.perf_counter()
            if self.shuffle:
                order = rng.permutation(n_samples if rows is None else rows)
            else:
                order = rows
            total_loss = total_weight = 0.0
            for batch in gen_batches(n_samples, batch_size):
                if order is None:
                    Xb, Yb, swb = X[batch], Y[batch], sw[batch]
                else:
                    idx = order[batch]
                    # The indices are valid by construction; mode="raise" would make
                    # numpy gather into a temporary and copy it (2x the time).
                    if buffer is None:
                        Xb = X[idx]
                    else:
                        Xb = X.take(idx, axis=0, out=buffer[: len(idx)], mode="clip")
                    Yb = Y.T.take(idx, axis=1).T  # column-major, as Y
                    swb = sw.take(idx) if weighted or may_skip else None
                if may_skip and not swb.any():
                    continue  # an all-zero-weight batch has no weighted mean
                if not weighted:
                    swb = None
                lr = schedule.rate(getattr(optimizer, "t_", 0) + 1)
                if columns is not None:
                    batch_loss, batch_weight = columns.step(Xb, Yb, swb, lr)
                else:
                    batch_loss, batch_weight = objective.batch(Xb, Yb, swb, W, b, grads)
                    optimizer.step(params, grads, lr, flat=flat)
                if l1:
                    objective.prox_l1(W, optimizer.coef_step_size(lr))
                if averager is not None:
                    averager.update(params, optimizer.t_)
                if not math.isfinite(batch_loss):
                    self._check_finite(batch_loss, params)
                total_loss += batch_loss
                total_weight += batch_weight
            if columns is not None:
                columns.finish()
            if total_weight == 0:
                raise ValueError("All training samples have zero sample_weight.")
            self.n_iter_ += 1
            self.t_ = optimizer.t_
            epoch_loss = total_loss / total_weight + objective.penalty(W)
            self._check_finite(epoch_loss, params)
            self._check_explosion(epoch_loss)
            self.loss_curve_.append(epoch_loss)
            self._update_no_improvement(epoch_loss, *self._exposed(W, b), validation)
            if self.verbose:
                self._print_epoch(epoch_loss, schedule.rate(max(self.t_, 1)), start)
            if self._end_epoch_task(task, X, y, W, b):
                stopped = True
                break
            if incremental:
                return
            if self._no_improvement_count >= self.n_iter_no_change:
                if not schedule.on_stall():
                    self._no_improvement_count = 0
                elif self.tol is not None:
                    if self.verbose:
                        print(
                            f"Objective did not improve more than tol={self.tol} "
                            f"for {self.n_iter_no_change} consecutive epochs. "
                            f"Stopping."
                        )
                    stopped = True
                    break
        if validation is not None:
            best_W, best_b = self._best_params
            W[...] = best_W
            b[...] = best_b
            if averager is not None:
                averager.reset_to([best_W, best_b][: len(params)])
        if not stopped and self.tol is not None:
            warnings.warn(
                f"Stochastic optimizer: maximum iterations ({self.max_iter}) "
                f"reached and the optimization hasn't converged yet.",
                ConvergenceWarning,
                stacklevel=3,
            )

    def _begin_epoch_task(self, X, y, lbfgs_iteration=None):
        """Open a callback task for one epoch (scikit-learn >= 1.9)."""
        ctx = getattr(self, "_callback_fit_ctx", None)
        if ctx is None:
            return None
        if lbfgs_iteration is None:
            name = f"epoch {self.n_iter_ + 1}"
        else:
            name = f"iteration {lbfgs_iteration}"
        task = ctx.subcontext(task_name=name)
        task.call_on_fit_task_begin(estimator=self, X=X, y=y)
        return task

    def _end_epoch_task(self, task, X, y, W, b):
        """Close an epoch's callback task; True if a callback asks to stop."""
        if task is None:
            return False
        return task.call_on_fit_task_end(
            estimator=self,
            X=X,
            y=y,
            reconstruction_attributes=lambda: self._coef_attributes(
                *(p.copy() for p in self._exposed(W, b))
            ),
        )

    def _set_params_from(self, W, b):
        vars(self).update(self._coef_attributes(W, b))

    def _exposed(self, W, b):
        """The coefficients the model predicts with: averaged once averaging runs."""
        averager = getattr(self, "_averager", None)
        if averager is None or averager.count == 0:
            return W, b
        mean = averager.mean
        return mean[0], mean[1] if self.fit_intercept else b

    def _print_epoch(self, epoch_loss, lr, start):
        line = f"Epoch {self.n_iter_}, loss = {epoch_loss:.8f}"
        if self.early_stopping:
            line += f", validation score = {self.validation_scores_[-1]:.6f}"
        line += f", lr = {lr:.3g}, time = {time.perf_counter() - start:.3f}s"
        print(line)

    def _split_validation(self, X, y, sw, rng):
        """Training row indices and the held-out ``(X, y, sample_weight)``."""
        stratify = y if self._task == "classification" else None
        idx_train, idx_val = train_test_split(
            np.arange(X.shape[0]),
            test_size=self.validation_fraction,
            random_state=rng,
            stratify=stratify,
        )
        if len(idx_val) < 2:
            raise ValueError(
                f"validation_fraction={self.validation_fraction} leaves fewer than "
                f"2 validation samples out of {X.shape[0]}; use more data or a "
                f"larger validation_fraction."
            )
        self._best_params = None
        return np.sort(idx_train), (X[idx_val], y[idx_val], sw[idx_val])

    def _update_no_improvement(self, epoch_loss, W, b, validation):
        """Track the stopping rule; return True if this epoch did not improve."""
        tol = 0.0 if self.tol is None else self.tol
        self.best_loss_ = min(self.best_loss_, epoch_loss)
        if validation is not None:
            self._set_params_from(W, b)
            X_val, y_val, sw_val = validation
            score = self.score(X_val, y_val, sample_weight=sw_val)
            self.validation_scores_.append(score)
            stalled = score < self.best_validation_score_ + tol
            if score > self.best_validation_score_:
                self.best_validation_score_ = score
                self._best_params = (W.copy(), b.copy())
        elif len(self.loss_curve_) == 1:
            # The first epoch's objective is mostly that of the starting point,
            # not a result of training: for the perceptron loss the zero start is
            # the global minimum, and would stop every fit after the patience.
            stalled = False
        else:
            stalled = epoch_loss > self._best_loss_for_stopping - tol
            self._best_loss_for_stopping = min(self._best_loss_for_stopping, epoch_loss)
        self._no_improvement_count = self._no_improvement_count + 1 if stalled else 0
        return stalled

    def _fit_full_batch(self, X, Y, sw, params, b, objective):
        W = params[0]
        shapes = [p.shape for p in params]
        sizes = [p.size for p in params]

        def unpack(theta):
            parts = np.split(theta, np.cumsum(sizes)[:-1])
            return [
                part.reshape(s).astype(W.dtype)
                for part, s in zip(parts, shapes, strict=True)
            ]

        # Equal weights need no per-sample weighting (the same mean).
        weights = None if np.all(sw == sw[0]) else sw

        def fun(theta):
            current = unpack(theta)
            Wt = current[0]
            bt = current[1] if self.fit_intercept else b
            value, grads = objective.value_grad(X, Y, weights, Wt, bt)
            if not math.isfinite(value) and not sp.issparse(X):
                # NaN or inf in dense X (not checked before: see _finite_rows),
                # or an overflow, which L-BFGS's line search handles.
                self._assert_finite_X(X)
            flat = np.concatenate([g.ravel() for g in grads]).astype(np.float64)
            return float(value), flat

        curve = []
        tasks = [self._begin_epoch_task(X, None, 1)]

        def callback(value):
            curve.append(float(value))
            if self.verbose:
                print(f"Iteration {len(curve)}, loss = {value:.8f}")
            task = tasks.pop()
            # L-BFGS's iterates stay inside scipy: the task carries no model.
            if task is not None and task.call_on_fit_task_end(estimator=self, X=X):
                raise StopIteration  # scipy ends the minimization cleanly
            if len(curve) < self.max_iter:
                tasks.append(self._begin_epoch_task(X, None, len(curve) + 1))

        x0 = np.concatenate([p.ravel() for p in params]).astype(np.float64)
        result = self.optimizer_.minimize(
            fun, x0, max_iter=self.max_iter, tol=self.tol, callback=callback
        )
        for p, new in zip(params, unpack(result.x), strict=True):
            p[...] = new
        self._check_finite(float(result.fun), params)
        self.n_iter_ += int(result.nit)
        self.t_ = self.optimizer_.t_
        self.loss_curve_.extend(curve)
        self.best_loss_ = min([self.best_loss_, float(result.fun), *curve])
        if result.status == 1 and self.tol is not None:
            warnings.warn(
                f"lbfgs failed to converge after {self.max_iter} iterations "
                f"(status={result.status}): {result.message}. Increase max_iter "
                f"or scale the data, e.g. with StandardScaler.",
                ConvergenceWarning,
                stacklevel=3,
            )

    # ------------------------------------------------------------ prediction
    def _raw(self, X):
        """``X @ coef_.T + intercept_`` as a 2-D array."""
        raw = safe_sparse_dot(X, np.atleast_2d(self.coef_).T, dense_output=True)
        raw += np.atleast_1d(self.intercept_)
        return raw

    @with_callbacks
    def fit(self, X, y, sample_weight=None, coef_init=None, intercept_init=None):
        """Fit the model for ``max_iter`` epochs or until the stopping rule.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample weights ``s_i`` of the objective.
        coef_init : array-like of shape (n_outputs, n_features), default=None
            Starting coefficients (zeros if None). A 1-D array is accepted for
            a single output.
        intercept_init : array-like of shape (n_outputs,), default=None
            Starting intercept (the loss's best constant if None).

        Returns
        -------
        self : object
            Fitted estimator.
        """
        return self._fit(
            X,
            y,
            sample_weight,
            incremental=False,
            init=(coef_init, intercept_init),
        )

    @available_if(_stochastic_optimizer)
    @with_callbacks
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over ``(X, y)``, continuing from the current state.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : object
        """
        return self._fit(X, y, sample_weight, incremental=True)
