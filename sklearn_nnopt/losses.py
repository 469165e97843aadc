r"""Per-sample losses of a linear model's raw prediction.

Every loss works on 2-D arrays: ``y_true`` and ``raw_prediction`` have shape
``(n_samples, n_outputs)``. The per-sample loss is the **sum** over the output
columns (independent regressions for multi-output regression, one-vs-rest
columns for margin losses), except for the multiclass ``log_loss``, which is the
softmax cross-entropy of the whole row. For multilabel targets the classifier
wraps its loss in :class:`PerLabel`, which applies the loss's binary (one-column)
form to each label column and sums them: ``log_loss`` is then the sum of the
labels' binary log losses (sigmoid, not softmax).

Adding a loss means writing one small class here, decorated with
``@LOSSES.register("name")``, and adding a row to the loss test table.
"""

import functools
import inspect
import numbers

import numpy as np
from scipy.special import expit, log_expit, logit, logsumexp
from sklearn.base import BaseEstimator
from sklearn.utils.metaestimators import available_if

from ._registry import Registry
from ._targets import OneHot

__all__ = [
    "Loss",
    "SquaredError",
    "AbsoluteError",
    "Huber",
    "EpsilonInsensitive",
    "SquaredEpsilonInsensitive",
    "Quantile",
    "Poisson",
    "LogLoss",
    "Hinge",
    "SquaredHinge",
    "ModifiedHuber",
    "Perceptron",
    "PerLabel",
    "LOSSES",
]


def _log_tiny(dtype):
    """A floor for exponents: exp of it, divided by up to ~1e10, is not subnormal.

    (e^50 above the smallest normal float: 5e-287 in float64, 6e-17 in float32,
    far below what changes a loss or a gradient.)
    """
    return (np.log(np.finfo(dtype).tiny) + 50).astype(dtype)


@functools.cache
def _compiled():
    """``(sklearn_nnopt._kernels, its _fused_loss module)``, or None if not built."""
    try:
        from . import _kernels
        from ._kernels import _fused_loss
    except ImportError:  # a source tree that was not built: numpy only
        return None
    return _kernels, _fused_loss


@functools.cache
def _log_tiny_float(dtype):
    return float(_log_tiny(dtype))


def _fused_loss_gradient(loss, y_true, raw_prediction):
    """The compiled one-pass ``loss_gradient`` of ``loss``, or None where it
    does not apply.

    It applies to the classes that name their kernel in ``_kernel`` (exactly
    them: a subclass, which may redefine the loss, runs its numpy code), on
    float32 or float64 arrays of one shape and dtype, when the kernels are
    built and enabled (``sklearn_nnopt._kernels.AVAILABLE`` and ``ENABLED``).
    The numpy code is the reference: the kernel computes the same formulas
    in the same order and precision (tests/test_fused_losses.py).
    """
    name = type(loss).__dict__.get("_kernel")
    if name is None:
        return None
    compiled = _compiled()
    if compiled is None or not compiled[0].ENABLED:
        return None
    if not isinstance(raw_prediction, np.ndarray):
        return None
    dtype = raw_prediction.dtype
    if isinstance(y_true, OneHot):
        if (
            name == "log_loss"
            and y_true.low == 0
            and dtype in (np.float32, np.float64)
            and y_true.shape == raw_prediction.shape
        ):
            grad = np.empty_like(raw_prediction)
            out = np.empty(raw_prediction.shape[0], dtype=dtype)
            compiled[1].softmax_labels(
                y_true.indices, raw_prediction, grad, out, _log_tiny_float(dtype)
            )
            return out, grad
        y_true = y_true.toarray()  # a batch's rows: the margin losses' +-1
    if not isinstance(y_true, np.ndarray):
        return None
    if (
        dtype not in (np.float32, np.float64)
        or y_true.dtype != dtype
        or raw_prediction.ndim != 2
        or y_true.shape != raw_prediction.shape
        or raw_prediction.shape[1] == 0
    ):
        return None
    kernel = compiled[1]
    grad = np.empty_like(raw_prediction)
    out = np.empty(raw_prediction.shape[0], dtype=dtype)
    kernel.loss_gradient(
        kernel.LOSSES[name],
        float(getattr(loss, "delta", 0.0)),
        y_true,
        raw_prediction,
        grad,
        out,
        _log_tiny_float(dtype),
    )
    return out, grad


def targets_for(loss, method, y_true):
    """``y_true`` as ``loss``'s ``method`` (``"loss_gradient"``,
    ``"baseline"``, ...) reads it.

    The methods of this module read :class:`~sklearn_nnopt._targets.OneHot`
    targets (by their indices, or as dense rows where numpy converts them);
    a loss defined elsewhere (a user's subclass) gets the dense rows it was
    written for.
    """
    if isinstance(y_true, OneHot):
        if getattr(getattr(type(loss), method), "__module__", None) != __name__:
            return y_true.toarray()
    return y_true


def _weighted_mean(y, sample_weight):
    # A product with the weights: np.average would allocate y's size.
    if sample_weight is None:
        return y.mean(axis=0)
    return (sample_weight @ y) / sample_weight.sum()


