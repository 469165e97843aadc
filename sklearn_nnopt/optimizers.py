r"""Optimizers: one small class per update rule.

Each stochastic optimizer follows the update rule documented for the
same-named ``torch.optim`` class: the step size ``lr`` stays outside the
buffers, ``epsilon`` is added after the (bias-corrected) square root and
momentum has no dampening. ``lr`` is given by the estimator at every step
(``learning_rate_init`` and the ``learning_rate`` schedule).

State lives in attributes ending in ``_`` that are created on the first
:meth:`Optimizer.step`, so ``clone`` gives a fresh optimizer and a fitted
estimator's ``optimizer_`` carries the state for ``warm_start`` and
``partial_fit``.

Adding an optimizer means writing one small class here, decorated with
``@OPTIMIZERS.register("name")``, and adding a row to the optimizer test table.
"""

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from sklearn.base import BaseEstimator

from ._registry import Registry
from .losses import _check_scalar

__all__ = ["Optimizer", "SGD", "Adam", "LBFGS", "ProblemScale", "OPTIMIZERS"]


@dataclass(frozen=True)
class ProblemScale:
    """What an optimizer may use to choose its automatic step size.

    Attributes
    ----------
    smoothness : float
        An upper bound ``L`` of the curvature of the training objective: the
        loss's curvature times the mean squared row norm of ``[X, 1]`` plus the
        l2 strength. ``1 / L`` is a stable plain gradient step.
    param_scale : float
        The typical size of a coefficient: the target's scale (in link space)
        divided by the typical size of a non-zero entry of ``X``.
    """

    smoothness: float
    param_scale: float


class Optimizer(BaseEstimator):
    """Base class of the optimizers.

    Stochastic optimizers implement :meth:`_update`; full-batch optimizers set
    ``stochastic = False`` and implement :meth:`minimize` instead.
    """

    stochastic = True

    def auto_learning_rate(self, scale):
        """Step size used for ``learning_rate_init="auto"``.

        Parameters
        ----------
        scale : ProblemScale

        Returns
        -------
        float
        """
        raise NotImplementedError

    def step(self, params, grads, lr):
        """Update ``params`` in place from ``grads`` with step size ``lr``.

        Parameters
        ----------
        params : list of ndarray
            ``[coef, intercept]`` (``[coef]`` without intercept); updated in place.
        grads : list of ndarray
            Gradients of the objective, same shapes as ``params``.
        lr : float
            Step size of this update.
        """
        self.t_ = getattr(self, "t_", 0) + 1
        self._update(params, grads, lr)

    def _update(self, params, grads, lr):
        raise NotImplementedError

    def _state(self, name, params, fill=0.0):
        """A per-parameter buffer list, created on first use."""
        buffers = getattr(self, name, None)
        if buffers is None:
            buffers = [np.full_like(p, fill) for p in params]
            setattr(self, name, buffers)
        return buffers

    def _validate(self):
        """Raise ``ValueError`` if a hyperparameter is out of range."""


OPTIMIZERS = Registry("optimizer", Optimizer)


def _check_bool(value, name):
    if not isinstance(value, bool | np.bool_):
        raise ValueError(f"{name} must be a bool; got {value!r}.")


@OPTIMIZERS.register("nesterov", momentum=0.9, nesterov=True)
@OPTIMIZERS.register("momentum", momentum=0.9)
@OPTIMIZERS.register("sgd")
class SGD(Optimizer):
    r"""Stochastic gradient descent, optionally with (Nesterov) momentum.

    As ``torch.optim.SGD`` with ``dampening=0``, at step :math:`t` with gradient
    :math:`g_t` (:math:`b_1 = g_1`):

    .. math::
        b_t &= \mu b_{t-1} + g_t \\
        d_t &= \begin{cases} g_t + \mu b_t & \text{nesterov} \\
                             b_t & \text{otherwise} \end{cases} \\
        \theta_t &= \theta_{t-1} - \eta_t d_t

    and :math:`d_t = g_t` when :math:`\mu = 0`.

    Parameters
    ----------
    momentum : float, default=0.0
        Momentum factor :math:`\mu` in [0, 1).
    nesterov : bool, default=False
        Use Nesterov momentum (requires ``momentum > 0``).

    Notes
    -----
    ``learning_rate_init="auto"`` is :math:`(1 - \mu) / L`, ``L`` the curvature
    bound of :class:`ProblemScale`: a stable step whose effective size with
    momentum, :math:`\eta / (1 - \mu)`, is the same.
    """

    def __init__(self, momentum=0.0, nesterov=False):
        self.momentum = momentum
        self.nesterov = nesterov

    def _validate(self):
        _check_scalar(self.momentum, "momentum", 0, 1, high_open=True)
        _check_bool(self.nesterov, "nesterov")
        if self.nesterov and self.momentum == 0:
            raise ValueError("nesterov=True requires momentum > 0.")

    def auto_learning_rate(self, scale):
        return (1.0 - self.momentum) / scale.smoothness

    def _update(self, params, grads, lr):
        mu = self.momentum
        if mu == 0:
            for p, g in zip(params, grads, strict=True):
                p -= lr * g
            return
        first = getattr(self, "momentum_buffer_", None) is None
        bufs = self._state("momentum_buffer_", params)
        for p, g, buf in zip(params, grads, bufs, strict=True):
            if first:
                buf[...] = g
            else:
                buf *= mu
                buf += g
            d = g + mu * buf if self.nesterov else buf
            p -= lr * d


