r"""Minibatch steps on sparse ``X`` that touch only the batch's columns.

A CSR batch of text-like data has non-zeros in a few thousand of perhaps
100,000 columns; a dense optimizer step costs O(n_features) per batch and
dominates the epoch. For optimizers whose ``sparse_mode`` is not "dense", a
step of :class:`SparseColumnStepper` updates only the coefficients of the
batch's columns (and the intercept):

- "exact" (plain SGD): the data gradient is zero outside the batch's columns,
  so the only change there is the l2 shrinkage :math:`W \leftarrow (1 - \eta_t
  \alpha) W`. It is kept as a global factor, :math:`W = s U` with
  :math:`s \leftarrow (1 - \eta_t \alpha) s` and
  :math:`U_J \leftarrow U_J - \eta_t g_J / s`: the iterates of dense SGD.
- "lazy" (:class:`Adam` with ``lazy=True``): only the batch's columns and their
  optimizer state advance. Their l2 gradient is :math:`\alpha w_j / p_j`,
  :math:`p_j` the probability that a batch holds column ``j``, so that the
  expected step is the full gradient's. For the schedule-free methods
  (:class:`ScheduleFreeAdamW` with ``lazy=True``), whose absent columns' average
  :math:`x_j` still moves toward their :math:`z_j`, :class:`LazyScheduleFree`
  applies the steps a column missed when it next appears (and to every
  column at the end of an epoch), so that the parameters hold :math:`y` where
  the gradient reads them.
"""

import numpy as np
from scipy.special import gammaln

from ._l1 import LazyCumulativeL1

# Below this, the global scale of "exact" steps is folded into the coefficients
# (before the coefficients' own size could lose precision).
_MIN_SCALE = 1e-6


def batch_presence(counts, n_samples, batch_size):
    r"""Probability that a minibatch holds a non-zero of each column.

    For a batch of :math:`B` of the :math:`n` rows drawn without replacement
    and :math:`c_j` rows with a non-zero in column ``j``:

    .. math::
        p_j = 1 - \binom{n - c_j}{B} \Big/ \binom{n}{B}

    Parameters
    ----------
    counts : ndarray of shape (n_features,)
        Rows with a non-zero in each column.
    n_samples : int
    batch_size : int

    Returns
    -------
    ndarray of shape (n_features,)

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_nnopt._sparse import batch_presence
    >>> batch_presence(np.array([0, 1, 2, 4]), n_samples=4, batch_size=2).round(4)
    array([0.    , 0.5   , 0.8333, 1.    ])
    """
    n, size = n_samples, min(batch_size, n_samples)
    counts = np.asarray(counts)
    presence = np.empty(counts.shape, dtype=np.float64)
    # By blocks, so that the temporaries stay small next to X.
    for start in range(0, len(counts), 8192):
        block = slice(start, start + 8192)
        free = n - counts[block].astype(np.float64)
        log_absent = np.full_like(free, -np.inf)
        some = free >= size
        # Paired so that a column without non-zeros gets exactly 0.
        log_absent[some] = (gammaln(free[some] + 1) - gammaln(n + 1)) + (
            gammaln(n - size + 1) - gammaln(free[some] - size + 1)
        )
        presence[block] = np.clip(-np.expm1(log_absent), 0.0, 1.0) + 0.0  # no -0.0
    return presence


def _column_counts(indices, n_features):
    """``np.bincount(indices)`` by chunks: it would copy int32 indices as intp."""
    counts = np.zeros(n_features, dtype=np.intp)
    chunk = 1 << 18
    for start in range(0, len(indices), chunk):
        counts += np.bincount(indices[start : start + chunk], minlength=n_features)
    return counts


def _distinct(values):
    """Sorted distinct values (``np.unique`` costs ~20x this on int32 indices)."""
    values = np.sort(values)
    keep = np.empty(len(values), dtype=bool)
    keep[:1] = True
    np.not_equal(values[1:], values[:-1], out=keep[1:])
    return values[keep]