def _shrunk_mean(y, sample_weight, prior, prior_weight):
    """Weighted mean of ``y``'s columns, shrunk toward ``prior``, and its floor.

    ``prior_weight`` pseudo-rows at ``prior`` join the rows, which count by
    their effective sample size ``n_eff = (sum w)^2 / sum w^2`` (the number of
    rows for equal weights: rescaling the weights changes nothing). The floor,
    ``prior / (n_eff + 1)``, is what one pseudo-row gives a column without
    weight: the means of losses whose best constant is unbounded (log-odds,
    log of a mean) are clipped to it. All-zero weights give ``prior``.

    Returns
    -------
    mean : ndarray of shape (n_outputs,)
    floor : float
    """
    if sample_weight is None:
        n_eff, mean = float(len(y)), y.mean(axis=0)
    else:
        n_eff = effective_sample_size(sample_weight)
        if n_eff == 0:
            return np.full(y.shape[1], prior, dtype=float), prior
        mean = (sample_weight @ y) / float(sample_weight.sum())
    if prior_weight:
        mean = (n_eff * mean + prior_weight * prior) / (n_eff + prior_weight)
    return mean, prior / (n_eff + 1)


def effective_sample_size(sample_weight):
    """``(sum w)^2 / sum w^2``: the number of equally weighted rows they are worth."""
    w = np.asarray(sample_weight, dtype=np.float64)
    largest = float(np.max(w)) if w.size else 0.0
    if not largest > 0:
        return 0.0
    w = w / largest  # so that weights of 1e-200 or 1e200 neither under- nor overflow
    return float(np.sum(w)) ** 2 / float(np.dot(w, w))


def _weighted_quantile(y, q, sample_weight):
    if sample_weight is None:
        return np.quantile(y, q, axis=0, method="inverted_cdf")
    return np.quantile(y, q, axis=0, weights=sample_weight, method="inverted_cdf")


class Loss(BaseEstimator):
    """Base class of the losses.

    Subclasses set the class attributes below and implement
    :meth:`loss_gradient`.

    Attributes
    ----------
    tasks : frozenset of {"regression", "classification"}
        The estimators the loss may be used with.
    classification_target : {"zero_one", "sign"}
        How a classifier encodes its one-hot targets for this loss: ``{0, 1}``
        or ``t = {-1, +1}``.
    curvature : float
        An upper bound of the second derivative in each raw column (for
        non-smooth losses, a unit scale); it sets the automatic step size of
        plain gradient methods.
    full_batch : bool
        Whether minimizing the objective with a full-batch optimizer (L-BFGS)
        gives a useful model.
    smooth : bool
        Whether the loss is continuously differentiable in ``raw_prediction``
        (its gradient then vanishes at the optimum, which the convergence
        check tests; the ``"auto"`` optimizer picks L-BFGS only for these).
    independent_outputs : bool
        Whether the per-sample loss is a sum of one term per output column,
        each depending on that column alone (not the softmax): its Hessian in
        ``raw_prediction`` is then diagonal, and Newton's needs two loss
        evaluations instead of two per output. False (the safe default) for a
        custom loss that does not say so.

    Examples
    --------
    A custom loss needs ``tasks`` and :meth:`loss_gradient`, here log-cosh:

    >>> import numpy as np
    >>> from sklearn_nnopt import Loss
    >>> class LogCosh(Loss):
    ...     tasks = frozenset({"regression"})
    ...     def loss_gradient(self, y_true, raw_prediction):
    ...         r = raw_prediction - y_true
    ...         return np.log(np.cosh(r)).sum(axis=1), np.tanh(r)
    >>> y, raw = np.zeros((2, 1)), np.array([[1.0], [-3.0]])
    >>> LogCosh().gradient(y, raw).round(4).tolist()
    [[0.7616], [-0.9951]]
    """

    tasks = frozenset()
    classification_target = "sign"
    curvature = 1.0
    full_batch = True
    smooth = True
    independent_outputs = False

    def loss_gradient(self, y_true, raw_prediction):
        """Per-sample loss and its gradient with respect to ``raw_prediction``.

        Parameters
        ----------
        y_true : ndarray of shape (n_samples, n_outputs)
            Encoded targets.
        raw_prediction : ndarray of shape (n_samples, n_outputs)
            Prediction in link space, ``X @ coef_.T + intercept_``.

        Returns
        -------
        loss : ndarray of shape (n_samples,)
        gradient : ndarray of shape (n_samples, n_outputs)
        """
        raise NotImplementedError

    def loss(self, y_true, raw_prediction):
        """Per-sample loss, shape ``(n_samples,)``."""
        return self.loss_gradient(y_true, raw_prediction)[0]

    def gradient(self, y_true, raw_prediction):
        """Derivative of the per-sample loss with respect to ``raw_prediction``."""
        return self.loss_gradient(y_true, raw_prediction)[1]

    def inverse_link(self, raw_prediction):
        """Map the raw prediction to the prediction (identity by default)."""
        return raw_prediction

    def baseline(self, y_true, sample_weight=None, prior_weight=0.0):
        r"""Starting intercept: a cheap best (or near-best) constant raw prediction.

        The exact minimizer for the squared error (mean), absolute error
        (median), quantile, Poisson (log of the mean), log loss (log-odds) and
        margin losses; the median for ``huber`` and the epsilon losses, whose
        exact constant needs an iterative solve. Zeros where none is cheap.

        Parameters
        ----------
        y_true : ndarray of shape (n_samples, n_outputs)
            Encoded targets.
        sample_weight : ndarray of shape (n_samples,), default=None
        prior_weight : float, default=0.0
            For losses whose best constant is unbounded (log-odds of a class
            without weight, log of a zero mean), ``prior_weight`` pseudo-rows
            whose target is the prediction at raw 0 (uniform classes, a mean
            of 1) join the rows, which count by their effective sample size
            :math:`n_{\mathrm{eff}} = (\sum w)^2 / \sum w^2`. Its value
            :math:`n_{\mathrm{eff}}` (the estimator's on a first
            ``partial_fit`` call, whose chunk may lack classes) starts halfway
            (in probability, or mean) between the data's value and raw 0's,
            within :math:`\log(2k - 1)` of 0 for :math:`k` classes whatever
            the data. Whatever ``prior_weight``, a class or a mean without
            weight gets what one pseudo-row would give it (for two classes,
            the Krichevsky-Trofimov estimate), so that the start stays within
            about :math:`\log(2 n_{\mathrm{eff}} + 2)` of 0 instead of at
            -36 (the log of machine epsilon). Losses with a bounded best
            constant ignore it.

        Returns
        -------
        ndarray of shape (n_outputs,)
        """
        return np.zeros(y_true.shape[1], dtype=y_true.dtype)

    def target_scale(self, y_true, sample_weight=None):
        """Typical size of the raw prediction, used by the automatic step size."""
        return 1.0

    def smoothness(self, y_true, sample_weight=None):
        """Curvature bound for the data (``curvature`` unless overridden)."""
        return self.curvature

    def sample_curvature(self, y_true, sample_weight=None):
        """Curvature bound per sample (``smoothness`` for every sample by default).

        Returns
        -------
        float or ndarray of shape (n_samples,)
        """
        return self.smoothness(y_true, sample_weight)

    def check_target(self, y_true):
        """Raise ``ValueError`` if ``y_true`` is outside the loss's domain."""

    def _validate(self):
        """Raise ``ValueError`` if a hyperparameter is out of range."""


