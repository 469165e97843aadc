"""
How to choose a loss and an optimizer: the measurements
=======================================================

The numbers and figures behind the guide "How to choose a loss and an
optimizer". Every claim there points to a table or a figure of this example,
which runs when the documentation is built, on small data so that it stays
fast (single runs: the times are those of this build's machine and vary by
some tens of percent from run to run).

Part 1 goes from the kind of target to the loss: outliers, quantiles, counts,
classes with or without probabilities. Part 2 goes from the data to the
optimizer: small and larger dense sets, sparse text-like data, a stream, the
l1 penalty.
"""

import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
import scipy.sparse as sp
from sklearn.calibration import calibration_curve
from sklearn.datasets import load_breast_cancer, make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import brier_score_loss, mean_poisson_deviance
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from sklearn_nnopt import Huber, LinearNNClassifier, LinearNNRegressor, Quantile

START = time.perf_counter()


def timed_fit(est, X, y):
    """Fit; return the seconds taken, with one BLAS thread.

    On a shared machine, several BLAS threads competing with other work can
    make a small fit many times slower; one thread gives comparable times.
    """
    with threadpool_limits(limits=1, user_api="blas"):
        start = time.perf_counter()
        est.fit(X, y)
        return time.perf_counter() - start


# %%
# Part 1: from the target to the loss
# ===================================
#
# Regression with outliers
# ------------------------
#
# ``make_regression`` (1,000 rows, 10 features, noise of standard deviation
# 10) split in half; a share of the *training* targets get a gross error, +500
# to +1,000 (about 3 to 6 times the spread of ``y``), and the models are
# scored on the clean test half. ``Huber(delta=13.5)`` puts the kink at 1.35
# times the noise level (the classic choice; ``delta`` is in units of ``y``),
# ``"huber"`` is ``Huber(delta=1.0)``.

X, y = make_regression(
    n_samples=1000, n_features=10, n_informative=10, noise=10.0, random_state=0
)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.5, random_state=0)
print(f"y: standard deviation {y.std():.0f}")

regression_losses = {
    "squared_error": "squared_error",
    "huber (delta=1)": "huber",
    "huber (delta=13.5)": Huber(delta=13.5),
    "absolute_error": "absolute_error",
}
fractions = [0.0, 0.02, 0.05, 0.1, 0.2]
rng = np.random.default_rng(0)
order = rng.permutation(len(y_train))  # the first k rows get the errors
errors = rng.uniform(500, 1000, size=len(y_train))
rmse = {name: [] for name in regression_losses}
ran = {}  # what optimizer="auto" ran for each loss
for fraction in fractions:
    corrupted = y_train.copy()
    bad = order[: int(fraction * len(y_train))]
    corrupted[bad] += errors[bad]
    for name, loss in regression_losses.items():
        est = LinearNNRegressor(loss=loss, random_state=0).fit(X_train, corrupted)
        residual = est.predict(X_test) - y_test
        rmse[name].append(np.sqrt(np.mean(residual**2)))
        ran[name] = type(est.optimizer_).__name__

print("test RMSE (clean test set) by share of gross errors in the training y")
print(f"{'loss':<20}" + "".join(f"{f:>8.0%}" for f in fractions) + "  auto ran")
for name, values in rmse.items():
    print(f"{name:<20}" + "".join(f"{v:8.1f}" for v in values) + f"  {ran[name]}")

# %%
# Quantiles and prediction intervals
# ----------------------------------
#
# One feature, noise whose spread grows with it (heteroscedastic), so that the
# 5% and 95% quantiles are lines that fan out. ``Quantile(0.05)`` and
# ``Quantile(0.95)`` give a 90% prediction interval; the squared error gives
# the mean only, and a symmetric band of +-1.645 residual standard deviations
# around it (the Gaussian 90% interval) has the right coverage on average but
# not where the noise is small or large.

