r"""Optimizers: one small class per update rule.

Each stochastic optimizer follows the update rule documented for the
same-named ``torch.optim`` class: the step size ``lr`` stays outside the
buffers, ``epsilon`` is added after the (bias-corrected) square root and
momentum has no dampening. ``lr`` is given by the estimator at every step
(``learning_rate_init`` and the ``learning_rate`` schedule).

All state lives in one place, ``state_`` (an :class:`OptimizerState`, as
``torch.optim`` keeps ``self.state``), created on the first
:meth:`Optimizer.step`: ``clone`` gives a fresh optimizer and a fitted
estimator's ``optimizer_`` carries the state for ``warm_start`` and
``partial_fit``. ``_update`` gets that state as an argument and returns the
:class:`StepSize` it applied (what the l1 proximal step needs).

Adding an optimizer means writing one small class here, decorated with
``@OPTIMIZERS.register("name")``, and adding a row to the optimizer test table.
"""

import math
import numbers
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from scipy.linalg import LinAlgError, solve
from scipy.optimize import OptimizeResult, minimize
from sklearn.base import BaseEstimator

from ._registry import Registry
from .losses import _check_scalar

__all__ = [
    "Optimizer",
    "SGD",
    "Adam",
    "AdamW",
    "NAdam",
    "Adamax",
    "RMSprop",
    "Adagrad",
    "Adadelta",
    "Prodigy",
    "ScheduleFreeSGD",
    "ScheduleFreeAdamW",
    "LBFGS",
    "Newton",
    "SAGA",
    "ProblemScale",
    "StepSize",
    "OptimizerState",
    "OPTIMIZERS",
]


@dataclass(frozen=True)
class ProblemScale:
    r"""What an optimizer may use to choose its automatic step size.

    Attributes
    ----------
    smoothness : float
        An upper bound ``L`` of the curvature of a minibatch step: the expected
        smoothness of Gower et al. (2019), which interpolates between the mean
        over rows (full batch) and the largest row (batch of one) of the loss's
        curvature times the squared norm of ``[x_i, 1]``, plus the l2 strength.
        ``1 / L`` is a stable plain gradient step. None when not computed:
        for an optimizer whose automatic step does not use it
        (``needs_smoothness`` False).
    param_scale : float
        The typical size of a coefficient: the target's scale (in link space)
        divided by the typical size ``x_scale`` of a non-zero entry of ``X``
        and by :math:`\sqrt{1 + k (1 - k / d)}`, ``k`` of the ``d`` features
        non-zero per row (1 on dense data, about :math:`\sqrt{k}` on sparse
        data, whose many rare features share the prediction); capped at
        ``target * x_scale / alpha`` under an l2 penalty.
    steps_per_epoch : int, default=1
        Optimizer steps in one pass over the training rows.
    batch_smoothness : float or None, default=None
        The same expected smoothness with the full batch's curvature taken as
        the largest eigenvalue of the curvature-weighted second moment of
        ``[x_i, 1]`` instead of its trace (the mean over rows): the
        expected smoothness of Gazagnadou, Gower & Salmon (2019), at most
        ``smoothness`` and up to ``n_features`` times smaller on dense data.
        It costs a few passes over a sample of rows, so it is computed only
        for an optimizer that asks for it (``needs_batch_smoothness``);
        None otherwise.

    Examples
    --------
    >>> from sklearn_nnopt import SGD, Adam
    >>> from sklearn_nnopt.optimizers import ProblemScale
    >>> scale = ProblemScale(smoothness=4.0, param_scale=2.0)
    >>> SGD(momentum=0.5).auto_learning_rate(scale)  # (1 - momentum) / smoothness
    (0.125, 1.0)
    >>> Adam().auto_learning_rate(scale)  # 0.01 * param_scale, in param_scale units
    (0.02, 2.0)
    >>> Adam().auto_learning_rate(ProblemScale(4.0, 2.0, steps_per_epoch=400))
    (0.01, 2.0)
    """

    smoothness: float | None
    param_scale: float
    steps_per_epoch: int = 1
    batch_smoothness: float | None = None

    def parameter_step(self, fraction):
        r"""A step of ``fraction`` of the coefficient size, for many steps smaller.

        .. math::
            \eta = f\, s \min\left(1, \sqrt{100 / N}\right)

        with :math:`N` the steps per epoch. A constant step in parameter units
        leaves the iterates jittering by about :math:`\eta` per coordinate;
        beyond 100 steps per epoch, one epoch still moves
        :math:`N \eta = 10 \sqrt{N} f s` (at least the coefficient size
        :math:`s` for :math:`f = 0.01`), and the jitter shrinks. On the
        benchmark sets (400-800 steps per epoch) this took the default Adam
        from a noise ball 1% short of the best test score to within it.

        Parameters
        ----------
        fraction : float

        Returns
        -------
        float
        """
        return (
            fraction * self.param_scale * min(1.0, (100 / self.steps_per_epoch) ** 0.5)
        )

    @property
    def tightest_smoothness(self):
        """``batch_smoothness`` where it was computed, else ``smoothness``.

        Examples
        --------
        >>> ProblemScale(4.0, 2.0).tightest_smoothness
        4.0
        >>> ProblemScale(4.0, 2.0, batch_smoothness=0.5).tightest_smoothness
        0.5
        """
        if self.batch_smoothness is None:
            return self.smoothness
        return self.batch_smoothness


class StepSize(NamedTuple):
    r"""The step size an update applied to each parameter's gradient.

    ``factor`` divided (or, with ``multiply=True``, multiplied) elementwise by
    ``per_coordinate``; ``factor`` alone where the step is the same for every
    coordinate. The l1 proximal step thresholds ``coef`` by
    ``alpha * l1_ratio`` times it (:meth:`for_coef`), so that the penalty acts
    in the optimizer's own metric.

    Examples
    --------
    The same step everywhere, or one per coordinate of ``[coef, intercept]``:

    >>> import numpy as np
    >>> from sklearn_nnopt.optimizers import StepSize
    >>> StepSize(0.1).for_coef(np.zeros((1, 2)))
    0.1
    >>> StepSize(0.1, np.array([1.0, 2.0, 4.0])).for_coef(np.zeros((1, 2)))
    array([[0.1 , 0.05]])
    """

    factor: float
    per_coordinate: np.ndarray | None = None
    multiply: bool = False

    def for_coef(self, coef):
        """The step on ``coef``'s entries: a float or an array shaped like it.

        ``per_coordinate`` may cover ``coef`` alone or the buffer holding
        ``coef`` followed by the intercept.
        """
        part = self.per_coordinate
        if part is None:
            return self.factor
        if part.size != coef.size:
            part = part.ravel()[: coef.size]
        part = part.reshape(coef.shape)
        return self.factor * part if self.multiply else self.factor / part


class OptimizerState:
    r"""An optimizer's state, all in one place (as ``torch.optim``'s ``state[p]``).

    Attributes
    ----------
    step : int
        Steps taken (:math:`t` of the update rules, from 1 at the first step).
    values : dict
        Name (torch's: ``"exp_avg"``, ``"momentum_buffer"``, ...) to a list of
        per-parameter buffers, created on first use, or to a scalar.
    """

    def __init__(self):
        self.step = 0
        self.values = {}

    def buffers(self, name, params, fill=0.0):
        """The buffers ``name``, one shaped like each of ``params``.

        Parameters
        ----------
        name : str
        params : list of ndarray
            The arrays being updated (their shapes and dtype).
        fill : float or None, default=0.0
            The buffers' value when first created; ``None``: copies of
            ``params`` (as torch's ``torch.clone(p)``, the schedule-free
            methods' ``z``).

        Returns
        -------
        list of ndarray
            Updated in place by the rule.
        """
        buffers = self.values.get(name)
        if buffers is None:
            buffers = self.values[name] = [
                p.copy() if fill is None else np.full_like(p, fill) for p in params
            ]
        return buffers

    def __getitem__(self, name):
        return self.values[name]

    def __contains__(self, name):
        return name in self.values


class _StateAt:
    """The part of an :class:`OptimizerState` at some positions of a flat buffer.

    What :meth:`Optimizer.step_at` hands to ``_update``: buffers gathered at
    ``index`` (created whole first), scattered back by :meth:`scatter`.
    """

    def __init__(self, state, index, flat_params):
        self.state = state
        self.step = state.step
        self.values = state.values  # scalars are shared
        self.index, self.flat_params = index, flat_params
        self.parts = []

    def buffers(self, name, params, fill=0.0):
        whole = self.state.values.get(name)
        if whole is None:
            flat = self.flat_params
            whole = [flat.copy() if fill is None else np.full_like(flat, fill)]
            self.state.values[name] = whole
        part = whole[0].take(self.index)
        self.parts.append((whole[0], part))
        return [part]

    def scatter(self):
        for whole, part in self.parts:
            whole[self.index] = part


