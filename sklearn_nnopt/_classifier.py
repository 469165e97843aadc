"""LinearNNClassifier: target encoding and prediction decoding."""

import numpy as np
import scipy.sparse as sp
from sklearn.base import ClassifierMixin
from sklearn.metrics import accuracy_score
from sklearn.utils.class_weight import compute_class_weight, compute_sample_weight
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from ._base import (
    BaseLinearNN,
    _stochastic_optimizer,
    _store_parameters,
    available_if,
    with_callbacks,
)
from ._targets import OneHot
from .losses import LOSSES, PerLabel


def _has_proba(estimator, method="predict_proba"):
    """``available_if`` predicate: the loss defines probabilities."""
    loss = getattr(estimator, "loss_function_", None)
    if loss is None:
        loss = estimator.loss
        if isinstance(loss, str):
            if loss not in LOSSES.names():
                raise AttributeError(f"loss={loss!r} is not a registered loss.")
            loss = LOSSES.create(loss, "loss")
    if not hasattr(loss, "predict_proba"):
        raise AttributeError(
            f"{method} is only available for loss='log_loss' or "
            f"'modified_huber'; got loss={estimator.loss!r}."
        )
    return True


def _is_multilabel(fitted):
    """Whether the model in ``fitted`` (vars or ChainMap) is multilabel."""
    return fitted.get("_indicator_dtype") is not None


def _small_int_range(y):
    """``(min, max)`` of integer labels spanning at most a few times len(y)."""
    if y.ndim != 1 or y.dtype.kind not in "iu" or len(y) == 0:
        return None
    lo, hi = int(y.min()), int(y.max())
    return (lo, hi) if hi - lo <= 4 * len(y) + 1024 else None


def _offsets(y, lo):
    """``y - lo`` as ``intp``, exact for every integer dtype.

    In the labels' own dtype the difference overflows (int8 labels -100 and
    100 are 200 apart); unsigned labels may exceed int64, but never ``lo``.
    """
    if y.dtype.kind == "u":
        return (y - y.dtype.type(lo)).astype(np.intp)
    return y.astype(np.int64) - lo


def _labels(lo, offsets, dtype):
    """``lo + offsets`` as labels of ``dtype``, the inverse of :func:`_offsets`.

    In the labels' dtype: the cast and the sum wrap around modulo 2^bits, and
    the true result is a label, so it is exact (as Python ints or with
    ``np.arange(lo, hi + 1)``, labels at the ends of int64 or uint64 overflow).
    """
    return dtype.type(lo) + np.asarray(offsets).astype(dtype)


def _unique(y):
    """``np.unique(y)``; by counting for small-range integers (no sort)."""
    bounds = _small_int_range(y)
    if bounds is None:
        return np.unique(y)
    lo, _ = bounds
    present = np.flatnonzero(np.bincount(_offsets(y, lo)))
    return _labels(lo, present, y.dtype)


def _positions(classes, y):
    """``np.searchsorted(classes, y)``; by table lookup for small-range integers.

    (``np.unique``'s ``return_inverse`` would need several times the memory.)
    """
    bounds = _small_int_range(y)
    if bounds is None or classes.dtype.kind not in "iu":
        return np.searchsorted(classes, y)
    lo, hi = bounds
    table = np.searchsorted(classes, _labels(lo, np.arange(hi - lo + 1), y.dtype))
    return table[_offsets(y, lo)]


def _one_hot(idx, n_classes, dtype, loss):
    """One-hot targets (one column if binary), +-1 for margin losses.

    Several classes' are :class:`OneHot`: the class indices, not
    ``n_samples x n_classes`` floats (a fifth of ``X`` on 50 features and
    10 classes).
    """
    sign = loss.classification_target == "sign"
    if n_classes > 2:
        return OneHot(idx, n_classes, dtype, low=-1.0 if sign else 0.0)
    Y = (idx == 1).astype(dtype)[:, None]
    if sign:
        Y *= 2
        Y -= 1
    return Y


