r"""Compiled training kernels (Cython), and the fits they cover.

:func:`sparse_stepper` is the dispatch of :func:`sklearn_nnopt._steppers.make_stepper`
on CSR data: it returns a :class:`CompiledSparseStepper`, whose minibatch step
is one call of the compiled loop of ``_sparse_sgd.pyx`` (no per-batch numpy
calls, no gathered copy of the batch's rows, the GIL released; a fit's epoch
is one call, :meth:`CompiledSparseStepper.run_epoch`), where the
kernel covers the fit, and None elsewhere, where the numpy
:class:`~sklearn_nnopt._sparse.SparseColumnStepper` runs (the reference the
kernel is tested against, step for step). :func:`unsupported` says why a fit
is not covered.

Covered: CSR ``X`` in float32 or float64 (int32 or int64 indices), one or
several output columns (binary and multiclass classification: the softmax of
``log_loss``, one-vs-rest margins; one or several regression targets), the
losses ``log_loss``, ``hinge``, ``squared_hinge``, ``modified_huber``,
``perceptron``, ``squared_error``, ``absolute_error``, ``huber``,
``epsilon_insensitive``, ``squared_epsilon_insensitive``, ``quantile`` and
``poisson`` (exactly these classes, not subclasses; a multilabel fit's
per-label wrapper is not covered), the optimizers plain ``SGD``
(``momentum=0``), ``Adam`` (``lazy=True``, with or without ``amsgrad``) and
``ScheduleFreeAdamW`` (``lazy=True``, ``weight_decay=0``), penalty ``"l2"`` or
None, no preconditioning, no averaging.

A source tree that was not built (``import sklearn_nnopt`` from a clone
without ``pip install .``) has no compiled module: :data:`AVAILABLE` is then
False and every fit runs the numpy steppers.

:func:`dense_stepper` is the same dispatch on dense ``X``: a
:class:`CompiledDenseStepper` (``_dense_sgd.pyx``: the steps of the numpy
:class:`~sklearn_nnopt._steppers.DenseStepper`, its reference, for plain SGD,
SGD with momentum and Adam, with or without the preconditioner, an epoch per
call), where :func:`dense_unsupported` finds nothing it lacks.

``_fused_loss`` is the dense losses' fused ``loss_gradient`` (``log_loss``,
``squared_error``, ``squared_hinge``, ``modified_huber``, ``poisson``,
``huber``), which those classes of :mod:`sklearn_nnopt.losses` call first
(``losses._fused_loss_gradient``) when it is built and :data:`ENABLED`; it
serves every path that evaluates a loss on a dense raw prediction (L-BFGS's
objective above all). ``_saga`` runs a whole epoch of SAGA/SAG's
just-in-time steps on CSR ``X`` (:class:`~sklearn_nnopt._finite_sum.FiniteSumStepper`
calls it). ``_common.pxd`` holds what they share: the number types, the
prefetch hint, ``_exp``, a CSR row's prefetch, an array's address and
Adam's coordinate update (``_adam_scalars``, ``_adam_coordinate``);
``_row_loss.pxd`` the per-row losses and softmax of the two minibatch
kernels.
"""

import numpy as np
import scipy.sparse as sp

from .._sparse import LazyScheduleFree, _column_counts, batch_presence
from ..losses import (
    AbsoluteError,
    EpsilonInsensitive,
    Hinge,
    Huber,
    LogLoss,
    ModifiedHuber,
    Perceptron,
    Poisson,
    Quantile,
    SquaredEpsilonInsensitive,
    SquaredError,
    SquaredHinge,
    _log_tiny,
)
from ..optimizers import SGD, Adam, OptimizerState, ScheduleFreeAdamW

try:
    from . import _dense_sgd, _sparse_sgd
except ImportError:  # not built: the numpy steppers run
    _sparse_sgd = _dense_sgd = None

#: Whether the compiled kernels were built and imported.
AVAILABLE = _sparse_sgd is not None

#: Set to False to run the numpy steppers everywhere (tests, benchmarks).
ENABLED = True