class Optimizer(BaseEstimator):
    """Base class of the optimizers.

    Stochastic optimizers implement :meth:`_update`; full-batch optimizers set
    ``stochastic = False`` and implement :meth:`minimize` instead. The state
    is :attr:`state_`, an :class:`OptimizerState` created on the first step;
    ``t_`` is its step count.

    Attributes
    ----------
    stochastic : bool
        Class attribute: whether the optimizer takes minibatch steps.
    sparse_mode : {"dense", "exact", "lazy"}
        How the training loop may update coefficients on sparse ``X``.
        "dense": every coefficient, every step. "exact": only the columns
        present in the batch, the l2 penalty's shrinkage of the others folded
        into a global scale; the same iterates as "dense" (plain SGD). "lazy":
        only the columns present in the batch, whose optimizer state alone
        advances (see :class:`Adam`'s ``lazy``).
    exposes_average : bool
        Class attribute: whether the model to expose is not the point the
        gradients are taken at but an average the optimizer keeps in its
        state (the schedule-free methods' :math:`x`; gradients at :math:`y`).
        :meth:`to_eval` and :meth:`to_train` convert between the two, as the
        reference implementation's ``optimizer.eval()`` and
        ``optimizer.train()``; the training loop judges convergence, scores
        early stopping and returns the model at the exposed point, and the
        estimator continues from it.
    schedule_free : bool
        Class attribute: whether the method needs no decaying step (its
        averaging does that work). ``learning_rate="auto"`` then keeps the
        step constant instead of decaying it when the iterates stall; a
        schedule named explicitly still applies.
    finite_sum : bool
        Class attribute: whether the optimizer needs, at every step, the
        batch's rows and their per-row gradients, to keep a table of them
        over the training rows (:class:`SAGA`). Its table belongs to one
        fit's rows, so ``partial_fit`` is unavailable.
    default_schedule : str
        Class attribute: the schedule that ``learning_rate="auto"`` runs
        (the Pflug-test schedule "auto" by default).
    needs_smoothness : bool
        Class attribute: whether :meth:`auto_learning_rate` reads
        ``scale.smoothness`` (a pass over ``X``); steps in parameter units
        (Adam and its family) do not.
    stationarity_statistic : {"pflug", "level"}
        Class attribute: how ``learning_rate="auto"`` decides that the
        iterates stopped making progress (:class:`~sklearn_nnopt.schedules.Auto`'s
        ``statistic``). ``"level"`` for a method whose successive gradients
        stay positively correlated in its noise ball, so that Pflug's test
        never decays its step.

    Examples
    --------
    A custom optimizer implements :meth:`_update`; :meth:`step` counts ``t_``:

    >>> import numpy as np
    >>> from sklearn_nnopt import Optimizer
    >>> from sklearn_nnopt.optimizers import StepSize
    >>> class SignSGD(Optimizer):
    ...     def _update(self, params, grads, lr, state):
    ...         for p, g in zip(params, grads, strict=True):
    ...             p -= lr * np.sign(g)
    ...         return StepSize(lr)
    >>> opt, params = SignSGD(), [np.array([1.0, 1.0])]
    >>> _ = opt.step(params, [np.array([0.5, -3.0])], lr=0.1)
    >>> params[0].round(4).tolist(), opt.t_
    ([0.9, 1.1], 1)
    """

    stochastic = True
    sparse_mode = "dense"
    exposes_average = False
    schedule_free = False
    finite_sum = False
    default_schedule = "auto"
    stationarity_statistic = "pflug"
    needs_smoothness = True

    @property
    def t_(self):
        """Optimizer steps taken (no attribute before the first, as fitted state)."""
        state = self.__dict__.get("state_")
        if state is None:
            raise AttributeError(f"{type(self).__name__} has taken no step yet.")
        return state.step

    def _begin_step(self, steps=1):
        state = self.__dict__.get("state_")
        if state is None:
            state = self.state_ = OptimizerState()
        state.step += steps
        return state

    def auto_learning_rate(self, scale):
        """Step size used for ``learning_rate_init="auto"``, and its unit.

        Parameters
        ----------
        scale : ProblemScale

        Returns
        -------
        lr : float
            The step size.
        unit : float
            What ``lr`` is measured against: the typical coefficient size for
            a step in parameter units, 1.0 for a step in gradient units. It is
            handed back to every :meth:`step` as ``lr_unit`` (only
            :meth:`step` receives it, not ``_update``: an optimizer whose rule
            needs it overrides :meth:`step`, as :class:`AdamW`'s decoupled
            decay does with ``lr / lr_unit``).

        Raises
        ------
        NotImplementedError
            If the optimizer defines no automatic step.
        """
        raise NotImplementedError(
            f"{type(self).__name__} has no automatic step size: pass a numeric "
            f"learning_rate_init, or define auto_learning_rate(scale)."
        )

    def step(self, params, grads, lr, *, flat=None, lr_unit=1.0):
        """Update ``params`` in place from ``grads`` with step size ``lr``.

        Parameters
        ----------
        params : list of ndarray
            ``[coef, intercept]`` (``[coef]`` without intercept); updated in place.
        grads : list of ndarray
            Gradients of the objective, same shapes as ``params``.
        lr : float
            Step size of this update.
        flat : tuple of two 1-D ndarrays, optional
            Buffers that hold ``params`` and ``grads`` back to back (the arrays
            above are views of them). The elementwise rule then runs once on
            each buffer instead of once per array; the result is the same.
        lr_unit : float, default=1.0
            The unit of ``lr`` (see :meth:`auto_learning_rate`).

        Returns
        -------
        StepSize
            The step size applied to each coordinate's gradient.
        """
        state = self._begin_step()
        if flat is not None:
            step_size = self._update([flat[0]], [flat[1]], lr, state)
        else:
            step_size = self._update(params, grads, lr, state)
        if step_size is None:
            raise TypeError(
                f"{type(self).__name__}._update must return the StepSize it "
                f"applied (StepSize(lr) for a step of lr on every gradient)."
            )
        return step_size

    def _update(self, params, grads, lr, state):
        """Apply the update rule in place (elementwise, to each array given).

        Parameters
        ----------
        params, grads : list of ndarray
        lr : float
        state : OptimizerState
            Or the part of it at :meth:`step_at`'s positions: get buffers from
            ``state.buffers(name, params)``, the step count from
            ``state.step`` and scalars from ``state.values``.

        Returns
        -------
        StepSize
        """
        raise NotImplementedError

    def step_at(self, flat_params, grad, lr, index, *, params_at=None, lr_unit=1.0):
        """One step that updates only ``flat_params[index]`` and the state there.

        The rest of the parameters and of the optimizer state stay as they are
        (``t_`` still counts the step). The sparse column stepper uses this
        for the updates of :attr:`sparse_mode` "exact" and "lazy".

        Parameters
        ----------
        flat_params : 1-D ndarray
            All parameters, updated in place at ``index``.
        grad : 1-D ndarray
            Gradient at ``index`` (same length as ``index``).
        lr : float
        index : 1-D ndarray of int
            Distinct positions in ``flat_params``.
        params_at : 1-D ndarray, optional
            ``flat_params[index]`` if the caller has it already (overwritten).
        lr_unit : float, default=1.0

        Returns
        -------
        StepSize
            On the positions ``index``.
        """
        state = self._begin_step()
        part = flat_params.take(index) if params_at is None else params_at
        state_at = _StateAt(state, index, flat_params)
        step_size = self._update([part], [grad], lr, state_at)
        flat_params[index] = part
        state_at.scatter()
        return step_size

    def to_eval(self, params):
        r"""Turn ``params`` in place from the training point into the model to expose.

        For an optimizer with :attr:`exposes_average` (the schedule-free
        methods: :math:`y \to x`, their reference's ``optimizer.eval()``);
        the others train the model they expose, and this does nothing.

        Parameters
        ----------
        params : list of ndarray
            The arrays the steps update, as given to :meth:`step` (the flat
            buffer if the steps got ``flat``). A fresh optimizer (no state)
            leaves them as they are.
        """

    def to_train(self, params):
        r"""Turn ``params`` in place from the exposed model into the training point.

        The inverse of :meth:`to_eval` (the schedule-free methods:
        :math:`x \to y`, their reference's ``optimizer.train()``); it does
        nothing for the other optimizers.

        Parameters
        ----------
        params : list of ndarray
            As for :meth:`to_eval`.
        """

    def _scratch(self, params):
        """Reused work buffers, one per parameter array (not optimizer state)."""
        works = self.__dict__.get("_works")
        if (
            works is None
            or len(works) != len(params)
            or any(
                w.shape != p.shape or w.dtype != p.dtype
                for w, p in zip(works, params, strict=True)
            )
        ):
            works = [np.empty_like(p) for p in params]
            self._works = works
            self._denoms = [np.empty_like(p) for p in params]
        return works

    def _validate(self):
        """Raise ``ValueError`` if a hyperparameter is out of range."""

    def __getstate__(self):
        # Scratch buffers are not state: pickles and copies leave them out.
        state = super().__getstate__()
        state.pop("_works", None)
        state.pop("_denoms", None)
        return state


OPTIMIZERS = Registry("optimizer", Optimizer)


def _check_bool(value, name):
    if not isinstance(value, bool | np.bool_):
        raise ValueError(f"{name} must be a bool; got {value!r}.")


@OPTIMIZERS.register("nesterov", momentum=0.9, nesterov=True)
@OPTIMIZERS.register("momentum", candidate=True, momentum=0.9)
@OPTIMIZERS.register("sgd", candidate=True)
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

    Examples
    --------
    With momentum, the second step of the same gradient goes 1.9 times as far:

    >>> import numpy as np
    >>> from sklearn_nnopt import SGD
    >>> opt = SGD(momentum=0.9)
    >>> params, grads = [np.array([1.0, 1.0])], [np.array([1.0, -2.0])]
    >>> for _ in range(2):
    ...     _ = opt.step(params, grads, lr=0.1)
    ...     print(params[0].round(4).tolist())
    [0.9, 1.2]
    [0.71, 1.58]
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
        return (1.0 - self.momentum) / scale.smoothness, 1.0

    @property
    def sparse_mode(self):
        # Plain SGD's step is linear in the gradient: a column absent from the
        # batch only shrinks under l2, which a global scale applies exactly.
        # Momentum moves every coordinate every step.
        return "exact" if self.momentum == 0 else "dense"

    def _update(self, params, grads, lr, state):
        mu = self.momentum
        # A gradient's whole effect through the momentum buffer is lr / (1 - mu).
        step_size = StepSize(lr / (1.0 - mu))
        if mu == 0:
            for p, g in zip(params, grads, strict=True):
                p -= lr * g
            return step_size
        first = "momentum_buffer" not in state.values
        bufs = state.buffers("momentum_buffer", params)
        for p, g, buf in zip(params, grads, bufs, strict=True):
            if first:
                buf[...] = g
            else:
                buf *= mu
                buf += g
            d = g + mu * buf if self.nesterov else buf
            p -= lr * d
        return step_size