def _refuse_balanced_stream(class_weight, incremental, instead):
    if incremental and isinstance(class_weight, str) and class_weight == "balanced":
        raise ValueError(
            "class_weight='balanced' is not supported by partial_fit: the "
            "class frequencies of the whole stream are unknown. Pass "
            f"{instead} instead."
        )


def _weighted(sw, weights):
    weights = np.asarray(weights, dtype=np.float64)
    bad = ~(np.isfinite(weights) & (weights >= 0))
    if np.any(bad):
        raise ValueError(
            f"class_weight must give finite, non-negative weights, as "
            f"sample_weight must be; got {np.unique(weights[bad]).tolist()}."
        )
    sw = sw * weights.astype(sw.dtype)
    if not np.any(sw > 0):
        raise ValueError("class_weight makes every sample weight zero.")
    return sw


def _class_weighted(sw, class_weight, classes, y, idx, incremental):
    """``sample_weight`` times ``class_weight`` of each sample's class."""
    _refuse_balanced_stream(class_weight, incremental, "a dict of class weights")
    cw = compute_class_weight(class_weight, classes=classes, y=y)
    return _weighted(sw, cw[idx])


def _multilabel_class_weighted(sw, class_weight, Y, incremental):
    """``sample_weight`` times the product over labels of each label's class weight.

    scikit-learn's convention for multi-output and multilabel targets
    (:func:`~sklearn.utils.class_weight.compute_sample_weight`, as in
    ``RidgeClassifier`` and ``DecisionTreeClassifier``): ``"balanced"`` or one
    dict ``{0: w0, 1: w1}`` per label (a missing key weighs 1).

    Raises
    ------
    ValueError
        If ``class_weight`` is a dict, or a list of another length than
        ``n_labels`` or with keys other than 0 and 1.
    """
    n_labels = Y.shape[1]
    expected = (
        f"'balanced' or a list of {n_labels} dicts {{0: weight, 1: weight}}, one "
        f"per label (scikit-learn's multi-output convention: a row weighs the "
        f"product of its labels' class weights)"
    )
    _refuse_balanced_stream(class_weight, incremental, "a list of dicts")
    if isinstance(class_weight, str) and class_weight == "balanced":
        return _weighted(sw, compute_sample_weight("balanced", Y.astype(np.int8)))
    if not isinstance(class_weight, list | tuple) or len(class_weight) != n_labels:
        raise ValueError(
            f"class_weight for multilabel y must be {expected}; got {class_weight!r}."
        )
    per_label = []
    for weights in class_weight:
        if not isinstance(weights, dict) or not set(weights) <= {0, 1}:
            raise ValueError(
                f"class_weight for multilabel y must be {expected}; got "
                f"{weights!r} in the list."
            )
        per_label.append({0: 1.0, 1: 1.0} | {int(c): w for c, w in weights.items()})
    # (Y is 0/1 in any dtype: as integers, its values match the dicts' keys.)
    return _weighted(sw, compute_sample_weight(per_label, Y.astype(np.int8)))


def _multilabel_indicator(y, estimator_name):
    """A 2-D ``y`` as a dense 0/1 indicator matrix (``type_of_target`` decides).

    Raises
    ------
    ValueError
        If ``y`` is not a multilabel indicator matrix, or holds values other
        than 0 and 1.
    """
    y_type = type_of_target(y, input_name="y")
    if y_type != "multilabel-indicator":
        advice = {
            "multiclass-multioutput": " For several multiclass outputs use "
            "sklearn.multioutput.MultiOutputClassifier.",
            "continuous-multioutput": " For regression targets use LinearNNRegressor.",
        }
        raise ValueError(
            f"{estimator_name} takes a 2-D y only as a multilabel indicator "
            f"matrix (one column per label, 1 where the sample has the label, "
            f"else 0), but y of shape {y.shape} is {y_type!r}." + advice.get(y_type, "")
        )
    if sp.issparse(y):
        y = y.toarray()
    # type_of_target allows any two integral values (-1 and 1, 1 and 2).
    if y.size and not (y.min() >= 0 and y.max() <= 1):
        values = np.unique(y)
        raise ValueError(
            f"A multilabel y must be a 0/1 indicator matrix (0 or False: without "
            f"the label, 1 or True: with it); y of shape {y.shape} has the "
            f"values {values.tolist()}."
        )
    return y


