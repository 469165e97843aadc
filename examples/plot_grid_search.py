"""
Searching over losses and optimizers
====================================

``loss`` and ``optimizer`` are ordinary hyperparameters, so ``GridSearchCV``
(or any scikit-learn search) can choose them, together with the other
parameters. This example

1. crosses four classification losses with five optimizers on the
   standardized breast cancer data and draws the cross-validated accuracy;
2. tunes an optimizer instance's own parameters through the nested names
   ``optimizer__<name>``, with a list of grids so that each optimizer gets
   its own parameters.
"""

import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_nnopt import SGD, Adam, LinearNNClassifier

X, y = load_breast_cancer(return_X_y=True)
cv = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
pipe = make_pipeline(StandardScaler(), LinearNNClassifier(random_state=0))

# %%
# Loss x optimizer
# ----------------
#
# In a pipeline the estimator's parameters are prefixed by its step name,
# ``linearnnclassifier__``.

losses = ["log_loss", "hinge", "squared_hinge", "modified_huber"]
optimizers = ["sgd", "nesterov", "adam", "rmsprop", "adagrad"]
start = time.perf_counter()
with warnings.catch_warnings():
    # Some candidates stop at max_iter; the search reports them all the same.
    warnings.simplefilter("ignore", ConvergenceWarning)
    grid = GridSearchCV(
        pipe,
        {
            "linearnnclassifier__loss": losses,
            "linearnnclassifier__optimizer": optimizers,
        },
        cv=cv,
    ).fit(X, y)
print(f"{len(grid.cv_results_['params'])} candidates x 5 folds in ", end="")
print(f"{time.perf_counter() - start:.1f}s")
print("best:", grid.best_params_, f"accuracy {grid.best_score_:.4f}")

scores = np.empty((len(losses), len(optimizers)))
for params, score in zip(
    grid.cv_results_["params"], grid.cv_results_["mean_test_score"], strict=True
):
    i = losses.index(params["linearnnclassifier__loss"])
    j = optimizers.index(params["linearnnclassifier__optimizer"])
    scores[i, j] = score

fig, ax = plt.subplots(figsize=(7, 3.8), layout="constrained")
image = ax.imshow(scores, cmap="viridis")
ax.set(
    xticks=range(len(optimizers)),
    xticklabels=optimizers,
    yticks=range(len(losses)),
    yticklabels=losses,
    xlabel="optimizer",
    ylabel="loss",
    title="5-fold CV accuracy, breast cancer",
)
for i in range(len(losses)):
    for j in range(len(optimizers)):
        color = "k" if scores[i, j] > scores.mean() else "w"
        ax.text(j, i, f"{scores[i, j]:.3f}", ha="center", va="center", color=color)
fig.colorbar(image)
plt.show()

# %%
# The differences are small: every pair scores within about one standard
# deviation across folds (``std_test_score``, about 0.02) of the others, so the
# search picks between near ties; search ``alpha`` along with them. (L-BFGS is
# left out of this grid: with the non-smooth margin losses it runs to
# ``max_iter`` and would dominate the run time of this example.)
#
# Nested optimizer parameters
# ---------------------------
#
# An instance's own parameters are reachable as ``optimizer__<name>``
# (``linearnnclassifier__optimizer__beta_1`` in the pipeline). A list of grids
# gives each optimizer its own parameters; ``learning_rate_init`` is searched
# around the automatic step, which is ``0.01`` for Adam here and ``1 / L``
# for SGD. ``fit`` never modifies the instances in the grid: it trains copies.

prefix = "linearnnclassifier__"
param_grid = [
    {
        prefix + "optimizer": [Adam()],
        prefix + "optimizer__beta_1": [0.8, 0.95],
        prefix + "optimizer__amsgrad": [False, True],
        prefix + "learning_rate_init": ["auto", 0.03],
    },
    {
        prefix + "optimizer": [SGD(momentum=0.9)],
        prefix + "optimizer__nesterov": [False, True],
        prefix + "learning_rate": ["constant", "cosine"],
    },
]
start = time.perf_counter()
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    nested = GridSearchCV(pipe, param_grid, cv=cv).fit(X, y)
print(f"{len(nested.cv_results_['params'])} candidates in ", end="")
print(f"{time.perf_counter() - start:.1f}s")
order = np.argsort(-nested.cv_results_["mean_test_score"])
for k in order[:5]:
    params = {
        key.removeprefix(prefix): value
        for key, value in nested.cv_results_["params"][k].items()
    }
    mean = nested.cv_results_["mean_test_score"][k]
    std = nested.cv_results_["std_test_score"][k]
    print(f"{mean:.4f} +- {std:.4f}  {params}")
best = nested.best_estimator_[-1]
print("best optimizer_ (the trained copy):", best.optimizer_)
print("step count of the best model:", best.optimizer_.t_)
