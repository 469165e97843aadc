r"""The l1 part of the penalty in minibatch training: the cumulative penalty.

After each optimizer step on the smooth part of the objective (the loss and
the l2 term), the l1 term :math:`\alpha_1 \lVert W \rVert_1` is applied as
the *cumulative penalty* of Tsuruoka, Tsujii & Ananiadou (2009), the l1 step
of scikit-learn's ``SGDClassifier``, with the step size
:math:`\eta_{t,j}` that the optimizer just applied to each coordinate (its
:class:`~sklearn_nnopt.optimizers.StepSize`). Two accumulators per
coefficient, :math:`u` the penalty the weight could have received and
:math:`q` the penalty it did receive (signed):

.. math::
    u_{t,j} &= c_{t,j} u_{t-1,j} + \eta_{t,j} \alpha_1 \\
    w_j &\leftarrow \begin{cases}
        \max(0, w_j - (u_{t,j} + q_{t-1,j})) & w_j > 0 \\
        \min(0, w_j + (u_{t,j} - q_{t-1,j})) & w_j < 0 \end{cases} \\
    q_{t,j} &= c_{t,j} q_{t-1,j} + (\text{the change of } w_j \text{ just made})

with :math:`c_{t,j} = 1 - \eta_{t,j} \alpha_2` the step's l2 shrinkage (1
for pure l1), so that both stay in the units of the shrunk weight. While
:math:`w_j` stays on one side of zero this is the proximal step
:math:`w_j \leftarrow \operatorname{sign}(w_j) \max(|w_j| - \eta_{t,j}
\alpha_1, 0)`. The difference is at zero: a minibatch gradient that pushes
a weight off zero meets all the penalty the weight was spared while it sat
there, so it leaves zero only once the sum of its steps since it got there
outweighs the sum of the penalties, :math:`\lvert\sum_k \eta_k g_{k,j}\rvert
> \sum_k \eta_k \alpha_1`: the mean gradient is tested against
:math:`\alpha_1`, and its noise averages out, as in regularized dual
averaging (Xiao, 2010). The proximal step tests each minibatch gradient
alone, and the chance that :math:`\lvert g_{t,j}\rvert > \alpha_1` does not
fall with the step: coefficients whose optimum is zero kept leaving it.

The sums are weighted by the steps, so when the schedule decays the step,
a surplus gathered at the large steps would hold a weight at zero long
after its gradient has grown past :math:`\alpha_1`. So when the schedule's
step has moved by a factor of 2 or more since the last time, :math:`u` and
:math:`q` are rescaled by the ratio of the steps: the sums are then
measured at the current step.

On CSR ``X`` (:class:`LazyCumulativeL1`), a column absent from a batch
only collects penalty, and the penalty of the steps it missed is applied
when it next appears ("just in time"), or at the end of the epoch.
"""

import numpy as np

#: The surplus is rescaled when the schedule's step has moved by this factor.
RESCALE_FACTOR = 2.0


def clip(W, u, q):
    """Tsuruoka's clipping of ``W`` by the penalties ``u`` and ``q``, in place.

    ``W``, ``u`` and ``q`` are arrays of one shape (``u`` may be a scalar);
    ``q`` takes the change of ``W``.
    """
    before = np.asarray(W, dtype=np.float64).copy()
    pos = np.maximum(before - (u + q), 0.0)
    neg = np.minimum(before + (u - q), 0.0)
    new = np.where(before > 0, pos, np.where(before < 0, neg, 0.0))
    q += new - before
    W[...] = new


def _needs_rescale(lr, reference):
    if reference is None or lr == reference or not lr > 0:
        return False
    ratio = lr / reference
    return ratio >= RESCALE_FACTOR or ratio <= 1.0 / RESCALE_FACTOR


class CumulativeL1:
    """The cumulative l1 penalty of every coefficient, applied every step.

    Parameters
    ----------
    objective : Objective
        Its ``l1`` and ``l2`` strengths and its preconditioner (the penalty of
        a coefficient :math:`W_j / s_j` in training coordinates thresholds
        :math:`W_j` by :math:`\\alpha_1 \\eta / s_j`).
    coef : ndarray of shape (n_outputs, n_features)

    Attributes
    ----------
    u, q : ndarray of shape (n_outputs, n_features)
        The penalty each coefficient could have received and the penalty it
        did receive.
    """

    def __init__(self, objective, coef):
        self.l1, self.l2 = objective.l1, objective.l2
        pre = objective.preconditioner
        self.inv_scale = None if pre is None else pre.inv_scale
        self.u = np.zeros(coef.shape, dtype=np.float64)
        self.q = np.zeros(coef.shape, dtype=np.float64)
        self.reference = None

    def apply(self, W, step, lr):
        """Apply one step's l1 penalty to ``W`` in place.

        Parameters
        ----------
        W : ndarray of shape (n_outputs, n_features)
            The coefficients after the optimizer's step (training coordinates).
        step : float or ndarray shaped like ``W``
            The step the optimizer applied to each coefficient's gradient
            (``StepSize.for_coef``).
        lr : float
            The schedule's step (when it moves, the sums are rescaled).
        """
        u, q = self.u, self.q
        if _needs_rescale(lr, self.reference):
            ratio = lr / self.reference
            u *= ratio
            q *= ratio
            self.reference = lr
        elif self.reference is None:
            self.reference = lr
        if self.l2:
            # The l2 gradient of W_j is l2 W_j / s_j^2 in training coordinates.
            curvature = self.l2
            if self.inv_scale is not None:
                curvature = curvature * self.inv_scale**2
            shrink = np.maximum(1.0 - step * curvature, 0.0)
            u *= shrink
            q *= shrink
        rate = step if self.inv_scale is None else step * self.inv_scale
        u += self.l1 * rate
        clip(W, u, q)