class SparseColumnStepper:
    """Training steps on CSR batches that update only the batch's columns.

    A batch stepper (see :mod:`sklearn_nnopt._steppers`).

    Parameters
    ----------
    X : sparse matrix of shape (n_samples, n_features)
        The training data (for the column frequencies of "lazy" steps).
    n_train : int
        Rows trained on (fewer than ``X``'s with early stopping).
    batch_size : int
    objective : Objective
    optimizer : Optimizer
        Its ``sparse_mode`` is "exact" or "lazy".
    params : Parameters
        Updated in place.
    track : bool, default=False
        Keep ``inner``, the last two gradients' inner product.
    """

    gathers = True

    def __init__(
        self, X, n_train, batch_size, objective, optimizer, params, track=False
    ):
        # The last gradient, scattered into a zero vector, and where it is.
        self.previous = np.zeros_like(params.buffer) if track else None
        self.previous_index = np.empty(0, dtype=np.intp)
        self.inner = 0.0
        self.mode = optimizer.sparse_mode
        self.objective = objective
        self.optimizer = optimizer
        self.theta = params.buffer
        W, b = params.coef, params.intercept
        self.W, self.b = W, b
        n_outputs, n_features = W.shape
        self.output_offsets = np.arange(n_outputs)[:, None] * n_features
        self.intercept_index = W.size + np.arange(
            b.size if objective.fit_intercept else 0
        )
        self.scale = 1.0
        self.penalty_weight = None
        presence = None
        if self.mode == "lazy" and (objective.l2 or objective.l1):
            counts = _column_counts(X.indices, n_features)
            if n_train != X.shape[0]:  # early stopping holds rows out
                counts = counts * (n_train / X.shape[0])
            presence = batch_presence(counts, n_train, batch_size)
            del counts
        if self.mode == "lazy" and objective.l2:
            weight = presence.copy()
            with np.errstate(divide="ignore"):
                # Columns never present are never stepped: their inf is unused.
                np.divide(objective.l2, weight, out=weight)
            self.penalty_weight = weight
        # The l1 penalty, just in time (see sklearn_nnopt._l1).
        self.l1 = None
        if objective.l1:
            self.l1 = LazyCumulativeL1(self.mode, objective, W.size, presence)
        # Schedule-free: the missed steps of x, just in time.
        self.sequences = None
        if self.mode == "lazy" and optimizer.exposes_average:
            self.sequences = LazyScheduleFree(
                optimizer, params.buffer, n_outputs, n_features
            )

    def step(self, Xb, Yb, swb, lr, rows=None):
        """One step on a CSR batch; returns its weighted loss sum and weight sum."""
        objective = self.objective
        cols = _distinct(Xb.indices)
        n_outputs = len(self.output_offsets)
        n_coef = len(cols) * n_outputs
        coef_index = (self.output_offsets + cols).ravel()
        l1 = self.l1
        if l1 is not None:
            # The penalty of the steps these columns missed, before they are read.
            flat_coef = self.W.reshape(-1)
            l1.rescale(flat_coef, lr)
            l1.catch_up(flat_coef, coef_index)
        if self.sequences is not None:
            # y at these columns, from the x steps they missed.
            self.sequences.catch_up(cols)
        batch_loss, batch_weight, G = objective.output_gradient(
            objective.raw(Xb, self.W, self.b, self.scale), Yb, swb
        )
        index = np.concatenate([coef_index, self.intercept_index])
        grad = np.empty(len(index), dtype=self.theta.dtype)
        # The product is (n_features, n_outputs), zero outside the batch's
        # columns; the output-major order matches coef_index.
        grad[:n_coef] = (Xb.T @ G).take(cols, axis=0).T.ravel()
        if objective.fit_intercept:
            np.add.reduce(G, axis=0, out=grad[n_coef:])
        if self.mode == "exact":
            if objective.l2:
                scale = self.scale * (1.0 - lr * objective.l2)
                if not scale >= _MIN_SCALE:
                    self.W *= scale
                    if l1 is not None:
                        l1.fold(scale)
                    scale = 1.0
                self.scale = scale
                if scale != 1.0:
                    grad[:n_coef] /= scale
        if self.previous is not None:
            self.inner = float(np.dot(self.previous.take(index), grad))
            self.previous[self.previous_index] = 0.0
            self.previous[index] = grad
            self.previous_index = index
        params_at = self.theta.take(index)
        if self.penalty_weight is not None:  # set for "lazy" steps only
            weight = self.penalty_weight.take(cols)
            if n_outputs > 1:
                weight = np.tile(weight, n_outputs)
            weight *= params_at[:n_coef]
            grad[:n_coef] += weight
        step_size = self.optimizer.step_at(
            self.theta, grad, lr, index, params_at=params_at
        )
        if self.sequences is not None:
            self.sequences.stepped(cols)
        if l1 is not None:
            step = None
            if self.mode == "lazy":
                step = _coef_step(step_size, n_coef)
            l1.apply(flat_coef, coef_index, cols, lr, self.scale, step)
        return batch_loss, batch_weight

    def finish(self):
        """Catch up the l1 penalty and the schedule-free average, and fold the
        global scale into the coefficients (end of an epoch)."""
        if self.sequences is not None:
            self.sequences.catch_up_all()
        if self.l1 is not None:
            self.l1.catch_up_all(self.W.reshape(-1))
        if self.scale != 1.0:
            self.W *= self.scale
            if self.l1 is not None:
                self.l1.fold(self.scale)
            self.scale = 1.0


def _coef_step(step_size, n_coef):
    """The step a :meth:`~sklearn_nnopt.optimizers.Optimizer.step_at` applied
    to its first ``n_coef`` positions (the coefficients)."""
    part = step_size.per_coordinate
    if part is None:
        return step_size.factor
    part = part[:n_coef]
    return step_size.factor * part if step_size.multiply else step_size.factor / part