# Each loss class the kernel has, by its name there, and its parameter.
_LOSSES = {
    LogLoss: ("log_loss", None),
    Hinge: ("hinge", None),
    SquaredError: ("squared_error", None),
    AbsoluteError: ("absolute_error", None),
    Huber: ("huber", "delta"),
    EpsilonInsensitive: ("epsilon_insensitive", "epsilon"),
    SquaredEpsilonInsensitive: ("squared_epsilon_insensitive", "epsilon"),
    Quantile: ("quantile", "quantile"),
    Poisson: ("poisson", None),
    SquaredHinge: ("squared_hinge", None),
    ModifiedHuber: ("modified_huber", None),
    Perceptron: ("perceptron", None),
}
#: The optimizer classes the kernel steps (exactly these, not subclasses).
COVERED_OPTIMIZERS = (SGD, Adam, ScheduleFreeAdamW)
#: Those the dense kernel steps (exactly these, not subclasses).
DENSE_COVERED_OPTIMIZERS = (SGD, Adam, ScheduleFreeAdamW)
_ADAM_STATE = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")
_SCHEDULE_FREE_STATE = ("exp_avg_sq", "z", "x")


def unsupported(data, objective, optimizer, params, averaging=False):
    """Why the compiled sparse kernel does not cover a fit; None if it does.

    Parameters
    ----------
    data : TrainingData
    objective : Objective
    optimizer : Optimizer
    params : Parameters
    averaging : bool, default=False

    Returns
    -------
    str or None
    """
    if not AVAILABLE:
        return "the compiled kernels are not built (pip install .)"
    if not ENABLED:
        return "the compiled kernels are disabled (_kernels.ENABLED)"
    X = data.X
    if not sp.issparse(X) or X.format != "csr":
        return "X is not CSR"
    dtype = params.buffer.dtype
    if X.dtype != dtype or dtype not in (np.float32, np.float64):
        return f"X is {X.dtype} and the parameters {dtype}"
    if X.indices.dtype not in (np.int32, np.int64) or X.indptr.dtype != X.indices.dtype:
        return "CSR indices are not int32 or int64"
    if params.coef.shape[0] != data.Y.shape[1]:
        return "targets and coefficients of different widths"
    if type(objective.loss) not in _LOSSES:
        return f"loss {type(objective.loss).__name__}"
    if objective.l1:
        return "an l1 penalty"
    if objective.preconditioner is not None:
        return "preconditioning"
    if averaging:
        return "averaging"
    if type(optimizer) not in COVERED_OPTIMIZERS:
        return f"optimizer {type(optimizer).__name__}"
    if type(optimizer) is SGD:
        if optimizer.momentum != 0:
            return "SGD with momentum"
    else:  # Adam, ScheduleFreeAdamW
        if optimizer.sparse_mode != "lazy":
            return f"{type(optimizer).__name__} with lazy=False" + (
                " or a weight_decay" if type(optimizer) is ScheduleFreeAdamW else ""
            )
        names = _ADAM_STATE if type(optimizer) is Adam else _SCHEDULE_FREE_STATE
        return _flat_state(optimizer, names, params)
    return None


def _dense_rows(X):
    """Whether the dense kernels' passes read ``X`` (C-contiguous float32 or
    float64 rows; they do not depend on :data:`ENABLED`, which selects the
    steppers: a fit's set-up is the same either way)."""
    return (
        AVAILABLE
        and isinstance(X, np.ndarray)
        and X.ndim == 2
        and X.flags.c_contiguous
        and X.dtype in (np.float32, np.float64)
    )


def column_moments(X, weights):
    """Weighted column means and variances of ``X`` in compiled passes over
    its rows (``_dense_sgd.column_moments``) or non-zeros
    (``_sparse_sgd.column_moments``, CSR with canonical indices), or None
    where they do not apply."""
    weights = np.ascontiguousarray(weights, np.float64)
    if _dense_rows(X):
        return _dense_sgd.column_moments(X, weights)
    if (
        AVAILABLE
        and sp.issparse(X)
        and X.format == "csr"
        and X.dtype in (np.float32, np.float64)
        and X.indices.dtype == X.indptr.dtype
    ):
        if not X.has_canonical_format:
            # Duplicate entries of a cell add up: the deviations are the
            # sums'. (scikit-learn's mean_variance_axis counts each entry
            # apart: a column of one 3.0 stored as 1.0 + 2.0 got the spread
            # 0.31 instead of 0.42.) A copy, for such rare input only.
            X = X.copy()
            X.sum_duplicates()
        # (scikit-learn's mean_variance_axis: 22 ms on the 80,000 x 100,000
        # tf-idf set, where these two passes take 13.)
        return _sparse_sgd.column_moments(
            X.data, X.indices, X.indptr, X.shape[1], weights
        )
    return None