class LazyCumulativeL1:
    """The cumulative l1 penalty on CSR batches, touching only their columns.

    For :class:`~sklearn_nnopt._sparse.SparseColumnStepper`.

    - "exact" steps (plain SGD, ``W = s U``): one :math:`u` for every
      coefficient (every step penalizes every weight by the same
      :math:`\\eta_t \\alpha_1`), kept in the units of ``U`` (it grows by
      :math:`\\eta_t \\alpha_1 / s_t`, so that :math:`s u` shrinks with the
      l2 factor as :class:`CumulativeL1`'s does), and :math:`q` per
      coefficient. A column that missed steps only collected penalty: the
      clipping with the current :math:`u` before its next step applies all
      of it, so the iterates are those of the dense steps.
    - "lazy" steps (:class:`~sklearn_nnopt.optimizers.Adam`'s ``lazy``): the
      absent columns do not move, and a present column collects the penalty
      :math:`\\eta_{t,j} \\alpha_1 / p_j`, :math:`p_j` the probability that
      a batch holds it, as its l2 gradient is weighted (the expected step is
      the full penalty's).

    Parameters
    ----------
    mode : {"exact", "lazy"}
    objective : Objective
    n_coef : int
        ``n_outputs * n_features``.
    presence : ndarray of shape (n_features,) or None
        :math:`p_j` (lazy steps).
    """

    def __init__(self, mode, objective, n_coef, presence=None):
        self.mode = mode
        self.l1, self.l2 = objective.l1, objective.l2
        self.exact = mode == "exact"
        self.u = 0.0 if self.exact else np.zeros(n_coef)
        self.q = np.zeros(n_coef)
        self.presence = presence
        self.reference = None
        #: Coefficients clipped so far (a measure of the work done).
        self.touched = 0

    def catch_up(self, flat_coef, index):
        """Apply the penalty the coefficients at ``index`` missed (exact steps)."""
        if not self.exact or not len(index):
            return
        part = flat_coef.take(index)
        q = self.q.take(index)
        clip(part, self.u, q)
        flat_coef[index] = part
        self.q[index] = q
        self.touched += len(index)

    def catch_up_all(self, flat_coef):
        """Every coefficient caught up (end of an epoch, before a rescale)."""
        if self.exact:
            clip(flat_coef, self.u, self.q)
            self.touched += len(flat_coef)

    def rescale(self, flat_coef, lr):
        """When the schedule's step moved by a factor of 2: rescale the sums."""
        if _needs_rescale(lr, self.reference):
            self.catch_up_all(flat_coef)
            ratio = lr / self.reference
            self.u *= ratio
            self.q *= ratio
            self.reference = lr
        elif self.reference is None:
            self.reference = lr

    def fold(self, scale):
        """``W = s U`` was folded into ``U`` (``s`` times): so are the sums."""
        self.u *= scale
        self.q *= scale

    def apply(self, flat_coef, index, cols, lr, scale, step):
        """One step's penalty on the coefficients at ``index``.

        Parameters
        ----------
        flat_coef : ndarray of shape (n_coef,)
            ``U`` (exact) or ``W`` (lazy), after the optimizer's step.
        index : ndarray of int
            The batch's coefficient positions (output-major).
        cols : ndarray of int
            Their columns.
        lr : float
            The schedule's step (exact steps).
        scale : float
            ``s`` after this step (exact steps).
        step : ndarray or float
            The step applied at ``index`` (lazy steps).
        """
        part = flat_coef.take(index)
        q = self.q.take(index)
        if self.exact:
            self.u += self.l1 * lr / scale
            u = self.u
        else:
            weight = 1.0 / self.presence.take(cols)
            if len(index) != len(cols):
                weight = np.tile(weight, len(index) // len(cols))
            rate = step * weight
            u = self.u.take(index)
            if self.l2:
                shrink = np.maximum(1.0 - rate * self.l2, 0.0)
                u *= shrink
                q *= shrink
            u += self.l1 * rate
            self.u[index] = u
        clip(part, u, q)
        flat_coef[index] = part
        self.q[index] = q
        self.touched += len(index)