rng = np.random.default_rng(1)
x = rng.uniform(0, 10, size=3000)
y_het = 2.0 * x + 5.0 + rng.normal(size=x.size) * (0.5 + 0.5 * x)
Xq = x[:, None]
Xq_train, Xq_test, yq_train, yq_test = train_test_split(
    Xq, y_het, test_size=0.5, random_state=0
)
quantile_models = {
    q: LinearNNRegressor(loss=Quantile(quantile=q), random_state=0).fit(
        Xq_train, yq_train
    )
    for q in (0.05, 0.5, 0.95)
}
mean_model = LinearNNRegressor(random_state=0).fit(Xq_train, yq_train)
sd = np.std(yq_train - mean_model.predict(Xq_train))

low, high = (quantile_models[q].predict(Xq_test) for q in (0.05, 0.95))
mean_pred = mean_model.predict(Xq_test)
g_low, g_high = mean_pred - 1.645 * sd, mean_pred + 1.645 * sd
small = Xq_test[:, 0] < 3  # where the noise is small
large = Xq_test[:, 0] > 7  # where it is large
print(f"quantile fits: auto ran {type(quantile_models[0.5].optimizer_).__name__}")
print("share of test y below each quantile prediction (target: the quantile)")
for q, model in quantile_models.items():
    print(f"  quantile {q:4.2f}: {np.mean(yq_test < model.predict(Xq_test)):.3f}")
print("90% interval coverage:        all x   x < 3   x > 7   mean width")
for name, (lo, hi) in {
    "quantile 0.05 to 0.95": (low, high),
    "squared_error +- 1.645 sd": (g_low, g_high),
}.items():
    inside = (yq_test >= lo) & (yq_test <= hi)
    print(
        f"  {name:<27} {inside.mean():6.3f}  {inside[small].mean():6.3f}  "
        f"{inside[large].mean():6.3f}  {np.mean(hi - lo):9.2f}"
    )

# %%
# The first figure: test error against the share of gross errors, and the
# quantile band against the Gaussian one.

fig, (ax_out, ax_q) = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
for name, values in rmse.items():
    ax_out.plot(np.array(fractions) * 100, values, "o-", label=name)
ax_out.set(
    xlabel="training targets with a gross error (%)",
    ylabel="test RMSE (clean test set)",
    yscale="log",
    title="outliers in y: squared error breaks, Huber and absolute do not",
)
ax_out.legend(fontsize=8)
grid = np.linspace(0, 10, 50)[:, None]
ax_q.scatter(Xq_test[::5, 0], yq_test[::5], s=4, color="0.7")
ax_q.fill_between(
    grid[:, 0],
    quantile_models[0.05].predict(grid),
    quantile_models[0.95].predict(grid),
    alpha=0.3,
    label="quantile 0.05 to 0.95",
)
ax_q.plot(grid[:, 0], mean_model.predict(grid) - 1.645 * sd, "k--", lw=1)
ax_q.plot(
    grid[:, 0],
    mean_model.predict(grid) + 1.645 * sd,
    "k--",
    lw=1,
    label="mean +- 1.645 sd",
)
ax_q.set(xlabel="x", ylabel="y", title="90% intervals: quantile loss vs squared error")
ax_q.legend(fontsize=8, loc="upper left")
plt.show()

# %%
# Counts
# ------
#
# Counts drawn from a Poisson distribution whose log-mean is linear in 5
# features (mean count about 2, most rows 0 to 5). ``"poisson"`` predicts
# :math:`e^z`, always positive; the squared error fits the mean linearly and
# goes below zero where the counts are small. The mean Poisson deviance needs
# positive predictions: those of the squared error are clipped at 0.01 for it.

rng = np.random.default_rng(2)
Xc = rng.normal(size=(4000, 5))
yc = rng.poisson(np.exp(0.3 + Xc @ np.array([0.6, -0.4, 0.3, 0.2, -0.5])))
Xc_train, Xc_test, yc_train, yc_test = train_test_split(Xc, yc, random_state=0)
print(f"counts: mean {yc.mean():.2f}, zeros {np.mean(yc == 0):.0%}, max {yc.max()}")
print(
    f"{'loss':<16} {'auto ran':<8} {'Poisson deviance':>16} {'MAE':>6} "
    f"{'predictions < 0':>16}"
)
for loss in ("poisson", "squared_error"):
    est = LinearNNRegressor(loss=loss, random_state=0).fit(Xc_train, yc_train)
    pred = est.predict(Xc_test)
    deviance = mean_poisson_deviance(yc_test, np.maximum(pred, 0.01))
    print(
        f"{loss:<16} {type(est.optimizer_).__name__:<8} {deviance:16.3f} "
        f"{np.mean(np.abs(pred - yc_test)):6.3f} "
        f"{np.mean(pred < 0):16.1%}"
    )

