"""
The l1 penalty: coefficient path and sparsity
=============================================

``penalty="l1"`` adds :math:`\\alpha \\lVert W \\rVert_1` to the objective.
Every stochastic optimizer handles it with a **proximal step**: after each
update, ``coef_`` is soft-thresholded by ``alpha`` times the step size the
optimizer just applied to each coefficient, so coefficients reach exact zeros.

With the squared error the objective is exactly the Lasso's,

.. math::
    \\frac{1}{2 n} \\lVert y - X w - b \\rVert^2 + \\alpha \\lVert w \\rVert_1,

so ``sklearn.linear_model.Lasso`` (coordinate descent, to a tight tolerance)
gives the exact minimizer to compare with. The data are ``load_diabetes``
(standardized ``X``, unscaled ``y``), for 15 values of ``alpha`` from 0.1 to
45, where the Lasso keeps a single feature.
"""

import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Lasso
from sklearn.preprocessing import StandardScaler

from sklearn_nnopt import LinearNNRegressor

X, y = load_diabetes(return_X_y=True)
X = StandardScaler().fit_transform(X)
alphas = np.logspace(-1, np.log10(45), 15)

exact = np.array(
    [
        Lasso(alpha=alpha, tol=1e-10, max_iter=100_000).fit(X, y).coef_
        for alpha in alphas
    ]
)

settings = {
    "sgd": dict(optimizer="sgd"),
    "momentum": dict(optimizer="momentum"),
    "adam": dict(optimizer="adam"),
    # Full batch: proximal gradient descent (ISTA), 1 step per epoch.
    "sgd, full batch": dict(
        optimizer="sgd", batch_size=len(y), max_iter=2000, tol=1e-8
    ),
}
paths = {}
print(f"{'':<16} non-zero coefficients for each alpha (of 10)")
print(f"{'Lasso (exact)':<16} {np.count_nonzero(exact, axis=1)}")
for name, params in settings.items():
    start = time.perf_counter()
    coefs = []
    for alpha in alphas:
        est = LinearNNRegressor(penalty="l1", alpha=alpha, random_state=0, **params)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            coefs.append(est.fit(X, y).coef_)
    paths[name] = np.array(coefs)
    nnz = np.count_nonzero(paths[name], axis=1)
    print(f"{name:<16} {nnz}  ({time.perf_counter() - start:.2f}s)")

# %%
# The path and the count of non-zeros
# -----------------------------------

fig, (ax_path, ax_nnz) = plt.subplots(1, 2, figsize=(12, 4.8), layout="constrained")
ax_path.semilogx(alphas, exact, color="0.6", lw=3, alpha=0.6)
ax_path.semilogx(alphas, paths["momentum"], lw=1.2)
ax_path.set(
    xlabel="alpha",
    ylabel="coefficient",
    title="l1 path: momentum (colors), Lasso (grey)",
)
ax_nnz.semilogx(alphas, np.count_nonzero(exact, axis=1), "k-", lw=3, alpha=0.4)
for name, coefs in paths.items():
    style = "s--" if name.endswith("full batch") else "o-"
    ax_nnz.semilogx(alphas, np.count_nonzero(coefs, axis=1), style, label=name, ms=4)
ax_nnz.plot([], [], "k-", lw=3, alpha=0.4, label="Lasso (exact)")
ax_nnz.set(xlabel="alpha", ylabel="non-zero coefficients (of 10)", title="sparsity")
ax_nnz.legend()
for ax in (ax_path, ax_nnz):
    ax.grid(alpha=0.3)
plt.show()

# %%
# Every optimizer gives exact zeros, and their count falls with ``alpha`` as
# the Lasso's does. On 200-sample minibatches with a constant step, small
# coefficients whose exact value is 0 are pushed off zero by each noisy
# gradient before the threshold brings them back, so the stochastic fits keep
# a few more non-zeros than the Lasso at moderate ``alpha``; momentum and Adam,
# which average their gradients, come closer than plain SGD. On the full batch
# the proximal step is proximal gradient descent, which converges to the exact
# minimizer: its counts match the Lasso's but at the smallest ``alpha``.
#
# At small ``alpha`` the Lasso's path has large coefficients of opposite signs
# on correlated blood serum measurements (``s1`` near -26, ``s5`` near 32,
# ``s2`` near 14; ``s1`` and ``s2`` are correlated at 0.9): a direction of low
# curvature that 200 epochs of a first-order method do not travel to its end.
# ``average=True`` would spoil the zeros: an average of iterates is not sparse.