def scaled_row_norms(X, mean, inv_scale):
    """Squared norms of the rows of ``(X - mean) * inv_scale`` in one compiled
    pass (``_dense_sgd.scaled_row_norms``), or None where it does not apply."""
    if not _dense_rows(X):
        return None
    return _dense_sgd.scaled_row_norms(X, mean, inv_scale)


def _flat_state(optimizer, names, params):
    """Why ``names`` of the optimizer's state are not one flat buffer shaped
    and typed as the parameters' (None if they are, or do not exist yet)."""
    state = optimizer.__dict__.get("state_")
    for name in names:
        buffers = state.values.get(name) if state is not None else None
        if buffers is not None and (
            len(buffers) != 1
            or buffers[0].shape != params.buffer.shape
            or buffers[0].dtype != params.buffer.dtype
            or not buffers[0].flags.c_contiguous
        ):
            return f"{type(optimizer).__name__}'s state is not one flat buffer"
    return None


def dense_unsupported(data, objective, optimizer, params, averaging=False):
    """Why the compiled dense kernel does not cover a fit; None if it does.

    Covered: a C-contiguous ``X`` (ndarray) of the parameters' dtype, float32
    or float64; the losses of the sparse kernel; plain SGD, SGD with
    (Nesterov) momentum, Adam (with or without ``amsgrad``; ``lazy`` does
    not apply to dense ``X``) and Schedule-Free AdamW (any ``weight_decay``);
    penalty ``"l2"`` or None; with or without the preconditioner; no
    averaging.

    Returns
    -------
    str or None
    """
    if not AVAILABLE:
        return "the compiled kernels are not built (pip install .)"
    if not ENABLED:
        return "the compiled kernels are disabled (_kernels.ENABLED)"
    X = data.X
    if not isinstance(X, np.ndarray) or X.ndim != 2 or not X.flags.c_contiguous:
        return "X is not a C-contiguous ndarray"
    dtype = params.buffer.dtype
    if X.dtype != dtype or dtype not in (np.float32, np.float64):
        return f"X is {X.dtype} and the parameters {dtype}"
    if params.coef.shape[0] != data.Y.shape[1]:
        return "targets and coefficients of different widths"
    if type(objective.loss) not in _LOSSES:
        return f"loss {type(objective.loss).__name__}"
    if objective.l1:
        return "an l1 penalty"
    if averaging:
        return "averaging"
    if type(optimizer) not in DENSE_COVERED_OPTIMIZERS:
        return f"optimizer {type(optimizer).__name__}"
    names = {
        SGD: ("momentum_buffer",),
        Adam: _ADAM_STATE,
        ScheduleFreeAdamW: _SCHEDULE_FREE_STATE,
    }[type(optimizer)]
    return _flat_state(optimizer, names, params)


def dense_stepper(
    data, objective, optimizer, params, *, averaging=False, track=False, lr_unit=1.0
):
    """A :class:`CompiledDenseStepper` where it covers the fit, else None."""
    if dense_unsupported(data, objective, optimizer, params, averaging) is not None:
        return None
    return CompiledDenseStepper(data, objective, optimizer, params, track, lr_unit)


def sparse_stepper(data, objective, optimizer, params, *, averaging=False, track=False):
    """A :class:`CompiledSparseStepper` where it covers the fit, else None."""
    if unsupported(data, objective, optimizer, params, averaging) is not None:
        return None
    return CompiledSparseStepper(data, objective, optimizer, params, track)