@OPTIMIZERS.register("amsgrad", amsgrad=True)
@OPTIMIZERS.register("adam", candidate=True)
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
    lazy : bool, default=True
        On sparse ``X`` only (dense ``X`` is unaffected): update only the
        coefficients of the columns present in the minibatch, with their
        moments; the others, and their moments, wait until their column next
        appears (as ``torch.optim.SparseAdam`` and TensorFlow's LazyAdam). A
        step then costs O(non-zeros of the batch) instead of O(n_features).
        With an l2 penalty, a present column's penalty gradient is divided by
        the probability :math:`p_j` that a batch contains column ``j``, so
        that the expected step is the full gradient's and the fixed point is
        the objective's minimizer. ``False`` gives the rule above on every
        coefficient every step. Applies with ``penalty="l2"`` or ``None`` and
        ``average=False``; otherwise updates are dense.

    Notes
    -----
    Adam's step is in parameter units, so ``learning_rate_init="auto"`` is
    ``0.01`` times the typical coefficient size of :class:`ProblemScale`
    (``0.01`` on standardized ``X`` with a classification loss; scaled with
    the standard deviation of ``y`` for regression).

    Examples
    --------
    The first step moves every entry by about ``lr``, whatever its gradient's
    size; in an estimator, the fitted copy ``optimizer_`` keeps the state:

    >>> import numpy as np
    >>> from sklearn_nnopt import Adam, LinearNNClassifier
    >>> params, grads = [np.array([1.0, 1.0])], [np.array([0.5, -100.0])]
    >>> _ = Adam(beta_1=0.8).step(params, grads, lr=0.1)
    >>> params[0].round(4).tolist()
    [0.9, 1.1]
    >>> X, y = np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([0, 0, 1, 1])
    >>> clf = LinearNNClassifier(optimizer=Adam(beta_1=0.8), max_iter=20, tol=None)
    >>> clf.fit(X, y).optimizer_.t_  # one step per epoch: 4 samples, one batch
    20
    """

    def __init__(
        self, beta_1=0.9, beta_2=0.999, epsilon=1e-8, amsgrad=False, lazy=True
    ):
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.amsgrad = amsgrad
        self.lazy = lazy

    def _validate(self):
        _check_scalar(self.beta_1, "beta_1", 0, 1, high_open=True)
        _check_scalar(self.beta_2, "beta_2", 0, 1, high_open=True)
        _check_scalar(self.epsilon, "epsilon", 0, low_open=True)
        _check_bool(self.amsgrad, "amsgrad")
        _check_bool(getattr(self, "lazy", False), "lazy")

    @property
    def sparse_mode(self):
        return "lazy" if self.lazy else "dense"

    needs_smoothness = False

    def auto_learning_rate(self, scale):
        return scale.parameter_step(0.01), scale.param_scale

    def _update(self, params, grads, lr, state):
        b1, b2, t = self.beta_1, self.beta_2, state.step
        ms = state.buffers("exp_avg", params)
        vs = state.buffers("exp_avg_sq", params)
        vmaxs = state.buffers("max_exp_avg_sq", params) if self.amsgrad else vs
        works = self._scratch(params)
        # sqrt(v / c^2) + eps = (sqrt(v) + eps c) / c: folding the bias
        # correction c = sqrt(1 - beta_2^t) into eps and the step saves a pass.
        c = math.sqrt(1 - b2**t)
        step_size = lr * c / (1 - b1**t)
        eps = self.epsilon * c
        for i, (p, g, m, v, vmax, work) in enumerate(
            zip(params, grads, ms, vs, vmaxs, works, strict=True)
        ):
            m *= b1
            np.multiply(g, 1 - b1, out=work)
            m += work
            v *= b2
            np.multiply(g, g, out=work)
            work *= 1 - b2
            v += work
            if self.amsgrad:
                np.maximum(vmax, v, out=vmax)
            denom = np.sqrt(vmax, out=self._denoms[i])
            denom += eps
            np.divide(m, denom, out=work)
            work *= step_size
            p -= work
        return StepSize(step_size, self._denoms[0])


@OPTIMIZERS.register("adamw")
class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov & Hutter, 2019).

    As ``torch.optim.AdamW``: the coefficients first shrink,
    :math:`W \leftarrow (1 - \eta_t \lambda) W`, then take the :class:`Adam`
    step. The decay applies to ``coef_`` only, never to ``intercept_``, and is
    separate from the objective's ``penalty``/``alpha`` (which AdamW sees as part
    of the gradient).

    .. math::
        W_t = (1 - \eta_t \lambda) W_{t-1}
              - \eta_t \frac{m_t / (1 - \beta_1^t)}
                {\sqrt{\hat v_t / (1 - \beta_2^t)} + \epsilon}

    Parameters
    ----------
    beta_1, beta_2, epsilon, amsgrad
        As :class:`Adam`.
    weight_decay : float, default=0.01
        Decoupled decay :math:`\lambda` >= 0.

    Notes
    -----
    ``learning_rate_init="auto"`` is as :class:`Adam`'s, ``0.01 s`` with ``s``
    the typical coefficient size; the decay then uses the unit-free rate
    ``lr / s``, i.e. :math:`W \leftarrow (1 - 0.01 \lambda) W`, so that it
    shrinks coefficients by the same factor whatever the scale of ``y``. With a
    numeric ``learning_rate_init`` the rule is exactly torch's.

    Examples
    --------
    With a zero gradient only the decay acts: ``coef`` shrinks by
    ``1 - lr * weight_decay``, the intercept does not:

    >>> import numpy as np
    >>> from sklearn_nnopt import AdamW
    >>> coef, intercept = np.array([[2.0, -4.0]]), np.array([2.0])
    >>> grads = [np.zeros_like(coef), np.zeros_like(intercept)]
    >>> _ = AdamW(weight_decay=0.5).step([coef, intercept], grads, lr=0.1)
    >>> coef.round(4).tolist(), intercept.tolist()
    ([[1.9, -3.8]], [2.0])
    """

    def __init__(
        self, beta_1=0.9, beta_2=0.999, epsilon=1e-8, weight_decay=0.01, amsgrad=False
    ):
        # Not Adam.__init__: AdamW has no ``lazy`` parameter.
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.weight_decay = weight_decay
        self.amsgrad = amsgrad

    def _validate(self):
        super()._validate()
        _check_scalar(self.weight_decay, "weight_decay", 0)

    # The decoupled decay moves every coefficient every step.
    sparse_mode = "dense"

    def step(self, params, grads, lr, *, flat=None, lr_unit=1.0):
        # The decay acts on coef (params[0]) before the Adam step, which may run
        # on one buffer holding coef and intercept. The automatic step is in
        # parameter units (lr_unit = param_scale): the decay factor
        # 1 - lr / lr_unit * weight_decay stays unit-free, or it would bound
        # the coefficients by 1 / weight_decay whatever the scale of y.
        params[0] *= 1 - lr / lr_unit * self.weight_decay
        return super().step(params, grads, lr, flat=flat)


@OPTIMIZERS.register("nadam")
class NAdam(Optimizer):
    r"""Adam with Nesterov momentum (Dozat, 2016).

    As ``torch.optim.NAdam``, with
    :math:`\mu_t = \beta_1 (1 - \tfrac12 \cdot 0.96^{t \psi})`:

    .. math::
        m_t &= \beta_1 m_{t-1} + (1 - \beta_1) g_t, \qquad
        v_t = \beta_2 v_{t-1} + (1 - \beta_2) g_t^2 \\
        \hat m_t &= \frac{\mu_{t+1} m_t}{1 - \prod_{i=1}^{t+1} \mu_i}
                   + \frac{(1 - \mu_t) g_t}{1 - \prod_{i=1}^{t} \mu_i}, \qquad
        \hat v_t = \frac{v_t}{1 - \beta_2^t} \\
        \theta_t &= \theta_{t-1} - \eta_t \frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon}

    Parameters
    ----------
    beta_1 : float, default=0.9
        In [0, 1).
    beta_2 : float, default=0.999
        In [0, 1).
    epsilon : float, default=1e-8
        > 0.
    momentum_decay : float, default=0.004
        :math:`\psi` >= 0.

    Notes
    -----
    ``learning_rate_init="auto"`` is as :class:`Adam`'s.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_nnopt import NAdam
    >>> opt = NAdam()
    >>> params, grads = [np.array([1.0, 1.0])], [np.array([0.5, -100.0])]
    >>> for _ in range(2):
    ...     _ = opt.step(params, grads, lr=0.1)
    ...     print(params[0].round(4).tolist())
    [0.8944, 1.1056]
    [0.816, 1.184]
    """

    def __init__(self, beta_1=0.9, beta_2=0.999, epsilon=1e-8, momentum_decay=0.004):
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.momentum_decay = momentum_decay

    def _validate(self):
        _check_scalar(self.beta_1, "beta_1", 0, 1, high_open=True)
        _check_scalar(self.beta_2, "beta_2", 0, 1, high_open=True)
        _check_scalar(self.epsilon, "epsilon", 0, low_open=True)
        _check_scalar(self.momentum_decay, "momentum_decay", 0)

    needs_smoothness = False

    def auto_learning_rate(self, scale):
        return scale.parameter_step(0.01), scale.param_scale

    def _update(self, params, grads, lr, state):
        b1, b2, t, psi = self.beta_1, self.beta_2, state.step, self.momentum_decay
        mu = b1 * (1 - 0.5 * 0.96 ** (t * psi))
        mu_next = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * psi))
        mu_product = state.values["mu_product"] = (
            state.values.get("mu_product", 1.0) * mu
        )
        grad_coef = lr * (1 - mu) / (1 - mu_product)
        avg_coef = lr * mu_next / (1 - mu_product * mu_next)
        bc2 = 1 - b2**t
        ms = state.buffers("exp_avg", params)
        vs = state.buffers("exp_avg_sq", params)
        for i, (p, g, m, v) in enumerate(zip(params, grads, ms, vs, strict=True)):
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * (g * g)
            denom = np.sqrt(v / bc2)
            denom += self.epsilon
            p -= grad_coef * (g / denom)
            p -= avg_coef * (m / denom)
            if i == 0:
                coef_denom = denom
        # A gradient's whole effect, directly (1 - mu) and through the momentum
        # average (mu), is lr / denom.
        return StepSize(lr, coef_denom)


@OPTIMIZERS.register("adamax")
class Adamax(Optimizer):
    r"""Adamax, Adam with the infinity norm (Kingma & Ba, 2015).

    As ``torch.optim.Adamax``:

    .. math::
        m_t &= \beta_1 m_{t-1} + (1 - \beta_1) g_t \\
        u_t &= \max(\beta_2 u_{t-1}, |g_t| + \epsilon) \\
        \theta_t &= \theta_{t-1} - \frac{\eta_t}{1 - \beta_1^t} \frac{m_t}{u_t}

    Parameters
    ----------
    beta_1 : float, default=0.9
        In [0, 1).
    beta_2 : float, default=0.999
        In [0, 1).
    epsilon : float, default=1e-8
        > 0.

    Notes
    -----
    ``learning_rate_init="auto"`` is as :class:`Adam`'s.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_nnopt import Adamax
    >>> opt, params = Adamax(), [np.array([0.0])]
    >>> for g in [1.0, 4.0]:
    ...     _ = opt.step(params, [np.array([g])], lr=0.1)
    ...     u = opt.state_["exp_inf"][0]
    ...     print(params[0].round(4).tolist(), u.round(4).tolist())
    [-0.1] [1.0]
    [-0.1645] [4.0]
    """

    def __init__(self, beta_1=0.9, beta_2=0.999, epsilon=1e-8):
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon

    def _validate(self):
        _check_scalar(self.beta_1, "beta_1", 0, 1, high_open=True)
        _check_scalar(self.beta_2, "beta_2", 0, 1, high_open=True)
        _check_scalar(self.epsilon, "epsilon", 0, low_open=True)

    needs_smoothness = False

    def auto_learning_rate(self, scale):
        return scale.parameter_step(0.01), scale.param_scale

    def _update(self, params, grads, lr, state):
        b1, b2 = self.beta_1, self.beta_2
        step_size = lr / (1 - b1**state.step)
        ms = state.buffers("exp_avg", params)
        us = state.buffers("exp_inf", params)
        for p, g, m, u in zip(params, grads, ms, us, strict=True):
            m *= b1
            m += (1 - b1) * g
            u *= b2
            np.maximum(u, np.abs(g) + self.epsilon, out=u)
            p -= step_size * (m / u)
        return StepSize(step_size, us[0])


@OPTIMIZERS.register("rmsprop", candidate=True)
class RMSprop(Optimizer):
    r"""RMSprop (Tieleman & Hinton, 2012), optionally centered and with momentum.

    As ``torch.optim.RMSprop`` (``rho`` is torch's ``alpha``):

    .. math::
        v_t &= \rho v_{t-1} + (1 - \rho) g_t^2 \\
        \tilde v_t &= \begin{cases} v_t - \bar g_t^2,\
            \bar g_t = \rho \bar g_{t-1} + (1 - \rho) g_t & \text{centered} \\
            v_t & \text{otherwise} \end{cases} \\
        b_t &= \mu b_{t-1} + \frac{g_t}{\sqrt{\tilde v_t} + \epsilon}, \qquad
        \theta_t = \theta_{t-1} - \eta_t b_t

    with :math:`b_0 = 0` (for :math:`\mu = 0`, the step is
    :math:`\eta_t g_t / (\sqrt{\tilde v_t} + \epsilon)`).

    Parameters
    ----------
    rho : float, default=0.99
        Decay of the squared-gradient average, in [0, 1).
    epsilon : float, default=1e-8
        > 0.
    momentum : float, default=0.0
        :math:`\mu` in [0, 1).
    centered : bool, default=False
        Normalize by the estimated variance instead of the second moment.

    Notes
    -----
    ``learning_rate_init="auto"`` is ``0.01 * (1 - momentum)`` times the typical
    coefficient size (its step, like Adam's, is in parameter units).

    Examples
    --------
    The average of squared gradients starts at 0, so the first steps are larger
    than ``lr`` (here 10 times, as ``1 - rho = 0.01``):

    >>> import numpy as np
    >>> from sklearn_nnopt import RMSprop
    >>> opt = RMSprop()
    >>> params, grads = [np.array([1.0, 1.0])], [np.array([0.5, -100.0])]
    >>> for _ in range(2):
    ...     _ = opt.step(params, grads, lr=0.01)
    ...     print(params[0].round(4).tolist())
    [0.9, 1.1]
    [0.8291, 1.1709]
    """

    def __init__(self, rho=0.99, epsilon=1e-8, momentum=0.0, centered=False):
        self.rho = rho
        self.epsilon = epsilon
        self.momentum = momentum
        self.centered = centered

    def _validate(self):
        _check_scalar(self.rho, "rho", 0, 1, high_open=True)
        _check_scalar(self.epsilon, "epsilon", 0, low_open=True)
        _check_scalar(self.momentum, "momentum", 0, 1, high_open=True)
        _check_bool(self.centered, "centered")

    needs_smoothness = False

    def auto_learning_rate(self, scale):
        return scale.parameter_step(0.01 * (1 - self.momentum)), scale.param_scale

    def _update(self, params, grads, lr, state):
        rho, mu = self.rho, self.momentum
        vs = state.buffers("square_avg", params)
        gbars = state.buffers("grad_avg", params) if self.centered else vs
        bufs = state.buffers("momentum_buffer", params) if mu > 0 else vs
        for i, (p, g, v, gbar, buf) in enumerate(
            zip(params, grads, vs, gbars, bufs, strict=True)
        ):
            v *= rho
            v += (1 - rho) * (g * g)
            if self.centered:
                gbar *= rho
                gbar += (1 - rho) * g
                denom = np.sqrt(v - gbar * gbar)
            else:
                denom = np.sqrt(v)
            denom += self.epsilon
            if mu > 0:
                buf *= mu
                buf += g / denom
                p -= lr * buf
            else:
                p -= lr * (g / denom)
            if i == 0:
                coef_denom = denom
        # With momentum a gradient's whole effect is scaled by 1 / (1 - mu).
        return StepSize(lr / (1.0 - mu), coef_denom)