class LazyScheduleFree:
    r"""The average :math:`x` of a schedule-free method, column by column, just
    in time (the ``lazy`` steps of
    :class:`~sklearn_nnopt.optimizers.ScheduleFreeAdamW`).

    A lazy step :math:`t` moves only the batch's columns :math:`J` (their
    :math:`v`, :math:`z`, :math:`x` and :math:`y`, by the optimizer's rule).
    An absent column's :math:`z_j` stays put, so the step's only effect on it
    is :math:`x_j \leftarrow (1 - c_t) x_j + c_t z_j`, i.e. :math:`x_j - z_j`
    shrinks by :math:`1 - c_t`. Those factors are applied when the column
    next appears (:meth:`catch_up`, before its :math:`y_j` is read) and to
    every column at the end of an epoch (:meth:`catch_up_all`):

    .. math::
        x_j \leftarrow z_j + (x_j - z_j) \, P_{t-1} / P_{s_j}, \qquad
        P_t = \prod_{i \le t} (1 - c_i),

    :math:`s_j` the last step column ``j`` took part in (``product_at``
    holds :math:`P_{s_j}`; a column is behind where it differs from
    :math:`P_{t-1}`: steps of :math:`c_i = 0` change nothing). A division
    per column, not an exponential, and one array: the compiled kernel's
    catch-up is bound by memory and arithmetic alike. The product restarts
    from 1 (every column caught up) at the end of each epoch (the stepper's
    ``finish``: the bookkeeping of a new stepper, a continued fit, is then
    that of the next epoch, which it repeats bit for bit) and before it
    could underflow (below ``1e-200``: within an epoch it falls about as
    :math:`(t_0 / t)^{r + 1}`); its relative rounding error grows by at most
    one unit per step. A step with :math:`c_t = 1` (the first, or the first
    of non-zero weight) sets :math:`x = z` everywhere, at once
    (:meth:`restart`).

    Parameters
    ----------
    optimizer : ScheduleFreeAdamW
        Its state holds the flat buffers ``z`` and ``x`` (created by its
        first step), and the scalars that give the last step's :math:`c_t`.
    theta : 1-D ndarray
        The flat parameters ``[coef.ravel(), intercept]``, holding :math:`y`.
    n_outputs, n_features : int
        The shape of ``coef`` (its entry ``(c, j)`` is ``theta[c * n_features
        + j]``).
    """

    #: Below this the product restarts (every column caught up first).
    MIN_PRODUCT = 1e-200

    def __init__(self, optimizer, theta, n_outputs, n_features):
        self.optimizer, self.theta = optimizer, theta
        self.offsets = np.arange(n_outputs)[:, None] * n_features
        self.product_at = np.ones(n_features)
        self.product = 1.0

    def _state(self):
        state = self.optimizer.__dict__.get("state_")
        if state is None or "z" not in state.values:
            return None  # no step yet: x = y = z
        return state

    def _catch_up(self, state, cols):
        """Columns ``cols``, each behind, brought to the current product."""
        factor = self.product / self.product_at[cols]
        index = (self.offsets + cols).ravel()
        z, x = state.values["z"][0], state.values["x"][0]
        y_at, x_at, z_at = self.theta.take(index), x.take(index), z.take(index)
        self.optimizer._catch_up(y_at, x_at, z_at, np.tile(factor, len(self.offsets)))
        self.theta[index] = y_at
        x[index] = x_at
        self.product_at[cols] = self.product

    def catch_up(self, cols):
        """Before a step on the columns ``cols`` (sorted, distinct): apply the
        steps they missed, so that the parameters hold their :math:`y`."""
        state = self._state()
        if state is not None:
            behind = cols[self.product_at.take(cols) != self.product]
            if len(behind):
                self._catch_up(state, behind)

    def advance(self, c):
        """The product after a step of weight :math:`c_t` = ``c`` (for the
        columns it steps; :meth:`after_step` then ends the step)."""
        return self.product * (1.0 - c) if c < 1.0 else self.product

    def after_step(self, c, product):
        """End a step of weight ``c``: ``product`` from :meth:`advance` is
        current; a step of weight 1 restarts, and so does a small product."""
        self.product = product
        if c >= 1.0:
            self.restart()
        elif product < self.MIN_PRODUCT:
            self.catch_up_all()

    def stepped(self, cols):
        """After the optimizer's step on the columns ``cols``: they are
        current; the step's :math:`c_t` enters the product."""
        c = self.optimizer._averaging_weight(self._state())
        product = self.advance(c)
        self.product_at[cols] = product
        self.after_step(c, product)

    def restart(self):
        """After a step of weight :math:`c_t = 1`: :math:`x = z` everywhere, as
        :math:`(1 - 1) x + 1 z` is (the present columns got it from the step),
        :math:`y` from them; nothing of before survives."""
        state = self._state()
        z, x = state.values["z"][0], state.values["x"][0]
        x[...] = z
        self.optimizer._interpolate(self.theta, x, z, np.empty_like(x))
        self.product = 1.0
        self.product_at.fill(1.0)

    def catch_up_all(self):
        """Bring every column to the current step (end of an epoch); the
        product restarts from 1, as for a new stepper, so that a fit continued
        by ``warm_start`` or ``partial_fit`` repeats one longer fit bit for
        bit."""
        state = self._state()
        if state is not None:
            behind = np.flatnonzero(self.product_at != self.product)
            if len(behind):
                self._catch_up(state, behind)
        self.product = 1.0
        self.product_at.fill(1.0)