# %%
# Classes, with or without probabilities
# --------------------------------------
#
# ``make_classification`` (4,000 rows, 20 features, one cluster per class, 5%
# of the labels flipped), split in half. Accuracy, and for the losses with a
# ``predict_proba``: the Brier score (mean squared error of the probability),
# the expected calibration error (ECE: the mean gap between the predicted
# probability and the observed frequency over 10 bins, weighted by the bins'
# sizes) and the share of probabilities of exactly 0 or 1 (which make the log
# loss of a wrong prediction infinite). Lower is better for all three.

Xk, yk = make_classification(
    n_samples=4000,
    n_features=20,
    n_informative=10,
    n_clusters_per_class=1,
    flip_y=0.05,
    random_state=0,
)
Xk_train, Xk_test, yk_train, yk_test = train_test_split(
    Xk, yk, test_size=0.5, random_state=0
)


def calibration_error(y_true, proba, n_bins=10):
    """Expected calibration error over equal-width bins."""
    bins = np.minimum((proba * n_bins).astype(int), n_bins - 1)
    return sum(
        np.sum(bins == b) * abs(y_true[bins == b].mean() - proba[bins == b].mean())
        for b in np.unique(bins)
    ) / len(y_true)


curves = {}
print(
    f"{'loss':<15} {'auto ran':<8} {'accuracy':>8} {'proba':>5} {'Brier':>6} "
    f"{'ECE':>6} {'0 or 1':>6}"
)
for loss in ("log_loss", "modified_huber", "hinge", "squared_hinge"):
    clf = LinearNNClassifier(loss=loss, random_state=0).fit(Xk_train, yk_train)
    accuracy = clf.score(Xk_test, yk_test)
    if hasattr(clf, "predict_proba"):
        proba = clf.predict_proba(Xk_test)[:, 1]
        frac, mean = calibration_curve(yk_test, proba, n_bins=10)
        curves[loss] = (mean, frac, calibration_error(yk_test, proba))
        print(
            f"{loss:<15} {type(clf.optimizer_).__name__:<8} {accuracy:8.3f} {'yes':>5} "
            f"{brier_score_loss(yk_test, proba):6.3f} "
            f"{calibration_error(yk_test, proba):6.3f} "
            f"{np.mean((proba == 0) | (proba == 1)):6.1%}"
        )
    else:
        print(
            f"{loss:<15} {type(clf.optimizer_).__name__:<8} {accuracy:8.3f} "
            f"{'no':>5} {'-':>6} {'-':>6} {'-':>6}"
        )

# %%
# The second figure: the reliability curves. A calibrated model's predicted
# probability of 0.8 is right 80% of the time (the diagonal).

fig, ax = plt.subplots(figsize=(5.5, 4.5), layout="constrained")
ax.plot([0, 1], [0, 1], "k:", lw=1, label="calibrated")
for loss, (mean, frac, error) in curves.items():
    ax.plot(mean, frac, "o-", label=f"{loss} (ECE {error:.3f})")
ax.set(
    xlabel="predicted probability (bin mean)",
    ylabel="observed frequency of the positive class",
    title="reliability of predict_proba (test half)",
)
ax.legend()
plt.show()