@OPTIMIZERS.register("adagrad", candidate=True)
class Adagrad(Optimizer):
    r"""Adagrad (Duchi et al., 2011).

    As ``torch.optim.Adagrad`` (``lr_decay=0``):

    .. math::
        s_t &= s_{t-1} + g_t^2, \qquad s_0 = \text{initial\_accumulator\_value} \\
        \theta_t &= \theta_{t-1} - \eta_t \frac{g_t}{\sqrt{s_t} + \epsilon}

    Parameters
    ----------
    epsilon : float, default=1e-10
        > 0.
    initial_accumulator_value : float, default=0.0
        >= 0.

    Notes
    -----
    Its steps shrink as :math:`1/\sqrt{t}` by construction, so
    ``learning_rate_init="auto"`` is ten times Adam's: ``0.1`` times the
    typical coefficient size.

    Examples
    --------
    Steps shrink as :math:`1/\sqrt{t}` for a constant gradient, whatever its size:

    >>> import numpy as np
    >>> from sklearn_nnopt import Adagrad
    >>> opt = Adagrad()
    >>> params, grads = [np.array([0.0, 0.0])], [np.array([3.0, -0.01])]
    >>> for _ in range(3):
    ...     _ = opt.step(params, grads, lr=0.1)
    ...     print(params[0].round(4).tolist())
    [-0.1, 0.1]
    [-0.1707, 0.1707]
    [-0.2284, 0.2284]
    """

    def __init__(self, epsilon=1e-10, initial_accumulator_value=0.0):
        self.epsilon = epsilon
        self.initial_accumulator_value = initial_accumulator_value

    def _validate(self):
        _check_scalar(self.epsilon, "epsilon", 0, low_open=True)
        _check_scalar(self.initial_accumulator_value, "initial_accumulator_value", 0)

    needs_smoothness = False

    def auto_learning_rate(self, scale):
        return 0.1 * scale.param_scale, scale.param_scale

    def _update(self, params, grads, lr, state):
        sums = state.buffers("sum", params, fill=self.initial_accumulator_value)
        for i, (p, g, acc) in enumerate(zip(params, grads, sums, strict=True)):
            acc += g * g
            denom = np.sqrt(acc)
            denom += self.epsilon
            p -= lr * (g / denom)
            if i == 0:
                coef_denom = denom
        return StepSize(lr, coef_denom)


@OPTIMIZERS.register("adadelta")
class Adadelta(Optimizer):
    r"""Adadelta (Zeiler, 2012).

    As ``torch.optim.Adadelta``:

    .. math::
        v_t &= \rho v_{t-1} + (1 - \rho) g_t^2 \\
        \Delta_t &= \frac{\sqrt{u_{t-1} + \epsilon}}{\sqrt{v_t + \epsilon}} g_t \\
        u_t &= \rho u_{t-1} + (1 - \rho) \Delta_t^2 \\
        \theta_t &= \theta_{t-1} - \eta_t \Delta_t

    Parameters
    ----------
    rho : float, default=0.9
        In [0, 1).
    epsilon : float, default=1e-6
        > 0.

    Notes
    -----
    Adadelta's own step starts near :math:`\sqrt{\epsilon}` and adapts in
    parameter units, so ``learning_rate_init="auto"`` is the typical
    coefficient size (``1.0``, torch's default, on standardized ``X`` with a
    classification loss).

    Examples
    --------
    The first steps are about :math:`\sqrt{\epsilon / (1 - \rho)}` times ``lr``:

    >>> import numpy as np
    >>> from sklearn_nnopt import Adadelta
    >>> opt = Adadelta()
    >>> params, grads = [np.array([0.0, 0.0])], [np.array([1.0, -100.0])]
    >>> for _ in range(2):
    ...     _ = opt.step(params, grads, lr=1.0)
    ...     print(params[0].round(4).tolist())
    [-0.0032, 0.0032]
    [-0.0064, 0.0064]
    """

    def __init__(self, rho=0.9, epsilon=1e-6):
        self.rho = rho
        self.epsilon = epsilon

    def _validate(self):
        _check_scalar(self.rho, "rho", 0, 1, high_open=True)
        _check_scalar(self.epsilon, "epsilon", 0, low_open=True)

    needs_smoothness = False

    def auto_learning_rate(self, scale):
        return 1.0 * scale.param_scale, scale.param_scale

    def _update(self, params, grads, lr, state):
        rho, eps = self.rho, self.epsilon
        vs = state.buffers("square_avg", params)
        us = state.buffers("acc_delta", params)
        for i, (p, g, v, u) in enumerate(zip(params, grads, vs, us, strict=True)):
            v *= rho
            v += (1 - rho) * (g * g)
            scale = np.sqrt(u + eps)
            scale /= np.sqrt(v + eps)
            delta = scale * g
            u *= rho
            u += (1 - rho) * (delta * delta)
            p -= lr * delta
            if i == 0:
                coef_scale = scale
        return StepSize(lr, coef_scale, multiply=True)


@OPTIMIZERS.register("prodigy")
class Prodigy(Optimizer):
    r"""Prodigy: Adam with a learned step scale (Mishchenko & Defazio, 2024).

    As ``prodigyopt.Prodigy`` (``Prodigy.step`` of github.com/konstmish/prodigy,
    one parameter group: ``coef`` and ``intercept`` together). At step
    :math:`k` with gradient :math:`g_k`, learning rate :math:`\eta_k` and
    :math:`c_k = \sqrt{1 - \beta_2^k} / (1 - \beta_1^k)` (1 without
    ``use_bias_correction``), the step is :math:`\lambda_k = d_k \eta_k c_k`
    and

    .. math::
        m_k &= \beta_1 m_{k-1} + d_k (1 - \beta_1) g_k, \qquad
        v_k = \beta_2 v_{k-1} + d_k^2 (1 - \beta_2) g_k^2 \\
        r_k &= \beta_3 r_{k-1} + \tfrac{d_k}{d_0} \lambda_k
               \langle g_k, \theta_0 - \theta_{k-1} \rangle, \qquad
        s_k = \beta_3 s_{k-1} + \tfrac{d_k}{d_0} \lambda_k g_k \\
        \hat d_{k+1} &= d_{\text{coef}}\, r_k / \lVert s_k \rVert_1, \qquad
        d_{k+1} = \min\bigl(\max(d_0, \hat d_2, \ldots, \hat d_{k+1}),\
                            \gamma\, d_k\bigr) \\
        \theta_k &= \theta_{k-1} - \lambda_k \frac{m_k}{\sqrt{v_k} + d_{k+1} \epsilon}

    with :math:`d_1 = d_0`, :math:`m_0 = v_0 = s_0 = r_0 = 0`, :math:`\theta_0`
    the parameters at the first step, :math:`\gamma` the ``growth_rate`` and
    :math:`\beta_3 = \sqrt{\beta_2}` by default (with ``safeguard_warmup``, the
    :math:`s_k` term is :math:`\tfrac{d_k}{d_0} d_k g_k`, without the learning
    rate; with :math:`\beta_1 = 0` the step is
    :math:`\lambda_k d_{k+1} g_k / (\sqrt{v_k} + d_{k+1} \epsilon)`). The
    first :math:`\hat d` is taken, if larger, while :math:`d_k` is still
    :math:`d_0`. A step whose :math:`\lVert s_k \rVert_1` is 0 (every gradient
    so far zero) leaves the parameters and :math:`d` as they are.

    Parameters
    ----------
    beta_1 : float, default=0.9
        Decay of the first-moment estimate, in [0, 1).
    beta_2 : float, default=0.999
        Decay of the second-moment estimate, in [0, 1).
    beta_3 : float or None, default=None
        Decay of the :math:`d` estimate's accumulators :math:`r, s`, in [0, 1);
        None is :math:`\sqrt{\beta_2}`.
    epsilon : float, default=1e-8
        Added (times :math:`d`) to the denominator, > 0.
    weight_decay : float, default=0.0
        Weight decay :math:`\lambda` >= 0 on ``coef_`` only, never on
        ``intercept_``; separate from the objective's ``penalty``/``alpha``.
    decouple : bool, default=True
        Decoupled (AdamW-style) decay,
        :math:`W \leftarrow (1 - \lambda \lambda_k) W` before the step;
        otherwise coupled, :math:`g_k \leftarrow g_k + \lambda W` (the
        gradient that every buffer above then sees).
    use_bias_correction : bool, default=False
        Adam's bias correction :math:`c_k`.
    safeguard_warmup : bool, default=False
        Leave the learning rate out of :math:`s_k` (for warm-up schedules).
    d0 : float, default=1e-6
        Initial estimate :math:`d_0` > 0.
    d_coef : float, default=1.0
        Multiplies the estimate :math:`\hat d`, > 0.
    growth_rate : float, default=inf
        :math:`\gamma` >= 1: the largest factor by which :math:`d` may grow in
        one step.

    Notes
    -----
    :math:`d` scales the step to the distance from the initial parameters to
    the solution, so the learning rate is a unit-free multiplier:
    ``learning_rate_init="auto"`` is ``1.0`` (unit ``1.0``), as the authors
    recommend. The :math:`d` estimate couples all coordinates, so updates are
    dense on sparse ``X`` too. All state (:math:`\theta_0` ``"p0"``, ``"s"``,
    ``"exp_avg"``, ``"exp_avg_sq"`` and the scalars ``"d"``, ``"d_max"``,
    ``"d_numerator"``, ``"k"``, ...) is in ``state_`` and carries over to
    ``warm_start`` and ``partial_fit``.

    References
    ----------
    K. Mishchenko and A. Defazio, "Prodigy: An Expeditiously Adaptive
    Parameter-Free Learner", ICML 2024, arXiv:2306.06101.

    Examples
    --------
    The first step is Adam's first step scaled by :math:`d_0` (the estimate
    starts to grow from the second step on):

    >>> import numpy as np
    >>> from sklearn_nnopt import Prodigy
    >>> opt, params = Prodigy(), [np.array([1.0, 1.0])]
    >>> _ = opt.step(params, [np.array([0.5, -100.0])], lr=1.0)
    >>> ((params[0] - 1.0) / 1e-6).round(4).tolist()
    [-3.1623, 3.1623]
    >>> for _ in range(20):
    ...     _ = opt.step(params, [2 * (params[0] - 3.0)], lr=1.0)
    >>> opt.state_["d"] > 1e-3
    True
    """

    # Its momentum keeps successive gradients positively correlated in the
    # noise ball, so Pflug's test never fired: the step stayed at d for 200
    # epochs, 1.5e-2 to 1.9 above the optimum on the benchmark sets.
    stationarity_statistic = "level"

    def __init__(
        self,
        beta_1=0.9,
        beta_2=0.999,
        beta_3=None,
        epsilon=1e-8,
        weight_decay=0.0,
        decouple=True,
        use_bias_correction=False,
        safeguard_warmup=False,
        d0=1e-6,
        d_coef=1.0,
        growth_rate=math.inf,
    ):
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.beta_3 = beta_3
        self.epsilon = epsilon
        self.weight_decay = weight_decay
        self.decouple = decouple
        self.use_bias_correction = use_bias_correction
        self.safeguard_warmup = safeguard_warmup
        self.d0 = d0
        self.d_coef = d_coef
        self.growth_rate = growth_rate

    def _validate(self):
        _check_scalar(self.beta_1, "beta_1", 0, 1, high_open=True)
        _check_scalar(self.beta_2, "beta_2", 0, 1, high_open=True)
        if self.beta_3 is not None:
            _check_scalar(self.beta_3, "beta_3", 0, 1, high_open=True)
        _check_scalar(self.epsilon, "epsilon", 0, low_open=True)
        _check_scalar(self.weight_decay, "weight_decay", 0)
        _check_bool(self.decouple, "decouple")
        _check_bool(self.use_bias_correction, "use_bias_correction")
        _check_bool(self.safeguard_warmup, "safeguard_warmup")
        _check_scalar(self.d0, "d0", 0, low_open=True)
        _check_scalar(self.d_coef, "d_coef", 0, low_open=True)
        if not (
            isinstance(self.growth_rate, numbers.Real) and self.growth_rate == math.inf
        ):
            _check_scalar(self.growth_rate, "growth_rate", 1)

    needs_smoothness = False

    def auto_learning_rate(self, scale):
        return 1.0, 1.0

    def step(self, params, grads, lr, *, flat=None, lr_unit=1.0):
        # The weight decay acts on coef only: the leading params[0].size
        # entries of the flat buffer, or params[0].
        state = self._begin_step()
        if flat is not None:
            return self._update(
                [flat[0]],
                [flat[1]],
                lr,
                state,
                coef_size=params[0].size,
                lr_unit=lr_unit,
            )
        return self._update(params, grads, lr, state, lr_unit=lr_unit)

    def _update(self, params, grads, lr, state, coef_size=None, lr_unit=1.0):
        """The rule; decay on the first ``coef_size`` entries of ``params[0]``."""
        lr = float(lr)
        b1, b2 = self.beta_1, self.beta_2
        b3 = math.sqrt(b2) if self.beta_3 is None else self.beta_3
        d0, decay = self.d0, self.weight_decay
        n = params[0].size if coef_size is None else coef_size
        values = state.values

        # State initialization (per parameter, as the reference).
        first = "p0" not in values
        p0s = state.buffers("p0", params)
        if first:
            for p, p0 in zip(params, p0s, strict=True):
                p0[...] = p
        ss = state.buffers("s", params)
        ms = state.buffers("exp_avg", params) if b1 > 0 else [None] * len(params)
        vs = state.buffers("exp_avg_sq", params)
        if lr <= 0:  # the reference updates nothing then
            return StepSize(0.0)

        d = values.get("d", d0)
        d_max = values.get("d_max", d0)
        k = values.get("k", 0)
        if self.use_bias_correction:
            bias_correction = math.sqrt(1 - b2 ** (k + 1)) / (1 - b1 ** (k + 1))
        else:
            bias_correction = 1.0
        dlr = d * lr * bias_correction

        grads = list(grads)
        if decay != 0 and not self.decouple:
            # Coupled decay: the gradient every buffer sees includes it.
            g = grads[0] = grads[0].copy()
            g.reshape(-1)[:n] += decay * params[0].reshape(-1)[:n]

        d_numerator = values.get("d_numerator", 0.0) * b3
        delta_numerator = 0.0
        d_denom = 0.0
        s_rate = (d / d0) * (d if self.safeguard_warmup else dlr)
        for p, g, p0, s, m, v in zip(params, grads, p0s, ss, ms, vs, strict=True):
            delta_numerator += (
                (d / d0) * dlr * float(np.dot(g.ravel(), (p0 - p).ravel()))
            )
            if m is not None:
                m *= b1
                m += (d * (1 - b1)) * g
            v *= b2
            v += (d * d * (1 - b2)) * (g * g)
            s *= b3
            s += s_rate * g
            d_denom += float(np.abs(s).sum())
        if d_denom == 0:
            # No gradient yet: the reference returns before the step.
            return StepSize(0.0)

        d_numerator += delta_numerator
        d_hat = self.d_coef * d_numerator / d_denom
        d_new = d
        if d == d0:
            d_new = max(d, d_hat)
        d_max = max(d_max, d_hat)
        d_new = min(d_max, d_new * self.growth_rate)
        values.update(
            d=d_new,
            d_max=d_max,
            d_hat=d_hat,
            d_numerator=d_numerator,
            d_denom=d_denom,
            k=k + 1,
        )

        # The decoupled decay uses the unit-free rate lr / lr_unit, as AdamW's
        # (the automatic unit is 1.0: the reference's decay * dlr exactly).
        shrink = 1 - decay * d * (lr / lr_unit) * bias_correction
        for i, (p, g, m, v) in enumerate(zip(params, grads, ms, vs, strict=True)):
            denom = np.sqrt(v)
            denom += d_new * self.epsilon
            if i == 0:
                coef_denom = denom
                if decay != 0 and self.decouple:
                    p.reshape(-1)[:n] *= shrink
            if m is not None:
                p -= dlr * (m / denom)
            else:
                p -= (dlr * d_new) * (g / denom)
        # A gradient's whole effect: through m (weight d (1 - beta_1), then
        # dlr / denom per step) d dlr / denom; without momentum dlr d_new / denom.
        factor = dlr * d if ms[0] is not None else dlr * d_new
        return StepSize(factor, coef_denom)


