"""LinearNNRegressor: target handling and prediction."""

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.metrics import r2_score
from sklearn.utils.validation import check_is_fitted, validate_data

from ._base import BaseLinearNN, _store_parameters
from .losses import LOSSES


class LinearNNRegressor(RegressorMixin, BaseLinearNN):
    r"""Linear regressor trained like a one-layer neural network.

    The raw prediction is ``X @ coef_.T + intercept_``, one output per target
    column; ``predict`` applies the loss's inverse link (``exp`` for
    ``"poisson"``, identity otherwise). Training minimizes

    .. math::
        J(W, b) = \frac{\sum_i s_i \sum_k \ell(y_{ik}, x_i w_k^\top + b_k)}
                  {\sum_i s_i} + \alpha\, \tfrac12 \lVert W \rVert_F^2

    with the chosen ``optimizer`` on shuffled minibatches (or on the full batch
    for ``"lbfgs"`` and ``"newton"``). The intercept starts at the loss's best
    constant (the mean, median, quantile or log-mean of ``y``), so an unscaled
    target such as ``y`` around 150 needs no rescaling. For ``"poisson"``, a
    mean of zero gets what one pseudo-row at a mean of 1 would give it (no
    start at ``log(0)``), and a first ``partial_fit`` call starts halfway
    between its chunk's mean and 1.

    Parameters
    ----------
    loss : str or Loss, default="squared_error"
        ``"squared_error"``, ``"absolute_error"``, ``"huber"``,
        ``"epsilon_insensitive"``, ``"squared_epsilon_insensitive"``,
        ``"quantile"``, ``"poisson"``, or a :class:`~sklearn_nnopt.losses.Loss`
        instance such as ``Huber(delta=2.0)``.
    optimizer : str or Optimizer, default="auto"
        ``"auto"``, ``"sgd"``, ``"momentum"``, ``"nesterov"``, ``"adam"``,
        ``"amsgrad"``, ``"adamw"``, ``"nadam"``, ``"adamax"``, ``"rmsprop"``,
        ``"adagrad"``, ``"adadelta"``, ``"prodigy"``, ``"schedulefree_sgd"``,
        ``"schedulefree_adamw"``, ``"lbfgs"``, ``"newton"``, ``"saga"``,
        ``"sag"``, or an :class:`~sklearn_nnopt.optimizers.Optimizer` instance
        (whose hyperparameters are then searchable as ``optimizer__<name>``).
        ``"auto"``: for ``fit`` with a smooth loss and an ``l2`` penalty (or
        none), Newton on small problems (one Hessian and its factorization of
        at most 1e7 multiply-adds) and L-BFGS above; for ``partial_fit``,
        plain SGD at its automatic step (a stream gives one step per chunk
        and may shift its level, which Adam's small steps follow slowly);
        else Adam (non-smooth losses, ``l1``/``elasticnet``, or a setting
        only a stochastic optimizer uses: ``early_stopping``, ``average``,
        ``batch_size``, ``learning_rate``, ``learning_rate_init``);
        ``optimizer_`` shows what ran.
    learning_rate : str or Schedule, default="auto"
        Step-size schedule: ``"auto"`` (constant until Pflug's test says the
        iterates bounce in the noise, then decaying; for ``"saga"`` and
        ``"sag"``, whose variance vanishes at the optimum, constant),
        ``"constant"``, ``"invscaling"``, ``"optimal"``, ``"adaptive"`` or
        ``"cosine"``, or a :class:`~sklearn_nnopt.schedules.Schedule` instance (see
        :mod:`sklearn_nnopt.schedules`); ignored by ``"lbfgs"`` and ``"newton"``.
    learning_rate_init : float or "auto", default="auto"
        Initial step size; ``"auto"`` lets the optimizer choose it from the
        data (see the optimizer's notes).
    power_t : float, default=0.5
        Exponent of the ``"invscaling"`` schedule.
    penalty : {"l2", "l1", "elasticnet", None}, default="l2"
        Regularization term ``R(W)``. l1 and elastic net use a proximal
        (soft-thresholding) step after each update, so ``coef_`` has exact
        zeros; they need a stochastic optimizer.
    alpha : float, default=1e-4
        Strength of the penalty (independent of the batch size).
    l1_ratio : float, default=0.15
        Share of l1 in the elastic net,
        ``R(W) = (1 - l1_ratio) ||W||^2 / 2 + l1_ratio ||W||_1``.
    fit_intercept : bool, default=True
        Whether to learn an intercept (never penalized).
    batch_size : int or "auto", default="auto"
        Minibatch size; ``"auto"`` is ``min(200, n_samples)``, except for
        ``"saga"`` on sparse ``X``: its optimal mini-batch size (see
        :class:`~sklearn_nnopt.SAGA`).
    max_iter : int, default=200
        Maximum number of epochs (L-BFGS and Newton: iterations).
    tol : float or None, default=1e-4
        Convergence tolerance. Every fit ends with a check: the largest entry
        of the objective's gradient (in the training coordinates of
        ``precondition``; for l1, the minimum-norm subgradient) must be at
        most ``sqrt(tol)`` times its size at the default start
        (``max(tol, 1e-6)`` for the full-batch ``"lbfgs"`` and ``"newton"``,
        which aim at ``tol**1.25`` and ``tol**2`` times that size, and for the
        finite-sum ``"saga"`` and ``"sag"``, which stop once it passes), else a
        ``ConvergenceWarning`` says how far it is.
        The ``"auto"`` schedule stops only once the check passes (after a
        decayed step no longer lowers the objective by more than ``tol``
        relative to it); the other schedules stop when the objective has not
        improved by ``tol`` for ``n_iter_no_change`` epochs. ``None`` runs
        ``max_iter`` epochs and checks nothing.
    n_iter_no_change : int, default=10
        Patience of the stopping rule of schedules other than ``"auto"``,
        and of early stopping, which counts it in epochs of at least 10
        optimizer steps (small data have one step per epoch).
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data, stop on its R^2 score
        and restore the best epoch's coefficients (the first score is not a
        best; a tie counts as a stall and keeps the later model).
    validation_fraction : float, default=0.1
        Size of the held-out set for early stopping.
    shuffle : bool, default=True
        Shuffle the samples every epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds shuffling and the validation split.
    warm_start : bool, default=False
        Make ``fit`` start from the previous fit's coefficients (its last
        iterate) and, if ``optimizer`` is the same, continue that optimizer
        with its state (``t_``, Adam's moments, ...). Everything measured on
        the previous fit's data starts afresh: ``n_iter_`` and
        ``loss_curve_`` are this fit's own (``n_iter_ < max_iter`` still
        means converged), as are the stopping rule's counters, early
        stopping's validation split, scores and best coefficients, and the
        averages of ``average``. ``partial_fit`` always continues all of it.
    average : bool or int, default=False
        Polyak-Ruppert averaging: ``coef_`` and ``intercept_`` are the mean of
        the iterates from optimizer step ``average`` on (``True``: from step 1).
        Training itself continues from the last iterate.
    precondition : bool, default=True
        Train in coordinates where dense ``X``'s columns are centered and of
        unit spread (an exact reparameterization: the objective, ``coef_`` and
        ``intercept_`` stay in your units, and ``X`` is not copied), so that
        unscaled features and offsets such as calendar years do not slow or
        stall the fit (centering needs ``fit_intercept=True``, which absorbs
        the offsets). ``False`` follows each optimizer's reference update rule
        step for step on the raw coefficients. Sparse ``X`` gets these
        coordinates with ``"lbfgs"`` and ``"newton"`` (still sparse: the
        offsets fold into the intercept); stochastic optimizers train it as
        it is. ``partial_fit`` trains in your coordinates (unless it continues
        a ``fit``): a stream's first chunk is no basis for them (a column
        constant in it would get a spread of zero). See
        :mod:`sklearn_nnopt._precondition`.
    verbose : int, default=0
        Print one line per epoch when > 0.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,) or (n_outputs, n_features)
        Coefficients (1-D for a 1-D ``y``, as ``Ridge``).
    intercept_ : float or ndarray of shape (n_outputs,)
        Intercept (a float for a 1-D ``y``).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Feature names, when ``X`` has string column names.
    n_iter_ : int
        Epochs (L-BFGS and Newton: iterations) run by the last ``fit``, warm
        or not; each ``partial_fit`` call after it adds one.
    t_ : int
        Optimizer steps taken over the model's life (continued by
        ``partial_fit``, and by a warm ``fit`` that keeps the optimizer).
    loss_ : float
        Training objective at the last epoch.
    loss_curve_ : list of float
        Training objective per epoch of the last ``fit`` (accumulated over
        the epoch's batches); each ``partial_fit`` call appends one value.
    best_loss_ : float
        Lowest training objective seen.
    validation_scores_ : list of float
        Validation R^2 per epoch (only with ``early_stopping=True``).
    best_validation_score_ : float
        Best validation R^2 (only with ``early_stopping=True``).
    learning_rate_init_ : float
        The initial step size used (resolves ``"auto"``).
    loss_function_ : Loss
        The loss used (a copy of ``loss``).
    optimizer_ : Optimizer
        The optimizer used, with its state (a copy of ``optimizer``).

    See Also
    --------
    LinearNNClassifier : The classifier.
    sklearn.linear_model.SGDRegressor : Several losses, one optimizer.
    sklearn.linear_model.Ridge : Closed-form l2-penalized least squares.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklearn_nnopt import LinearNNRegressor
    >>> X, y = load_diabetes(return_X_y=True)
    >>> reg = make_pipeline(StandardScaler(), LinearNNRegressor(random_state=0))
    >>> reg.fit(X, y).score(X, y) > 0.5
    True
    >>> type(reg[-1].optimizer_).__name__  # what optimizer="auto" ran
    'Newton'
    """

    _task = "regression"

    def __init__(
        self,
        loss="squared_error",
        optimizer="auto",
        *,
        learning_rate="auto",
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
        precondition=True,
        verbose=0,
    ):
        _store_parameters(self, locals())

    _target_validation = {"multi_output": True, "y_numeric": True}

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        try:
            loss = LOSSES.create(self.loss, "loss")
        except (TypeError, ValueError):
            loss = None
        if loss is not None and type(loss).check_target is not LOSSES.base.check_target:
            # Losses with a restricted domain (poisson) need y >= 0.
            tags.target_tags.positive_only = True
        return tags

    def _encode_targets(self, y, sw, *, first_call, classes, loss, dtype):
        """Targets as a 2-D array of ``X``'s dtype.

        Returns
        -------
        Y : ndarray of shape (n_samples, n_outputs)
        sw : ndarray of shape (n_samples,)
        fitted : dict
            ``{"_single_output": ...}`` on a first call, else empty.
        """
        Y = np.asarray(y, dtype=dtype).reshape(len(y), -1)
        if not np.all(np.isfinite(Y)):
            raise ValueError("y contains NaN or infinity.")
        return Y, sw, {"_single_output": y.ndim == 1} if first_call else {}

    def _coef_attributes(self, W, b, fitted=None):
        fitted = vars(self) if fitted is None else fitted
        if fitted["_single_output"]:
            return {"coef_": W[0], "intercept_": b[0]}
        return {"coef_": W, "intercept_": b}

    def _decode(self, raw, fitted):
        """Predictions (the inverse link) from raw predictions."""
        pred = fitted["loss_function_"].inverse_link(raw)
        return pred[:, 0] if fitted["_single_output"] else pred

    def _score_predictions(self, y, predictions, sample_weight):
        return r2_score(y, predictions, sample_weight=sample_weight)

    def predict(self, X):
        """Predicted targets, the inverse link of the raw prediction.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_outputs)
        """
        check_is_fitted(self)
        X = validate_data(
            self, X, reset=False, accept_sparse="csr", dtype=[np.float64, np.float32]
        )
        return self._decode(self._raw(X), vars(self))
