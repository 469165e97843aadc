r"""Batch steppers: one training step on one minibatch.

Every stepper implements the same protocol, so that the training loop
(:func:`sklearn_nnopt._training.train`) does not know which one it drives:

- ``step(Xb, Yb, sample_weight_b, lr, rows) -> (loss, weight)``: compute the
  gradient of the objective restricted to the batch, let the optimizer take
  exactly one step (the loop counts steps for the schedule and averaging),
  updating the parameters in place, and return the batch's weighted loss sum
  and weight sum (``sample_weight_b`` is None for equal weights; ``rows``,
  the batch's rows of ``X``, a slice or an index array, is for the steppers
  that keep something per row);
- ``finish()``: end of an epoch (fold any deferred work into the parameters);
- ``gathers``: whether the loop gathers the batch's rows of ``X`` for it
  (False: ``Xb`` is None and the stepper reads ``rows`` of ``X`` itself);
- ``inner``: with ``track=True``, the inner product of the last two steps'
  minibatch gradients, :math:`\langle g_t, g_{t-1} \rangle` (Pflug's
  statistic: positive while the objective falls, negative on average once the
  iterates bounce in the noise; see :class:`~sklearn_nnopt.schedules.Auto`).

:class:`DenseStepper` works on any ``X`` and every optimizer;
:class:`~sklearn_nnopt._sparse.SparseColumnStepper` updates only a CSR
batch's columns; :class:`~sklearn_nnopt._finite_sum.FiniteSumStepper` keeps
the table of per-row gradients of the finite-sum optimizers (SAGA), whose
``full_gradient()`` the loop's convergence test also uses.
:class:`~sklearn_nnopt._kernels.CompiledSparseStepper` runs the column steps
in compiled code where :mod:`sklearn_nnopt._kernels` covers the fit, and
:class:`~sklearn_nnopt._kernels.CompiledDenseStepper` the dense ones.
:func:`make_stepper` picks one. A new stepper implements the two methods and
is returned by :func:`make_stepper` where it applies.
"""

import numpy as np
import scipy.sparse as sp

from . import _kernels
from ._finite_sum import FiniteSumStepper
from ._l1 import CumulativeL1
from ._parameters import one_buffer
from ._sparse import SparseColumnStepper


class DenseStepper:
    """Gradient of the whole ``coef``, then the optimizer's step on all of it.

    With an l1 penalty, the cumulative penalty of
    :class:`~sklearn_nnopt._l1.CumulativeL1` follows each update, by the step
    size the optimizer applied (:class:`~sklearn_nnopt.optimizers.StepSize`).

    Parameters
    ----------
    objective : Objective
    optimizer : Optimizer
    params : Parameters
        Updated in place.
    lr_unit : float, default=1.0
        The unit of the step sizes (``Optimizer.auto_learning_rate``).
    track : bool, default=False
        Keep ``inner``, the last two gradients' inner product.
    """

    gathers = True

    def __init__(self, objective, optimizer, params, lr_unit=1.0, track=False):
        self.objective, self.optimizer, self.lr_unit = objective, optimizer, lr_unit
        self.params = params
        grad_buffer, self.grads = one_buffer(*(np.empty_like(p) for p in params.arrays))
        self.flat = (params.buffer, grad_buffer)
        self.previous = np.zeros_like(grad_buffer) if track else None
        self.inner = 0.0
        self.l1 = CumulativeL1(objective, params.coef) if objective.l1 else None

    def step(self, Xb, Yb, sample_weight_b, lr, rows=None):
        """One step on a batch; returns its weighted loss sum and weight sum."""
        objective, params = self.objective, self.params
        batch_loss, batch_weight = objective.batch(
            Xb, Yb, sample_weight_b, params.coef, params.intercept, self.grads
        )
        if self.previous is not None:
            grad = self.flat[1]
            self.inner = float(np.dot(grad, self.previous))
            self.previous[...] = grad
        step_size = self.optimizer.step(
            params.arrays, self.grads, lr, flat=self.flat, lr_unit=self.lr_unit
        )
        if self.l1 is not None:
            self.l1.apply(params.coef, step_size.for_coef(params.coef), lr)
        return batch_loss, batch_weight

    def finish(self):
        """Nothing is deferred."""


def make_stepper(
    data, objective, optimizer, params, *, averaging, lr_unit=1.0, track=False
):
    """The stepper for this data, objective and optimizer.

    Column steps on sparse ``X`` where the optimizer's ``sparse_mode`` allows
    them (with l1, the penalty just in time: :class:`~sklearn_nnopt._l1.
    LazyCumulativeL1`) and neither averaging (which
    reads every coefficient each step) nor preconditioning (whose centering
    moves every coefficient) needs every coefficient each step. A
    finite-sum optimizer gets its table's stepper, with just-in-time column
    steps under the same conditions (and no ``track``).

    Parameters
    ----------
    data : TrainingData
    objective : Objective
    optimizer : Optimizer
    params : Parameters
    averaging : bool
    lr_unit : float, default=1.0
    track : bool, default=False
        Keep ``inner`` (Pflug's statistic) up to date.

    Returns
    -------
    DenseStepper, CompiledDenseStepper, SparseColumnStepper, CompiledSparseStepper
    or FiniteSumStepper
    """
    columns = (
        sp.issparse(data.X)
        and optimizer.sparse_mode != "dense"
        and not averaging
        and objective.preconditioner is None
    )
    if getattr(optimizer, "finite_sum", False):
        lazy = (
            columns
            and not objective.l1
            and optimizer.sparse_mode == "exact"
            and not track
        )
        return FiniteSumStepper(
            data, objective, optimizer, params, lr_unit, track, lazy=lazy
        )
    if columns:
        # The compiled kernel where it covers the fit (the numpy stepper is its
        # reference); it checks the penalty, loss and optimizer itself.
        compiled = _kernels.sparse_stepper(
            data, objective, optimizer, params, averaging=averaging, track=track
        )
        if compiled is not None:
            return compiled
        return SparseColumnStepper(
            data.X, data.n_train, data.batch_size, objective, optimizer, params, track
        )
    compiled = _kernels.dense_stepper(
        data,
        objective,
        optimizer,
        params,
        averaging=averaging,
        track=track,
        lr_unit=lr_unit,
    )
    if compiled is not None:
        return compiled
    return DenseStepper(objective, optimizer, params, lr_unit, track)
