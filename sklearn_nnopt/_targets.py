"""Multiclass targets kept as class indices.

A classifier's multiclass targets are one-hot rows over ``n_classes``
outputs (``+-1`` for the margin losses). Stored as such they are
``n_samples x n_classes`` floats: on 80,000 x 50 with 10 classes, a fifth of
``X``'s size, for what an index per row says. :class:`OneHot` keeps the
indices and shows the same ``(n_samples, n_classes)`` matrix: ``Y[rows]`` is
the batch's indices, ``np.asarray(Y)`` the dense rows; numpy functions,
ufuncs, operators and the other ndarray attributes act on the dense rows, so
that code written for dense targets still runs. The hot paths (the log
loss, the compiled kernels, the losses' means) read the indices.
"""

import numpy as np
from numpy.lib.mixins import NDArrayOperatorsMixin

__all__ = ["OneHot", "class_indices"]


class OneHot(NDArrayOperatorsMixin):
    """One-hot targets of shape ``(n_samples, n_classes)``, stored as indices.

    Parameters
    ----------
    indices : ndarray of int of shape (n_samples,)
        Each row's class, in ``[0, n_classes)``.
    n_classes : int
        The number of outputs, at least 3 (two classes are one column).
    dtype : numpy dtype
        The dense rows' floating dtype (``X``'s).
    low : float, default=0.0
        The value off the class: 0 for ``{0, 1}`` targets, -1 for the
        margin losses' ``{-1, +1}``.
    """

    ndim = 2

    def __init__(self, indices, n_classes, dtype, low=0.0):
        self.indices = np.asarray(indices, dtype=np.intp)
        self.n_classes = int(n_classes)
        self.dtype = np.dtype(dtype)
        self.low = float(low)

    @property
    def shape(self):
        return (len(self.indices), self.n_classes)

    @property
    def size(self):
        return len(self.indices) * self.n_classes

    def __len__(self):
        return len(self.indices)

    def __repr__(self):
        return (
            f"OneHot(n_samples={len(self)}, n_classes={self.n_classes}, "
            f"dtype={self.dtype}, low={self.low})"
        )

    def _like(self, indices):
        return OneHot(indices, self.n_classes, self.dtype, self.low)

    def __getitem__(self, key):
        """Rows (a slice, an index array or a mask) as :class:`OneHot`; any
        other key indexes the dense rows."""
        if isinstance(key, tuple):
            if len(key) == 2 and isinstance(key[1], slice):
                # Some columns (L-BFGS by output): without the others.
                indices = self.indices[key[0]]
                if indices.ndim == 1:
                    chosen = np.arange(self.n_classes)[key[1]]
                    Y = np.where(indices[:, None] == chosen, 1.0, self.low)
                    return np.asfortranarray(Y, dtype=self.dtype)
            return np.asarray(self)[key]
        rows = self.indices[key]
        if rows.ndim != 1:
            return np.asarray(self)[key]
        return self._like(rows)

    def take(self, rows, axis=0):
        if axis != 0:
            return np.asarray(self).take(rows, axis=axis)
        return self._like(self.indices.take(rows))

    def toarray(self, order="F"):
        """The dense targets, ``(n_samples, n_classes)`` in :attr:`dtype`."""
        Y = np.full(self.shape, self.low, dtype=self.dtype, order=order)
        Y[np.arange(len(self.indices)), self.indices] = 1
        return Y

    def __array__(self, dtype=None, copy=None):
        Y = self.toarray()
        return Y if dtype is None else Y.astype(dtype, copy=False)

    def column_sums(self, sample_weight=None):
        """``sample_weight @ Y`` (``Y.sum(axis=0)`` for None), in float64."""
        counts = np.bincount(
            self.indices,
            weights=None if sample_weight is None else sample_weight,
            minlength=self.n_classes,
        ).astype(np.float64)
        if self.low:
            total = float(len(self) if sample_weight is None else np.sum(sample_weight))
            counts += self.low * (total - counts)
        return counts

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        """``weights @ Y`` by :meth:`column_sums`; other ufuncs on the dense
        rows (numpy would otherwise convert ``Y`` before asking it)."""
        if (
            ufunc is np.matmul
            and method == "__call__"
            and not kwargs
            and len(inputs) == 2
            and inputs[1] is self
            and np.ndim(inputs[0]) == 1
        ):
            weights = np.asarray(inputs[0])
            sums = self.column_sums(weights)
            return sums.astype(np.result_type(weights.dtype, self.dtype), copy=False)
        if any(isinstance(a, OneHot) for a in kwargs.get("out", ())):
            return NotImplemented  # its rows are not stored
        inputs = [a.toarray() if isinstance(a, OneHot) else a for a in inputs]
        return getattr(ufunc, method)(*inputs, **kwargs)

    def mean(self, axis=None, **kwargs):
        if axis != 0 or kwargs.get("dtype") or kwargs.get("out") is not None:
            return self.toarray().mean(axis=axis, **kwargs)
        return (self.column_sums() / len(self)).astype(self.dtype)

    def __getattr__(self, name):
        # Any other ndarray attribute (T, sum, astype, ...): the dense rows'.
        if name.startswith("_"):  # (copy, pickle and numpy protocols)
            raise AttributeError(name)
        return getattr(self.toarray(), name)


def class_indices(Y):
    """``Y``'s class indices if it is :class:`OneHot` (a ``(n_samples,)``
    ``intp`` array) and the value off the class, else ``(None, None)``."""
    if isinstance(Y, OneHot):
        return Y.indices, Y.low
    return None, None