LOSSES = Registry("loss", Loss)


def _check_scalar(value, name, low, high=None, low_open=False, high_open=False):
    """Range check with a message naming the parameter."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise ValueError(f"{name} must be a real number; got {value!r}.")
    bad_low = value <= low if low_open else value < low
    bad_high = high is not None and (value >= high if high_open else value > high)
    if bad_low or bad_high or not np.isfinite(value):
        lo = "(" if low_open else "["
        hi = ")" if high_open else "]"
        upper = "inf" if high is None else high
        raise ValueError(f"{name} must be in {lo}{low}, {upper}{hi}; got {value!r}.")


class _ResidualLoss(Loss):
    """A loss ``phi(r)`` of the residual ``r = y - raw`` with identity link."""

    tasks = frozenset({"regression"})
    independent_outputs = True

    def _phi(self, r):
        """Return ``phi(r)`` and ``phi'(r)`` elementwise."""
        raise NotImplementedError

    def loss_gradient(self, y_true, raw_prediction):
        fused = _fused_loss_gradient(self, y_true, raw_prediction)
        if fused is not None:
            return fused
        loss, dphi = self._phi(y_true - raw_prediction)
        np.negative(dphi, out=dphi)
        return loss.sum(axis=1), dphi

    def target_scale(self, y_true, sample_weight=None):
        mean = _weighted_mean(y_true, sample_weight)
        var = _weighted_mean((y_true - mean) ** 2, sample_weight)
        scale = float(np.sqrt(np.mean(var)))
        return scale if scale > 0 else 1.0


class _MedianBaseline:
    """Mixin: the best constant is the weighted ``_baseline_quantile``."""

    _baseline_quantile = 0.5

    def baseline(self, y_true, sample_weight=None, prior_weight=0.0):
        q = _weighted_quantile(y_true, self._baseline_quantile, sample_weight)
        return np.asarray(q, dtype=y_true.dtype)


@LOSSES.register("squared_error")
class SquaredError(_ResidualLoss):
    r"""Half squared error.

    .. math::
        \ell(y, z) = \tfrac12 (y - z)^2, \qquad
        \frac{\partial \ell}{\partial z} = z - y

    In a classifier, ``y`` is the one-vs-rest target :math:`t \in \{-1, +1\}`.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_nnopt import SquaredError
    >>> y, raw = np.array([[1.0], [2.0]]), np.array([[0.0], [2.5]])
    >>> SquaredError().loss(y, raw).tolist()
    [0.5, 0.125]
    >>> SquaredError().gradient(y, raw).tolist()
    [[-1.0], [0.5]]
    """

    tasks = frozenset({"regression", "classification"})

    _kernel = "squared_error"  # the compiled one-pass loss_gradient

    def loss_gradient(self, y_true, raw_prediction):
        fused = _fused_loss_gradient(self, y_true, raw_prediction)
        if fused is not None:
            return fused
        grad = raw_prediction - y_true
        loss = np.einsum("ij,ij->i", grad, grad)
        loss *= 0.5
        return loss, grad

    def baseline(self, y_true, sample_weight=None, prior_weight=0.0):
        return np.asarray(_weighted_mean(y_true, sample_weight), dtype=y_true.dtype)


