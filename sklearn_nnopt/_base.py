"""What the classifier and the regressor share: parameters, fit, prediction.

The estimator validates, encodes targets (the subclass hook
``_encode_targets`` returns values), calls :func:`~sklearn_nnopt._training.train`
once and writes every fitted attribute once from its result. Nothing is
written before training succeeds, so a fit that raises leaves the estimator
as it was.
"""

import copy
import dataclasses
import functools
import inspect
from collections import ChainMap
from types import MethodType

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.extmath import safe_sparse_dot
from sklearn.utils.validation import assert_all_finite, check_is_fitted, validate_data

from . import _finite_sum
from ._objective import Objective
from ._parameters import Parameters
from ._precondition import Preconditioner
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
from .losses import effective_sample_size, targets_for
from .optimizers import OPTIMIZERS

try:  # scikit-learn >= 1.9: callbacks such as ProgressBar and ScoringMonitor.
    from sklearn.callback import CallbackSupportMixin, with_callbacks
except ImportError:  # pragma: no cover - older scikit-learn

    class CallbackSupportMixin:
        """Stand-in: this scikit-learn has no callback API."""

    def with_callbacks(method):
        return method


__all__ = ["BaseLinearNN", "DivergenceError"]


class _AvailableIf:
    """A method that exists only where ``check(estimator)`` does not raise.

    As ``sklearn.utils.metaestimators.available_if`` (``hasattr`` is False
    where unavailable), except that the ``AttributeError`` users see is the
    check's own, which says why and what to use: scikit-learn's raises a
    generic "has no attribute" line from it, so the reason was only in the
    chained exception above the last line.
    """

    def __init__(self, fn, check):
        self.fn, self.check = fn, check
        functools.update_wrapper(self, fn)

    def __get__(self, obj, owner=None):
        if obj is None:  # the class attribute: checked when called

            @functools.wraps(self.fn)
            def unbound(estimator, *args, **kwargs):
                self.check(estimator)
                return self.fn(estimator, *args, **kwargs)

            return unbound
        self.check(obj)  # raises AttributeError with the reason
        return MethodType(self.fn, obj)


def available_if(check):
    """Decorator: the method exists only where ``check`` raises no AttributeError."""
    return lambda fn: _AvailableIf(fn, check)


def _stochastic_optimizer(estimator):
    """``available_if`` predicate: ``partial_fit`` needs a stochastic optimizer."""
    optimizer = estimator.optimizer
    if optimizer == "auto":
        return True  # partial_fit runs a stochastic optimizer
    if isinstance(optimizer, str) and optimizer in OPTIMIZERS.names():
        optimizer = OPTIMIZERS.create(optimizer, "optimizer")
    # An invalid name is reported by fit; here it only must not hide the method.
    if not getattr(optimizer, "stochastic", True):
        raise AttributeError(
            f"partial_fit is only available for stochastic optimizers; "
            f"{estimator.optimizer!r} trains on the full batch."
        )
    if getattr(optimizer, "finite_sum", False):
        raise AttributeError(
            f"partial_fit is only available for incremental optimizers; "
            f"{estimator.optimizer!r} keeps a table of per-row gradients over "
            f"the rows of one fit."
        )
    return True


def _store_parameters(estimator, values):
    """Store ``__init__``'s arguments unchanged, as scikit-learn requires.

    ``values`` is ``__init__``'s ``locals()``: every parameter of the
    signature, stored under its own name.
    """
    for name in inspect.signature(type(estimator).__init__).parameters:
        if name != "self":
            setattr(estimator, name, values[name])


def _user(preconditioner, W, b):
    """``(coef, intercept)`` in the user's units from training coordinates."""
    if preconditioner is None:
        return W, b  # views of a buffer that no later fit reuses
    return preconditioner.to_user(W, b)


def _raw_prediction(X, coef, intercept):
    """``X @ coef.T + intercept`` as a 2-D array (``coef`` dense or sparse)."""
    coef = coef if sp.issparse(coef) else np.atleast_2d(coef)
    raw = np.asarray(safe_sparse_dot(X, coef.T, dense_output=True))
    raw += np.atleast_1d(intercept)
    return raw


