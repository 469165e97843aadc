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
  keeps :math:`x_j - z_j` as a per-column factor times a running product, so
  that an absent column's state does not change at all.
"""

import numpy as np
from scipy.special import gammaln

from ._l1 import LazyCumulativeL1
from .optimizers import StepSize

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
        # Schedule-free: x kept relative to z, so absent columns need nothing.
        self.sequences = None
        if self.mode == "lazy" and optimizer.exposes_average:
            self.sequences = LazyScheduleFree(optimizer, params.buffer)

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
        index = np.concatenate([coef_index, self.intercept_index])
        sequences = self.sequences
        if sequences is not None and sequences.zw is not None:
            # y where the batch reads it (theta holds the epoch's start).
            self.theta[index] = sequences.point(index)
        batch_loss, batch_weight, G = objective.output_gradient(
            objective.raw(Xb, self.W, self.b, self.scale), Yb, swb
        )
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
        if sequences is not None:
            step_size = sequences.step(index, grad, lr)
        else:
            step_size = self.optimizer.step_at(
                self.theta, grad, lr, index, params_at=params_at
            )
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
            self.sequences.finish()
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
    r"""Lazy Schedule-Free AdamW steps on a batch's columns (``lazy=True``, CSR
    ``X``), with the average :math:`x` kept so that absent columns cost nothing.

    A lazy step :math:`t` moves only the batch's columns :math:`J` (their
    :math:`v`, :math:`z`, :math:`x`, by the optimizer's rule). An absent
    column's :math:`z_j` stays put, so the step's only effect on it is
    :math:`x_j \leftarrow (1 - c_t) x_j + c_t z_j`: :math:`x_j - z_j` shrinks
    by :math:`1 - c_t`. With the running product
    :math:`P_t = \prod_{i \le t} (1 - c_i)` (from 1 at the start of each
    epoch), every column is kept as

    .. math::
        x_j = z_j + P_t\, w_j, \qquad y_j = z_j + \beta_1 P_t\, w_j,

    so that an absent column's :math:`w_j` does not change at all, and a
    step on :math:`J` with direction :math:`d_j` (:math:`z_j \leftarrow z_j -
    \eta_t d_j`) gives :math:`x_j - z_j = (1 - c_t)(P_{t-1} w_j + \eta_t d_j)`:

    .. math::
        w_j \leftarrow w_j + \eta_t d_j / P_{t-1}.

    The same rule as catching a column's missed steps up when it next
    appears (:math:`x_j \leftarrow z_j + (x_j - z_j) P_{t-1} / P_{s_j}`), in
    other coordinates: no pass over the batch's columns before the forward
    product, and no per-column record of the last step. The gradient reads
    :math:`y_j` from :math:`z_j` and :math:`w_j`, which sit side by side
    (``zw``, shape ``(n_params, 2)``: one cache line per column for the
    compiled kernel's forward product over shuffled rows). ``theta``, the
    optimizer's ``z`` and ``x`` are written at the end of each epoch
    (:meth:`finish`: :math:`x = z + P w`, :math:`y` from them, then
    :math:`w = x - z` and :math:`P = 1`, as a new stepper starts, so that a
    fit continued by ``warm_start`` or ``partial_fit`` repeats one longer
    fit bit for bit); within an epoch they hold the epoch's start. A step
    with :math:`c_t = 1` (the first, or the first of non-zero weight) sets
    :math:`x = z`: :math:`w = 0`, :math:`P = 1`. Below
    :data:`MIN_PRODUCT` (within an epoch :math:`P` falls about as
    :math:`(t_0 / t)^{r + 1}`), :math:`w \leftarrow P w`, :math:`P = 1`,
    before :math:`w` could overflow.

    Parameters
    ----------
    optimizer : ScheduleFreeAdamW
        Its state holds ``exp_avg_sq``, ``z`` and ``x`` (flat, as ``theta``;
        created by the first step) and the scalars of its step weights.
    theta : 1-D ndarray
        The flat parameters ``[coef.ravel(), intercept]``, holding :math:`y`
        at the end of each epoch.
    """

    #: Below this the product is folded into w.
    MIN_PRODUCT = 1e-10

    def __init__(self, optimizer, theta):
        self.optimizer, self.theta = optimizer, theta
        self.zw = None
        self.product = 1.0
        if self._state() is not None:
            self._begin()

    def _state(self):
        state = self.optimizer.__dict__.get("state_")
        if state is None or "z" not in state.values:
            return None  # no step yet: x = y = z
        return state

    def _begin(self):
        """``zw`` from the optimizer's ``z`` and ``x``; the product is 1."""
        values = self.optimizer.state_.values
        z, x = values["z"][0], values["x"][0]
        if self.zw is None:
            self.zw = np.empty((len(z), 2), dtype=z.dtype)
        self.zw[:, 0] = z
        np.subtract(x, z, out=self.zw[:, 1])
        self.product = 1.0

    def begin_step(self, lr):
        """Start step ``t`` (count it, the warmed-up ``lr`` and :math:`c_t`,
        the state at the first step: :math:`v = 0`, :math:`z = x = y`).
        Returns ``(state, lr_t, c_t)``."""
        opt = self.optimizer
        state = opt._begin_step()
        lr, ckp1 = opt._coefficients(lr, state)
        self.create_state(state)
        return state, lr, ckp1

    def create_state(self, state):
        """Before the first step: the optimizer's ``state`` as its rule
        creates it (:math:`v = 0`, :math:`z = x = y`), and ``zw`` from it."""
        if self.zw is None:
            state.buffers("exp_avg_sq", [self.theta])
            state.buffers("z", [self.theta], fill=None)
            state.buffers("x", [self.theta], fill=None)
            self._begin()

    def point(self, index):
        """:math:`y` at the positions ``index``: ``z + (beta_1 P) w``."""
        y = self.zw[index, 1] * (self.optimizer.beta_1 * self.product)
        y += self.zw[index, 0]
        return y

    def step(self, index, grad, lr):
        """The rule on the positions ``index`` (the batch's coefficients and
        the intercepts) with their gradient ``grad`` at :math:`y`; the
        other columns' state stays. Returns the :class:`StepSize`."""
        state, lr, ckp1 = self.begin_step(lr)
        opt = self.optimizer
        v_all = state.values["exp_avg_sq"][0]
        v = v_all.take(index)
        work, d = np.empty_like(grad), np.empty_like(grad)
        d, denom = opt._normalized(grad, v, 1 - opt.beta_2**state.step, work, d)
        v_all[index] = v
        step_size = StepSize(lr, denom.copy())
        np.multiply(d, lr, out=work)
        zw = self.zw
        zw[index, 0] = zw[index, 0] - work
        work *= 1.0 / self.product
        zw[index, 1] = zw[index, 1] + work
        self.after_step(ckp1)
        return step_size

    def after_step(self, ckp1):
        """End a step of weight ``ckp1``: the product advances; a step of
        weight 1 restarts it (``x = z``), a small one is folded into ``w``."""
        if ckp1 >= 1.0:
            self.zw[:, 1] = 0
            self.product = 1.0
            return
        self.product *= 1.0 - ckp1
        if self.product < self.MIN_PRODUCT:
            self.zw[:, 1] *= self.product
            self.product = 1.0

    def finish(self):
        """End of an epoch: the optimizer's ``z`` and ``x``, and ``theta``
        (:math:`y`), from ``zw``; then ``w = x - z``, :math:`P = 1`."""
        if self.zw is None:
            return
        values = self.optimizer.state_.values
        z, x = values["z"][0], values["x"][0]
        z[...] = self.zw[:, 0]
        np.multiply(self.zw[:, 1], self.product, out=x)
        x += z
        self.optimizer._interpolate(self.theta, x, z, np.empty_like(x))
        self._begin()