class _ScheduleFree(Optimizer):
    r"""What the schedule-free methods share (Defazio et al., 2024).

    Three sequences: :math:`z` takes the base method's steps, :math:`x` is a
    weighted running average of :math:`z` (the model exposed), and the
    gradients are taken at their interpolation
    :math:`y = (1 - \beta) z + \beta x`. During training the parameters hold
    :math:`y` and the state holds :math:`z` and :math:`x`, as the reference's
    ``*Reference`` classes keep them: :meth:`to_eval` copies :math:`x` into
    the parameters (its ``eval()``), :meth:`to_train` takes them as the model
    to continue from and recomputes :math:`y` with the step's own expression
    (its ``train()``), so that a continued fit repeats one longer run bit for
    bit. Subclasses define ``_beta``.
    """

    exposes_average = True
    schedule_free = True

    def _validate_schedule_free(self):
        # The warmup and the weights of the average, as the reference takes
        # them.
        steps = self.warmup_steps
        if isinstance(steps, bool) or not (
            isinstance(steps, int | np.integer) and steps >= 0
        ):
            raise ValueError(
                f"warmup_steps must be an int >= 0; got {self.warmup_steps!r}."
            )
        _check_scalar(self.r, "r", 0)
        _check_scalar(self.weight_lr_power, "weight_lr_power", 0)

    def _coefficients(self, lr, state):
        """``(lr_t, c_t)``: the warmed-up step and the averaging weight of step t.

        Updates the scalars ``lr_max`` and ``weight_sum`` of ``state`` as the
        reference's ``group["lr_max"]`` and ``group["weight_sum"]``.
        """
        k = state.step - 1  # the reference's group["k"] before this step
        sched = (k + 1) / self.warmup_steps if k < self.warmup_steps else 1.0
        lr = float(lr) * sched
        values = state.values
        values["lr_max"] = max(lr, values.get("lr_max", -1.0))
        values["weight_sum"] = values.get("weight_sum", 0.0) + self._weight(state)
        return lr, self._averaging_weight(state)

    def _weight(self, state):
        # w_t = t^r (lr_max_t)^p, from the state step t left.
        return state.step**self.r * state.values["lr_max"] ** self.weight_lr_power

    def _averaging_weight(self, state):
        """:math:`c_t` of the last step ``t``, from the state it left (the
        lazy column steps on sparse ``X`` move the absent columns' :math:`x`
        by it later: :mod:`sklearn_nnopt._sparse`)."""
        weight_sum = state.values["weight_sum"]
        return self._weight(state) / weight_sum if weight_sum != 0 else 0.0

    def _advance(self, params, directions, lr, ckp1, state, works):
        r"""One step of the three sequences along the directions :math:`d_t`.

        :math:`z \leftarrow z - \eta d`, :math:`x \leftarrow (1 - c) x + c z`,
        :math:`y = \beta x + (1 - \beta) z` (``z.sub_(d, alpha=lr)``,
        ``x.mul_(1 - ckp1).add_(z, alpha=ckp1)``, ``y.copy_(x.mul(beta).add_(z,
        alpha=1 - beta))``); ``z`` and ``x`` start as copies of the parameters.
        """
        zs = state.buffers("z", params, fill=None)
        xs = state.buffers("x", params, fill=None)
        for y, d, z, x, work in zip(params, directions, zs, xs, works, strict=True):
            np.multiply(d, lr, out=work)
            z -= work
            x *= 1 - ckp1
            np.multiply(z, ckp1, out=work)
            x += work
            self._interpolate(y, x, z, work)

    def _interpolate(self, y, x, z, work):
        # y = beta x + (1 - beta) z: one expression, for the steps and to_train.
        beta = self._beta()
        np.multiply(x, beta, out=y)
        np.multiply(z, 1 - beta, out=work)
        y += work

    def _sequences(self, params):
        """The state's ``(z, x)`` buffers for ``params``, or None before a step."""
        state = self.__dict__.get("state_")
        if state is None or "z" not in state.values:
            return None  # no step yet: x = y = z
        zs, xs = state.values["z"], state.values["x"]
        if len(zs) != len(params) or any(
            z.shape != p.shape for z, p in zip(zs, params, strict=True)
        ):
            raise ValueError(
                f"{type(self).__name__}'s state was built for arrays of shapes "
                f"{[z.shape for z in zs]}; got {[p.shape for p in params]}."
            )
        return zs, xs

    def to_eval(self, params):
        # p.copy_(state["x"]): y -> x.
        sequences = self._sequences(params)
        if sequences is not None:
            for p, x in zip(params, sequences[1], strict=True):
                p[...] = x

    def to_train(self, params):
        # The model to continue from is x (as given: a warm start may hand
        # back the coefficients it exposed, or others); y = beta x + (1 - beta) z.
        sequences = self._sequences(params)
        if sequences is not None:
            for p, z, x in zip(params, *sequences, strict=True):
                x[...] = p
                self._interpolate(p, x, z, np.empty_like(p))