# %%
# Part 2: from the data to the optimizer
# ======================================
#
# Time to fit and objective reached
# ---------------------------------
#
# The log loss with the default ``penalty="l2"``, ``alpha=1e-4``, on three
# binary problems:
#
# * small dense: ``load_breast_cancer`` (569 x 30), standardized;
# * larger dense: ``make_classification``, 20,000 x 50;
# * sparse: a tf-idf-like CSR matrix, 5,000 x 10,000 with 50 non-zeros per
#   row (Zipf-distributed columns, rows of unit norm), labels from a sparse
#   linear model with 5% flipped.
#
# Each optimizer runs with every other parameter at its default. The objective
# :math:`J` (mean log loss plus :math:`\alpha \lVert w \rVert^2 / 2`) is
# computed on the training data at the end, and compared with :math:`J^*` from
# a tight fit (``optimizer="lbfgs", tol=1e-10``) as the relative gap
# :math:`(J - J^*) / J^*`. Times are on the documentation's build machine, with
# one BLAS thread (``timed_fit``): a fit is repeated (up to five times) until
# the repetitions total 0.5 s, and the median is shown. ``"auto"`` runs the
# same code as the optimizer it picks (the same iterations and gap), so a
# difference in time between the two is noise.


def objective(est, X, y):
    """Mean binary log loss plus alpha / 2 ||w||^2 at the fitted coefficients."""
    z = est.decision_function(X)
    return np.mean(np.logaddexp(0, z) - y * z) + est.alpha / 2 * np.sum(est.coef_**2)


def sparse_text_like(n_samples, n_features, nnz_per_row, random_state):
    """CSR rows of unit norm over Zipf-distributed columns; sparse linear labels."""
    rng = np.random.default_rng(random_state)
    frequency = 1.0 / np.arange(1, n_features + 1)
    cols = rng.choice(
        n_features, size=n_samples * nnz_per_row, p=frequency / frequency.sum()
    )
    rows = np.repeat(np.arange(n_samples), nnz_per_row)
    values = rng.exponential(size=rows.size)
    X = sp.csr_matrix((values, (rows, cols)), shape=(n_samples, n_features))
    X.sum_duplicates()
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
    X = sp.csr_matrix(sp.diags(1 / norms) @ X)
    w = rng.normal(size=n_features) * (rng.random(n_features) < 0.1) * 10
    y = (X @ w > 0).astype(int)
    flip = rng.random(n_samples) < 0.05
    y[flip] = 1 - y[flip]
    return X, y


X_bc, y_bc = load_breast_cancer(return_X_y=True)
X_bc = StandardScaler().fit_transform(X_bc)
X_dense, y_dense = make_classification(
    n_samples=20_000, n_features=50, n_informative=20, random_state=0
)
X_dense = StandardScaler().fit_transform(X_dense)
X_sparse, y_sparse = sparse_text_like(5_000, 10_000, 50, random_state=0)
datasets = {
    "small dense (569 x 30)": (X_bc, y_bc),
    "dense (20,000 x 50)": (X_dense, y_dense),
    "sparse (5,000 x 10,000)": (X_sparse, y_sparse),
}
# Three quarters to fit (the objective is that of these rows), a quarter to
# score.
datasets = {
    name: train_test_split(X, y, random_state=0) for name, (X, y) in datasets.items()
}
optimizers = ["auto", "newton", "lbfgs", "adam", "sgd"]
timings = {}
for data_name, (X, X_held_out, y, y_held_out) in datasets.items():
    reference = LinearNNClassifier(optimizer="lbfgs", tol=1e-10, max_iter=10_000)
    j_star = objective(reference.fit(X, y), X, y)
    print(f"{data_name}: J* = {j_star:.6f}")
    print(
        f"  {'optimizer':<9} {'ran':<7} {'fit (s)':>8} {'n_iter':>6} {'gap':>9} "
        f"{'accuracy':>8}  warned"
    )
    for name in optimizers:
        if name == "newton" and sp.issparse(X):
            n_params = X.shape[1] + 1
            print(
                f"  {name:<9} not run: one Hessian is {n_params:,} x {n_params:,} "
                f"({n_params**2 * 8 / 1e9:.1f} GB)"
            )
            continue
        est = LinearNNClassifier(optimizer=name, random_state=0)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            seconds = []
            while len(seconds) < 5 and sum(seconds) < 0.5:  # repeat fast fits
                seconds.append(timed_fit(est, X, y))
            seconds = float(np.median(seconds))
        gap = max((objective(est, X, y) - j_star) / j_star, 0.0)
        warned = any(issubclass(w.category, ConvergenceWarning) for w in caught)
        ran = type(est.optimizer_).__name__
        timings[data_name, name] = (seconds, gap)
        print(
            f"  {name:<9} {ran:<7} {seconds:8.3f} {est.n_iter_:6d} {gap:9.1e} "
            f"{est.score(X_held_out, y_held_out):8.3f}  {'yes' if warned else 'no'}"
        )