class CompiledSparseStepper:
    """Minibatch steps of the compiled kernel on CSR rows (a batch stepper).

    The iterates of :class:`~sklearn_nnopt._sparse.SparseColumnStepper`
    (exactly, up to rounding): plain SGD's l2 shrinkage as a global scale,
    Adam's and Schedule-Free AdamW's lazy steps of the batch's columns with
    the l2 gradient divided by the probability that a batch holds the
    column (Schedule-Free AdamW's in the coordinates of
    :class:`~sklearn_nnopt._sparse.LazyScheduleFree`, which keeps their
    bookkeeping). It reads the batch's rows of ``X`` itself
    (``gathers = False``).

    Parameters
    ----------
    data : TrainingData
    objective : Objective
    optimizer : SGD, Adam or ScheduleFreeAdamW
        Its state is updated in place (``t_`` counts the steps).
    params : Parameters
        Updated in place.
    track : bool, default=False
        Keep ``inner``, the last two gradients' inner product.
    """

    gathers = False
    #: The training loop runs whole epochs through :meth:`run_epoch`.
    runs_epochs = True

    def __init__(self, data, objective, optimizer, params, track=False):
        self.optimizer = optimizer
        self.inner = 0.0
        X, theta = data.X, params.buffer
        n_features = X.shape[1]
        lazy = type(optimizer) in (Adam, ScheduleFreeAdamW)
        self.sequences = None
        m = v = vmax = penalty_weight = None
        beta_1 = beta_2 = epsilon = 0.0
        amsgrad = False
        mode = _sparse_sgd.MODE_EXACT
        if type(optimizer) is Adam:
            mode = _sparse_sgd.MODE_LAZY
            state = optimizer.__dict__.get("state_")
            if state is None:
                state = optimizer.state_ = OptimizerState()
            names = _ADAM_STATE if optimizer.amsgrad else _ADAM_STATE[:2]
            m, v, *rest = (
                state.values.setdefault(name, [np.zeros_like(theta)])[0]
                for name in names
            )
            vmax = rest[0] if rest else None
            amsgrad = optimizer.amsgrad
        elif lazy:
            mode = _sparse_sgd.MODE_SCHEDULE_FREE
            self.sequences = LazyScheduleFree(optimizer, theta)
        if lazy:
            beta_1, beta_2 = optimizer.beta_1, optimizer.beta_2
            epsilon = optimizer.epsilon
            if objective.l2:
                # As SparseColumnStepper: alpha / p_j, p_j the probability
                # that a batch holds column j.
                counts = _column_counts(X.indices, n_features)
                if data.n_train != X.shape[0]:  # early stopping holds rows out
                    counts = counts * (data.n_train / X.shape[0])
                penalty_weight = batch_presence(counts, data.n_train, data.batch_size)
                del counts  # (not to be alive with the kernel's arrays)
                with np.errstate(divide="ignore"):
                    np.divide(objective.l2, penalty_weight, out=penalty_weight)
        name, param = _LOSSES[type(objective.loss)]
        self._arguments = [
            X,
            data.Y,
            data.sample_weight,
            theta,
            objective.fit_intercept,
            _sparse_sgd.LOSSES[name],
            0.0 if param is None else float(getattr(objective.loss, param)),
            mode,
            float(objective.l2),
            float(_log_tiny(theta.dtype)),
            float(beta_1),
            float(beta_2),
            float(epsilon),
            bool(amsgrad),
            m,
            v,
            vmax,
            penalty_weight,
            bool(track),
            data.batch_size,
        ]
        self.kernel = None
        if self.sequences is None or self.sequences.zw is not None:
            self._build()

    def _build(self):
        """The kernel, once its arrays exist (Schedule-Free AdamW's ``z`` and
        ``x`` start as copies of the parameters at its first step, as in the
        numpy steppers: not before the estimator sets the training point)."""
        extra = {}
        if self.sequences is not None:
            self._arguments[15] = self.optimizer.state_.values["exp_avg_sq"][0]  # v
            extra = dict(sf_zw=self.sequences.zw)
        self.kernel = _sparse_sgd.SparseKernel(*self._arguments, **extra)

    def step(self, Xb, Yb, swb, lr, rows=None):
        """One step on the rows ``rows`` of ``X``; returns (loss sum, weight sum).

        ``Xb`` and ``Yb`` are not read: the kernel reads ``rows`` of the
        training data; ``swb`` is None for equal weights.
        """
        if rows is None:
            raise ValueError("CompiledSparseStepper steps on rows of X (rows=None).")
        if not isinstance(rows, slice):
            rows = np.ascontiguousarray(rows, dtype=np.intp)
        sequences = self.sequences
        if sequences is None:
            t = self.optimizer._begin_step().step
            loss, weight, self.inner = self.kernel.step(rows, lr, swb is not None, t)
            return loss, weight
        # Schedule-Free AdamW: the step's scalars (LazyScheduleFree.step's),
        # its state created as the numpy steps create it.
        state, lr, ckp1 = sequences.begin_step(lr)
        if self.kernel is None:
            self._build()
        t, product = state.step, sequences.product
        loss, weight, self.inner = self.kernel.step(
            rows,
            lr,
            swb is not None,
            t,
            1 - self.optimizer.beta_2**t,
            self.optimizer.beta_1 * product,
            1.0 / product,
        )
        sequences.after_step(ckp1)
        return loss, weight

    def run_epoch(self, order, starts, stops, rates, weighted):
        """An epoch's steps in one call of the kernel (see
        :meth:`sklearn_nnopt._finite_sum.FiniteSumStepper.run_epoch`): the
        iterates of :meth:`step` on each batch in turn, without a Python
        call per batch.

        Returns
        -------
        losses, weights : ndarray of float64
            Each batch's weighted loss sum and weight sum; ``inner`` is then
            each step's Pflug inner product (an array).
        """
        n_steps = len(rates)
        losses, weights, inners = _epoch_outputs(n_steps)
        opt, sequences = self.optimizer, self.sequences
        state = opt._begin_step(0)
        averaging = {}
        if sequences is not None:
            sequences.create_state(state)
            averaging = dict(
                warmup_steps=opt.warmup_steps,
                r=float(opt.r),
                weight_lr_power=float(opt.weight_lr_power),
                lr_max=state.values.get("lr_max", -1.0),
                weight_sum=state.values.get("weight_sum", 0.0),
                product=sequences.product,
                min_product=sequences.MIN_PRODUCT,
            )
        if self.kernel is None:
            self._build()
        result = self.kernel.run(
            order,
            np.asarray(starts, dtype=np.intp),
            np.asarray(stops, dtype=np.intp),
            np.asarray(rates, dtype=np.float64),
            weighted,
            state.step,
            losses,
            weights,
            inners,
            **averaging,
        )
        state.step += n_steps
        if sequences is not None and n_steps:
            state.values["lr_max"], state.values["weight_sum"], sequences.product = (
                result
            )
        self.inner = inners
        return losses, weights

    def finish(self):
        """Fold the global scale into the coefficients; the schedule-free
        sequences and parameters from their lazy form (end of an epoch)."""
        sequences = self.sequences
        if sequences is not None and sequences.zw is not None:
            # LazyScheduleFree.finish, in one compiled pass.
            values = self.optimizer.state_.values
            self.kernel.finish_schedule_free(
                values["z"][0], values["x"][0], sequences.product, self.optimizer.beta_1
            )
            sequences.product = 1.0
        elif self.kernel is not None:
            self.kernel.fold()


