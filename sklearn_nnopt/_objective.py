r"""The training objective and its gradient.

.. math::
    J(W, b) = \frac{\sum_i s_i\, \ell(y_i, x_i W^\top + b)}{\sum_i s_i}
              + \alpha R(W), \qquad
    R(W) = (1 - r) \tfrac12 \lVert W \rVert_F^2 + r \lVert W \rVert_1

with :math:`r = 0` for "l2", 1 for "l1" and ``l1_ratio`` for "elasticnet"
(no penalty for ``None``). The intercept ``b`` is never penalized. On a
minibatch the same formula is restricted to the batch's rows (the batch's
weighted mean loss) while the penalty stays whole. The smooth part (loss and
l2) enters the gradient; the l1 part is applied by a proximal step.

With a :class:`~sklearn_nnopt._precondition.Preconditioner`, the parameters
``W``, ``b`` this class takes and the gradients it returns are in the training
coordinates of that preconditioner; the value of :math:`J` is the same.
"""

import functools
import math

import numpy as np
from sklearn.utils import gen_batches
from sklearn.utils.extmath import safe_sparse_dot

from .losses import targets_for

_L1_RATIO = {"l2": 0.0, "l1": 1.0, None: 0.0}


@functools.lru_cache(maxsize=64)
def _row_blocks(n, size):
    """``gen_batches(n, size)`` as a tuple, cached: scikit-learn validates the
    arguments of each call (about 50 us), and a Newton fit asks for the same
    blocks at every iteration."""
    return tuple(gen_batches(n, size))


