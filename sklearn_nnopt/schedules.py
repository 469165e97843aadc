r"""Learning-rate schedules (the estimators' ``learning_rate`` parameter).

A schedule gives the step size :math:`\eta_t` of optimizer step ``t``
(counted from 1 over the whole life of the fitted estimator, like the
optimizer's own step count). It changes the step size only: the optimizer's
buffers carry on unchanged, as with a ``torch.optim.lr_scheduler``.
"""

__all__ = ["SCHEDULES", "Constant", "InvScaling"]

SCHEDULES = {}


def _register(name):
    def decorator(cls):
        SCHEDULES[name] = cls
        return cls

    return decorator


class Schedule:
    """Base class: ``rate(t)`` is the step size of optimizer step ``t``.

    Parameters
    ----------
    learning_rate_init : float
        The initial step size :math:`\\eta_0`.
    estimator : LinearNNClassifier or LinearNNRegressor
        Gives the schedule's own hyperparameters (``power_t``, ...).
    """

    def __init__(self, learning_rate_init, estimator):
        self.learning_rate_init = learning_rate_init

    def rate(self, t):
        raise NotImplementedError

    def end_epoch(self, stalled):
        """Called after each epoch; return True to stop training."""
        return False


@_register("constant")
class Constant(Schedule):
    r""":math:`\eta_t = \eta_0`."""

    def rate(self, t):
        return self.learning_rate_init


@_register("invscaling")
class InvScaling(Schedule):
    r""":math:`\eta_t = \eta_0 / t^{p}`, ``p`` the estimator's ``power_t``."""

    def __init__(self, learning_rate_init, estimator):
        super().__init__(learning_rate_init, estimator)
        self.power_t = estimator.power_t

    def rate(self, t):
        return self.learning_rate_init / t**self.power_t