@OPTIMIZERS.register("schedulefree_sgd")
class ScheduleFreeSGD(_ScheduleFree):
    r"""Schedule-Free SGD (Defazio et al., 2024): averaging instead of a schedule.

    As ``SGDScheduleFree`` of the reference implementation
    (facebookresearch/schedule_free, ``schedulefree/sgd_schedulefree.py`` at
    commit 70785b5), at step :math:`t = 1, 2, \dots` with the step size
    :math:`\eta` given (``learning_rate_init`` times the schedule) and the
    gradient :math:`g_t` taken at :math:`y_{t-1}`:

    .. math::
        \eta_t &= \eta \min(1, t / T_w), \qquad
        \eta^{\max}_t = \max(\eta^{\max}_{t-1}, \eta_t) \\
        w_t &= t^r \, (\eta^{\max}_t)^p, \qquad
        c_t = w_t \Big/ \sum_{i=1}^t w_i \\
        z_t &= z_{t-1} - \eta_t g_t \\
        x_t &= (1 - c_t) x_{t-1} + c_t z_t \\
        y_t &= (1 - \beta) z_t + \beta x_t

    from :math:`x_0 = y_0 = z_0` the starting point (:math:`T_w` =
    ``warmup_steps``, no warmup for 0; :math:`p` = ``weight_lr_power``;
    :math:`\beta` = ``momentum``). The gradients are taken at :math:`y`; the
    model the estimator exposes (``coef_``, ``intercept_``, predictions,
    scores, the convergence check, early stopping's best model, and what
    ``warm_start`` and ``partial_fit`` continue from) is the average
    :math:`x`. During training the parameters hold :math:`y` and the state
    :math:`z` and :math:`x` (``state_["z"]``, ``state_["x"]``);
    :meth:`to_eval` copies :math:`x` into the parameters and :meth:`to_train`
    turns them back into :math:`y`.

    Parameters
    ----------
    momentum : float, default=0.9
        The interpolation :math:`\beta`, in (0, 1): 1 would take the
        gradients at the average (primal averaging), 0 at :math:`z`
        (Polyak-Ruppert averaging); both excluded, as in the reference
        (whose ``eval()`` divides by :math:`\beta`).
    warmup_steps : int, default=0
        Steps of the linear warmup :math:`T_w`.
    r : float, default=0.0
        Polynomial weighting of the average, :math:`w_t \propto t^r`; 0
        weighs the iterates after the warmup alike.
    weight_lr_power : float, default=2.0
        The power :math:`p` of the largest step so far in the weights: during
        the warmup, the iterates of small steps count less.

    Notes
    -----
    Source: A. Defazio, X. Yang, H. Mehta, K. Mishchenko, A. Khaled and A.
    Cutkosky, "The Road Less Scheduled", NeurIPS 2024; the update follows the
    reference implementation's ``SGDScheduleFree`` (github.com/facebookresearch/
    schedule_free, commit 70785b53e778d0e872c0bbb75ff4ee54ee10c291), computed
    as its ``SGDScheduleFreeReference`` does (the same rule, with :math:`x`
    kept in the state rather than recovered from :math:`y` and :math:`z` by
    ``eval()``'s division by :math:`\beta`): :meth:`to_eval` is then an exact
    copy, and :meth:`to_train` recomputes :math:`y` with the step's own
    expression, so that ``warm_start`` and ``partial_fit`` repeat one longer
    run bit for bit. Its ``weight_decay`` is not a parameter here: added to
    the gradient it is exactly the objective's ``penalty="l2"`` with
    ``alpha``.

    ``learning_rate_init="auto"`` is
    :math:`\eta = \min(3, 1 / (1 - \beta)) / L` (:math:`3 / L` at the default
    :math:`\beta = 0.9`), ``L`` the expected smoothness of a minibatch of
    :class:`ProblemScale` (``batch_smoothness``, Gazagnadou, Gower & Salmon,
    2019: the full batch's curvature from the largest eigenvalue of the
    rows' second moment, as :class:`SAGA`'s step; ``smoothness``, from its
    trace, if the eigenvalue solver fails). With the trace, the step was
    half as large on the sparse benchmark set, which took 36 epochs instead
    of 17 to the target test score, and the gaps on the small bundled sets
    were 1.5 to 3 times larger.
    The reference's default ``lr=1.0`` (and its advice of a step 10-50 times
    the classical one) is for networks whose gradients are of order one;
    here :math:`\eta` multiplies a raw gradient, whose size follows the data
    and the target, so it is in units of :math:`1 / L`. Once :math:`c_t` is
    small, :math:`y` moves by :math:`(1 - \beta) \eta` per gradient: the
    factor :math:`1 / (1 - \beta)` makes that :math:`1 / L` (as :class:`SGD`'s
    :math:`(1 - \mu) / L` with momentum), half the stability bound along a
    direction of curvature :math:`L`, and plain averaged SGD's :math:`1 / L`
    as :math:`\beta \to 0`. The first steps (:math:`c_1 = 1`,
    :math:`c_2 = 1/2`, ...) move :math:`y` by nearly the whole :math:`\eta`,
    a plain gradient step, which beyond :math:`2 / L` overshoots along such a
    direction, hence the cap: on a quadratic of curvature :math:`L`, from
    :math:`c_t = 1 / t`, the iterates' largest excursion from the optimum is
    1 and 4 times the starting distance at :math:`\eta L` = 2 and 3 for every
    :math:`\beta` from 0.5 to 0.98 (19 and 1,100 times at 5 and 10 for
    :math:`\beta = 0.9`), and :math:`10 / L` raised
    :class:`~sklearn_nnopt.DivergenceError` on full batches of 20 nearly equal
    columns. Larger steps converge faster where no direction's curvature is
    near :math:`L` (epochs to converge are about proportional to
    :math:`1 / \eta` on standardized ``breast_cancer`` and ``digits``):
    pass a numeric ``learning_rate_init``, or ``warmup_steps``, which the
    reference recommends against that overshoot.

    The default ``learning_rate="auto"`` keeps the step constant (no decay:
    the averaging does the schedule's work); a schedule named explicitly
    multiplies :math:`\eta` before the warmup, as the reference reads
    ``group["lr"]`` at every step, and the weights then use the largest step
    so far. ``penalty="l1"``/``"elasticnet"`` and ``average`` are refused: the
    model exposed is an average, whose entries a proximal step's exact zeros
    do not survive, and which would be averaged twice.

    Examples
    --------
    The first step is a gradient step (:math:`c_1 = 1`); the parameters then
    hold :math:`y`, and :meth:`to_eval` turns them into :math:`x`, the mean of
    :math:`z_1` and :math:`z_2`:

    >>> import numpy as np
    >>> from sklearn_nnopt import ScheduleFreeSGD
    >>> opt = ScheduleFreeSGD()
    >>> params = [np.array([1.0, 1.0])]
    >>> for g in ([1.0, -2.0], [1.0, -2.0]):
    ...     _ = opt.step(params, [np.array(g)], lr=0.1)
    ...     print(params[0].round(4).tolist())
    [0.9, 1.2]
    [0.845, 1.31]
    >>> opt.to_eval(params)
    >>> params[0].round(4).tolist()
    [0.85, 1.3]
    """

    def __init__(self, momentum=0.9, warmup_steps=0, r=0.0, weight_lr_power=2.0):
        self.momentum = momentum
        self.warmup_steps = warmup_steps
        self.r = r
        self.weight_lr_power = weight_lr_power

    def _beta(self):
        return self.momentum

    def _validate(self):
        _check_scalar(self.momentum, "momentum", 0, 1, low_open=True, high_open=True)
        self._validate_schedule_free()

    needs_batch_smoothness = True

    def auto_learning_rate(self, scale):
        return min(3.0, 1.0 / (1.0 - self.momentum)) / scale.tightest_smoothness, 1.0

    def _update(self, params, grads, lr, state):
        lr, ckp1 = self._coefficients(lr, state)
        self._advance(params, grads, lr, ckp1, state, self._scratch(params))
        # A gradient's whole effect: z moves by lr g, and x follows it.
        return StepSize(lr)


@OPTIMIZERS.register("schedulefree_adamw", candidate=True)
class ScheduleFreeAdamW(_ScheduleFree):
    r"""Schedule-Free AdamW (Defazio et al., 2024): averaging instead of a schedule.

    As ``AdamWScheduleFree`` of the reference implementation
    (facebookresearch/schedule_free, ``schedulefree/adamw_schedulefree.py`` at
    commit 70785b5): :class:`ScheduleFreeSGD`'s three sequences, with the
    step of :math:`z` along Adam's normalized gradient (no first moment: the
    interpolation is the momentum) plus the decoupled weight decay at
    :math:`y`. With :math:`\eta_t`, :math:`c_t` as for
    :class:`ScheduleFreeSGD` and :math:`g_t` taken at :math:`y_{t-1}`:

    .. math::
        v_t &= \beta_2 v_{t-1} + (1 - \beta_2) g_t^2 \\
        d_t &= \frac{g_t}{\sqrt{v_t / (1 - \beta_2^t)} + \epsilon}
               + \lambda y_{t-1} \\
        z_t &= z_{t-1} - \eta_t d_t \\
        x_t &= (1 - c_t) x_{t-1} + c_t z_t \\
        y_t &= (1 - \beta_1) z_t + \beta_1 x_t

    with :math:`v_0 = 0`. The decay :math:`\lambda y` applies to ``coef_``
    only, never to ``intercept_`` (as :class:`AdamW`). The model exposed is
    :math:`x`, as for :class:`ScheduleFreeSGD`.

    Parameters
    ----------
    beta_1 : float, default=0.9
        The interpolation :math:`\beta_1`, in (0, 1) (see
        :class:`ScheduleFreeSGD`'s ``momentum``).
    beta_2 : float, default=0.999
        Decay of the second-moment estimate, in [0, 1).
    epsilon : float, default=1e-8
        Added to the denominator after the bias-corrected square root, > 0.
    weight_decay : float, default=0.0
        Decoupled decay :math:`\lambda` >= 0, computed at :math:`y`.
    warmup_steps, r, weight_lr_power
        As :class:`ScheduleFreeSGD`.
    lazy : bool, default=True
        On sparse ``X`` only (dense ``X`` is unaffected): a step moves only
        the coefficients of the minibatch's columns :math:`J`, as
        :class:`Adam`'s ``lazy`` (``torch.optim.SparseAdam``, TensorFlow's
        LazyAdam), so that it costs O(non-zeros of the batch) instead of
        O(n_features). While column ``j`` is absent, its :math:`z_j` and
        :math:`v_j` stay as they are (its gradient is taken as zero, and
        :math:`v_j` does not decay), and each step :math:`i` only moves
        :math:`x_j` toward the constant :math:`z_j`: since its last step
        :math:`s`,

        .. math::
            x_j = z_j + (x_{j,s} - z_j) \prod_{i=s+1}^{t-1} (1 - c_i),
            \qquad y_j = (1 - \beta_1) z_j + \beta_1 x_j,

        which the steps keep as :math:`x_j = z_j + P_t w_j` with the running
        product :math:`P_t` of :math:`1 - c_i`, so that an absent column
        costs nothing (:math:`c_1 = 1`, or any step of weight 1, sets every
        :math:`x_j` to :math:`z_j` at once; see
        :class:`sklearn_nnopt._sparse.LazyScheduleFree`). Then the rule
        above runs on :math:`J` and the intercept, with the step count
        :math:`t` of all steps in the bias correction and the step's
        :math:`\eta_t` and :math:`c_t`. With an l2
        penalty, a present column's penalty gradient is
        :math:`\alpha y_j / p_j`, :math:`p_j` the probability that a batch
        holds column ``j``, so that the expected step is the full gradient's
        (as :class:`Adam`'s). ``False`` gives the rule above on every
        coefficient every step. Applies with ``penalty="l2"`` or ``None``,
        ``average=False`` and ``weight_decay=0`` (the decay moves every
        coefficient every step; the objective's l2 penalty is the lazy
        alternative); otherwise updates are dense.

    Notes
    -----
    Source: Defazio et al., "The Road Less Scheduled", NeurIPS 2024; the
    update follows the reference implementation's ``AdamWScheduleFree``
    (commit 70785b53e778d0e872c0bbb75ff4ee54ee10c291), computed as its
    ``AdamWScheduleFreeReference`` does (see :class:`ScheduleFreeSGD`), whose
    bias correction
    divides :math:`v_t` by :math:`1 - \beta_2^t` under the square root, with
    :math:`\epsilon` outside, and leaves the step :math:`\eta_t` (and so the
    weights :math:`w_t`) alone. Before its version 1.3 (and in its
    ``AdamWScheduleFreePaper``) the correction was folded into the step,
    :math:`\eta_t \sqrt{1 - \beta_2^t}`, which entered the weights too; this
    class follows the current rule. The reference's ``inner_momentum``
    (default 0) is not implemented.

    ``learning_rate_init="auto"`` is an automatic step in parameter units, as
    :class:`Adam`'s, but ten times larger: :math:`0.1\, s`
    (:meth:`ProblemScale.parameter_step`), ``s`` the typical coefficient
    size. The normalized step moves each coordinate of :math:`z` by about
    :math:`\eta`, and the model :math:`x` averages :math:`z`'s jitter away;
    the reference advises rates 1-10 times those of a scheduled AdamW. At
    Adam's :math:`0.01\, s` the default fit on standardized
    ``breast_cancer`` did not converge in 200 epochs (at :math:`0.1\, s`: 56),
    and on a sparse 5,000 x 2,000 classification neither did
    :math:`0.05\, s`. The price: in a full batch the constant normalized step
    leaves :math:`z` bouncing, which amplifies rounding (two fits of a
    15 x 30 problem differing only in the order of summation ended 3.9e-5
    apart, where at :math:`0.02\, s` they agreed to 1e-15).

    As for :class:`AdamW`, the automatic step's decay uses the unit-free rate
    :math:`\eta / s` (:math:`\lambda y` is divided by ``lr_unit``), so that it
    shrinks the coefficients by the same factor whatever the scale of ``y``;
    with a numeric ``learning_rate_init`` the rule is exactly the reference's.
    The default ``learning_rate="auto"`` keeps the step constant, and
    ``penalty="l1"``/``"elasticnet"`` and ``average`` are refused, as for
    :class:`ScheduleFreeSGD`.

    Examples
    --------
    The first step moves every entry by about ``lr``, whatever its gradient's
    size (:math:`c_1 = 1`: :math:`x_1 = y_1 = z_1`):

    >>> import numpy as np
    >>> from sklearn_nnopt import ScheduleFreeAdamW
    >>> opt = ScheduleFreeAdamW()
    >>> params = [np.array([1.0, 1.0])]
    >>> _ = opt.step(params, [np.array([0.5, -100.0])], lr=0.1)
    >>> params[0].round(4).tolist()
    [0.9, 1.1]
    """

    def __init__(
        self,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        weight_decay=0.0,
        warmup_steps=0,
        r=0.0,
        weight_lr_power=2.0,
        lazy=True,
    ):
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.weight_decay = weight_decay
        self.warmup_steps = warmup_steps
        self.r = r
        self.weight_lr_power = weight_lr_power
        self.lazy = lazy

    def _beta(self):
        return self.beta_1

    def _validate(self):
        _check_scalar(self.beta_1, "beta_1", 0, 1, low_open=True, high_open=True)
        _check_scalar(self.beta_2, "beta_2", 0, 1, high_open=True)
        _check_scalar(self.epsilon, "epsilon", 0, low_open=True)
        _check_scalar(self.weight_decay, "weight_decay", 0)
        _check_bool(getattr(self, "lazy", False), "lazy")
        self._validate_schedule_free()

    @property
    def sparse_mode(self):
        # The decoupled decay moves every coefficient every step.
        lazy = getattr(self, "lazy", False) and self.weight_decay == 0
        return "lazy" if lazy else "dense"

    needs_smoothness = False

    def auto_learning_rate(self, scale):
        return scale.parameter_step(0.1), scale.param_scale

    def step(self, params, grads, lr, *, flat=None, lr_unit=1.0):
        # The decay acts on coef only: the first params[0].size entries of
        # the first array the rule runs on (coef itself, or the flat buffer
        # that starts with it), at the unit-free rate lr / lr_unit.
        state = self._begin_step()
        n_coef = np.size(params[0])
        if flat is not None:
            params, grads = [flat[0]], [flat[1]]
        decay = self.weight_decay / lr_unit
        return self._rule(params, grads, lr, state, decay, n_coef)

    def _update(self, params, grads, lr, state):
        # Through step_at (which knows no coef/intercept split): every
        # position of the first array decays.
        return self._rule(params, grads, lr, state, self.weight_decay, None)

    def _rule(self, params, grads, lr, state, decay, n_decayed):
        b2 = self.beta_2
        lr, ckp1 = self._coefficients(lr, state)
        bias_correction2 = 1 - b2**state.step
        vs = state.buffers("exp_avg_sq", params)
        works = self._scratch(params)
        directions = self._denoms  # reused: the normalized gradients
        for i, (y, g, v, work) in enumerate(zip(params, grads, vs, works, strict=True)):
            d, denom = self._normalized(g, v, bias_correction2, work, directions[i])
            if i == 0:
                coef_denom = denom.copy()
            if decay != 0 and i == 0:
                # Weight decay calculated at y (coef only).
                part = slice(None) if n_decayed is None else slice(0, n_decayed)
                d.reshape(-1)[part] += decay * y.reshape(-1)[part]
        self._advance(params, directions, lr, ckp1, state, works)
        # A gradient's whole effect: z moves by lr g / denom, and x follows.
        return StepSize(lr, coef_denom)

    def _normalized(self, g, v, bias_correction2, work, out):
        r"""The direction :math:`g / (\sqrt{v / (1 - \beta_2^t)} + \epsilon)`,
        into ``out``, after :math:`v \leftarrow \beta_2 v + (1 - \beta_2) g^2`
        (in place). Returns ``(out, denom)``, ``denom`` in ``work``. The
        lazy column steps on sparse ``X`` share it (and the compiled kernel
        repeats its roundings)."""
        b2 = self.beta_2
        v *= b2
        np.multiply(g, g, out=work)
        work *= 1 - b2
        v += work
        denom = np.divide(v, bias_correction2, out=work)
        np.sqrt(denom, out=denom)
        denom += self.epsilon
        return np.divide(g, denom, out=out), denom


