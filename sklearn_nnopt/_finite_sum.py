r"""Batch steps of the finite-sum optimizers: a table of per-row gradients.

A finite-sum optimizer (``optimizer.finite_sum``, :class:`~sklearn_nnopt.SAGA`)
corrects each minibatch gradient with a table that holds, for every training
row, the last derivative of its loss in its raw prediction. For a linear
model that is ``n_outputs`` numbers per row: the gradient in the parameters
is :math:`\tilde x_i^\top a_i`, :math:`\tilde x_i = [x_i, 1]`. So
:class:`FiniteSumStepper` needs what the other steppers do not: the batch's
row indices (the training loop passes them to every stepper) and the per-row
gradients before they are multiplied by ``X``
(:meth:`~sklearn_nnopt.losses.Loss.loss_gradient`), and it multiplies by
``X`` once per step, the batch's change of the table:

.. math::
    \Delta_B = \sum_{i \in B} \tilde x_i^\top (d_i - a_i), \qquad
    g = \beta \Delta_B + \bar g + \alpha_2 W, \qquad
    \bar g \leftarrow \bar g + \Delta_B / n,

with :math:`d_i` the row's new gradient times :math:`c_i = n s_i / \sum s`
(so that the weighted mean loss is exact), :math:`\bar g` the table's mean
(dense, float64, in the user's coordinates; the preconditioner's chain rule
and the l2 term are applied to :math:`g` by
:meth:`~sklearn_nnopt._objective.Objective.finish_gradient`) and
:math:`\beta` the optimizer's ``batch_coefficient``. The optimizer then takes
its step on :math:`g` (and the l1 proximal step follows, as in
:class:`~sklearn_nnopt._steppers.DenseStepper`).

On CSR ``X`` (no l1, averaging or preconditioner, which need every
coefficient each step) the steps are "just in time", as in scikit-learn's
``sag_fast``: a column absent from the batch moves by
:math:`-\eta_t (\bar g_j + \alpha_2 w_j)` per step with :math:`\bar g_j`
unchanged, which the global scale :math:`W = s U` of the l2 shrinkage and a
running sum :math:`C = \sum_t \eta_t / s_t` turn into one update when the
column next appears (or at the end of the epoch): the iterates of the dense
steps, at a cost per step of the batch's non-zeros.

Those steps run compiled where the kernel is built
(``sklearn_nnopt._kernels._saga``): :class:`FiniteSumStepper` then runs
the batches of a whole epoch in one call (:meth:`FiniteSumStepper.run_epoch`,
which the training loop prefers when ``runs_epochs``), the loss's derivative
inline for the smooth losses the kernel knows and through the loss's own
``loss_gradient``, once per batch, for any other. The numpy steps stay as
their reference (tests/test_saga_kernel.py) and as the fallback where the
kernel is not built or :data:`COMPILED` is False.

The table lives for one ``fit`` (the fitted optimizer does not carry it).
"""

import numpy as np
import scipy.sparse as sp

from ._parameters import one_buffer
from ._sparse import _MIN_SCALE
from .losses import (
    Huber,
    LogLoss,
    ModifiedHuber,
    Poisson,
    SquaredEpsilonInsensitive,
    SquaredError,
    SquaredHinge,
    _log_tiny,
    targets_for,
)
from .optimizers import SAGA

try:
    from ._kernels import _saga
except ImportError:  # not built (a source tree): the numpy steps run
    _saga = None

#: Set to False to run the numpy just-in-time steps (the kernel's reference).
COMPILED = True

# The losses whose derivative the kernel computes inline (exactly these
# classes: a subclass may redefine the loss), by its name there, and their
# parameter; any other smooth loss is called back once per batch.
_INLINE = {
    LogLoss: ("log_loss", None),
    SquaredError: ("squared_error", None),
    Huber: ("huber", "delta"),
    SquaredEpsilonInsensitive: ("squared_epsilon_insensitive", "epsilon"),
    Poisson: ("poisson", None),
    SquaredHinge: ("squared_hinge", None),
    ModifiedHuber: ("modified_huber", None),
}


def compiled_available():
    """Whether the compiled just-in-time steps are built and switched on."""
    from . import _kernels

    return _saga is not None and COMPILED and _kernels.ENABLED


