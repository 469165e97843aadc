"""What the classifier and the regressor share: parameters, fit, prediction.

The estimator validates, encodes targets (the subclass hook
``_encode_targets`` returns values), calls :func:`~sklearn_nnopt._training.train`
once and writes every fitted attribute once from its result. Nothing is
written before training succeeds, so a fit that raises leaves the estimator
as it was.
"""

import copy
import dataclasses
from collections import ChainMap

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.extmath import safe_sparse_dot
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import assert_all_finite, validate_data

from ._objective import Objective
from ._parameters import Parameters
from ._scale import problem_scale
from ._training import DivergenceError, Progress, TrainingConfig, TrainingData, train
from ._validation import (
    check_hyperparameters,
    check_sample_weight,
    resolve_loss,
    resolve_optimizer,
    resolve_schedule,
    squared_row_norms,
)
from .optimizers import OPTIMIZERS

try:  # scikit-learn >= 1.9: callbacks such as ProgressBar and ScoringMonitor.
    from sklearn.callback import CallbackSupportMixin, with_callbacks
except ImportError:  # pragma: no cover - older scikit-learn

    class CallbackSupportMixin:
        """Stand-in: this scikit-learn has no callback API."""

    def with_callbacks(method):
        return method


__all__ = ["BaseLinearNN", "DivergenceError"]


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


def _raw_prediction(X, coef, intercept):
    """``X @ coef.T + intercept`` as a 2-D array."""
    raw = safe_sparse_dot(X, np.atleast_2d(coef).T, dense_output=True)
    raw += np.atleast_1d(intercept)
    return raw


class _Callbacks:
    """The estimator's scikit-learn callbacks in :func:`train`'s protocol."""

    def __init__(self, estimator, context, X, y, fitted):
        self.estimator, self.context = estimator, context
        self.X, self.y, self.fitted = X, y, fitted

    def begin(self, label):
        task = self.context.subcontext(task_name=label)
        task.call_on_fit_task_begin(estimator=self.estimator, X=self.X, y=self.y)
        return task

    def end(self, task, model=None):
        if model is None:  # L-BFGS: its iterates stay inside scipy
            return task.call_on_fit_task_end(estimator=self.estimator, X=self.X)

        def attributes():
            # What the fitted estimator will have: the targets' attributes too.
            coef, intercept = (p.copy() for p in model())
            fitted = ChainMap(self.fitted, vars(self.estimator))
            coef_attributes = self.estimator._coef_attributes(coef, intercept, fitted)
            return {**self.fitted, **coef_attributes}

        return task.call_on_fit_task_end(
            estimator=self.estimator,
            X=self.X,
            y=self.y,
            reconstruction_attributes=attributes,
        )