class _FullBatch(Optimizer):
    """What the full-batch optimizers share: scipy runs them, not ``step``.

    They implement :meth:`minimize`; the step size is their line search's or
    trust region's, so the automatic learning rate is unused.
    """

    stochastic = False

    def auto_learning_rate(self, scale):
        return 1.0, 1.0  # unused: the line search or trust region chooses

    @staticmethod
    def _scipy_callback(callback):
        """scipy's ``callback(intermediate_result)`` calling ``callback(value)``."""

        def _callback(intermediate_result):
            if callback is not None:
                callback(intermediate_result.fun)

        return _callback


@OPTIMIZERS.register("lbfgs", candidate=True)
class LBFGS(_FullBatch):
    r"""Full-batch L-BFGS through ``scipy.optimize.minimize(method="L-BFGS-B")``.

    Minimizes the whole training objective with a quasi-Newton method; each
    iteration sees all samples, so ``batch_size``, ``shuffle`` and the
    learning-rate schedule are ignored and ``partial_fit`` is unavailable.
    It stops when the largest entry of the gradient (in the training
    coordinates of ``precondition``) falls to ``tol**1.25`` times its size at the
    start, or after ``max_iter`` iterations, never on a small change of the
    objective alone; an iteration that does not lower the objective while the
    gradient is still larger restarts it.

    Where the objective separates across outputs (a loss with independent
    outputs: multilabel ``y``, multi-output regression, one-vs-rest margin
    losses), each output's objective is minimized by its own L-BFGS run, as
    ``MultiOutputClassifier`` fits one estimator per output: the minimizer
    is the same, and a joint run needs as many iterations as its hardest
    output, each costing all of them. ``n_iter_`` is then the largest
    output's count. (Not with ``verbose`` or scikit-learn callbacks, which
    follow the joint iterations.)

    Parameters
    ----------
    restarts : int, default=3
        How many times L-BFGS may restart with a fresh memory after an
        iteration that did not lower the objective, with a gradient above
        the tolerance.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_nnopt import LBFGS
    >>> def fun(x):
    ...     return np.sum((x - 3.0) ** 2), 2 * (x - 3.0)
    >>> result = LBFGS().minimize(fun, np.zeros(2), max_iter=100, tol=1e-8)
    >>> result.x.round(4).tolist(), bool(result.success)
    ([3.0, 3.0], True)
    """

    def __init__(self, restarts=3):
        self.restarts = restarts

    def _validate(self):
        if not (isinstance(self.restarts, int | np.integer) and self.restarts >= 0):
            raise ValueError(f"restarts must be an int >= 0; got {self.restarts!r}.")

    def minimize(self, fun, x0, *, max_iter, tol, callback=None, hess=None):
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
        hess : callable, optional
            Ignored (L-BFGS builds its own curvature model).

        Returns
        -------
        scipy.optimize.OptimizeResult
        """

        # No stop on a small change of the objective (ftol=0): scipy's test
        # divides the change by max(|f|, 1), so below 1 it is absolute, and
        # with ftol=64 eps an objective of 1e-4 stopped (and each restart
        # after one iteration) at a gradient of 1e-7 where tol=1e-8 asked for
        # 1e-12 (ftol=0: 1e-10). scipy now stops on it only when an iteration
        # did not lower the objective at all; then L-BFGS restarts from there
        # with a fresh memory (up to `restarts` times), so that it stops on
        # the gradient, on max_iter, or when no progress is possible.
        gtol = 0.0 if tol is None else tol
        ftol = 0.0
        x, nit = x0, 0
        for _ in range(1 + self.restarts):
            result = minimize(
                fun,
                x,
                jac=True,
                method="L-BFGS-B",
                callback=self._scipy_callback(callback),
                options={
                    "maxiter": max_iter - nit,
                    "maxfun": max(15000, 2 * max_iter),
                    "maxls": 50,
                    "gtol": gtol,
                    "ftol": ftol,
                },
            )
            nit += int(result.nit)
            stalled = "REDUCTION OF F" in str(result.message)
            if not stalled or result.nit == 0 or nit >= max_iter:
                break
            if np.max(np.abs(result.jac), initial=0.0) <= gtol:
                break
            x = result.x
        result.nit = nit
        self._begin_step(int(result.nit))
        return result


@OPTIMIZERS.register("newton", candidate=True)
class Newton(_FullBatch):
    r"""Full-batch trust-region Newton through ``scipy.optimize.minimize``.

    Minimizes the whole training objective with the exact Hessian of the
    linear model (``method="trust-exact"``: the step minimizes the quadratic
    model within a trust region, Moré & Sorensen, 1983; Nocedal & Wright,
    *Numerical Optimization*, 2006, Algorithm 4.3),

    .. math::
        H = \sum_i \frac{s_i}{\sum s} J_i^\top D_i J_i + \alpha_2 I,

    :math:`J_i` the derivative of row ``i``'s raw prediction in the parameters
    and :math:`D_i` the loss's second derivative in it (central differences of
    its gradient, so custom losses need nothing more). The role of
    scikit-learn's ``LogisticRegression(solver="newton-cholesky")``: a few
    iterations, each ``O(n_samples (n_features + 1)^2)`` for one output, reach
    the optimum to machine precision on problems with up to a few hundred
    parameters, where first-order methods crawl on ill-conditioning. Like
    L-BFGS it ignores ``batch_size``, ``shuffle`` and the schedule, has no
    ``partial_fit``, and takes smooth losses with an ``l2`` penalty or none.
    It stops when the gradient's norm falls to ``tol**2`` times its largest
    entry at the start (L-BFGS: ``tol**1.25``; Newton's last iterations
    converge quadratically, so they cost little) or after ``max_iter``
    iterations.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_nnopt import Newton
    >>> def fun(x):
    ...     return np.sum((x - 3.0) ** 4 + x**2), 4 * (x - 3.0) ** 3 + 2 * x
    >>> def hess(x):
    ...     return np.diag(12 * (x - 3.0) ** 2 + 2)
    >>> result = Newton().minimize(fun, np.zeros(2), max_iter=50, tol=1e-10, hess=hess)
    >>> result.x.round(4).tolist(), int(result.nit) < 10
    ([2.0, 2.0], True)
    """

    needs_hessian = True

    def minimize(self, fun, x0, *, max_iter, tol, callback=None, hess=None):
        """Minimize ``fun`` from ``x0`` with the Hessian ``hess``.

        Parameters
        ----------
        fun : callable
            ``fun(x) -> (value, gradient)`` on float64 vectors.
        x0 : ndarray of shape (n_params,)
        max_iter : int
        tol : float or None
            Tolerance on the gradient's norm; ``None`` runs ``max_iter``
            iterations (or until no progress is possible).
        callback : callable, optional
            Called with the objective value after each iteration.
        hess : callable
            ``hess(x) -> ndarray of shape (n_params, n_params)``.

        Returns
        -------
        scipy.optimize.OptimizeResult

        Raises
        ------
        ValueError
            If ``hess`` is not given.
        """
        if hess is None:
            raise ValueError("Newton needs the objective's Hessian (hess=...).")

        # The first trust region on the scale of the parameters or of the
        # first Newton step, whichever is larger (scipy's radius 1 takes a
        # dozen doublings to reach coefficients in the thousands, as a target
        # in the thousands gives). The step is damped by 1e-3 of the mean
        # curvature, so that a loss flat at the start does not ask for any
        # size; scipy's first iteration reuses H(x0).
        x0 = np.array(x0, dtype=np.float64)
        value0, gradient0 = fun(x0)
        if not np.any(gradient0):
            # Stationary at the start: nothing to do, and scipy's trust-exact
            # fails on a zero gradient with a singular Hessian (an all-zero X
            # and a loss flat at the start: UnboundLocalError in its
            # subproblem, found by hypothesis 6.170 in test_reliability.py).
            self._begin_step(0)
            return OptimizeResult(
                x=x0,
                fun=value0,
                jac=gradient0,
                nit=0,
                nfev=1,
                njev=1,
                nhev=0,
                status=0,
                success=True,
                message="The gradient is zero at the start.",
            )
        H0 = hess(x0)
        damping = 1e-3 * max(float(np.mean(np.diag(H0))), np.finfo(float).tiny)
        damped = H0.copy()
        damped[np.diag_indices_from(damped)] += damping
        try:  # (positive definite: H0 is semi-definite)
            step = solve(damped, gradient0, assume_a="pos", overwrite_a=True)
        except LinAlgError:
            step = np.zeros_like(x0)
        radius = max(1.0, float(np.linalg.norm(x0)), float(np.linalg.norm(step)))

        def cached(x):
            return H0 if np.array_equal(x, x0) else hess(x)

        result = minimize(
            fun,
            x0,
            jac=True,
            hess=cached,
            method="trust-exact",
            callback=self._scipy_callback(callback),
            options={
                "maxiter": max_iter,
                "gtol": 0.0 if tol is None else tol,
                "initial_trust_radius": radius,
                "max_trust_radius": max(1000.0, 1000.0 * radius),
            },
        )
        self._begin_step(int(result.nit))
        return result


@OPTIMIZERS.register("sag", variant="sag")
@OPTIMIZERS.register("saga")
class SAGA(Optimizer):
    r"""SAGA (Defazio, Bach & Lacoste-Julien, 2014), or SAG, on minibatches.

    A finite-sum method: it keeps a table of one gradient per training row,
    :math:`a_i`, the derivative of row ``i``'s loss in its raw prediction
    (``n_outputs`` numbers per row, weighted by
    :math:`c_i = n s_i / \sum_j s_j`, so that their mean is the objective's),
    and corrects each minibatch gradient by it. With :math:`\tilde x_i = [x_i,
    1]`, a batch :math:`B_t` of :math:`b` of the :math:`n` training rows and
    :math:`d_i = c_i \nabla_z \ell(y_i, z_i)` at the current :math:`\theta_t`:

    .. math::
        \bar g_t &= \frac1n \sum_{i=1}^n \tilde x_i^\top a_i \\
        g_t &= \beta \sum_{i \in B_t} \tilde x_i^\top (d_i - a_i)
               + \bar g_t + \alpha_2 W_t, \qquad
        a_i \leftarrow d_i \quad (i \in B_t) \\
        \theta_{t+1} &= \operatorname{prox}_{\eta_t \alpha_1
                        \lVert \cdot \rVert_1}(\theta_t - \eta_t g_t)

    with :math:`\beta = 1/b` for SAGA, whose :math:`g_t` is an unbiased
    estimate of the gradient with a variance that vanishes at the optimum,
    so that a constant step converges linearly on strongly convex
    objectives; and :math:`\beta = 1/n` for SAG (Schmidt, Le Roux & Bach,
    2017), whose :math:`g_t` is the table's new mean, biased. The l2 part
    :math:`\alpha_2 W_t` is exact (not in the table), the l1 part a proximal
    step, and the intercept is updated like a coefficient without penalty.
    With ``precondition=True`` all of it runs in the training coordinates.

    Parameters
    ----------
    variant : {"saga", "sag"}, default="saga"
        The registered name ``"sag"`` is ``SAGA(variant="sag")``.

    Notes
    -----
    ``learning_rate_init="auto"`` is :math:`1 / (3 L_b)` for SAGA: the step
    :math:`1 / (3 L)` that Defazio et al. (2014) analyse (it needs no
    knowledge of the strong convexity, to which SAGA adapts), with :math:`L`
    the expected smoothness of a minibatch of :math:`b` of the :math:`n`
    rows (Gazagnadou, Gower & Salmon, 2019),

    .. math::
        L_b = \frac{n (b - 1)}{b (n - 1)} L + \frac{n - b}{b (n - 1)}
              L_{\max} + \alpha_2,

    :math:`L` the largest eigenvalue of the curvature-weighted second moment
    of :math:`\tilde x` (the full batch's smoothness) and :math:`L_{\max}`
    the largest row's curvature (:class:`ProblemScale`'s
    ``batch_smoothness``). That is :math:`1 / (3 L_{\max})` for
    :math:`b = 1`, as in Defazio et al. and scikit-learn, and a gradient
    descent step :math:`1 / (3 L)` for the full batch. (With the trace
    :math:`\bar L \ge L` in place of :math:`L`, the library's
    ``smoothness``, the step was 29 times smaller on the dense benchmark set
    and took 17 epochs to a gap of 1e-6 instead of 5.) SAG's mean of the
    table lags over the :math:`N` steps of an epoch: a mean of the last
    :math:`N` iterates, which a step :math:`\eta` keeps stable while
    :math:`\eta L N` is below about :math:`\pi^2 / 2`; its step is
    :math:`1 / (L_b \max(3, N / 2))` (with SAGA's, minibatch SAG oscillated
    on the dense benchmark set).

    ``batch_size="auto"`` is the optimal mini-batch size of Gazagnadou,
    Gower & Salmon (2019), the batch size that minimizes SAGA's total
    complexity (row gradients to a given accuracy) with the step above,

    .. math::
        b^* = \left\lfloor 1 + \frac{\mu (n - 1)}{4 L} \right\rceil,

    where :math:`L` is the full batch's smoothness (with :math:`\alpha_2`)
    and the strong convexity :math:`\mu` is taken as the l2 strength
    :math:`\alpha_2`, as they do for large problems (the data's own
    curvature is no bound on sparse data: a rare column's is about
    :math:`\alpha_2`). Up to :math:`b^*` the complexity falls with
    :math:`b`; above it, it grows linearly. On the sparse benchmark set
    (80,000 x 100,000 CSR, ~50 non-zeros per row, :math:`\alpha_2 = 10^{-4}`,
    :math:`L = 0.255`) :math:`b^* = 9`, which reaches a gap of 1e-6 in 5
    epochs, against 6 epochs at :math:`b = 1`, 9 at 20, 23 at 50 and more
    than 60 at 200. :math:`b^*` applies where a step costs only its rows'
    non-zeros: the compiled just-in-time steps on CSR ``X``. Every other step
    has a fixed cost (numpy calls, an update of every coefficient), and
    there the batch is at least 200 rows: on the dense benchmark set
    (:math:`b^* = 7`) batches of 7 to 200 rows all take 5 or 6 epochs, but
    7 rows take 4.5 s and 200 rows 0.35 s. SAG keeps 200 rows: its step
    shrinks with the steps per epoch. ``batch_size`` is at most
    :math:`n`.

    ``learning_rate="auto"`` runs this step constant (``default_schedule``).
    At each epoch's end the table's mean, an estimate of the full gradient at
    no cost, decides when to run the convergence check, and the fit stops
    once the gradient is at most ``max(tol, 1e-6)`` of its size at the start,
    as for the full-batch optimizers; there is no stall rule
    (``n_iter_no_change``): a linearly converging objective falls by less
    than ``tol`` per epoch long before the gradient is small.

    The table starts at zero in every ``fit`` (as in Schmidt et al. and
    scikit-learn; starting it at the first iterate's gradients took 9 epochs
    instead of 5 on the dense benchmark set): ``warm_start`` keeps only the
    coefficients. It holds ``n_samples x n_outputs`` numbers in ``X``'s
    dtype, plus a float64 mean of the size of ``coef_``, both freed at the
    end of the fit. Rows come in the training loop's shuffled epochs, each
    row once per epoch (scikit-learn draws them with replacement, which took
    10 epochs instead of 5 there). ``partial_fit`` is unavailable: the table
    belongs to one fit's rows. On sparse ``X`` a step touches only the
    batch's columns (``sparse_mode="exact"``): the others' steps, linear in
    the unchanged mean, are applied when their column next appears, "just
    in time" as in scikit-learn's ``sag_fast``, with the iterates of dense
    steps (not with l1, ``average`` or a schedule that tests gradients,
    whose steps are dense). Those steps run compiled, a whole epoch per
    call, where the kernel is built (``pip install .``). SAGA needs a smooth
    loss: at a kink, a constant step does not converge.

    The update itself, :meth:`step`, is a plain gradient step on the
    estimate :math:`g_t` that the training loop builds from the table;
    ``t_`` counts the steps.

    References
    ----------
    .. [1] A. Defazio, F. Bach and S. Lacoste-Julien, "SAGA: A fast
       incremental gradient method with support for non-strongly convex
       composite objectives", NeurIPS 2014.
    .. [2] N. Gazagnadou, R. M. Gower and J. Salmon, "Optimal mini-batch and
       step sizes for SAGA", ICML 2019 (arXiv:1902.00071).

    Examples
    --------
    SAGA stops by itself near the optimum that Newton's method finds:

    >>> from sklearn.datasets import make_classification
    >>> from sklearn_nnopt import SAGA, LinearNNClassifier
    >>> X, y = make_classification(n_samples=2000, random_state=0)
    >>> saga = LinearNNClassifier(optimizer="saga", alpha=0.01, random_state=0)
    >>> newton = LinearNNClassifier(optimizer="newton", alpha=0.01)
    >>> saga.fit(X, y).n_iter_ < saga.max_iter
    True
    >>> bool(abs(saga.coef_ - newton.fit(X, y).coef_).max() < 0.01)
    True
    >>> saga.optimizer_, hasattr(saga, "partial_fit")
    (SAGA(), False)

    The weight of a batch of 200 of 10,000 rows in the estimate:

    >>> SAGA().batch_coefficient(200, 10_000)
    0.005
    >>> SAGA(variant="sag").batch_coefficient(200, 10_000)
    0.0001
    """

    finite_sum = True
    sparse_mode = "exact"
    default_schedule = "constant"

    def __init__(self, variant="saga"):
        self.variant = variant

    def _validate(self):
        if not (isinstance(self.variant, str) and self.variant in ("saga", "sag")):
            raise ValueError(f"variant must be 'saga' or 'sag'; got {self.variant!r}.")

    #: :meth:`auto_learning_rate` uses ``scale.batch_smoothness``.
    needs_batch_smoothness = True

    #: The batch size of ``batch_size="auto"`` where a step has a fixed cost.
    default_batch_size = 200

    def auto_batch_size(self, n_rows, smoothness, l2, fixed_step_cost=True):
        r"""The batch size of ``batch_size="auto"`` (see Notes).

        Parameters
        ----------
        n_rows : int
            Training rows, :math:`n`.
        smoothness : float
            The full batch's smoothness :math:`L` (the l2 strength included).
        l2 : float
            The l2 strength :math:`\alpha_2`, taken as the strong convexity.
        fixed_step_cost : bool, default=True
            Whether a step costs more than its rows (numpy calls, an update of
            every coefficient): False for the compiled just-in-time steps on
            CSR ``X``.

        Returns
        -------
        int
            SAGA's :math:`b^* = \lfloor 1 + \alpha_2 (n - 1) / (4 L) \rceil`,
            at least :attr:`default_batch_size` with ``fixed_step_cost``; SAG's
            :attr:`default_batch_size`; at most ``n_rows``; all the rows when
            there are at most :attr:`default_batch_size` of them.

        Examples
        --------
        >>> SAGA().auto_batch_size(80_000, 0.2549, 1e-4, fixed_step_cost=False)
        9
        >>> SAGA().auto_batch_size(80_000, 0.2549, 1e-4)
        200
        >>> SAGA().auto_batch_size(150, 0.2549, 1e-4, fixed_step_cost=False)
        150
        """
        b = self.default_batch_size
        if self.variant == "saga" and n_rows > b:
            # Up to default_batch_size rows, "auto" is the full batch for
            # every optimizer: weighted rows and their repetitions then take
            # the same steps (scikit-learn's sample-weight check; with b* = 1
            # on 15 sparse rows neither fit converged and they differed).
            optimal = 1.0 + l2 * (n_rows - 1) / (4.0 * smoothness)
            b = max(round(optimal), 1 if not fixed_step_cost else b)
        return int(min(b, n_rows))

    def auto_learning_rate(self, scale):
        smoothness = scale.tightest_smoothness
        if self.variant == "sag":
            # The mean lags over the epoch's N steps: gamma L N / 2 <= 1.
            return 1.0 / (smoothness * max(3.0, scale.steps_per_epoch / 2)), 1.0
        return 1.0 / (3.0 * smoothness), 1.0

    def batch_coefficient(self, batch_size, n_rows):
        r"""The weight :math:`\beta` of the batch's change in the estimate.

        Parameters
        ----------
        batch_size : int
            Rows in the batch, :math:`b`.
        n_rows : int
            Training rows, :math:`n`.

        Returns
        -------
        float
            :math:`1/b` for SAGA, :math:`1/n` for SAG.
        """
        return 1.0 / (batch_size if self.variant == "saga" else n_rows)

    def _update(self, params, grads, lr, state):
        for p, g in zip(params, grads, strict=True):
            p -= lr * g
        return StepSize(lr)