@LOSSES.register("absolute_error")
class AbsoluteError(_MedianBaseline, _ResidualLoss):
    r"""Absolute error.

    .. math::
        \ell(y, z) = |y - z|, \qquad
        \frac{\partial \ell}{\partial z} = -\operatorname{sign}(y - z)

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_nnopt import AbsoluteError
    >>> y, raw = np.array([[1.0], [2.0]]), np.array([[0.0], [2.5]])
    >>> AbsoluteError().loss(y, raw).tolist()
    [1.0, 0.5]
    >>> AbsoluteError().gradient(y, raw).tolist()
    [[-1.0], [1.0]]
    >>> AbsoluteError().baseline(np.array([[1.0], [2.0], [10.0]])).tolist()  # median
    [2.0]
    """

    smooth = False  # a kink: at the optimum only a subgradient vanishes

    def _phi(self, r):
        return np.abs(r), np.sign(r)


@LOSSES.register("huber")
class Huber(_MedianBaseline, _ResidualLoss):
    r"""Huber loss, quadratic for small and linear for large residuals.

    .. math::
        \ell(y, z) = \begin{cases}
            \tfrac12 r^2 & |r| \le \delta \\
            \delta (|r| - \tfrac12 \delta) & |r| > \delta
        \end{cases}, \quad r = y - z, \qquad
        \frac{\partial \ell}{\partial z} = -\operatorname{clip}(r, -\delta, \delta)

    Parameters
    ----------
    delta : float, default=1.0
        Residual size where the loss turns from quadratic to linear, > 0.

    Examples
    --------
    The gradient is the residual clipped to ``delta``, so an outlier pulls the
    fit far less than with the squared error:

    >>> import numpy as np
    >>> from sklearn_nnopt import Huber, LinearNNRegressor
    >>> Huber(delta=2.0).gradient(np.zeros((2, 1)), np.array([[1.0], [5.0]])).tolist()
    [[1.0], [2.0]]
    >>> X = np.arange(10.0).reshape(-1, 1)
    >>> y = 2 * X.ravel() + 1
    >>> y[-1] = 100.0  # one outlier
    >>> for loss in ["squared_error", Huber(delta=2.0)]:
    ...     reg = LinearNNRegressor(loss=loss, optimizer="lbfgs", alpha=0.0).fit(X, y)
    ...     print(reg.coef_.round(1).tolist())
    [6.4]
    [2.2]
    """

    _kernel = "huber"  # the compiled one-pass loss_gradient

    def __init__(self, delta=1.0):
        self.delta = delta

    def _validate(self):
        _check_scalar(self.delta, "delta", 0, low_open=True)

    def _phi(self, r):
        d = self.delta
        a = np.abs(r)
        loss = np.where(a <= d, 0.5 * r * r, d * (a - 0.5 * d))
        return loss, np.clip(r, -d, d)


@LOSSES.register("epsilon_insensitive")
class EpsilonInsensitive(_MedianBaseline, _ResidualLoss):
    r"""Epsilon-insensitive loss (linear support vector regression).

    .. math::
        \ell(y, z) = \max(0, |y - z| - \varepsilon), \qquad
        \frac{\partial \ell}{\partial z} =
            -\operatorname{sign}(r)\,[|r| > \varepsilon]

    Parameters
    ----------
    epsilon : float, default=0.1
        Half-width of the zone where residuals cost nothing, >= 0.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_nnopt import EpsilonInsensitive
    >>> loss = EpsilonInsensitive(epsilon=0.5)
    >>> y, raw = np.zeros((3, 1)), np.array([[0.3], [2.0], [-1.0]])
    >>> loss.loss(y, raw).tolist()
    [0.0, 1.5, 0.5]
    >>> loss.gradient(y, raw).tolist()
    [[0.0], [1.0], [-1.0]]
    """

    smooth = False  # a kink: at the optimum only a subgradient vanishes

    def __init__(self, epsilon=0.1):
        self.epsilon = epsilon

    def _validate(self):
        _check_scalar(self.epsilon, "epsilon", 0)

    def _phi(self, r):
        excess = np.abs(r) - self.epsilon
        np.maximum(excess, 0, out=excess)
        return excess, np.sign(r) * (excess > 0)


@LOSSES.register("squared_epsilon_insensitive")
class SquaredEpsilonInsensitive(_MedianBaseline, _ResidualLoss):
    r"""Squared epsilon-insensitive loss.

    .. math::
        \ell(y, z) = \max(0, |y - z| - \varepsilon)^2, \qquad
        \frac{\partial \ell}{\partial z} =
            -2 \operatorname{sign}(r) \max(0, |r| - \varepsilon)

    Parameters
    ----------
    epsilon : float, default=0.1
        Half-width of the zone where residuals cost nothing, >= 0.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_nnopt import SquaredEpsilonInsensitive
    >>> loss = SquaredEpsilonInsensitive(epsilon=0.5)
    >>> y, raw = np.zeros((3, 1)), np.array([[0.3], [2.0], [-1.0]])
    >>> loss.loss(y, raw).tolist()
    [0.0, 2.25, 0.25]
    >>> loss.gradient(y, raw).tolist()
    [[0.0], [3.0], [-1.0]]
    """

    curvature = 2.0

    def __init__(self, epsilon=0.1):
        self.epsilon = epsilon

    def _validate(self):
        _check_scalar(self.epsilon, "epsilon", 0)

    def _phi(self, r):
        excess = np.abs(r) - self.epsilon
        np.maximum(excess, 0, out=excess)
        return excess * excess, 2.0 * np.sign(r) * excess