class FiniteSumStepper:
    """Steps of a finite-sum optimizer on any ``X`` (a batch stepper).

    Parameters
    ----------
    data : TrainingData
    objective : Objective
    optimizer : Optimizer
        With ``finite_sum`` and ``batch_coefficient(batch_size, n_rows)``.
    params : Parameters
        Updated in place.
    lr_unit : float, default=1.0
    track : bool, default=False
        Keep ``inner``, the last two steps' gradient estimates' inner product.
    lazy : bool, default=False
        Just-in-time steps on CSR ``X`` (requires ``sparse_mode="exact"``,
        no l1, no averaging, no preconditioner, no ``track``); compiled
        where the kernel covers the fit (:meth:`compiled_kernel`).

    Attributes
    ----------
    table : ndarray of shape (n_samples, n_outputs)
        Each row's last gradient in its raw prediction, times ``c_i``
        (indexed like ``X``'s rows; held-out rows stay zero).
    mean : list of ndarray
        :math:`\\bar g` as ``[dW, db]`` in the user's coordinates (float64).
    kernel : SagaKernel or None
        The compiled just-in-time steps, if they run.
    runs_epochs : bool
        Whether :meth:`run_epoch` runs (the compiled kernel): the training
        loop then hands it each epoch's batches at once.
    """

    def __init__(
        self, data, objective, optimizer, params, lr_unit=1.0, track=False, lazy=False
    ):
        self.objective, self.optimizer, self.params = objective, optimizer, params
        self.lr_unit, self.lazy = lr_unit, lazy
        sw = data.sample_weight
        self.n = data.n_train
        train_weight = float(
            np.sum(sw if data.rows is None else sw[data.rows], dtype=np.float64)
        )
        # c_i = n s_i / sum(s) over the training rows.
        self.row_factor = self.n / train_weight
        W, b = params.coef, params.intercept
        dtype = W.dtype
        self.table = np.zeros((data.X.shape[0], W.shape[0]), dtype=dtype)
        self.mean = [np.zeros(W.shape), np.zeros(b.shape)][: len(params.arrays)]
        # The batch's X^T (d - a) in the user's coordinates, and the estimate.
        self.product = [np.empty_like(p) for p in params.arrays]
        grad_buffer, self.grads = one_buffer(*(np.empty_like(p) for p in params.arrays))
        self.flat = (params.buffer, grad_buffer)
        self.previous = np.zeros_like(grad_buffer) if track else None
        self.inner = 0.0
        self.gathers = not lazy
        self.kernel = None
        if lazy:
            self.X = data.X
            n_outputs, n_features = W.shape
            self.slot = np.empty(n_features, dtype=np.intp)
            self.mean_flat = self.mean[0].reshape(-1)  # a view
            self.scale = 1.0  # W = scale * (what params.coef holds)
            self.pending = 0.0  # C: the sum of lr_t / scale_t since the last fold
            self.caught_up = np.zeros(n_features)  # C when each column last moved
            self.output_offsets = np.arange(n_outputs)[:, None] * n_features
            self.intercept_index = W.size + np.arange(
                b.size if objective.fit_intercept else 0
            )
            self.kernel = self.compiled_kernel(data)
        self.runs_epochs = self.kernel is not None

    def compiled_kernel(self, data):
        """The compiled just-in-time steps for this fit, or None (numpy steps).

        None where the kernel is not built or is switched off
        (:data:`COMPILED`, ``_kernels.ENABLED``), for an optimizer other than
        :class:`~sklearn_nnopt.SAGA` itself (a subclass may change its
        update), or data the kernel does not take (X not CSR with int32 or
        int64 indices, or not in the parameters' float32 or float64).
        """
        X, W = data.X, self.params.coef
        dtype = W.dtype
        if (
            not compiled_available()
            or type(self.optimizer) is not SAGA
            or not (sp.issparse(X) and X.format == "csr")
            or X.dtype != dtype
            or dtype not in (np.float32, np.float64)
            or X.indices.dtype not in (np.int32, np.int64)
            or X.indptr.dtype != X.indices.dtype
            or data.Y.shape != (X.shape[0], W.shape[0])
        ):
            return None
        loss = self.objective.loss
        name, param = _INLINE.get(type(loss), (None, None))
        self._callback = None if name is not None else self._loss_gradient
        self.Y = np.asfortranarray(data.Y, dtype=dtype)
        fit_intercept = bool(self.objective.fit_intercept)
        return _saga.SagaKernel(
            X,
            self.Y,
            np.ascontiguousarray(data.sample_weight, dtype=np.float64),
            self.params.buffer,
            self.table,
            self.mean[0],
            self.mean[1] if fit_intercept else None,
            self.caught_up,
            fit_intercept,
            _saga.CALLBACK if name is None else _saga.LOSSES[name],
            0.0 if param is None else float(getattr(loss, param)),
            float(_log_tiny(dtype)),
            float(self.objective.l2),
            float(self.row_factor),
            self.n,
            self.optimizer.variant == "sag",
            data.batch_size,
        )

    def _loss_gradient(self, rows, raw):
        """The kernel's callback: the loss's own ``loss_gradient`` on a batch."""
        return self.objective.loss.loss_gradient(self.Y.T.take(rows, axis=1).T, raw)

    def run_epoch(self, order, starts, stops, rates, weighted):
        """Compiled steps on many batches at once (requires :attr:`kernel`).

        Parameters
        ----------
        order : ndarray of intp or None
            Rows of ``X`` in the epoch's order (None: ``0, 1, ...``).
        starts, stops : ndarray of intp
            Batch ``t`` is ``order[starts[t]:stops[t]]``.
        rates : ndarray of float64
            The step size of each batch.
        weighted : bool
            Whether the rows carry unequal sample weights (the batches'
            ``sample_weight_b`` is not None).

        Returns
        -------
        losses, weights : ndarray of float64
            Each batch's weighted loss sum and weight sum.
        """
        n_steps = len(rates)
        losses, weights = np.empty(n_steps), np.empty(n_steps)
        self.kernel.run(
            order,
            np.asarray(starts, dtype=np.intp),
            np.asarray(stops, dtype=np.intp),
            np.asarray(rates, dtype=np.float64),
            weighted,
            losses,
            weights,
            self._callback,
        )
        self.optimizer._begin_step(n_steps)  # t_ counts the steps
        return losses, weights

    # ------------------------------------------------------------ the table
    def _table_change(self, raw, Yb, swb, rows):
        """The batch's loss, weight and change of the table, ``d - a``; stores ``d``."""
        loss = self.objective.loss
        loss, D = loss.loss_gradient(targets_for(loss, "loss_gradient", Yb), raw)
        if swb is None:  # equal weights: c_i = 1
            weighted_loss, weight = float(np.add.reduce(loss)), float(len(loss))
        else:
            weighted_loss, weight = float(np.dot(swb, loss)), float(swb.sum())
            D = D * (swb * self.row_factor)[:, None]
        table = self.table
        delta = np.asarray(D, dtype=table.dtype) - table[rows]
        table[rows] = D
        return weighted_loss, weight, delta

    def step(self, Xb, Yb, swb, lr, rows):
        """One step on a batch; returns its weighted loss sum and weight sum."""
        if self.lazy:  # Xb is None: the rows are read from X
            return self._lazy_step(Yb, swb, lr, rows)
        objective, params, optimizer = self.objective, self.params, self.optimizer
        raw = objective.raw(Xb, params.coef, params.intercept)
        weighted_loss, weight, delta = self._table_change(raw, Yb, swb, rows)
        beta = optimizer.batch_coefficient(Xb.shape[0], self.n)
        objective.data_gradient(Xb, delta, self.product)
        for g, p, m in zip(self.grads, self.product, self.mean, strict=True):
            np.multiply(p, beta, out=g)
            g += m  # the mean before this batch's change (SAGA)
            m += p / self.n
        objective.finish_gradient(params.coef, self.grads)
        if self.previous is not None:
            grad = self.flat[1]
            self.inner = float(np.dot(grad, self.previous))
            self.previous[...] = grad
        step_size = optimizer.step(
            params.arrays, self.grads, lr, flat=self.flat, lr_unit=self.lr_unit
        )
        if objective.l1:
            objective.prox_l1(params.coef, step_size.for_coef(params.coef))
        return weighted_loss, weight

    # -------------------------------------------------- just-in-time steps
    def _rows(self, rows):
        """The batch's non-zeros: columns, values and rows (within the batch)."""
        X = self.X
        if isinstance(rows, slice):
            rows = np.arange(rows.start, rows.stop)
        starts = X.indptr[rows]
        lengths = X.indptr[rows + 1] - starts
        ends = np.cumsum(lengths)
        at = np.repeat(starts - (ends - lengths), lengths)
        at += np.arange(len(at))
        return (
            X.indices.take(at).astype(np.intp),
            X.data.take(at).astype(np.float64, copy=False),
            np.repeat(np.arange(len(rows)), lengths),
        )

    def _columns(self, indices):
        """The distinct columns among ``indices``, and each one's position there."""
        slot = self.slot
        ids = np.arange(len(indices))
        slot[indices] = ids  # the last occurrence of a column wins
        cols = indices[slot.take(indices) == ids]
        slot[cols] = np.arange(len(cols))
        return cols, slot.take(indices)

    def _lazy_step(self, Yb, swb, lr, rows):
        if self.kernel is not None:
            if isinstance(rows, slice):
                order, start, stop = None, rows.start or 0, rows.stop
            else:
                order, start, stop = np.asarray(rows, dtype=np.intp), 0, len(rows)
            losses, weights = self.run_epoch(
                order, [start], [stop], [lr], swb is not None
            )
            return float(losses[0]), float(weights[0])
        objective, optimizer, params = self.objective, self.optimizer, self.params
        if self.scale < _MIN_SCALE:
            self._fold()
        indices, values, row_of = self._rows(rows)
        cols, position = self._columns(indices)
        n_rows, n_outputs, n_cols = len(Yb), len(self.output_offsets), len(cols)
        # Flat positions of the batch's coefficients in the parameter buffer
        # (output-major, as coef), and their values and means there.
        index = (self.output_offsets + cols).ravel()
        W_cols = params.buffer.take(index)
        mean_cols = self.mean_flat.take(index)
        if self.pending:
            # The steps these columns missed, with their (unchanged) mean.
            lag = self.pending - self.caught_up.take(cols)
            W_cols -= mean_cols * (np.tile(lag, n_outputs) if n_outputs > 1 else lag)
        raw = np.empty((n_rows, n_outputs), dtype=W_cols.dtype, order="F")
        for k in range(n_outputs):
            w = W_cols[k * n_cols : (k + 1) * n_cols].take(position)
            raw[:, k] = np.bincount(row_of, weights=values * w, minlength=n_rows)
        if self.scale != 1.0:
            raw *= self.scale
        if objective.fit_intercept:
            raw += params.intercept
        weighted_loss, weight, delta = self._table_change(raw, Yb, swb, rows)
        # X_B^T delta on the batch's columns only.
        change = np.empty(n_outputs * n_cols)
        for k in range(n_outputs):
            change[k * n_cols : (k + 1) * n_cols] = np.bincount(
                position, weights=values * delta[row_of, k], minlength=n_cols
            )
        beta = optimizer.batch_coefficient(n_rows, self.n)
        if objective.l2:
            self.scale *= 1.0 - lr * objective.l2
        self.pending += lr / self.scale
        grad = beta * change
        grad += mean_cols
        grad /= self.scale  # a step on W / scale
        mean_cols += change / self.n
        if objective.fit_intercept:
            change_b = delta.sum(axis=0, dtype=np.float64)
            grad = np.concatenate([grad, beta * change_b + self.mean[1]])
            self.mean[1] += change_b / self.n
            index = np.concatenate([index, self.intercept_index])
            W_cols = np.concatenate([W_cols, params.intercept])
        optimizer.step_at(
            params.buffer,
            grad.astype(W_cols.dtype, copy=False),
            lr,
            index,
            params_at=W_cols,
            lr_unit=self.lr_unit,
        )
        self.caught_up[cols] = self.pending
        self.mean_flat[index[: n_outputs * n_cols]] = mean_cols
        return weighted_loss, weight

    def _fold(self):
        """Apply every column's missed steps and the scale to the coefficients."""
        if self.kernel is not None:
            self.kernel.fold()
            return
        W = self.params.coef
        if self.pending:
            W -= self.mean[0] * (self.pending - self.caught_up)
        if self.scale != 1.0:
            W *= self.scale
        self.scale, self.pending = 1.0, 0.0
        self.caught_up[...] = 0.0

    def finish(self):
        """End of an epoch: the coefficients as dense steps would have them."""
        if self.lazy:
            self._fold()

    def full_gradient(self):
        """The table's estimate of the objective's gradient, in the training
        coordinates (after :meth:`finish`): every row's last gradient, exact
        once the iterates stop moving, at no pass over ``X``.

        Returns
        -------
        list of ndarray
            Shaped like ``params.arrays`` (float64).
        """
        grads = [m.copy() for m in self.mean]
        self.objective.finish_gradient(self.params.coef, grads)
        return grads