def _epoch_outputs(n_steps):
    return tuple(np.empty(n_steps) for _ in range(3))


class CompiledDenseStepper:
    """Minibatch steps of the compiled kernel on dense rows (a batch stepper).

    The iterates of :class:`~sklearn_nnopt._steppers.DenseStepper` (exactly,
    up to the order of summation) for the fits :func:`dense_unsupported`
    covers, without a gathered copy of the batch (``gathers = False``) and
    with an epoch in one call (:meth:`run_epoch`).

    Parameters
    ----------
    data : TrainingData
    objective : Objective
    optimizer : SGD, Adam or ScheduleFreeAdamW
        Its state is updated in place (``t_`` counts the steps).
    params : Parameters
        Updated in place.
    track : bool, default=False
        Keep ``inner``, the last two gradients' inner product.
    lr_unit : float, default=1.0
        The unit of the step sizes (Schedule-Free AdamW's decay is
        ``weight_decay / lr_unit``, as its ``step``).
    """

    gathers = False
    runs_epochs = True

    def __init__(self, data, objective, optimizer, params, track=False, lr_unit=1.0):
        self.optimizer = optimizer
        self.inner = 0.0
        self.theta = theta = params.buffer
        state = optimizer.__dict__.get("state_")
        if state is None:
            state = optimizer.state_ = OptimizerState()

        def buffer(name):  # the state's flat buffer, created as numpy's steps do
            return state.values.setdefault(name, [np.zeros_like(theta)])[0]

        m = v = vmax = None
        momentum = beta_1 = beta_2 = epsilon = decay = 0.0
        nesterov = amsgrad = False
        self.schedule_free = type(optimizer) is ScheduleFreeAdamW
        if type(optimizer) is SGD:
            code = _dense_sgd.OPTIMIZER_SGD
            momentum, nesterov = float(optimizer.momentum), bool(optimizer.nesterov)
            if momentum:
                m = buffer("momentum_buffer")
        elif self.schedule_free:
            code = _dense_sgd.OPTIMIZER_SCHEDULE_FREE
            beta_1, beta_2 = float(optimizer.beta_1), float(optimizer.beta_2)
            epsilon = float(optimizer.epsilon)
            decay = float(optimizer.weight_decay) / lr_unit
        else:
            code = _dense_sgd.OPTIMIZER_ADAM
            names = _ADAM_STATE if optimizer.amsgrad else _ADAM_STATE[:2]
            m, v, *rest = (buffer(name) for name in names)
            vmax = rest[0] if rest else None
            beta_1, beta_2 = float(optimizer.beta_1), float(optimizer.beta_2)
            epsilon, amsgrad = float(optimizer.epsilon), bool(optimizer.amsgrad)
        pre = objective.preconditioner
        name, param = _LOSSES[type(objective.loss)]
        self._arguments = dict(
            X=data.X,
            y=data.Y,
            sample_weight=data.sample_weight,
            theta=theta,
            fit_intercept=objective.fit_intercept,
            loss=_sparse_sgd.LOSSES[name],
            loss_param=0.0 if param is None else float(getattr(objective.loss, param)),
            log_tiny=float(_log_tiny(theta.dtype)),
            optimizer=code,
            l2=float(objective.l2),
            momentum=momentum,
            nesterov=nesterov,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            amsgrad=amsgrad,
            m=m,
            v=v,
            vmax=vmax,
            inv_scale=None if pre is None else pre.inv_scale,
            mean=None if pre is None else pre.mean,
            track=bool(track),
            batch_size=data.batch_size,
            decay=decay,
            n_decayed=params.coef.size,
        )
        self.kernel = None
        if not self.schedule_free:
            self.kernel = _dense_sgd.DenseKernel(**self._arguments)

    def _schedule_free_kernel(self, state):
        """The kernel, once Schedule-Free AdamW's sequences exist: ``z`` and
        ``x`` start as copies of the parameters at its first step, as in the
        numpy steps (not before: the training loop's ``to_train`` would
        otherwise recompute the parameters from them, with its rounding)."""
        if self.kernel is None:
            theta = self.theta
            values = state.values
            for name in _SCHEDULE_FREE_STATE:
                fill = [np.zeros_like(theta)] if name == "exp_avg_sq" else None
                values.setdefault(name, fill or [theta.copy()])
            self.kernel = _dense_sgd.DenseKernel(
                **dict(
                    self._arguments,
                    v=values["exp_avg_sq"][0],
                    sf_z=values["z"][0],
                    sf_x=values["x"][0],
                )
            )
        return self.kernel

    def step(self, Xb, Yb, swb, lr, rows=None):
        """One step on the rows ``rows`` of ``X``; returns (loss sum, weight sum).

        ``Xb`` and ``Yb`` are not read: the kernel reads ``rows`` of the
        training data; ``swb`` is None for equal weights.
        """
        if rows is None:
            raise ValueError("CompiledDenseStepper steps on rows of X (rows=None).")
        if not isinstance(rows, slice):
            rows = np.ascontiguousarray(rows, dtype=np.intp)
        state = self.optimizer._begin_step()
        ckp1 = 0.0
        kernel = self.kernel
        if self.schedule_free:
            # ScheduleFreeAdamW._rule's scalars: the warmed-up step, c_t.
            lr, ckp1 = self.optimizer._coefficients(lr, state)
            kernel = self._schedule_free_kernel(state)
        loss, weight, self.inner = kernel.step(
            rows, lr, swb is not None, state.step, ckp1
        )
        return loss, weight

    def run_epoch(self, order, starts, stops, rates, weighted):
        """An epoch's steps in one call of the kernel: the iterates of
        :meth:`step` on each batch in turn (see
        :meth:`CompiledSparseStepper.run_epoch`)."""
        n_steps = len(rates)
        losses, weights, inners = _epoch_outputs(n_steps)
        state = self.optimizer._begin_step(0)
        t0 = state.step
        rates = np.asarray(rates, dtype=np.float64)
        averaging = None
        kernel = self.kernel
        if self.schedule_free:
            # Each step's warmed-up rate and c_t, as ScheduleFreeAdamW._rule
            # computes them (its scalars; the arrays' work is compiled).
            rates, averaging = rates.copy(), np.empty(n_steps)
            for i in range(n_steps):
                state.step = t0 + i + 1
                rates[i], averaging[i] = self.optimizer._coefficients(rates[i], state)
            state.step = t0
            if n_steps:
                kernel = self._schedule_free_kernel(state)
        if n_steps:
            kernel.run(
                order,
                np.asarray(starts, dtype=np.intp),
                np.asarray(stops, dtype=np.intp),
                rates,
                weighted,
                t0,
                losses,
                weights,
                inners,
                averaging,
            )
        state.step = t0 + n_steps
        self.inner = inners
        return losses, weights

    def finish(self):
        """Nothing is deferred."""