@LOSSES.register("quantile")
class Quantile(_MedianBaseline, _ResidualLoss):
    r"""Pinball loss; its minimizer is the ``quantile``-quantile of ``y``.

    .. math::
        \ell(y, z) = \max(q r, (q - 1) r), \quad r = y - z, \qquad
        \frac{\partial \ell}{\partial z} = \begin{cases}
            -q & r > 0 \\ 1 - q & r < 0 \\ 0 & r = 0 \end{cases}

    Parameters
    ----------
    quantile : float, default=0.5
        The quantile ``q`` to estimate, in (0, 1).

    Examples
    --------
    With ``quantile=0.9``, predicting 1 too low costs nine times as much as 1 too
    high, and the starting intercept is the 0.9-quantile of ``y``:

    >>> import numpy as np
    >>> from sklearn_nnopt import Quantile
    >>> loss = Quantile(quantile=0.9)
    >>> y, raw = np.array([[1.0], [1.0]]), np.array([[0.0], [2.0]])
    >>> loss.loss(y, raw).round(4).tolist()
    [0.9, 0.1]
    >>> loss.baseline(np.arange(10.0).reshape(-1, 1)).tolist()
    [8.0]
    """

    smooth = False  # a kink: at the optimum only a subgradient vanishes

    def __init__(self, quantile=0.5):
        self.quantile = quantile

    @property
    def _baseline_quantile(self):
        return self.quantile

    def _validate(self):
        _check_scalar(self.quantile, "quantile", 0, 1, low_open=True, high_open=True)

    def _phi(self, r):
        q = self.quantile
        loss = np.maximum(q * r, (q - 1) * r)
        dphi = np.where(r > 0, q, q - 1)
        dphi[r == 0] = 0
        return loss, dphi.astype(r.dtype, copy=False)


@LOSSES.register("poisson")
class Poisson(Loss):
    r"""Poisson deviance (up to terms constant in ``z``) with a log link.

    .. math::
        \ell(y, z) = e^{z} - y z, \qquad
        \frac{\partial \ell}{\partial z} = e^{z} - y, \qquad
        \hat y = e^{z}

    ``y`` must be non-negative.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_nnopt import Poisson
    >>> y, raw = np.array([[0.0], [2.0]]), np.array([[0.0], [1.0]])
    >>> Poisson().loss(y, raw).round(4).tolist()
    [1.0, 0.7183]
    >>> Poisson().gradient(y, raw).round(4).tolist()
    [[1.0], [0.7183]]
    >>> Poisson().inverse_link(raw).round(4).tolist()  # the predicted mean
    [[1.0], [2.7183]]
    """

    tasks = frozenset({"regression"})
    independent_outputs = True

    _kernel = "poisson"  # the compiled one-pass loss_gradient

    def loss_gradient(self, y_true, raw_prediction):
        fused = _fused_loss_gradient(self, y_true, raw_prediction)
        if fused is not None:
            return fused
        mu = np.exp(raw_prediction)
        loss = (mu - y_true * raw_prediction).sum(axis=1)
        mu -= y_true
        return loss, mu

    def inverse_link(self, raw_prediction):
        return np.exp(raw_prediction)

    def baseline(self, y_true, sample_weight=None, prior_weight=0.0):
        mean, floor = _shrunk_mean(y_true, sample_weight, 1.0, prior_weight)
        # An all-zero column would start at log(0) = -inf.
        mean = np.maximum(mean, floor)
        tiny = 10 * np.finfo(y_true.dtype).eps
        return np.log(np.maximum(mean, tiny)).astype(y_true.dtype)

    def smoothness(self, y_true, sample_weight=None):
        # The Hessian in z is exp(z), which is about y near the optimum.
        mean = _weighted_mean(y_true, sample_weight)
        return float(max(np.max(mean), np.finfo(y_true.dtype).eps))

    def sample_curvature(self, y_true, sample_weight=None):
        # exp(z) is unbounded: a sample pulls z towards log(y_i), where the
        # curvature is y_i, so large counts need small steps on small batches.
        rows = np.max(y_true, axis=1).astype(np.float64)
        return np.maximum(rows, self.smoothness(y_true, sample_weight))

    def check_target(self, y_true):
        if np.any(y_true < 0):
            raise ValueError(
                "loss='poisson' requires non-negative y (counts or rates); "
                f"got min(y) = {np.min(y_true)}."
            )


