r"""Learning-rate schedules (the estimators' ``learning_rate`` parameter).

A schedule gives the step size :math:`\eta` of optimizer step ``t`` (counted
from 1 over the whole life of the fitted estimator, like the optimizer's own
step count ``t_``) during ``epoch`` (counted from 0 in each ``fit`` or
``partial_fit`` call). It changes the step size only: the optimizer's buffers
carry on unchanged, as with a ``torch.optim.lr_scheduler``. With
``optimizer="lbfgs"`` schedules are ignored (its line search sets the step).

A schedule carries its own hyperparameters (``InvScaling(power_t=0.5)``) and
reads nothing from the estimator: :meth:`Schedule.start` gives it the initial
step and what the fit knows (the loss, ``alpha``, ``max_iter``). When
``learning_rate`` names a schedule by string, the estimator's parameters of
the same names (``power_t``, ``alpha``) become the schedule's.

Adding a schedule means one small class here, decorated with
``@SCHEDULES.register("name")``, and a row in the schedule test table.
"""

import math

import numpy as np
from sklearn.base import BaseEstimator

from ._registry import Registry

__all__ = ["SCHEDULES", "Schedule", "Auto", "Constant", "InvScaling", "Optimal"]
__all__ += ["Adaptive", "Cosine"]


class Schedule(BaseEstimator):
    r"""Base class: ``rate(t, epoch)`` is the step size of optimizer step ``t``.

    Hyperparameters are ``__init__`` arguments (``clone`` and grid searches
    see them); :meth:`start` sets what one fit derives from them.

    Examples
    --------
    ``SCHEDULES`` maps the names the estimators' ``learning_rate`` takes to the
    classes:

    >>> from sklearn_nnopt import SCHEDULES, SquaredError
    >>> sorted(SCHEDULES)
    ['adaptive', 'auto', 'constant', 'cosine', 'invscaling', 'optimal']
    >>> schedule = SCHEDULES.create("constant", "learning_rate")
    >>> schedule.start(0.1, loss=SquaredError()).on_stall()  # a stall stops
    True
    """

    #: Whether :meth:`end_epoch` decides when the objective stopped falling
    #: (instead of the estimator's ``n_iter_no_change`` rule).
    controls_stopping = False

    def start(self, learning_rate_init, *, loss, alpha=0.0, max_iter=None, tol=None):
        """Set the schedule up for one fit; returns ``self``.

        Parameters
        ----------
        learning_rate_init : float
            The initial step size :math:`\\eta_0`, in the optimizer's units.
        loss : Loss
            The loss being minimized.
        alpha : float, default=0.0
            The estimator's penalty strength.
        max_iter : int or None, default=None
            The fit's epoch budget.
        tol : float or None, default=None
            The fit's ``tol``.

        Returns
        -------
        self : Schedule
        """
        self.learning_rate_init_ = learning_rate_init
        return self

    def end_epoch(self, step_losses, step_inners):
        """An epoch ended (schedules that control stopping).

        Parameters
        ----------
        step_losses : ndarray
            The minibatch objective of each of the epoch's steps, in order:
            its batch's weighted mean loss times the batch's share of the
            epoch's weight (its weight over the mean batch weight), plus the
            penalty at the epoch's end, so that their mean over an epoch is
            the epoch's objective.
        step_inners : ndarray
            :math:`\\langle g_t, g_{t-1} \\rangle` of each step (Pflug's
            statistic), in order.

        Returns
        -------
        stationary : bool
            True when the objective has stopped falling at the smallest step
            the schedule will try: training may stop if the fit passes the
            convergence check.
        """
        return False

    def not_converged(self):
        """The convergence check failed after :meth:`end_epoch` returned True."""

    def rate(self, t, epoch=0):
        """Step size of optimizer step ``t`` (from 1) in ``epoch`` (from 0)."""
        raise NotImplementedError

    def on_stall(self):
        """The objective stalled for ``n_iter_no_change`` epochs.

        Returns
        -------
        stop : bool
            True to stop training (the default), False to go on.
        """
        return True


SCHEDULES = Registry("schedule", Schedule)