def _n_labels(y):
    """``y``'s number of columns if it is 2-D with more than one, else None.

    (Whether ``y`` is a multilabel indicator matrix is checked after
    validation; a ragged list has no shape.)
    """
    try:
        shape = y.shape if hasattr(y, "shape") else np.shape(y)
    except ValueError:
        return None
    return shape[1] if len(shape) == 2 and shape[1] > 1 else None


class LinearNNClassifier(ClassifierMixin, BaseLinearNN):
    r"""Linear classifier trained like a one-layer neural network.

    The raw prediction is ``X @ coef_.T + intercept_``, with one output for a
    binary problem, one per class for a multiclass one and one per label for
    a multilabel one (``y`` a 0/1 indicator matrix of shape ``(n_samples,
    n_labels)``). Training minimizes

    .. math::
        J(W, b) = \frac{\sum_i s_i\, \ell(y_i, x_i W^\top + b)}{\sum_i s_i}
                  + \alpha\, \tfrac12 \lVert W \rVert_F^2

    where :math:`s_i` is ``sample_weight`` times ``class_weight`` and
    :math:`\ell` the chosen ``loss``, with the chosen ``optimizer`` on
    shuffled minibatches (or on the full batch for ``"lbfgs"`` and ``"newton"``).
    The intercept starts at the loss's best constant (for ``"log_loss"``, the
    log-odds of the class frequencies; a class without weight gets what one
    pseudo-row at uniform probabilities would give it).

    For multilabel ``y`` each label is a binary problem of its own, and
    :math:`\ell` is the sum over the labels of the loss's binary form
    (:class:`~sklearn_nnopt.losses.PerLabel`):

    .. math::
        J(W, b) = \frac{\sum_i s_i \sum_{k=1}^{K}
                  \ell_{\mathrm{binary}}(y_{ik}, x_i w_k^\top + b_k)}{\sum_i s_i}
                  + \alpha\, \tfrac12 \sum_{k=1}^{K} \lVert w_k \rVert^2

    (for ``"log_loss"`` a sigmoid per label, not the softmax; the margin
    losses with :math:`t_{ik} = \pm 1`), so that the labels share nothing but
    the optimizer: a full-batch fit equals the :math:`K` binary fits of the
    labels' columns, stacked. ``predict`` returns the indicator matrix (label
    :math:`k` where :math:`z_{ik} > 0`, in ``y``'s dtype), ``predict_proba``
    each label's probability, ``decision_function`` the raw scores, and
    ``score`` the subset accuracy (every label right), as for
    ``MLPClassifier``.

    Parameters
    ----------
    loss : str or Loss, default="log_loss"
        ``"log_loss"`` (alias ``"cross_entropy"``), ``"hinge"``,
        ``"squared_hinge"``, ``"modified_huber"``, ``"perceptron"``,
        ``"squared_error"``, or a :class:`~sklearn_nnopt.losses.Loss` instance.
        Margin losses are one-vs-rest on multiclass problems; every loss is
        applied per label on multilabel ones.
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
        Hold out ``validation_fraction`` of the data (stratified, except for
        multilabel ``y``), stop on its score (the accuracy of :meth:`score`:
        for multilabel ``y`` the subset accuracy, as ``MLPClassifier``) and
        restore the best epoch's coefficients (the first score is not a best;
        a tie counts as a stall and keeps the later model).
    validation_fraction : float, default=0.1
        Size of the held-out set for early stopping.
    shuffle : bool, default=True
        Shuffle the samples every epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds shuffling and the validation split.
    class_weight : dict, list of dict, "balanced" or None, default=None
        Weights per class, multiplied into ``sample_weight``. For multilabel
        ``y``, scikit-learn's multi-output convention
        (:func:`~sklearn.utils.class_weight.compute_sample_weight`, as
        ``RidgeClassifier``): ``"balanced"`` or a list of one dict
        ``{0: w0, 1: w1}`` per label (a missing key weighs 1), and a row
        weighs the **product** of its labels' weights (so the labels' binary
        problems share these row weights); a single dict is refused.
    warm_start : bool, default=False
        Make ``fit`` start from the previous fit's coefficients (its last
        iterate) and, if ``optimizer`` is the same, continue that optimizer
        with its state (``t_``, Adam's moments, ...). Everything measured on
        the previous fit's data starts afresh: ``n_iter_`` and
        ``loss_curve_`` are this fit's own (``n_iter_ < max_iter`` still
        means converged), as are the stopping rule's counters, early
        stopping's validation split, scores and best coefficients, and the
        averages of ``average``. The classes (multilabel: the number of
        labels) must be the previous fit's.
        ``partial_fit`` always continues all of it.
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
    classes_ : ndarray of shape (n_classes,) or (n_labels,)
        Class labels, in the labels' dtype (labels of any integer, unsigned
        or bool dtype give the same values and model as ``int64``); for
        multilabel ``y``, ``np.arange(n_labels)``, the column indices (as
        ``MLPClassifier`` and ``LabelBinarizer``).
    coef_ : ndarray of shape (n_outputs, n_features)
        Coefficients: one row for a binary problem, one per class or per label.
    intercept_ : ndarray of shape (n_outputs,)
        Intercepts.
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
        Validation accuracy per epoch (only with ``early_stopping=True``;
        multilabel: subset accuracy).
    best_validation_score_ : float
        Best validation accuracy (only with ``early_stopping=True``).
    learning_rate_init_ : float
        The initial step size used (resolves ``"auto"``).
    loss_function_ : Loss
        The loss used (a copy of ``loss``; for multilabel ``y``,
        ``PerLabel(<the copy>)``).
    optimizer_ : Optimizer
        The optimizer used, with its state (a copy of ``optimizer``).

    See Also
    --------
    LinearNNRegressor : The regressor.
    sklearn.linear_model.SGDClassifier : Several losses, one optimizer.
    sklearn.neural_network.MLPClassifier : Several optimizers, one loss.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklearn_nnopt import LinearNNClassifier
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> clf = make_pipeline(StandardScaler(), LinearNNClassifier(random_state=0))
    >>> clf.fit(X, y).score(X, y) > 0.97
    True

    A multilabel ``y`` is a 0/1 indicator matrix, one column per label:

    >>> from sklearn.datasets import make_multilabel_classification
    >>> X, Y = make_multilabel_classification(n_classes=3, random_state=0)
    >>> clf = LinearNNClassifier().fit(X, Y)
    >>> clf.classes_.tolist(), Y[:2].tolist(), clf.predict(X[:2]).tolist()
    ([0, 1, 2], [[0, 1, 0], [0, 1, 0]], [[0, 1, 0], [0, 1, 1]])
    >>> clf.predict_proba(X[:2]).round(2).tolist()  # per label: rows need not sum to 1
    [[0.04, 1.0, 0.04], [0.1, 1.0, 0.51]]
    """

    _task = "classification"

    def __init__(
        self,
        loss="log_loss",
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
        class_weight=None,
        warm_start=False,
        average=False,
        precondition=True,
        verbose=0,
    ):
        _store_parameters(self, locals())

    # 2-D y is validated as a multilabel indicator matrix by _check_targets.
    _target_validation = {"multi_output": True}

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.classifier_tags.multi_label = True
        return tags

    def _check_targets(self, y):
        """1-D labels (a column vector is raveled with a warning), or a dense
        0/1 multilabel indicator matrix."""
        if y.ndim == 2 and y.shape[1] == 1 and not sp.issparse(y):
            return column_or_1d(y, warn=True)
        if y.ndim == 2:
            return _multilabel_indicator(y, type(self).__name__)
        return y

    def _encode_targets(self, y, sw, *, first_call, classes, loss, dtype):
        """Targets as the loss wants them, weights with ``class_weight``.

        Returns
        -------
        Y : ndarray of shape (n_samples, n_outputs)
            One column (binary), one per class or one per label.
        sw : ndarray of shape (n_samples,)
        fitted : dict
            ``{"classes_": ..., "_indicator_dtype": ...}`` on a first call,
            else empty; for multilabel ``y`` also ``loss_function_``, the loss
            wrapped in :class:`~sklearn_nnopt.losses.PerLabel`.
        """
        continued = not first_call or (self.warm_start and hasattr(self, "classes_"))
        if continued and (y.ndim == 2) != _is_multilabel(vars(self)):
            what = {True: "multilabel y", False: "1-D class labels"}
            verb = "partial_fit" if not first_call else "warm_start"
            raise ValueError(
                f"{verb} continues a model fitted on "
                f"{what[_is_multilabel(vars(self))]}, but got {what[y.ndim == 2]}; "
                f"fit a new model instead."
            )
        if y.ndim == 2:
            return self._encode_multilabel(
                y, sw, first_call=first_call, classes=classes, loss=loss, dtype=dtype
            )
        if not (y.ndim == 1 and y.dtype.kind in "iub"):
            # 1-D integer labels are always binary or multiclass: skip the scan.
            check_classification_targets(y)
        # Labels may be outside the known classes only when classes were given
        # (or fixed by an earlier partial_fit call) instead of read from y.
        incremental = classes is not None or not first_call
        fitted = {}
        if first_call:
            labels = _unique(y) if classes is None else np.unique(classes)
            if len(labels) < 2:
                raise ValueError(
                    f"{type(self).__name__} needs samples of at least 2 classes in "
                    f"the data, but the data contains only one class: {labels[0]!r}."
                )
            if (
                self.warm_start
                and hasattr(self, "classes_")
                and not np.array_equal(labels, self.classes_)
            ):
                raise ValueError(
                    f"warm_start can only be used where y has the same classes as "
                    f"in the previous fit: previously {self.classes_}, now {labels}."
                )
            fitted["classes_"] = labels
            fitted["_indicator_dtype"] = None
        elif classes is not None and not np.array_equal(
            np.unique(classes), self.classes_
        ):
            raise ValueError(
                f"classes={classes!r} differs from the classes of the first "
                f"partial_fit call, {self.classes_}."
            )
        known_classes = fitted.get("classes_", getattr(self, "classes_", None))
        idx = _positions(known_classes, y)
        if incremental:
            known = known_classes[np.minimum(idx, len(known_classes) - 1)] == y
            if not np.all(known):
                unknown = np.unique(y[~known])
                raise ValueError(
                    f"y contains labels {unknown.tolist()} that are not in classes "
                    f"{known_classes.tolist()}; pass every class to the first "
                    f"partial_fit call with classes=."
                )
        if self.class_weight is not None:
            sw = _class_weighted(
                sw, self.class_weight, known_classes, y, idx, incremental
            )
        return _one_hot(idx, len(known_classes), dtype, loss), sw, fitted

    def _encode_multilabel(self, y, sw, *, first_call, classes, loss, dtype):
        """:meth:`_encode_targets` of a 0/1 indicator matrix: one column per label."""
        n_labels = y.shape[1]
        labels = np.arange(n_labels)
        if classes is not None and not np.array_equal(np.asarray(classes), labels):
            raise ValueError(
                f"For multilabel y, classes_ is np.arange(n_labels) and y fixes "
                f"n_labels on the first call; pass classes=None or "
                f"np.arange({n_labels}), not {classes!r}."
            )
        fitted = {"loss_function_": PerLabel(loss)}
        if hasattr(self, "classes_") and (not first_call or self.warm_start):
            if len(self.classes_) != n_labels:
                verb = "partial_fit" if not first_call else "warm_start"
                raise ValueError(
                    f"{verb} got y with {n_labels} labels, but the model was "
                    f"fitted on {len(self.classes_)} labels; fit a new model instead."
                )
        if first_call:
            fitted.update(classes_=labels, _indicator_dtype=y.dtype)
        Y = np.array(y, dtype=dtype, order="F")
        if loss.classification_target == "sign":
            Y *= 2
            Y -= 1
        if self.class_weight is not None:
            incremental = classes is not None or not first_call
            sw = _multilabel_class_weighted(sw, self.class_weight, y, incremental)
        return Y, sw, fitted

    def _coef_attributes(self, W, b, fitted=None):
        return {"coef_": W, "intercept_": b}

    def _decode(self, raw, fitted):
        """Predicted labels from raw predictions (``fitted`` holds ``classes_``)."""
        if _is_multilabel(fitted):
            # The indicator matrix in y's dtype: label k where raw_k > 0.
            return (raw > 0).astype(fitted["_indicator_dtype"])
        classes = fitted["classes_"]
        if raw.shape[1] == 1:
            return classes[(raw[:, 0] > 0).astype(int)]
        return classes[raw.argmax(axis=1)]

    def _score_predictions(self, y, predictions, sample_weight):
        return accuracy_score(y, predictions, sample_weight=sample_weight)

    @available_if(_stochastic_optimizer)
    @with_callbacks
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One epoch over ``(X, y)``, continuing from the current state.

        Continues the coefficients, the optimizer's state, the random state,
        ``n_iter_`` (one per call) and ``loss_curve_`` (one value per call);
        ``optimizer="auto"`` runs plain SGD. The first call needs
        ``classes=``, except for a multilabel indicator ``y``, whose number
        of columns the first call fixes (``classes_`` is then
        ``np.arange(n_labels)``); its chunk may lack classes, so the intercept
        starts halfway (in probability) between the chunk's class frequencies
        and uniform ones, within ``log(2 * n_classes - 1)`` of 0 (per label:
        ``log(3)``). Divergence is
        judged on this call's data alone; a call that diverges raises
        :class:`~sklearn_nnopt.DivergenceError` and leaves the estimator as
        it was. ``early_stopping=True`` and ``class_weight="balanced"`` are
        refused (``ValueError``).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            A chunk of the training data.
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Its class labels, all in ``classes``, or a 0/1 multilabel
            indicator matrix with the first call's number of labels.
        classes : array-like of shape (n_classes,), default=None
            All classes of the stream; required on the first call unless
            ``y`` is multilabel (then None or ``np.arange(n_labels)``).
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample weights.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        n_labels = _n_labels(y)
        if n_labels is not None and classes is None:
            classes = np.arange(n_labels)  # multilabel: y fixes the labels
        if not hasattr(self, "classes_") and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit.")
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    def decision_function(self, X):
        """Raw prediction ``X @ coef_.T + intercept_``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_outputs)
            1-D for binary problems (positive = ``classes_[1]``); one column
            per label for multilabel ones.
        """
        check_is_fitted(self)
        X = validate_data(
            self, X, reset=False, accept_sparse="csr", dtype=[np.float64, np.float32]
        )
        raw = self._raw(X)
        return raw[:, 0] if raw.shape[1] == 1 else raw

    def predict(self, X):
        """Predicted class labels, or the multilabel indicator matrix.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_labels)
            For multilabel models, 1 where ``decision_function`` is positive,
            else 0, in the dtype of the ``y`` fitted (bool, integer or float).
        """
        scores = self.decision_function(X)
        return self._decode(scores.reshape(len(scores), -1), vars(self))

    @available_if(_has_proba)
    def predict_proba(self, X):
        """Class probabilities (``log_loss`` or ``modified_huber`` only).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes) or (n_samples, n_labels)
            For multilabel models, each label's probability (the loss's binary
            one per column; rows need not sum to 1).
        """
        scores = self.decision_function(X)
        return self.loss_function_.predict_proba(scores.reshape(len(scores), -1))

    @available_if(lambda estimator: _has_proba(estimator, "predict_log_proba"))
    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes) or (n_samples, n_labels)
        """
        check_is_fitted(self)
        loss = self.loss_function_
        if hasattr(loss, "predict_log_proba"):
            scores = self.decision_function(X)
            return loss.predict_log_proba(scores.reshape(len(scores), -1))
        with np.errstate(divide="ignore"):
            # modified_huber gives exact zeros: their log is -inf.
            return np.log(self.predict_proba(X))