class _Callbacks:
    """The estimator's scikit-learn callbacks in :func:`train`'s protocol."""

    def __init__(self, estimator, context, X, y, fitted):
        self.estimator, self.context = estimator, context
        self.X, self.y, self.fitted = X, y, fitted

    @property
    def active(self):
        """Whether the user set any callback (else the tasks reach no one)."""
        return bool(getattr(self.estimator, "_skl_callbacks", None))

    def begin(self, label):
        task = self.context.subcontext(task_name=label)
        task.call_on_fit_task_begin(estimator=self.estimator, X=self.X, y=self.y)
        return task

    def end(self, task, model=None):
        if model is None:  # L-BFGS: its iterates stay inside scipy
            return task.call_on_fit_task_end(estimator=self.estimator, X=self.X)

        def attributes():
            # What the fitted estimator will have: the targets' attributes too.
            coef, intercept = (p.copy() for p in model())  # training goes on
            coef, intercept = _user(self.fitted["_preconditioner"], coef, intercept)
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

    Subclasses define ``__init__`` (its signature is the estimator's
    parameters; the body is ``_store_parameters(self, locals())``), ``_task``,
    ``_target_validation`` (keyword arguments of ``validate_data`` for ``y``),
    ``_encode_targets`` (which may put another loss in ``fitted["loss_function_"]``),
    ``_coef_attributes``, ``_decode`` and ``_score_predictions``, and may
    override ``_check_targets``.
    """

    _task = None
    _target_validation = {}

    def _check_targets(self, y):
        """``y`` after ``validate_data``, checked (and converted) further."""
        return y

    # ------------------------------------------------------------------- fit
    def _fit(self, X, y, sample_weight, *, incremental, classes=None, init=None):
        """Validate, start or continue, train, write; shared by fit/partial_fit."""
        check_hyperparameters(self)
        loss = resolve_loss(self)
        optimizer = resolve_optimizer(self, loss, incremental)
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
        loss = fitted["loss_function_"]  # the classifier wraps it for multilabel y
        if isinstance(self.optimizer, str) and self.optimizer == "auto":
            shape = (*X.shape, Y.shape[1])
            optimizer = resolve_optimizer(self, loss, incremental, shape)
        if optimizer.stochastic and isinstance(X, np.ndarray):
            # Minibatches read rows: as SGDClassifier, train on C-ordered X.
            # A Fortran-ordered one (a DataFrame's values) spreads each row
            # over n_samples, and numpy's row gather copied all of it per
            # batch: 340x slower on 80,000 x 100.
            X = np.ascontiguousarray(X)
        data = TrainingData(
            X, Y, sw, self._batch_size(X.shape[0]), estimator_name=type(self).__name__
        )
        warm = hasattr(self, "coef_") and (incremental or self.warm_start)
        # A first partial_fit chunk may lack classes or positive targets: the
        # start then trusts it as much as raw 0 (halfway), not as the stream.
        prior = effective_sample_size(sw) if incremental else 0.0
        objective = self._objective(
            loss, data, warm, optimizer.stochastic, incremental=incremental
        )
        fitted["_preconditioner"] = pre = objective.preconditioner
        if (
            optimizer.stochastic
            and not sp.issparse(X)
            and (pre is None or pre is getattr(self, "_preconditioner", None))
        ):
            # Dense X's finiteness is checked by a pass that is needed anyway:
            # the row norms (the automatic step in the user's coordinates), or
            # a new preconditioner's column statistics.
            data.sq_row_norms = squared_row_norms(X, type(self).__name__)
        if warm:
            params, progress, optimizer = self._continued(
                X, Y, optimizer, incremental, pre
            )
        else:
            coef_init, intercept_init = init if init is not None else (None, None)
            params = Parameters.start(
                data, loss, self.fit_intercept, coef_init, intercept_init, prior
            ).in_coordinates(pre)
            progress = Progress()

        # The convergence check measures gradients against the default
        # start's; made where a check needs it (a parameters' worth of memory).
        def reference():
            start = Parameters.start(data, loss, self.fit_intercept, prior_weight=prior)
            return start.in_coordinates(pre)

        if incremental and not first_call:
            rng = self._random_state  # train advances a copy of it
        else:
            rng = check_random_state(self.random_state)
        lr, lr_unit = self._step_size(data, objective, optimizer, warm)
        score = schedule = None
        if optimizer.stochastic:
            schedule = resolve_schedule(self, optimizer).start(
                lr, loss=loss, alpha=self.alpha, max_iter=self.max_iter, tol=self.tol
            )
            if self.early_stopping:
                score = self._hold_out(data, y, rng, ChainMap(fitted, vars(self)))
        callbacks = self._callbacks(X, y, fitted, incremental)
        config = self._config(incremental, lr, lr_unit)
        context = dict(
            progress=progress,
            rng=rng,
            callbacks=callbacks,
            score=score,
            reference=reference,
        )
        result = train(data, params, objective, optimizer, schedule, config, **context)
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
            if X.indices.dtype != X.indptr.dtype:
                # One index type, as scipy builds them: the compiled passes
                # and scikit-learn's raised "Buffer dtype mismatch" on int64
                # indices with an int32 indptr. (Copies of the index arrays.)
                index = np.promote_types(X.indices.dtype, X.indptr.dtype)
                X = sp.csr_matrix(
                    (X.data, X.indices.astype(index), X.indptr.astype(index)),
                    shape=X.shape,
                )
        y = self._check_targets(y)
        sw = check_sample_weight(sample_weight, X, len(y))
        Y, sw, fitted = self._encode_targets(
            y, sw, first_call=first_call, classes=classes, loss=loss, dtype=X.dtype
        )
        # The loss to train: ``loss``, or what _encode_targets puts in its place.
        loss = fitted.setdefault("loss_function_", loss)
        # Targets column-major like the raw predictions (Objective.raw), so that
        # the losses' elementwise work runs on matching layouts.
        if isinstance(Y, np.ndarray):
            Y = np.asfortranarray(Y)
        # (OneHot targets go as dense rows to a loss defined elsewhere.)
        loss.check_target(targets_for(loss, "check_target", Y))
        if validated is not self:
            fitted["n_features_in_"] = validated.n_features_in_
            if hasattr(validated, "feature_names_in_"):
                fitted["feature_names_in_"] = validated.feature_names_in_
        return X, y, sw, Y, fitted

    def _objective(self, loss, data, warm, stochastic=True, incremental=False):
        """The objective, in the training coordinates of ``precondition``.

        A continued fit keeps the coordinates of the fit it continues (its
        optimizer state is in them); a new ``fit`` takes those of its data, a
        new ``partial_fit`` stream none (see below). Sparse
        ``X`` gets them for the full-batch optimizers (the offsets fold into
        the intercept, so ``X`` stays sparse); a stochastic optimizer takes it
        as it is: its column steps touch only the batch's columns, which
        centering would make dense.
        """
        objective = Objective(
            loss, self.alpha, self.penalty, self.l1_ratio, self.fit_intercept
        )
        pre = None
        if self.precondition:
            pre = getattr(self, "_preconditioner", None) if warm else None
            # A stream's first chunk is no basis for the coordinates: a column
            # constant in it (a rare pixel, an indicator) got a spread of 1e-17,
            # and the first later value in it collapsed the automatic step
            # (digits in chunks of 100: accuracy 0.24 against 0.90 raw). So
            # partial_fit trains in the user's coordinates unless it continues
            # a fit, which saw all of its data.
            if (
                pre is None
                and not incremental
                and (isinstance(data.X, np.ndarray) or not stochastic)
            ):
                pre = Preconditioner.fit(
                    data.X,
                    data.sample_weight,
                    center=self.fit_intercept,
                    l2=objective.l2,
                    curvature=float(
                        loss.smoothness(
                            targets_for(loss, "smoothness", data.Y),
                            data.sample_weight,
                        )
                    ),
                    estimator_name=type(self).__name__,
                )
        objective.preconditioner = pre
        return objective

    def _continued(self, X, Y, optimizer, incremental, pre):
        """Parameters, progress and optimizer continuing the fitted model.

        Training continues from the last iterate (not its average), with the
        previous optimizer and its state if ``optimizer`` is the same;
        ``partial_fit`` also continues the progress (``n_iter_``,
        ``loss_curve_``, the averages), a warm ``fit`` starts it afresh.
        """
        last = getattr(self, "_last_iterate", None)
        coef, intercept = last if last is not None else (self.coef_, self.intercept_)
        if sp.issparse(coef):  # sparsify() was called
            coef = coef.toarray()
        params = Parameters.continued(coef, intercept, X, Y, self.fit_intercept)
        params = params.in_coordinates(pre)
        previous = self.optimizer_
        if type(previous) is type(optimizer) and (
            previous.get_params() == optimizer.get_params()
        ):
            optimizer = previous
        # partial_fit continues the stream's bookkeeping. A warm fit is a new
        # fit that starts where the last one ended: it keeps the coefficients
        # and the optimizer's state, nothing measured on the last fit's data
        # (its loss curve and n_iter_, stopping counters, validation split,
        # scores and best coefficients, averages).
        progress = self._progress if incremental else Progress()
        return params, progress, optimizer

    def _write(self, result, fitted, lr, lr_unit):
        """Write every fitted attribute, once, from a successful training."""
        if "n_features_in_" in fitted and "feature_names_in_" not in fitted:
            vars(self).pop("feature_names_in_", None)  # X has no names now
        vars(self).update(fitted)
        pre = fitted["_preconditioner"]
        coef, intercept = _user(pre, result.coef, result.intercept)
        vars(self).update(self._coef_attributes(coef, intercept))
        progress, params = result.progress, result.params
        last = _user(pre, params.coef, params.intercept)
        vars(self).update(
            # Training continues from the last iterate, not from its average.
            _last_iterate=last if progress.averager is not None else None,
            _progress=progress,
            _random_state=result.rng,
            _lr_unit=lr_unit,
            optimizer_=result.optimizer,
            learning_rate_init_=lr,
            n_iter_=progress.n_iter,
            t_=getattr(result.optimizer, "t_", 0),
            loss_curve_=progress.loss_curve,
            best_loss_=progress.best_loss,
            loss_=progress.loss_curve[-1]
            if progress.loss_curve
            else progress.best_loss,
        )
        if progress.validation_scores is not None:
            self.validation_scores_ = progress.validation_scores
            self.best_validation_score_ = progress.best_validation_score
        else:  # no early stopping in this fit: none of a previous one's
            vars(self).pop("validation_scores_", None)
            vars(self).pop("best_validation_score_", None)

    def _step_size(self, data, objective, optimizer, warm):
        """``(learning_rate_init_, its unit)``: resolves ``"auto"``.

        Also ``batch_size="auto"`` for an optimizer with ``auto_batch_size``
        (SAGA), from the same statistics of the data (written to ``data``).
        """
        l2 = self.alpha if self.penalty == "l2" else 0.0
        rule = self._batch_size_rule(data, objective, optimizer, l2)
        if self.learning_rate_init != "auto":
            if rule is not None:
                problem_scale(
                    data,
                    objective.loss,
                    l2=l2,
                    fit_intercept=self.fit_intercept,
                    preconditioner=objective.preconditioner,
                    batch_smoothness=True,
                    batch_size_rule=rule,
                )
            # A numeric step is in torch's units: no automatic unit applies.
            return float(self.learning_rate_init), 1.0
        if not optimizer.stochastic:
            return optimizer.auto_learning_rate(None)
        scale = problem_scale(
            data,
            objective.loss,
            l2=l2,
            fit_intercept=self.fit_intercept,
            preconditioner=objective.preconditioner,
            batch_smoothness=getattr(optimizer, "needs_batch_smoothness", False),
            smoothness=getattr(optimizer, "needs_smoothness", True),
            batch_size_rule=rule,
        )
        lr, unit = optimizer.auto_learning_rate(scale)
        if warm and optimizer is self.optimizer_:
            # Continuing the same optimizer continues its step, unless this
            # call's data need one less than half of it (gradient descent is
            # stable up to twice the automatic 1 / smoothness, so smaller
            # differences, e.g. a chunk's class mix, keep it): a first
            # partial_fit chunk of a few rows (one row has no spread: its step
            # was 5x too large for the rows that followed) or a stream whose
            # features grow (X scaled 10x made every SGD step overshoot 100x).
            # (A replaced optimizer needs its own automatic step, and AdamW
            # its unit.)
            if self.learning_rate_init_ <= 2 * lr:
                return self.learning_rate_init_, self._lr_unit
        return lr, unit

    def _config(self, incremental, lr, lr_unit):
        # The loop's settings are the estimator's parameters of the same names.
        own = self.get_params(deep=False)
        names = [f.name for f in dataclasses.fields(TrainingConfig) if f.name in own]
        settings = {name: own[name] for name in names}
        settings.update(incremental=incremental, learning_rate_init=lr, lr_unit=lr_unit)
        return TrainingConfig(**settings)

    def _batch_size(self, n_samples):
        if self.batch_size == "auto":
            return min(200, n_samples)
        return min(self.batch_size, n_samples)

    def _batch_size_rule(self, data, objective, optimizer, l2):
        """``batch_size="auto"``'s rule ``(n_rows, L) -> size`` of an optimizer
        that has one (:meth:`SAGA.auto_batch_size`), or None (200)."""
        if self.batch_size != "auto" or not hasattr(optimizer, "auto_batch_size"):
            return None
        # The compiled just-in-time steps cost only their rows' non-zeros;
        # every other step has a fixed cost (numpy calls, a dense update).
        fixed_cost = not (
            sp.issparse(data.X)
            and objective.preconditioner is None
            and not objective.l1
            and not self.average
            and _finite_sum.compiled_available()
        )

        def rule(n_rows, smoothness):
            return optimizer.auto_batch_size(n_rows, smoothness, l2, fixed_cost)

        return rule

    def _hold_out(self, data, y, rng, fitted):
        """Hold out ``validation_fraction`` of the rows; the score on them.

        Sets ``data.rows`` (and the batch size) to the training rows. The
        score of ``(coef, intercept)`` is the estimator's ``score`` on the
        held-out rows, computed without touching the estimator.
        """
        X, sw = data.X, data.sample_weight
        # Multilabel rows are not stratified (as MLPClassifier): a label set
        # may occur once.
        stratify = y if self._task == "classification" and y.ndim == 1 else None
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
        data.batch_size = min(data.batch_size, len(idx_train))
        X_val, y_val, sw_val = X[idx_val], y[idx_val], sw[idx_val]

        def score(W, b):
            coef, intercept = _user(fitted["_preconditioner"], W, b)
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
    def sparsify(self):
        """Store ``coef_`` as a scipy.sparse CSR matrix, as ``SGDClassifier``.

        Worth it when most coefficients are exactly zero (an ``l1`` or
        ``elasticnet`` fit): prediction then multiplies only the non-zeros,
        and the model takes less memory. ``coef_`` becomes of shape
        ``(n_outputs, n_features)`` (``(1, n_features)`` for one output);
        predictions are unchanged, and :meth:`densify` restores the array.
        ``fit`` (with ``warm_start``) and ``partial_fit`` continue from the
        dense coefficients and leave a dense ``coef_``.

        Returns
        -------
        self
            The estimator, with a sparse ``coef_``.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the estimator is not fitted.

        Examples
        --------
        >>> from sklearn.datasets import make_classification
        >>> from sklearn.preprocessing import scale
        >>> from sklearn_nnopt import LinearNNClassifier
        >>> X, y = make_classification(random_state=0)
        >>> X = scale(X)
        >>> clf = LinearNNClassifier(
        ...     optimizer="saga", penalty="l1", alpha=0.05, max_iter=1000
        ... )
        >>> clf = clf.fit(X, y).sparsify()
        >>> clf.coef_.format, clf.coef_.shape, clf.coef_.nnz
        ('csr', (1, 20), 3)
        """
        check_is_fitted(self, "coef_")
        if not sp.issparse(self.coef_):
            self._dense_coef_shape = np.shape(self.coef_)
            self.coef_ = sp.csr_matrix(np.atleast_2d(self.coef_))
        return self

    def densify(self):
        """Store ``coef_`` as a numpy array again, after :meth:`sparsify`.

        Returns
        -------
        self
            The estimator, with ``coef_`` of the shape it had before
            :meth:`sparsify`.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the estimator is not fitted.
        """
        check_is_fitted(self, "coef_")
        if sp.issparse(self.coef_):
            shape = getattr(self, "_dense_coef_shape", self.coef_.shape)
            self.coef_ = self.coef_.toarray().reshape(shape)
        return self

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
            Targets: class labels or, for the classifier, a 0/1 multilabel
            indicator matrix (one column per label); for the regressor, one
            column per target.
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
            The estimator, fitted.

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