@SCHEDULES.register("auto")
class Auto(Schedule):
    r"""Constant until the iterates stop making progress, then decaying: the default.

    Pflug's diagnostic decides: while the objective falls, successive
    minibatch gradients point the same way, :math:`\langle g_t, g_{t-1}
    \rangle > 0` on average; once the iterates bounce in the noise ball of the
    step :math:`\eta`, the step overshoots and the mean turns negative (Pflug,
    1983; its use to schedule SGD: Lang, Xiao & Zhang, "Using statistics to
    automate stochastic optimization", NeurIPS 2019). After each epoch, the
    mean over the last :math:`w` steps (:math:`w` = the steps of an epoch, at
    least ``min_window``) is tested: a negative mean decays the step,
    :math:`\eta \leftarrow` ``decay`` :math:`\eta`. A full-batch gradient
    descent that converges never triggers it, so its step is kept; once its
    level (the mean objective over a window) falls by no more than ``tol``
    times itself from one window to the next, the fit may stop, which it does
    if the convergence check passes.

    Once a decayed step no longer lowers the objective's level (its mean over
    the window) by more than ``tol`` times that level, the fit may stop, which
    it does if the convergence check passes; otherwise the step is kept and
    the test starts over. With ``statistic="level"`` the level's windows
    decide the decays too (see below).

    Like every schedule it scales ``learning_rate_init``, in each optimizer's
    own units, for every optimizer alike.

    Parameters
    ----------
    decay : float, default=0.2
        Factor of each decay, in (0, 1]. 1 never decays the step (what
        ``"auto"`` gives the schedule-free optimizers, whose averaging does
        that work): the level test alone then decides when the fit may stop,
        every window, whatever Pflug's statistic says (a full-batch run's
        gradients never turn it negative).
    min_window : int, default=20
        Fewest steps in a test (small data have one step per epoch).
    statistic : {"pflug", "level"}, default="pflug"
        What says that the iterates stopped making progress. ``"pflug"``:
        the mean inner product above. ``"level"``: the level of each
        disjoint window (the mean of ``step_losses``: over an epoch, its
        weighted mean loss plus its penalty) no longer falls by ``tol``
        times itself from the previous
        window's. A method with momentum needs the level: its successive
        gradients stay positively correlated in its noise ball, so Pflug's
        mean never turns negative (Prodigy's step stayed at its full size
        for 200 epochs, 1.5e-2 to 1.9 above the optimum on the benchmark
        sets). After a decay, a level that still does not fall means the
        iterates are stationary; if the convergence check then fails, the
        step was too small to make progress, not too noisy, and the last
        decay is taken back. ``learning_rate="auto"`` takes each
        optimizer's ``stationarity_statistic``.

    Examples
    --------
    A window of four steps; falling losses with positive inner products keep
    the step, a negative mean inner product decays it:

    >>> from sklearn_nnopt.schedules import Auto
    >>> from sklearn_nnopt import SquaredError
    >>> import numpy as np
    >>> schedule = Auto(min_window=4).start(0.1, loss=SquaredError(), tol=1e-4)
    >>> losses = np.array([4.0, 3.0, 2.0, 1.0])
    >>> schedule.end_epoch(losses, np.array([3.0, 2.0, 1.0, 0.5]))  # progress
    False
    >>> schedule.rate(5)
    0.1
    >>> schedule.end_epoch(losses, np.array([0.5, -1.0, 0.2, -0.9]))  # noise
    False
    >>> round(schedule.rate(9), 4)
    0.02
    """

    controls_stopping = True

    def __init__(self, decay=0.2, min_window=20, statistic="pflug"):
        self.decay = decay
        self.min_window = min_window
        self.statistic = statistic

    def start(self, learning_rate_init, *, loss, alpha=0.0, max_iter=None, tol=None):
        super().start(learning_rate_init, loss=loss)
        if not 0 < self.decay <= 1:
            raise ValueError(f"decay must be in (0, 1]; got {self.decay!r}.")
        if self.statistic not in ("pflug", "level"):
            raise ValueError(
                f"statistic must be 'pflug' or 'level'; got {self.statistic!r}."
            )
        self.current_ = learning_rate_init
        self.tol_ = 0.0 if tol is None else tol
        self.losses_, self.inners_ = [], []
        self.level_ = None
        self.trend_, self.fresh_ = None, 0
        self.decayed_ = False
        return self

    def rate(self, t, epoch=0):
        return self.current_

    def end_epoch(self, step_losses, step_inners):
        losses, inners = self.losses_, self.inners_
        losses.extend(np.asarray(step_losses, dtype=float).tolist())
        inners.extend(np.asarray(step_inners, dtype=float).tolist())
        window = max(self.min_window, len(step_losses))
        self.fresh_ += len(step_losses)
        if len(losses) < window:
            return False
        del losses[:-window], inners[:-window]
        # Still making progress at this step, or no evidence either way: a
        # mean within rounding of zero (1e-8 of the inner products' size)
        # must not decide, or rounding would (weighted rows against their
        # repetitions, one BLAS against another). With decay=1 there is no
        # smaller step to try: the level alone decides.
        if self.statistic == "level" and self.decay < 1:
            return self._level_test(losses, window)
        noise = np.mean(inners) < -1e-8 * np.mean(np.abs(inners))
        if not noise and self.decay < 1:
            # No noise, and the level no longer falls from one window to the
            # next (disjoint windows) by tol of it: a run that converges
            # without noise (gradient descent on small data, an exact l1
            # problem) may stop if the check passes, instead of running to
            # max_iter (every optimizer but SAGA on a Lasso problem did).
            if self.fresh_ < window:
                return False
            level = float(np.mean(losses))
            previous, self.trend_, self.fresh_ = self.trend_, level, 0
            return self._no_drop(previous, level)
        level = float(np.mean(losses))
        previous, self.level_ = self.level_, level
        losses.clear()
        inners.clear()
        if self._no_drop(previous, level):
            return True  # the last decay did not lower the level: stationary
        self.current_ *= self.decay
        return False

    def _level_test(self, losses, window):
        """``statistic="level"``: decay once the level stops falling.

        Each disjoint window's level is compared with the previous one's; a
        level that no longer falls by ``tol`` of itself decays the step. If
        the window after a decay does not fall either, the decayed step did
        not help: the iterates are stationary (True).
        """
        if self.fresh_ < window:
            return False
        level = float(np.mean(losses))
        previous, self.level_, self.fresh_ = self.level_, level, 0
        if not self._no_drop(previous, level):
            self.decayed_ = False
            return False
        if self.decayed_:
            return True
        self.current_ *= self.decay
        self.decayed_ = True
        return False

    def _no_drop(self, previous, level):
        """Whether the level fell by at most ``tol`` times itself since
        ``previous`` (False without a previous level)."""
        scale = self.tol_ * max(abs(level), np.finfo(float).tiny)
        return previous is not None and previous - level <= scale

    def not_converged(self):
        self.level_ = self.trend_ = None
        if self.statistic == "level" and self.decayed_ and self.decay < 1:
            # The level stopped falling and the check failed: the step is too
            # small to make progress, not too noisy. Take back its last decay.
            self.current_ /= self.decay
        self.decayed_ = False