# %%
# On the small set the unconverged Adam and SGD fits score higher on the held
# out quarter than the optimum does: stopping early acts as a stronger
# penalty. The parameter that sets the penalty is ``alpha``; at the optimum
# (``optimizer="auto"``), larger values give:

X, X_held_out, y, y_held_out = datasets["small dense (569 x 30)"]
print(f"small dense, held-out rows: {len(y_held_out)}")
for alpha in (1e-4, 1e-3, 1e-2, 1e-1):
    est = LinearNNClassifier(alpha=alpha, random_state=0).fit(X, y)
    print(
        f"  alpha {alpha:g}: {type(est.optimizer_).__name__}, test accuracy "
        f"{est.score(X_held_out, y_held_out):.3f}"
    )

# %%
# The third figure: fit time (top) and the gap reached (bottom) for each
# optimizer, one column per data set; ``"auto"`` in blue. A gap below 1e-14
# is drawn at 1e-14.

fig, axes = plt.subplots(
    2, 3, figsize=(12, 6), sharex=True, sharey="row", layout="constrained"
)
colors = ["C0" if name == "auto" else "0.55" for name in optimizers]
for column, data_name in enumerate(datasets):
    ax_time, ax_gap = axes[:, column]
    seconds = [
        timings.get((data_name, name), (np.nan, np.nan))[0] for name in optimizers
    ]
    gaps = [timings.get((data_name, name), (np.nan, np.nan))[1] for name in optimizers]
    ax_time.bar(optimizers, seconds, color=colors)
    ax_gap.bar(optimizers, np.maximum(gaps, 1e-14), color=colors)
    for k, name in enumerate(optimizers):
        if (data_name, name) not in timings:
            for ax in (ax_time, ax_gap):
                ax.annotate(
                    "not run",
                    (k, 0.5),
                    xycoords=("data", "axes fraction"),
                    ha="center",
                    rotation=90,
                    fontsize=8,
                )
    ax_time.set(yscale="log", title=data_name)
    ax_gap.set(yscale="log", ylim=(1e-15, 10))
    ax_gap.tick_params(axis="x", rotation=30)
axes[0, 0].set_ylabel("fit time (s)")
axes[1, 0].set_ylabel("relative gap (J - J*) / J*")
fig.suptitle("log loss, default settings: optimizer='auto' (blue) against the others")
plt.show()

# %%
# A stream: ``partial_fit`` in chunks
# -----------------------------------
#
# ``make_classification`` (20,000 x 20): 16,000 rows arrive in 32 chunks of
# 500, three passes; 4,000 rows score the model. ``partial_fit`` with
# ``optimizer="auto"`` runs plain SGD; the same stream with
# ``optimizer="adam"``; and ``fit`` on all 16,000 rows at once for reference.

