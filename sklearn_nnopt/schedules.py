r"""Learning-rate schedules (the estimators' ``learning_rate`` parameter).

A schedule gives the step size :math:`\eta_t` of optimizer step ``t``
(counted from 1 over the whole life of the fitted estimator, like the
optimizer's own step count ``t_``). It changes the step size only: the
optimizer's buffers carry on unchanged, as with a ``torch.optim.lr_scheduler``.
With ``optimizer="lbfgs"`` schedules are ignored (its line search sets the step).

Adding a schedule means one small class here, decorated with ``@_register``.
"""

import math

import numpy as np

__all__ = ["SCHEDULES", "Schedule", "Constant", "InvScaling", "Optimal", "Adaptive"]
__all__ += ["Cosine"]

SCHEDULES = {}


def _register(name):
    def decorator(cls):
        cls.name = name
        SCHEDULES[name] = cls
        return cls

    return decorator


class Schedule:
    r"""Base class: ``rate(t)`` is the step size of optimizer step ``t``.

    Parameters
    ----------
    learning_rate_init : float
        The initial step size :math:`\eta_0`.
    estimator : LinearNNClassifier or LinearNNRegressor
        The fitted estimator, for the schedule's own hyperparameters
        (``power_t``, ``alpha``, ``max_iter``) and the epoch count ``n_iter_``.
    loss : Loss
        The loss being minimized.

    Examples
    --------
    ``SCHEDULES`` maps the names the estimators' ``learning_rate`` takes to the
    classes:

    >>> from sklearn_nnopt import SCHEDULES, LinearNNRegressor, SquaredError
    >>> sorted(SCHEDULES)
    ['adaptive', 'constant', 'cosine', 'invscaling', 'optimal']
    >>> schedule = SCHEDULES["constant"](0.1, LinearNNRegressor(), SquaredError())
    >>> schedule.on_stall()  # by default, a stall stops training
    True
    """

    def __init__(self, learning_rate_init, estimator, loss):
        self.learning_rate_init = learning_rate_init
        self.estimator = estimator

    def rate(self, t):
        """Step size of optimizer step ``t`` (from 1)."""
        raise NotImplementedError

    def on_stall(self):
        """The objective stalled for ``n_iter_no_change`` epochs.

        Returns
        -------
        stop : bool
            True to stop training (the default), False to go on.
        """
        return True


@_register("constant")
class Constant(Schedule):
    r""":math:`\eta_t = \eta_0`.

    Examples
    --------
    >>> from sklearn_nnopt import LinearNNRegressor, SquaredError
    >>> from sklearn_nnopt.schedules import Constant
    >>> schedule = Constant(0.1, LinearNNRegressor(), SquaredError())
    >>> [schedule.rate(t) for t in (1, 10, 1000)]
    [0.1, 0.1, 0.1]
    """

    def rate(self, t):
        return self.learning_rate_init


@_register("invscaling")
class InvScaling(Schedule):
    r""":math:`\eta_t = \eta_0 / t^{p}`, ``p`` the estimator's ``power_t``.

    Examples
    --------
    >>> from sklearn_nnopt import LinearNNRegressor, SquaredError
    >>> from sklearn_nnopt.schedules import InvScaling
    >>> estimator = LinearNNRegressor(learning_rate="invscaling", power_t=0.5)
    >>> schedule = InvScaling(0.1, estimator, SquaredError())
    >>> [round(schedule.rate(t), 4) for t in (1, 4, 100)]
    [0.1, 0.05, 0.01]
    """

    def rate(self, t):
        return self.learning_rate_init / t**self.estimator.power_t