@SCHEDULES.register("constant")
class Constant(Schedule):
    r""":math:`\eta_t = \eta_0`.

    Examples
    --------
    >>> from sklearn_nnopt import SquaredError
    >>> from sklearn_nnopt.schedules import Constant
    >>> schedule = Constant().start(0.1, loss=SquaredError())
    >>> [schedule.rate(t) for t in (1, 10, 1000)]
    [0.1, 0.1, 0.1]
    """

    def rate(self, t, epoch=0):
        return self.learning_rate_init_


@SCHEDULES.register("invscaling")
class InvScaling(Schedule):
    r""":math:`\eta_t = \eta_0 / t^{p}`.

    Parameters
    ----------
    power_t : float, default=0.5
        The exponent :math:`p` (the estimator's ``power_t`` when
        ``learning_rate="invscaling"``).

    Examples
    --------
    >>> from sklearn_nnopt import SquaredError
    >>> from sklearn_nnopt.schedules import InvScaling
    >>> schedule = InvScaling(power_t=0.5).start(0.1, loss=SquaredError())
    >>> [round(schedule.rate(t), 4) for t in (1, 4, 100)]
    [0.1, 0.05, 0.01]
    """

    def __init__(self, power_t=0.5):
        self.power_t = power_t

    def rate(self, t, epoch=0):
        return self.learning_rate_init_ / t**self.power_t