@LOSSES.register("cross_entropy")
@LOSSES.register("log_loss")
class LogLoss(Loss):
    r"""Logistic loss (binary) or softmax cross-entropy (multiclass).

    Binary, one output, :math:`y \in \{0, 1\}`:

    .. math::
        \ell(y, z) = \log(1 + e^{z}) - y z, \qquad
        \frac{\partial \ell}{\partial z} = \sigma(z) - y

    Multiclass, one-hot :math:`y` over :math:`K` outputs:

    .. math::
        \ell(y, z) = \log \sum_{k} e^{z_k} - z_{y}, \qquad
        \frac{\partial \ell}{\partial z_k} = \operatorname{softmax}(z)_k - y_k

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_nnopt import LogLoss
    >>> y, raw = np.array([[1.0], [0.0]]), np.array([[2.0], [0.0]])
    >>> LogLoss().loss(y, raw).round(4).tolist()
    [0.1269, 0.6931]
    >>> LogLoss().gradient(y, raw).round(4).tolist()
    [[-0.1192], [0.5]]
    >>> LogLoss().predict_proba(raw).round(4).tolist()
    [[0.1192, 0.8808], [0.5, 0.5]]
    """

    tasks = frozenset({"classification"})
    classification_target = "zero_one"
    # The logistic Hessian is at most 1/4; the softmax Hessian's norm at most 1/2.
    curvature = 0.5

    _kernel = "log_loss"  # the compiled one-pass loss_gradient

    def loss_gradient(self, y_true, raw_prediction):
        fused = _fused_loss_gradient(self, y_true, raw_prediction)
        if fused is not None:
            return fused
        if raw_prediction.shape[1] == 1:
            # softplus(z) = log1p(exp(-|z|)) + max(z, 0): exact, and numpy's
            # vectorized exp and log1p make it 5x faster than logaddexp(0, z).
            z = raw_prediction[:, 0]
            loss = np.abs(z)
            np.negative(loss, out=loss)
            np.exp(loss, out=loss)
            np.log1p(loss, out=loss)
            loss += np.maximum(z, 0)
            loss -= y_true[:, 0] * z
            # Floored so that no probability is subnormal: products with
            # subnormal floats run up to 100x slower (L-BFGS on digits).
            grad = np.maximum(raw_prediction, _log_tiny(raw_prediction.dtype))
            expit(grad, out=grad)
            grad -= y_true
            return loss, grad
        # The max-shift form of logsumexp, written out: scipy.special.logsumexp
        # costs ~100 us on a 256 x 10 batch, 3x the whole batch's matrix products.
        z_max = raw_prediction.max(axis=1, keepdims=True)
        grad = raw_prediction - z_max
        # No subnormal probabilities (see the binary case).
        np.maximum(grad, _log_tiny(grad.dtype), out=grad)
        np.exp(grad, out=grad)
        total = grad.sum(axis=1, keepdims=True)
        grad /= total
        loss = np.log(total[:, 0]) + z_max[:, 0]
        if isinstance(y_true, OneHot):
            # The classes' entries: what the one-hot rows' products select.
            rows = np.arange(len(loss))
            loss -= raw_prediction[rows, y_true.indices]
            grad[rows, y_true.indices] -= 1
            return loss, grad
        # (einsum costs 4x this on the column-major batches of the estimator.)
        loss -= np.multiply(y_true, raw_prediction).sum(axis=1)
        grad -= y_true
        return loss, grad

    def baseline(self, y_true, sample_weight=None, prior_weight=0.0):
        eps = np.finfo(y_true.dtype).eps
        k = y_true.shape[1]
        uniform = 0.5 if k == 1 else 1.0 / k  # the prediction at raw 0
        p, floor = _shrunk_mean(y_true, sample_weight, uniform, prior_weight)
        # A class without weight would start at the log of zero.
        p = np.clip(p, max(floor, eps), 1 - max(floor, eps) if k == 1 else 1)
        if y_true.shape[1] == 1:
            return logit(p).astype(y_true.dtype)
        logp = np.log(p)
        return (logp - logp.mean()).astype(y_true.dtype)

    def smoothness(self, y_true, sample_weight=None):
        return 0.25 if y_true.shape[1] == 1 else 0.5

    def predict_proba(self, raw_prediction):
        """Class probabilities: sigmoid (binary) or softmax (multiclass)."""
        return np.exp(self.predict_log_proba(raw_prediction))

    def predict_log_proba(self, raw_prediction):
        """Log-probabilities, computed in log space (finite for any raw value)."""
        if raw_prediction.shape[1] == 1:
            return np.hstack([log_expit(-raw_prediction), log_expit(raw_prediction)])
        return raw_prediction - logsumexp(raw_prediction, axis=1)[:, None]


class _MarginLoss(Loss):
    """A loss ``phi(m)`` of the margin ``m = t z``, ``t`` in {-1, +1}."""

    tasks = frozenset({"classification"})
    classification_target = "sign"
    independent_outputs = True

    def _phi(self, m):
        """Return ``phi(m)`` and ``phi'(m)`` elementwise."""
        raise NotImplementedError

    def loss_gradient(self, y_true, raw_prediction):
        if isinstance(y_true, OneHot):
            y_true = y_true.toarray()  # a batch's +-1 rows (once: fused or not)
        fused = _fused_loss_gradient(self, y_true, raw_prediction)
        if fused is not None:
            return fused
        loss, dphi = self._phi(y_true * raw_prediction)
        dphi *= y_true
        return loss.sum(axis=1), dphi