@OPTIMIZERS.register("amsgrad", amsgrad=True)
@OPTIMIZERS.register("adam")
class Adam(Optimizer):
    r"""Adam (Kingma & Ba, 2015), with optional AMSGrad.

    As ``torch.optim.Adam`` at step :math:`t` with gradient :math:`g_t`:

    .. math::
        m_t &= \beta_1 m_{t-1} + (1 - \beta_1) g_t \\
        v_t &= \beta_2 v_{t-1} + (1 - \beta_2) g_t^2 \\
        \hat v_t &= \begin{cases} \max(\hat v_{t-1}, v_t) & \text{amsgrad} \\
                                  v_t & \text{otherwise} \end{cases} \\
        \theta_t &= \theta_{t-1} - \eta_t \frac{m_t / (1 - \beta_1^t)}
                    {\sqrt{\hat v_t / (1 - \beta_2^t)} + \epsilon}

    with :math:`m_0 = v_0 = \hat v_0 = 0`.

    Parameters
    ----------
    beta_1 : float, default=0.9
        Decay of the first-moment estimate, in [0, 1).
    beta_2 : float, default=0.999
        Decay of the second-moment estimate, in [0, 1).
    epsilon : float, default=1e-8
        Added to the denominator for numerical stability, > 0.
    amsgrad : bool, default=False
        Use the running maximum of the second moment (Reddi et al., 2018).

    Notes
    -----
    Adam's step is in parameter units, so ``learning_rate_init="auto"`` is
    ``0.01`` times the typical coefficient size of :class:`ProblemScale`
    (``0.01`` on standardized ``X`` with a classification loss; scaled with
    the standard deviation of ``y`` for regression).
    """

    def __init__(self, beta_1=0.9, beta_2=0.999, epsilon=1e-8, amsgrad=False):
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.amsgrad = amsgrad

    def _validate(self):
        _check_scalar(self.beta_1, "beta_1", 0, 1, high_open=True)
        _check_scalar(self.beta_2, "beta_2", 0, 1, high_open=True)
        _check_scalar(self.epsilon, "epsilon", 0, low_open=True)
        _check_bool(self.amsgrad, "amsgrad")

    def auto_learning_rate(self, scale):
        return 0.01 * scale.param_scale

    def _update(self, params, grads, lr):
        b1, b2, t = self.beta_1, self.beta_2, self.t_
        ms = self._state("exp_avg_", params)
        vs = self._state("exp_avg_sq_", params)
        vmaxs = self._state("max_exp_avg_sq_", params) if self.amsgrad else vs
        step_size = lr / (1 - b1**t)
        bc2_sqrt = np.sqrt(1 - b2**t)
        for p, g, m, v, vmax in zip(params, grads, ms, vs, vmaxs, strict=True):
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * (g * g)
            if self.amsgrad:
                np.maximum(vmax, v, out=vmax)
            denom = np.sqrt(vmax)
            denom /= bc2_sqrt
            denom += self.epsilon
            p -= step_size * (m / denom)


@OPTIMIZERS.register("lbfgs")
class LBFGS(Optimizer):
    r"""Full-batch L-BFGS through ``scipy.optimize.minimize(method="L-BFGS-B")``.

    Minimizes the whole training objective with a quasi-Newton method; each
    iteration sees all samples, so ``batch_size``, ``shuffle`` and the
    learning-rate schedule are ignored and ``partial_fit`` is unavailable.
    The estimator's ``tol`` is the gradient tolerance (``gtol``) and
    ``max_iter`` the iteration limit, as in ``LogisticRegression``.
    """

    stochastic = False

    def auto_learning_rate(self, scale):
        return 1.0  # unused: the line search chooses the step.

    def minimize(self, fun, x0, *, max_iter, tol, callback=None):
        """Minimize ``fun`` from ``x0``.

        Parameters
        ----------
        fun : callable
            ``fun(x) -> (value, gradient)`` on float64 vectors.
        x0 : ndarray of shape (n_params,)
        max_iter : int
        tol : float or None
            Gradient tolerance; ``None`` runs until ``max_iter`` or until no
            progress is possible.
        callback : callable, optional
            Called with the objective value after each iteration.

        Returns
        -------
        scipy.optimize.OptimizeResult
        """

        def _callback(intermediate_result):
            if callback is not None:
                callback(intermediate_result.fun)

        ftol = 0.0 if tol is None else 64 * np.finfo(float).eps
        result = minimize(
            fun,
            x0,
            jac=True,
            method="L-BFGS-B",
            callback=_callback,
            options={
                "maxiter": max_iter,
                "maxfun": max(15000, 2 * max_iter),
                "maxls": 50,
                "gtol": 0.0 if tol is None else tol,
                "ftol": ftol,
            },
        )
        self.t_ = getattr(self, "t_", 0) + int(result.nit)
        return result