@SCHEDULES.register("optimal")
class Optimal(Schedule):
    r"""``SGDClassifier``'s "optimal" rate, :math:`\eta_t = 1 / (\alpha (t_0 + t - 1))`.

    :math:`t_0 = 1 / (\eta_0' \alpha)` makes the first step
    :math:`\eta_0' = \alpha^{-1/4} / \max(1, \ell'(1, -\alpha^{-1/4}))`, Léon
    Bottou's heuristic as in scikit-learn (where ``t`` counts samples; here it
    counts optimizer steps); ``learning_rate_init`` is not used.
    Requires ``alpha > 0``. Designed for plain SGD: with adaptive optimizers
    (whose step is in parameter units) these rates are usually far too large.

    Parameters
    ----------
    alpha : float or None, default=None
        The :math:`\alpha` of the rate; ``None`` takes the fit's ``alpha``.

    Raises
    ------
    ValueError
        From :meth:`start`, if :math:`\alpha \le 0`.

    Examples
    --------
    >>> from sklearn_nnopt import Hinge
    >>> from sklearn_nnopt.schedules import Optimal
    >>> schedule = Optimal().start(None, loss=Hinge(), alpha=1e-4)
    >>> round(schedule.t0_, 4), [round(schedule.rate(t), 4) for t in (1, 1001)]
    (1000.0, [10.0, 5.0])
    """

    def __init__(self, alpha=None):
        self.alpha = alpha

    def start(self, learning_rate_init, *, loss, alpha=0.0, max_iter=None, tol=None):
        super().start(learning_rate_init, loss=loss)
        alpha = alpha if self.alpha is None else self.alpha
        if not alpha > 0:
            raise ValueError("learning_rate='optimal' requires alpha > 0.")
        typw = math.sqrt(1.0 / math.sqrt(alpha))
        # The derivative for a positive target (y = 1 in every encoding) at -typw.
        dloss = float(loss.gradient(np.ones((1, 1)), np.full((1, 1), -typw))[0, 0])
        eta0 = typw / max(1.0, dloss)
        self.alpha_ = alpha
        self.t0_ = 1.0 / (eta0 * alpha)
        return self

    def rate(self, t, epoch=0):
        return 1.0 / (self.alpha_ * (self.t0_ + t - 1))


@SCHEDULES.register("adaptive")
class Adaptive(Schedule):
    r"""``MLPClassifier``'s "adaptive" rate: constant until the objective stalls.

    :math:`\eta` starts at :math:`\eta_0`; each time the training objective (or
    the validation score with early stopping) fails to improve by ``tol`` for
    ``n_iter_no_change`` epochs, :math:`\eta \leftarrow \eta / 5`, and training
    stops once :math:`\eta < 10^{-6}`.

    Examples
    --------
    >>> from sklearn_nnopt import SquaredError
    >>> from sklearn_nnopt.schedules import Adaptive
    >>> schedule = Adaptive().start(0.1, loss=SquaredError())
    >>> schedule.rate(1)
    0.1
    >>> schedule.on_stall()  # divide by 5 and go on training
    False
    >>> round(schedule.rate(2), 4)
    0.02
    """

    def start(self, learning_rate_init, *, loss, alpha=0.0, max_iter=None, tol=None):
        super().start(learning_rate_init, loss=loss)
        self.current_ = learning_rate_init
        return self

    def rate(self, t, epoch=0):
        return self.current_

    def on_stall(self):
        if self.current_ / 5.0 < 1e-6:
            return True
        self.current_ /= 5.0
        return False


@SCHEDULES.register("cosine")
class Cosine(Schedule):
    r"""Cosine annealing from :math:`\eta_0` to 0 over ``T_max`` epochs.

    As ``torch.optim.lr_scheduler.CosineAnnealingLR`` stepped once per epoch:
    during epoch :math:`e = 0, 1, \dots` of the fit,

    .. math::
        \eta = \tfrac12 \eta_0 \left(1 + \cos\frac{\pi \min(e, T_{max})}{T_{max}}
        \right).

    Parameters
    ----------
    T_max : int or None, default=None
        Epochs of the half cosine; ``None`` takes the fit's ``max_iter``.

    Examples
    --------
    >>> from sklearn_nnopt import SquaredError
    >>> from sklearn_nnopt.schedules import Cosine
    >>> schedule = Cosine(T_max=4).start(0.1, loss=SquaredError())
    >>> [round(schedule.rate(t=1, epoch=epoch), 4) for epoch in range(4)]
    [0.1, 0.0854, 0.05, 0.0146]
    """

    def __init__(self, T_max=None):
        self.T_max = T_max

    def start(self, learning_rate_init, *, loss, alpha=0.0, max_iter=None, tol=None):
        super().start(learning_rate_init, loss=loss)
        self.T_max_ = max_iter if self.T_max is None else self.T_max
        return self

    def rate(self, t, epoch=0):
        epoch = min(epoch, self.T_max_)
        return (
            0.5
            * self.learning_rate_init_
            * (1 + math.cos(math.pi * epoch / self.T_max_))
        )
