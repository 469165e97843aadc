"""
The figures of the compare command
==================================

:func:`~sklearn_nnopt.compare` (``python -m sklearn_nnopt compare``)
cross-validates every loss x optimizer pair, each at its own best ``alpha``,
and ranks them. This example runs a small grid on iris and draws its two
figures, the ones ``--plot compare.png`` saves in one image and ``--report
compare.html`` embeds in one HTML file with the table:

1. the mean cross-validated score against the mean fit time per fold, one
   point per candidate;
2. the training curves, one panel per loss, the objective gap to that loss's
   best against time, one line per optimizer.
"""

import matplotlib.pyplot as plt

from sklearn_nnopt import compare

# %%
# The comparison
# --------------
#
# Three folds and two alphas keep this quick. ``curves=True`` also fits each
# candidate once on the whole standardized data, after the ranking, for the
# training curves (``plot=`` and ``report=`` do it too). ``hinge`` x
# ``newton`` is refused: Newton's method needs a smooth loss.

result = compare(
    dataset="iris",
    losses=["log_loss", "hinge", "squared_hinge"],
    optimizers=["sgd", "adam", "lbfgs", "newton"],
    alphas=[1e-4, 1e-2],
    cv=3,
    max_iter=100,
    curves=True,
    verbose=False,
)
print(result)

# %%
# Score against fit time
# ----------------------
#
# One point per candidate, at its mean fit time per fold (log scale), with
# bars of one standard deviation over the folds. Filled markers are tied with
# the best (not significantly worse, by the corrected paired t-test), hollow
# ones significantly worse; the ring is the recommendation, the fastest tied
# candidate that converged in every fold. The grey line and band are
# ``LogisticRegression()`` on the same folds. Colour is the optimizer, marker
# the loss. (Fit times of a few milliseconds, as here, vary from run to run.)

fig = plt.figure(figsize=(10, 5.5), layout="constrained")
result.plot_scores(fig)
plt.show()

# %%
# Training curves
# ---------------
#
# Objectives are comparable only within one loss at one alpha, so each panel
# is one loss, every candidate at the same alpha: the most frequent ``alpha``
# of that loss's candidates (``result.curve_alphas``). The y axis is the gap
# to the lowest objective of the panel, on a log scale; the x axis the time,
# epoch (L-BFGS, Newton: iteration) k of n drawn at k/n of the fit's wall
# time, an approximation. A stochastic optimizer's objective per epoch is the
# average over its minibatches, each taken before its step, so it levels off
# above the full-batch optimizers' exact objective.

print("alpha of each loss's curves:", result.curve_alphas)
fig = plt.figure(figsize=(13, 4.6), layout="constrained")
result.plot_curves(fig)
plt.show()

# %%
# The same from the command line, with the HTML report for sharing:
#
# .. code-block:: console
#
#     $ python -m sklearn_nnopt compare --dataset iris \
#           --losses log_loss,hinge,squared_hinge --optimizers sgd,adam,lbfgs,newton \
#           --alphas 1e-4,1e-2 --cv 3 --max-iter 100 \
#           --plot compare.png --report compare.html