class BaseLinearNN(CallbackSupportMixin, BaseEstimator):
    """Shared parameters, fit and prediction.

    Subclasses define ``_task``, ``_target_validation`` (keyword arguments of
    ``validate_data`` for ``y``), ``_encode_targets``, ``_coef_attributes``,
    ``_decode`` and ``_score_predictions``.
    """

    _task = None
    _target_validation = {}

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

    # ------------------------------------------------------------------- fit
    def _fit(self, X, y, sample_weight, *, incremental, classes=None, init=None):
        """Validate, start or continue, train, write; shared by fit/partial_fit."""
        check_hyperparameters(self)
        loss = resolve_loss(self)
        optimizer = resolve_optimizer(self, loss)
        if incremental and self.early_stopping:
            raise ValueError(
                "partial_fit does not support early_stopping=True; use fit, or "
                "hold out your own validation set."
            )
        first_call = not (incremental and hasattr(self, "coef_"))
        # validate_data(reset=True) records n_features_in_: on a shallow copy,
        # so that nothing is written to the estimator before training succeeds.
        validated = copy.copy(self) if first_call else self
        X, y, sw, Y, fitted = self._prepare(
            validated, X, y, sample_weight, first_call, classes, loss
        )
        fitted["loss_function_"] = loss
        if validated is not self:
            fitted["n_features_in_"] = validated.n_features_in_
            if hasattr(validated, "feature_names_in_"):
                fitted["feature_names_in_"] = validated.feature_names_in_
        warm = hasattr(self, "coef_") and (incremental or self.warm_start)
        if warm:
            params, progress = self._continued(X, Y), self._progress
            previous = self.optimizer_
            if type(previous) is type(optimizer) and (
                previous.get_params() == optimizer.get_params()
            ):
                optimizer = previous
            if not incremental:
                progress = dataclasses.replace(progress, no_improvement_count=0)
        else:
            params, progress = self._initial_params(X, Y, sw, loss, init), Progress()
        if incremental and not first_call:
            rng = copy.deepcopy(self._random_state)
        else:
            rng = check_random_state(self.random_state)
        data = TrainingData(
            X, Y, sw, self._batch_size(X.shape[0]), estimator_name=type(self).__name__
        )
        if optimizer.stochastic and not sp.issparse(X):
            data.sq_row_norms = squared_row_norms(X, type(self).__name__)
        lr, lr_unit = self._step_size(data, loss, optimizer, warm)
        score = schedule = None
        if optimizer.stochastic:
            schedule = resolve_schedule(self).start(
                lr, loss=loss, alpha=self.alpha, max_iter=self.max_iter
            )
            if self.early_stopping:
                score = self._hold_out(data, y, rng, ChainMap(fitted, vars(self)))
        config = TrainingConfig(
            max_iter=self.max_iter,
            tol=self.tol,
            n_iter_no_change=self.n_iter_no_change,
            shuffle=self.shuffle,
            average=self.average,
            incremental=incremental,
            verbose=self.verbose,
            learning_rate_init=lr,
            lr_unit=lr_unit,
        )
        callbacks = self._callbacks(X, y, fitted, incremental)
        result = train(
            data,
            params,
            Objective(
                loss, self.alpha, self.penalty, self.l1_ratio, self.fit_intercept
            ),
            optimizer,
            schedule,
            config,
            progress=progress,
            rng=rng,
            callbacks=callbacks,
            score=score,
        )
        self._write(result, fitted, lr, lr_unit)
        if callbacks is not None:
            callbacks.context.call_on_fit_task_end(
                estimator=self, X=X, y=y, reconstruction_attributes={}
            )
        return self

    def _prepare(self, validated, X, y, sample_weight, first_call, classes, loss):
        """Validated ``X``, ``y`` and weights, encoded targets, target attributes."""
        X, y = validate_data(
            validated,
            X,
            y,
            reset=first_call,
            accept_sparse="csr",
            dtype=[np.float64, np.float32],
            # Dense X's finiteness is checked with its row norms (one pass).
            ensure_all_finite=False,
            **self._target_validation,
        )
        if sp.issparse(X):
            assert_all_finite(
                X.data, input_name="X", estimator_name=type(self).__name__
            )
        sw = check_sample_weight(sample_weight, X, len(y))
        Y, sw, fitted = self._encode_targets(
            y, sw, first_call=first_call, classes=classes, loss=loss, dtype=X.dtype
        )
        # Targets column-major like the raw predictions (Objective.raw), so that
        # the losses' elementwise work runs on matching layouts.
        Y = np.asfortranarray(Y)
        loss.check_target(Y)
        return X, y, sw, Y, fitted

    def _write(self, result, fitted, lr, lr_unit):
        """Write every fitted attribute, once, from a successful training."""
        if "n_features_in_" in fitted and "feature_names_in_" not in fitted:
            vars(self).pop("feature_names_in_", None)  # X has no names now
        vars(self).update(fitted)
        vars(self).update(self._coef_attributes(result.coef, result.intercept))
        progress, params = result.progress, result.params
        # Training continues from the last iterate, not from its average.
        averaging = progress.averager is not None
        self._last_iterate = (params.coef, params.intercept) if averaging else None
        self._progress = progress
        self._random_state = result.rng
        self.optimizer_ = result.optimizer
        self.learning_rate_init_ = lr
        self._lr_unit = lr_unit
        self.n_iter_ = progress.n_iter
        self.t_ = getattr(result.optimizer, "t_", 0)
        self.loss_curve_ = progress.loss_curve
        self.best_loss_ = progress.best_loss
        self.loss_ = (
            progress.loss_curve[-1] if progress.loss_curve else progress.best_loss
        )
        if progress.validation_scores is not None:
            self.validation_scores_ = progress.validation_scores
            self.best_validation_score_ = progress.best_validation_score

    def _continued(self, X, Y):
        """Parameters continuing the fitted model (its last iterate)."""
        last = getattr(self, "_last_iterate", None)
        coef, intercept = last if last is not None else (self.coef_, self.intercept_)
        W = np.array(np.atleast_2d(coef), dtype=X.dtype, order="C")
        b = np.array(np.atleast_1d(intercept), dtype=X.dtype)
        expected = (Y.shape[1], X.shape[1])
        if W.shape != expected:
            raise ValueError(
                f"warm_start needs data shaped like the previous fit's: "
                f"coef_ has shape {W.shape} but X and y need {expected}. Set "
                f"warm_start=False to refit."
            )
        return Parameters(W, b, self.fit_intercept)

    def _initial_params(self, X, Y, sw, loss, init):
        """Parameters from scratch: ``coef_init``/``intercept_init`` or defaults."""
        coef_init, intercept_init = init if init is not None else (None, None)
        n_outputs, n_features = Y.shape[1], X.shape[1]
        if coef_init is None:
            W = np.zeros((n_outputs, n_features), dtype=X.dtype)
        elif np.size(coef_init) == n_outputs * n_features:
            W = np.array(coef_init, dtype=X.dtype, order="C")
            W = W.reshape(n_outputs, n_features)
        else:
            raise ValueError(
                f"coef_init has shape {np.shape(coef_init)}; expected "
                f"({n_outputs}, {n_features}) or ({n_features},) for one output."
            )
        if not self.fit_intercept:
            b = np.zeros(n_outputs, dtype=X.dtype)
        elif intercept_init is None:
            b = np.asarray(loss.baseline(Y, sw), dtype=X.dtype).reshape(n_outputs)
        elif np.size(intercept_init) != n_outputs:
            raise ValueError(
                f"intercept_init has shape {np.shape(intercept_init)}; expected "
                f"({n_outputs},)."
            )
        else:
            b = np.array(intercept_init, dtype=X.dtype).reshape(n_outputs)
        return Parameters(W, b, self.fit_intercept)

    def _step_size(self, data, loss, optimizer, warm):
        """``(learning_rate_init_, its unit)``: resolves ``"auto"``."""
        if self.learning_rate_init != "auto":
            # A numeric step is in torch's units: no automatic unit applies.
            return float(self.learning_rate_init), 1.0
        if not optimizer.stochastic:
            return optimizer.auto_learning_rate(None)
        if warm and optimizer is self.optimizer_:
            # Continuing the same optimizer continues its step. (A replaced
            # optimizer needs its own automatic step, and AdamW its unit.)
            return self.learning_rate_init_, self._lr_unit
        scale = problem_scale(
            data.X,
            data.Y,
            data.sample_weight,
            loss,
            l2=self.alpha if self.penalty == "l2" else 0.0,
            fit_intercept=self.fit_intercept,
            batch_size=data.batch_size,
            sq_norms=data.sq_row_norms,
        )
        return optimizer.auto_learning_rate(scale)

    def _batch_size(self, n_samples):
        if self.batch_size == "auto":
            return min(200, n_samples)
        return min(self.batch_size, n_samples)

    def _hold_out(self, data, y, rng, fitted):
        """Hold out ``validation_fraction`` of the rows; the score on them.

        Sets ``data.rows`` (and the batch size) to the training rows. The
        score of ``(coef, intercept)`` is the estimator's ``score`` on the
        held-out rows, computed without touching the estimator.
        """
        X, sw = data.X, data.sample_weight
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
        data.rows = np.sort(idx_train)
        data.batch_size = self._batch_size(len(idx_train))
        X_val, y_val, sw_val = X[idx_val], y[idx_val], sw[idx_val]

        def score(coef, intercept):
            predictions = self._decode(_raw_prediction(X_val, coef, intercept), fitted)
            return self._score_predictions(y_val, predictions, sw_val)

        return score

    def _callbacks(self, X, y, fitted, incremental):
        """scikit-learn's callback context for this fit (>= 1.9), or None."""
        if not hasattr(self, "_init_callback_context"):
            return None
        context = self._init_callback_context(
            max_subtasks=1 if incremental else self.max_iter
        )
        context.call_on_fit_task_begin(estimator=self, X=X, y=y)
        return _Callbacks(self, context, X, y, fitted)

    # ------------------------------------------------------------ prediction
    def _raw(self, X):
        """``X @ coef_.T + intercept_`` as a 2-D array."""
        return _raw_prediction(X, self.coef_, self.intercept_)

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

        Raises
        ------
        DivergenceError
            If training diverges; the estimator is then left as it was.
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