@LOSSES.register("hinge")
class Hinge(_MarginLoss):
    r"""Hinge loss (linear support vector machine).

    .. math::
        \ell(t, z) = \max(0, 1 - t z), \qquad
        \frac{\partial \ell}{\partial z} = -t\,[t z < 1]

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_nnopt import Hinge
    >>> t, raw = np.array([[-1.0], [1.0], [-1.0]]), np.array([[-2.0], [0.5], [0.5]])
    >>> Hinge().loss(t, raw).tolist()
    [0.0, 0.5, 1.5]
    >>> Hinge().gradient(t, raw).tolist()
    [[0.0], [-1.0], [1.0]]
    """

    smooth = False  # a kink: at the optimum only a subgradient vanishes

    def _phi(self, m):
        slack = 1 - m
        return np.maximum(slack, 0), -(slack > 0).astype(m.dtype)

    def baseline(self, y_true, sample_weight=None, prior_weight=0.0):
        # Linear in c on [-1, 1]: the weighted majority's side of the margin.
        return np.sign(_weighted_mean(y_true, sample_weight)).astype(y_true.dtype)


@LOSSES.register("squared_hinge")
class SquaredHinge(_MarginLoss):
    r"""Squared hinge loss.

    .. math::
        \ell(t, z) = \max(0, 1 - t z)^2, \qquad
        \frac{\partial \ell}{\partial z} = -2 t \max(0, 1 - t z)

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_nnopt import SquaredHinge
    >>> t, raw = np.array([[-1.0], [1.0], [-1.0]]), np.array([[-2.0], [0.5], [0.5]])
    >>> SquaredHinge().loss(t, raw).tolist()
    [0.0, 0.25, 2.25]
    >>> SquaredHinge().gradient(t, raw).tolist()
    [[0.0], [-1.0], [3.0]]
    """

    curvature = 2.0
    _kernel = "squared_hinge"  # the compiled one-pass loss_gradient

    def _phi(self, m):
        slack = np.maximum(1 - m, 0)
        return slack * slack, -2.0 * slack

    def baseline(self, y_true, sample_weight=None, prior_weight=0.0):
        # On [-1, 1] the loss is (1 - t c)^2, minimized by the mean of t.
        return np.asarray(_weighted_mean(y_true, sample_weight), dtype=y_true.dtype)


@LOSSES.register("modified_huber")
class ModifiedHuber(_MarginLoss):
    r"""Modified Huber loss: squared hinge, linear below margin -1.

    .. math::
        \ell(t, z) = \begin{cases}
            \max(0, 1 - t z)^2 & t z \ge -1 \\ -4 t z & t z < -1
        \end{cases}, \qquad
        \frac{\partial \ell}{\partial z} = \begin{cases}
            -2 t \max(0, 1 - t z) & t z \ge -1 \\ -4 t & t z < -1 \end{cases}

    ``predict_proba`` is ``(clip(z, -1, 1) + 1) / 2`` per column, normalized
    over classes for multiclass problems, as in ``SGDClassifier``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_nnopt import ModifiedHuber
    >>> t, raw = np.array([[-1.0], [1.0], [1.0]]), np.array([[-2.0], [0.5], [-3.0]])
    >>> ModifiedHuber().loss(t, raw).tolist()
    [0.0, 0.25, 12.0]
    >>> ModifiedHuber().gradient(t, raw).tolist()
    [[0.0], [-1.0], [-4.0]]
    >>> ModifiedHuber().predict_proba(raw).tolist()
    [[1.0, 0.0], [0.25, 0.75], [1.0, 0.0]]
    """

    curvature = 2.0
    _kernel = "modified_huber"  # the compiled one-pass loss_gradient

    def _phi(self, m):
        slack = np.maximum(1 - m, 0)
        linear = m < -1
        loss = np.where(linear, -4.0 * m, slack * slack)
        dphi = np.where(linear, -4.0, -2.0 * slack)
        return loss, dphi.astype(m.dtype, copy=False)

    baseline = SquaredHinge.baseline

    def predict_proba(self, raw_prediction):
        """Probabilities as ``SGDClassifier(loss="modified_huber")``."""
        prob = np.clip(raw_prediction, -1, 1)
        prob += 1
        prob /= 2
        if raw_prediction.shape[1] == 1:
            return np.hstack([1 - prob, prob])
        norm = prob.sum(axis=1)
        empty = norm == 0
        # Rows where every class is below -1: no evidence, uniform.
        prob[empty] = 1.0
        norm[empty] = prob.shape[1]
        return prob / norm[:, None]


@LOSSES.register("perceptron")
class Perceptron(_MarginLoss):
    r"""Perceptron loss.

    .. math::
        \ell(t, z) = \max(0, -t z), \qquad
        \frac{\partial \ell}{\partial z} = -t\,[t z \le 0]

    Unlike the other kinks, the kink at :math:`t z = 0` takes the subgradient
    :math:`-t` (the perceptron's classic update rule, as in scikit-learn's
    ``Perceptron``): with the subgradient 0 the zero start, where every margin
    is 0, would be a fixed point and training would never move.

    Examples
    --------
    The last sample sits on the kink, :math:`t z = 0`, and gets the gradient
    :math:`-t`:

    >>> import numpy as np
    >>> from sklearn_nnopt import Perceptron
    >>> t, raw = np.array([[-1.0], [1.0], [-1.0]]), np.array([[-2.0], [-0.5], [0.0]])
    >>> Perceptron().loss(t, raw).tolist()
    [0.0, 0.5, 0.0]
    >>> Perceptron().gradient(t, raw).tolist()
    [[0.0], [-1.0], [1.0]]
    """

    smooth = False  # a kink: at the optimum only a subgradient vanishes

    # The zero model minimizes the perceptron criterion (with l2, uniquely): only
    # the stochastic update dynamics learn something, so L-BFGS is refused.
    full_batch = False

    def _phi(self, m):
        return np.maximum(-m, 0), -(m <= 0).astype(m.dtype)