X_s, y_s = make_classification(
    n_samples=20_000, n_features=20, n_informative=10, random_state=1
)
X_s = StandardScaler().fit_transform(X_s)
X_s, X_s_test, y_s, y_s_test = train_test_split(X_s, y_s, test_size=0.2, random_state=0)
chunks = np.array_split(np.arange(len(y_s)), 32)
full = LinearNNClassifier(random_state=0).fit(X_s, y_s)
j_full = objective(full, X_s, y_s)
checkpoints = {1: "1 chunk", 8: "8 chunks", 32: "1 pass", 96: "3 passes"}
print(f"fit on all rows ({type(full.optimizer_).__name__}): test accuracy ", end="")
print(f"{full.score(X_s_test, y_s_test):.3f}")
print(
    f"{'partial_fit':<22}" + "".join(f"{label:>10}" for label in checkpoints.values())
)
for optimizer in ("auto", "adam"):
    est = LinearNNClassifier(optimizer=optimizer, random_state=0)
    accuracy, gaps, seen = [], [], 0
    for _ in range(3):
        for chunk in chunks:
            est.partial_fit(X_s[chunk], y_s[chunk], classes=[0, 1])
            seen += 1
            if seen in checkpoints:
                accuracy.append(est.score(X_s_test, y_s_test))
                gaps.append((objective(est, X_s, y_s) - j_full) / j_full)
    label = f"{optimizer} ({type(est.optimizer_).__name__})"
    print(f"{label + ', accuracy':<22}" + "".join(f"{a:10.3f}" for a in accuracy))
    print(f"{label + ', gap':<22}" + "".join(f"{g:10.1e}" for g in gaps))

# %%
# The l1 penalty
# --------------
#
# ``make_classification`` (2,000 x 100, 10 informative features, the other 90
# noise), standardized, with ``penalty="l1", alpha=0.01``. The l1 term is not
# smooth: Newton and L-BFGS refuse it, and ``optimizer="auto"`` runs Adam
# with a proximal step, which sets coefficients exactly to zero. The exact
# minimizer comes from full-batch proximal gradient descent (ISTA:
# ``optimizer="sgd"`` with ``batch_size`` = all rows, run to a tight
# tolerance); the gap is that of the l1 objective, mean log loss plus
# :math:`\alpha \lVert w \rVert_1`.

X_l1, y_l1 = make_classification(
    n_samples=2000,
    n_features=100,
    n_informative=10,
    n_redundant=0,
    random_state=0,
)
X_l1 = StandardScaler().fit_transform(X_l1)
X_l1, X_l1_test, y_l1, y_l1_test = train_test_split(X_l1, y_l1, random_state=0)
try:
    LinearNNClassifier(penalty="l1", optimizer="lbfgs").fit(X_l1, y_l1)
except ValueError as error:
    print(f"ValueError: {error}")


def l1_objective(est):
    """Mean log loss plus alpha ||w||_1 on the training rows."""
    z = est.decision_function(X_l1)
    return np.mean(np.logaddexp(0, z) - y_l1 * z) + 0.01 * np.abs(est.coef_).sum()


l1 = dict(penalty="l1", alpha=0.01)
l1_settings = {
    "l2 (default), auto": dict(),
    "l1, auto": l1,
    "l1, sgd": dict(l1, optimizer="sgd"),
    "l1, momentum": dict(l1, optimizer="momentum"),
    "l1, sgd full batch (ISTA)": dict(
        l1, optimizer="sgd", batch_size=len(y_l1), max_iter=5000, tol=1e-6
    ),
    "elasticnet (l1_ratio=0.5), auto": dict(
        penalty="elasticnet", l1_ratio=0.5, alpha=0.01
    ),
}
l1_results = {}
for name, params in l1_settings.items():
    est = LinearNNClassifier(random_state=0, **params)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        seconds = timed_fit(est, X_l1, y_l1)
    warned = any(issubclass(w.category, ConvergenceWarning) for w in caught)
    l1_results[name] = (est, seconds, warned)
j_l1 = l1_objective(l1_results["l1, sgd full batch (ISTA)"][0])
print(
    f"{'setting':<32} {'ran':<18} {'zero coef':>9} {'accuracy':>8} {'fit (s)':>7}"
    f" {'l1 gap':>8}  warned"
)
for name, (est, seconds, warned) in l1_results.items():
    gap = f"{(l1_objective(est) - j_l1) / j_l1:.1e}" if est.penalty == "l1" else "-"
    print(
        f"{name:<32} {est.optimizer_!r:<18} "
        f"{np.sum(est.coef_ == 0):6d}/100 {est.score(X_l1_test, y_l1_test):8.3f} "
        f"{seconds:7.2f} {gap:>8}  {'yes' if warned else 'no'}"
    )

print(f"total run time of this example: {time.perf_counter() - START:.0f} s")