class Objective:
    """Objective of one fit: a loss, a penalty and whether ``b`` is trained.

    Parameters
    ----------
    loss : Loss
    alpha : float
        Penalty strength.
    penalty : {"l2", "l1", "elasticnet", None}
    l1_ratio : float
        Share of l1 for "elasticnet".
    fit_intercept : bool
    preconditioner : Preconditioner or None, default=None
        The training coordinates of ``W`` and ``b`` (None: the user's).
    """

    def __init__(
        self, loss, alpha, penalty, l1_ratio, fit_intercept, preconditioner=None
    ):
        self.loss = loss
        r = l1_ratio if penalty == "elasticnet" else _L1_RATIO[penalty]
        strength = 0.0 if penalty is None else alpha
        self.l2 = strength * (1 - r)
        self.l1 = strength * r
        self.fit_intercept = fit_intercept
        self.preconditioner = preconditioner

    def raw(self, X, W, b, coef_scale=1.0):
        """Raw prediction ``X @ (coef_scale * W).T + b``."""
        if self.preconditioner is not None:
            W, b = self.preconditioner.to_user(W, b)
        if isinstance(X, np.ndarray):
            # (W @ X.T).T: column-major, so the losses' reductions over the
            # outputs (softmax) run along contiguous memory, 2x faster. (And
            # safe_sparse_dot's dispatch costs more than this product.)
            raw = np.dot(W, X.T).T
        else:
            raw = safe_sparse_dot(X, W.T, dense_output=True)
        if coef_scale != 1.0:
            raw *= coef_scale
        if self.fit_intercept:
            raw += b
        return raw

    def penalty(self, W):
        """``alpha * R(W)``."""
        if self.preconditioner is not None:
            W = W * self.preconditioner.inv_scale
        value = 0.0
        if self.l2:
            value += 0.5 * self.l2 * float(np.vdot(W, W))
        if self.l1:
            value += self.l1 * float(np.abs(W).sum())
        return value

    def l1_strengths(self):
        """The l1 strength of each coefficient in the training coordinates.

        :math:`\alpha_1 / s_j` under the preconditioner (``|coef_j| =
        |W_j| / s_j``), else the scalar :math:`\alpha_1`.
        """
        if self.preconditioner is None:
            return self.l1
        return self.l1 * self.preconditioner.inv_scale

    def l2_curvatures(self, n_features):
        """The l2 penalty's curvature on each coefficient, training coordinates.

        :math:`\alpha_2 / s_j^2` under the preconditioner, else
        :math:`\alpha_2`; shape ``(n_features,)``, float64.
        """
        if self.preconditioner is None:
            return np.full(n_features, float(self.l2))
        return self.l2 * self.preconditioner.inv_scale.astype(np.float64) ** 2

    def prox_l1(self, W, step):
        """Proximal step of the l1 term: soft-threshold ``W`` in place.

        ``W <- sign(W) max(|W| - l1 * step, 0)``, ``step`` the (per-coordinate)
        step size the optimizer just applied, so the penalty acts in the
        optimizer's own metric and coefficients reach exactly zero.
        """
        if self.preconditioner is not None:
            # |coef_j| = |W_j| / s_j: the threshold of W_j is l1 * step / s_j.
            step = step * self.preconditioner.inv_scale
        shrunk = np.abs(W)
        shrunk -= self.l1 * step
        np.maximum(shrunk, 0, out=shrunk)
        np.copysign(shrunk, W, out=W)

    def output_gradient(self, raw, Y, sw):
        """A batch's loss and the gradient of its weighted mean loss in ``raw``.

        Parameters
        ----------
        raw : ndarray of shape (n_batch, n_outputs)
            Raw prediction of the batch (overwritten by the loss if it likes).
        Y : ndarray of shape (n_batch, n_outputs)
        sw : ndarray of shape (n_batch,) or None
            Sample weights of the batch (not all zero); None for equal weights.

        Returns
        -------
        weighted_loss : float
            ``sum_i s_i loss_i`` over the batch (not normalized).
        weight_sum : float
            ``sum_i s_i`` over the batch.
        G : ndarray of shape (n_batch, n_outputs)
            ``s_i / sum(s) * d loss_i / d raw_i``.
        """
        loss, G = self.loss.loss_gradient(
            targets_for(self.loss, "loss_gradient", Y), raw
        )
        if sw is None:
            weight_sum = float(len(loss))
            weighted_loss = float(np.add.reduce(loss))
            G *= 1.0 / weight_sum
        else:
            weight_sum = float(sw.sum())
            weighted_loss = float(np.dot(sw, loss))
            G *= (sw / weight_sum)[:, None]
        return weighted_loss, weight_sum, G

    def batch(self, X, Y, sw, W, b, grads):
        """Gradient of the objective restricted to a batch, written to ``grads``.

        Parameters
        ----------
        X : ndarray or sparse matrix of shape (n_batch, n_features)
        Y : ndarray of shape (n_batch, n_outputs)
        sw : ndarray of shape (n_batch,) or None
            Sample weights of the batch (not all zero); None for equal weights.
        W : ndarray of shape (n_outputs, n_features)
        b : ndarray of shape (n_outputs,)
        grads : list of ndarray
            ``[dW, db]`` (``[dW]`` without intercept), overwritten.

        Returns
        -------
        weighted_loss : float
            ``sum_i s_i loss_i`` over the batch (not normalized).
        weight_sum : float
            ``sum_i s_i`` over the batch.
        """
        weighted_loss, weight_sum, G = self.output_gradient(self.raw(X, W, b), Y, sw)
        self.data_gradient(X, G, grads)
        self.finish_gradient(W, grads)
        return weighted_loss, weight_sum

    def data_gradient(self, X, G, grads):
        """``X^T G`` and the column sums of ``G``, in the user's coordinates.

        The part of the gradient that is linear in the per-row gradients
        ``G`` of the loss in the raw prediction; :meth:`finish_gradient`
        adds the penalty and moves it to the training coordinates.

        Parameters
        ----------
        X : ndarray or sparse matrix of shape (n_batch, n_features)
        G : ndarray of shape (n_batch, n_outputs)
        grads : list of ndarray
            ``[dW, db]`` (``[dW]`` without intercept), overwritten with
            ``G^T X`` and ``G.sum(axis=0)``.
        """
        dW = grads[0]
        if isinstance(X, np.ndarray):
            np.dot(G.T, X, out=dW)
        else:
            dW[...] = safe_sparse_dot(X.T, G, dense_output=True).T
        if self.fit_intercept:
            np.add.reduce(G, axis=0, out=grads[1])

    def finish_gradient(self, W, grads):
        """Add the l2 penalty's gradient at ``W`` to a :meth:`data_gradient`,
        in place, and move it to the training coordinates.

        Parameters
        ----------
        W : ndarray of shape (n_outputs, n_features)
            The coefficients, in the training coordinates.
        grads : list of ndarray
            ``[dW, db]`` in the user's coordinates; on return, the gradient
            of the objective in the training coordinates.
        """
        dW = grads[0]
        pre = self.preconditioner
        if pre is None:
            if self.l2:
                dW += self.l2 * W
            return
        # The chain rule through coef = W / s, intercept = b - coef @ m.
        if self.l2:
            dW += self.l2 * (W * pre.inv_scale)
        if pre.mean is not None:
            dW -= np.outer(grads[1], pre.mean)
        dW *= pre.inv_scale

    def value_grad(self, X, Y, sw, W, b, block_rows=None):
        """Full objective ``J(W, b)`` and its gradient ``[dW, db]``.

        ``block_rows``: evaluate dense ``X`` by blocks of that many rows, each
        block's backward product right after its forward one, while the block
        is in cache. A large ``X`` then streams from memory once per
        evaluation, not twice (0.7-0.9x the time of the whole evaluation on
        160,000 x 100), and the raw predictions and their gradient are a
        block's, not ``n_samples x n_outputs``.
        """
        if block_rows is not None and block_rows < X.shape[0]:
            return self._value_grad_blocks(X, Y, sw, W, b, block_rows)
        grads = [np.empty_like(W), np.empty_like(b)]
        weighted_loss, weight_sum = self.batch(X, Y, sw, W, b, grads)
        value = weighted_loss / weight_sum + self.penalty(W)
        return value, grads if self.fit_intercept else grads[:1]

    def _value_grad_blocks(self, X, Y, sw, W, b, block_rows):
        """:meth:`value_grad` by blocks of rows of dense ``X``: each block's
        raw prediction, :meth:`output_gradient` and :meth:`data_gradient`, its
        mean gradient weighted by the block's share of the total weight, the
        sums in float64 (as :func:`~sklearn_nnopt._training.full_gradient`),
        and the penalty and the coordinates once (:meth:`finish_gradient`)."""
        # :meth:`raw`'s product, with the coefficients in the user's units
        # made once, not per block (that cost 3% of an evaluation).
        coef, intercept = W, b
        if self.preconditioner is not None:
            coef, intercept = self.preconditioner.to_user(W, b)
        dW = np.zeros(W.shape)
        db = np.zeros(b.shape)
        parts = [np.empty_like(W), np.empty_like(b)]
        losses, weights = [], []
        for rows in gen_batches(X.shape[0], block_rows):
            swb = None if sw is None else sw[rows]
            if swb is not None and not swb.any():
                continue
            Xb = X[rows]
            raw = np.dot(coef, Xb.T).T
            if self.fit_intercept:
                raw += intercept
            loss, weight, G = self.output_gradient(raw, Y[rows], swb)
            self.data_gradient(Xb, G, parts)
            dW += weight * parts[0]
            if self.fit_intercept:
                db += weight * parts[1]
            losses.append(loss)
            weights.append(weight)
            # (Freed before the next block's are made: one block's at a time.)
            del raw, G
        # (Exact sums of the blocks': L-BFGS's line search compares values
        # that differ in their last digits near the optimum.)
        total_loss, total_weight = math.fsum(losses), math.fsum(weights)
        grads = [
            (dW / total_weight).astype(W.dtype),
            (db / total_weight).astype(b.dtype),
        ]
        self.finish_gradient(W, grads)
        value = total_loss / total_weight + self.penalty(W)
        return value, grads if self.fit_intercept else grads[:1]

    def output_hessian(self, raw, Y):
        """Second derivatives of each sample's loss in its raw prediction.

        Central differences of ``loss.loss_gradient`` (exact on a quadratic
        piece, about 1e-10 relative elsewhere, which is all a Newton step
        needs), so that every loss, custom ones included, has a Hessian
        without a formula of its own. A loss with ``independent_outputs``
        (each column's loss depends on that column alone) has a diagonal
        one: every output is stepped at once, in one pair of evaluations,
        which gives each column's central difference exactly as if it were
        stepped alone.

        Returns
        -------
        D : ndarray of shape (n_samples, n_outputs, n_outputs)
            ``D[i, k, l] = d^2 loss_i / (d raw_ik d raw_il)``.
        """
        raw = np.asarray(raw, dtype=np.float64)
        n, k = raw.shape
        Y = np.asarray(Y, dtype=np.float64)
        h = np.cbrt(np.finfo(np.float64).eps) * np.maximum(1.0, np.abs(raw))
        if getattr(self.loss, "independent_outputs", False):
            _, g_plus = self.loss.loss_gradient(Y, raw + h)
            _, g_minus = self.loss.loss_gradient(Y, raw - h)
            D = np.zeros((n, k, k))
            diagonal = np.arange(k)
            D[:, diagonal, diagonal] = (g_plus - g_minus) / ((raw + h) - (raw - h))
            return D
        D = np.empty((n, k, k))
        # One pair of evaluations per output: a loss whose outputs are
        # independent (all but the softmax) gives exact zeros off the
        # diagonal, which :meth:`hessian` then skips.
        for col in range(k):
            step = np.zeros_like(raw)
            step[:, col] = h[:, col]
            width = ((raw + step) - (raw - step))[:, col]  # the step taken
            _, g_plus = self.loss.loss_gradient(Y, raw + step)
            _, g_minus = self.loss.loss_gradient(Y, raw - step)
            D[:, :, col] = (g_plus - g_minus) / width[:, None]
        if k > 1:
            D = 0.5 * (D + D.transpose(0, 2, 1))
        return D

    def hessian(self, X, Y, sw, W, b):
        """Hessian of the full objective in the flat order ``[W.ravel(), b]``.

        .. math::
            H = \\sum_i \\frac{s_i}{\\sum s} (J_i^\\top D_i J_i)
                + \\operatorname{diag}(\\alpha_2 / s_j^2 \\text{ on } W)

        with :math:`J_i` the derivative of sample ``i``'s raw prediction in the
        parameters (its row of centered, scaled ``X`` and a 1 for the
        intercept, per output) and :math:`D_i` from :meth:`output_hessian`.
        Smooth penalties only (the l1 part has no Hessian). Where the loss is
        flat along "one constant added to every intercept" (the softmax), the
        Hessian gets curvature along that direction, along which the gradient
        is zero: a Newton step then stays off it, and no other is changed.

        Returns
        -------
        H : ndarray of shape (n_params, n_params)
        """
        pre = self.preconditioner
        n, p = X.shape
        k = W.shape[0]
        total = float(n) if sw is None else float(np.sum(sw, dtype=np.float64))
        q = p + 1 if self.fit_intercept else p
        blocks = np.zeros((k, k, q, q))
        pairs = set()
        if getattr(self.loss, "independent_outputs", False):
            candidates = [(r, r) for r in range(k)]  # a diagonal output Hessian
        else:
            candidates = [(r, c) for r in range(k) for c in range(r, k)]
        # By blocks of rows, with two reused buffers: Z = [scaled X, 1] and Z
        # weighted by one (output, output) pair of second derivatives; so
        # nothing of X's size, nor of the raw predictions', is allocated.
        # Small data (up to 512 KB of buffer) in one block; larger data in
        # blocks of 64 KB to 1 MB, at most 1/80 of X's size.
        elements = n * q
        if elements > 65536:
            elements = min(131072, max(8192, elements // 80))
        size = min(n, max(32, elements // q))
        Z_buffer, WZ_buffer = np.ones((size, q)), np.empty((size, q))
        for rows in _row_blocks(n, size):
            part = X[rows]
            D = self.output_hessian(self.raw(part, W, b), Y[rows])
            if sw is None:
                D *= 1.0 / total
            else:
                D *= (sw[rows] / total)[:, None, None]
            Z = Z_buffer[: rows.stop - rows.start]
            if pre is not None:
                pre.transform(part, Z[:, :p])
            else:
                Z[:, :p] = part.toarray() if hasattr(part, "toarray") else part
            WZ = WZ_buffer[: len(Z)]
            for r, c in candidates:
                if not np.any(D[:, r, c]):
                    continue  # independent outputs: exact zeros
                pairs.add((r, c))
                np.multiply(Z, D[:, r, c][:, None], out=WZ)
                blocks[r, c] += WZ.T @ Z
        for r, c in pairs:
            blocks[c, r] = blocks[r, c].T
        if self.l2:
            penalty = self.l2_curvatures(p)
            for r in range(k):
                blocks[r, r, np.arange(p), np.arange(p)] += penalty
        # Augmented order (output, [features, intercept]) -> [W.ravel(), b].
        order = np.arange(k * q).reshape(k, q)
        flat = np.concatenate([order[:, :p].ravel(), order[:, p:].ravel()])
        H = blocks.transpose(0, 2, 1, 3).reshape(k * q, k * q)
        H = H[np.ix_(flat, flat)]
        if self.fit_intercept and k > 1:
            # The softmax is unchanged by adding one constant to every
            # intercept: a flat direction along which the gradient is zero.
            # Curvature there keeps Newton's step (trust-exact's hard case
            # would move along it) off it, and changes no other direction.
            u = np.zeros(len(H))
            u[k * p :] = 1.0 / np.sqrt(k)
            Hu = H @ u
            if np.linalg.norm(Hu) <= 1e-6 * np.abs(H).max(initial=0.0):
                H += np.trace(H[k * p :, k * p :]) / k * np.outer(u, u)
        return H