def _column_stack(a):
    """``(n, k)`` as ``(n * k, 1)``, column after column (a view if column-major)."""
    return a.reshape((-1, 1), order="F")


def _has(name):
    """``available_if`` check: the wrapped loss has the method ``name``."""
    return lambda per_label: hasattr(per_label.label_loss, name)


class PerLabel(Loss):
    r"""A classification loss applied to each label of a multilabel problem.

    The classifier fits a 0/1 indicator ``y`` of shape ``(n_samples,
    n_labels)`` with this wrapper of its ``loss`` (``loss_function_`` is then
    ``PerLabel(label_loss=<the loss>)``): one output column per label,
    each a binary problem encoded as the loss encodes a binary one (:math:`y
    \in \{0, 1\}` for the log loss, :math:`t = \pm 1` for the others), and the
    per-sample loss is the **sum** over the labels of the loss's binary
    (one-column) form:

    .. math::
        \ell(y_i, z_i) = \sum_{k=1}^{K} \ell_{\mathrm{binary}}(y_{ik}, z_{ik})

    For ``log_loss`` that is the sum of the labels' binary log losses (a sigmoid
    per label, not the softmax of the multiclass case); the margin losses and
    the squared error are the same as on their one-vs-rest columns. The
    labels share nothing but the optimizer (and, through the sample weights,
    ``class_weight``): their gradients and Hessian blocks are independent.

    Parameters
    ----------
    label_loss : Loss
        A classification loss; its binary form is applied to every column.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_nnopt import LogLoss, PerLabel
    >>> y, raw = np.array([[1.0, 0.0], [0.0, 0.0]]), np.array([[2.0, 0.0], [0.0, 1.0]])
    >>> PerLabel(LogLoss()).loss(y, raw).round(4).tolist()  # the binary losses summed
    [0.8201, 2.0064]
    >>> PerLabel(LogLoss()).predict_proba(raw).round(4).tolist()
    [[0.8808, 0.5], [0.5, 0.7311]]
    """

    tasks = frozenset({"classification"})
    independent_outputs = True  # whatever the wrapped loss: one label per column

    def __init__(self, label_loss):
        self.label_loss = label_loss

    # The wrapped loss's properties.
    classification_target = property(lambda self: self.label_loss.classification_target)
    curvature = property(lambda self: self.label_loss.curvature)
    full_batch = property(lambda self: self.label_loss.full_batch)
    smooth = property(lambda self: self.label_loss.smooth)

    def _columns(self, method, y_true, sample_weight, **kwargs):
        """``method`` of the wrapped loss on each label column."""
        method = getattr(self.label_loss, method)
        return [
            method(y_true[:, [k]], sample_weight, **kwargs)
            for k in range(y_true.shape[1])
        ]

    def loss_gradient(self, y_true, raw_prediction):
        n, k = raw_prediction.shape
        loss, grad = self.label_loss.loss_gradient(
            _column_stack(y_true), _column_stack(raw_prediction)
        )
        return loss.reshape((n, k), order="F").sum(axis=1), grad.reshape(
            (n, k), order="F"
        )

    def baseline(self, y_true, sample_weight=None, prior_weight=0.0):
        """The wrapped loss's binary baseline of each label column."""
        parameters = inspect.signature(self.label_loss.baseline).parameters
        kwargs = {"prior_weight": prior_weight} if "prior_weight" in parameters else {}
        columns = self._columns("baseline", y_true, sample_weight, **kwargs)
        return np.concatenate([np.ravel(c) for c in columns]).astype(y_true.dtype)

    def target_scale(self, y_true, sample_weight=None):
        return max(self._columns("target_scale", y_true, sample_weight))

    def smoothness(self, y_true, sample_weight=None):
        return max(self._columns("smoothness", y_true, sample_weight))

    def sample_curvature(self, y_true, sample_weight=None):
        columns = self._columns("sample_curvature", y_true, sample_weight)
        return functools.reduce(np.maximum, columns)

    def check_target(self, y_true):
        self.label_loss.check_target(y_true)

    def _validate(self):
        self.label_loss._validate()

    @available_if(_has("predict_proba"))
    def predict_proba(self, raw_prediction):
        """Per-label probabilities of the positive class, ``(n_samples, n_labels)``.

        The wrapped loss's binary ``predict_proba`` of each column (for the log
        loss, the sigmoid); rows need not sum to 1.
        """
        proba = self.label_loss.predict_proba(_column_stack(raw_prediction))[:, 1]
        return proba.reshape(raw_prediction.shape, order="F")

    @available_if(_has("predict_log_proba"))
    def predict_log_proba(self, raw_prediction):
        """Logarithm of :meth:`predict_proba`, from the wrapped loss's own."""
        log_proba = self.label_loss.predict_log_proba(_column_stack(raw_prediction))[
            :, 1
        ]
        return log_proba.reshape(raw_prediction.shape, order="F")