@_register("optimal")
class Optimal(Schedule):
    r"""``SGDClassifier``'s "optimal" rate, :math:`\eta_t = 1 / (\alpha (t_0 + t - 1))`.

    :math:`t_0 = 1 / (\eta_0' \alpha)` makes the first step
    :math:`\eta_0' = \alpha^{-1/4} / \max(1, \ell'(1, -\alpha^{-1/4}))`, Léon
    Bottou's heuristic as in scikit-learn (where ``t`` counts samples; here it
    counts optimizer steps); ``learning_rate_init`` is not used.
    Requires ``alpha > 0``. Designed for plain SGD: with adaptive optimizers
    (whose step is in parameter units) these rates are usually far too large.

    Examples
    --------
    >>> from sklearn_nnopt import Hinge, LinearNNClassifier
    >>> from sklearn_nnopt.schedules import Optimal
    >>> estimator = LinearNNClassifier(learning_rate="optimal", alpha=1e-4)
    >>> schedule = Optimal(None, estimator, Hinge())
    >>> round(schedule.t0, 4), [round(schedule.rate(t), 4) for t in (1, 1001)]
    (1000.0, [10.0, 5.0])
    """

    def __init__(self, learning_rate_init, estimator, loss):
        super().__init__(learning_rate_init, estimator, loss)
        alpha = estimator.alpha
        if not alpha > 0:
            raise ValueError("learning_rate='optimal' requires alpha > 0.")
        typw = math.sqrt(1.0 / math.sqrt(alpha))
        # The derivative for a positive target (y = 1 in every encoding) at -typw.
        dloss = float(loss.gradient(np.ones((1, 1)), np.full((1, 1), -typw))[0, 0])
        eta0 = typw / max(1.0, dloss)
        self.t0 = 1.0 / (eta0 * alpha)

    def rate(self, t):
        return 1.0 / (self.estimator.alpha * (self.t0 + t - 1))


@_register("adaptive")
class Adaptive(Schedule):
    r"""``MLPClassifier``'s "adaptive" rate: constant until the objective stalls.

    :math:`\eta` starts at :math:`\eta_0`; each time the training objective (or
    the validation score with early stopping) fails to improve by ``tol`` for
    ``n_iter_no_change`` epochs, :math:`\eta \leftarrow \eta / 5`, and training
    stops once :math:`\eta < 10^{-6}`.

    Examples
    --------
    >>> from sklearn_nnopt import LinearNNRegressor, SquaredError
    >>> from sklearn_nnopt.schedules import Adaptive
    >>> schedule = Adaptive(0.1, LinearNNRegressor(), SquaredError())
    >>> schedule.rate(1)
    0.1
    >>> schedule.on_stall()  # divide by 5 and go on training
    False
    >>> round(schedule.rate(2), 4)
    0.02
    """

    def __init__(self, learning_rate_init, estimator, loss):
        super().__init__(learning_rate_init, estimator, loss)
        self.current = learning_rate_init

    def rate(self, t):
        return self.current

    def on_stall(self):
        if self.current / 5.0 < 1e-6:
            return True
        self.current /= 5.0
        return False


@_register("cosine")
class Cosine(Schedule):
    r"""Cosine annealing from :math:`\eta_0` to 0 over ``max_iter`` epochs.

    As ``torch.optim.lr_scheduler.CosineAnnealingLR(T_max=max_iter)`` stepped
    once per epoch: during epoch :math:`e = 0, 1, \dots` of the fit,

    .. math::
        \eta = \tfrac12 \eta_0 \left(1 + \cos\frac{\pi e}{T_{max}}\right).

    Examples
    --------
    The rate depends on the epoch, ``estimator.n_iter_``, which ``fit`` counts:

    >>> from sklearn_nnopt import LinearNNRegressor, SquaredError
    >>> from sklearn_nnopt.schedules import Cosine
    >>> estimator = LinearNNRegressor(learning_rate="cosine", max_iter=4)
    >>> estimator.n_iter_ = 0  # as at the start of fit
    >>> schedule = Cosine(0.1, estimator, SquaredError())
    >>> for epoch in range(4):
    ...     estimator.n_iter_ = epoch
    ...     print(round(schedule.rate(t=1), 4))
    0.1
    0.0854
    0.05
    0.0146
    """

    def __init__(self, learning_rate_init, estimator, loss):
        super().__init__(learning_rate_init, estimator, loss)
        self.first_epoch = estimator.n_iter_

    def rate(self, t):
        epoch = min(self.estimator.n_iter_ - self.first_epoch, self.estimator.max_iter)
        return (
            0.5
            * self.learning_rate_init
            * (1 + math.cos(math.pi * epoch / self.estimator.max_iter))
        )
