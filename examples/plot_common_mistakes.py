"""
Common mistakes when training a linear model like a network
===========================================================

Four mistakes that are easy to make when a linear model is trained with a
hand-written loop (or a deep learning framework), measured here with small
self-contained numpy loops, next to what ``sklearn_nnopt`` does instead:

1. a **cross-entropy loss for a regression target**;
2. **Adam for the weights and plain SGD for the bias** (the optimizer applied
   to one parameter and not the other);
3. **Adam without its bias correction**;
4. **a gradient that does not match its loss**.

The data are ``load_diabetes`` (regression, target around 150, left unscaled),
``load_breast_cancer`` and, for the fourth, ``make_classification``
(classification), all with standardized ``X``.
"""

import warnings

import matplotlib.pyplot as plt
import numpy as np
from scipy.optimize import approx_fprime
from scipy.special import expit
from sklearn.datasets import load_breast_cancer, load_diabetes, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import log_loss, mean_absolute_error, r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from sklearn_nnopt import (
    Adam,
    LinearNNClassifier,
    LinearNNRegressor,
    LogLoss,
    SquaredError,
)

X, y = load_diabetes(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
scaler = StandardScaler().fit(X_train)
X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
print(f"diabetes: y from {y.min():.0f} to {y.max():.0f}, mean {y.mean():.1f}")

# %%
# 1. Cross-entropy for a regression target
# ----------------------------------------
#
# **Sigmoid cross-entropy on a linear output.** "Binary cross-entropy with
# logits", :math:`\ell(y, z) = \log(1 + e^z) - y z`, is a loss for
# :math:`y \in [0, 1]`. For a target above 1 its derivative
# :math:`\sigma(z) - y` is negative for every ``z``: the loss has no minimum,
# and gradient descent pushes every prediction up forever while the reported
# loss keeps going down.

W, b = np.zeros(X_train.shape[1]), 0.0
bce_curve = []
for step in range(1, 1001):
    z = X_train @ W + b
    bce_curve.append(np.mean(np.logaddexp(0, z) - y_train * z))
    residual = expit(z) - y_train  # d loss / d z
    W -= 0.1 * X_train.T @ residual / len(y_train)
    b -= 0.1 * residual.mean()
    if step in (10, 100, 1000):
        z_test = X_test @ W + b
        print(
            f"BCE step {step:4d}: training loss {bce_curve[-1]:12.1f}, "
            f"intercept {b:8.1f}, test R^2 of z {r2_score(y_test, z_test):12.1f}, "
            f"of sigmoid(z) {r2_score(y_test, expit(z_test)):6.2f}"
        )

# %%
# **Softmax cross-entropy over the target's values.** The diabetes target is
# stored as whole numbers, so a classifier accepts it, with one class per
# distinct value. Cross-entropy then ignores that 150 is closer to 151 than to
# 300, and predicts the most likely *value*: worse than predicting the mean.

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    clf = LinearNNClassifier(random_state=0).fit(X_train, y_train)
for w in caught:
    if not issubclass(w.category, ConvergenceWarning):
        print(f"scikit-learn warns: {w.message}")
reg = LinearNNRegressor(random_state=0).fit(X_train, y_train)
mean_mae = mean_absolute_error(y_test, np.full_like(y_test, y_train.mean()))
print(f"predict the training mean:            MAE {mean_mae:5.1f}")
for name, model in [
    (f"classifier, {len(clf.classes_)} classes, log_loss", clf),
    ("LinearNNRegressor(), squared_error", reg),
]:
    pred = model.predict(X_test)
    print(
        f"{name:<37} MAE {mean_absolute_error(y_test, pred):5.1f}, "
        f"R^2 {r2_score(y_test, pred):5.2f}"
    )

# %%
# **What the library does.** ``LinearNNRegressor`` accepts the regression
# losses only (a classification loss is rejected with the list of valid ones),
# and starts the intercept at the loss's best constant, here the mean of ``y``.

try:
    LinearNNRegressor(loss="log_loss").fit(X_train, y_train)
except ValueError as error:
    print(f"ValueError: {error}")
start = SquaredError().baseline(y_train.reshape(-1, 1))[0]
print(f"mean of y_train {y_train.mean():.2f}; the intercept starts at {start:.2f}")

fig, (ax_loss, ax_pred) = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
ax_loss.plot(np.arange(1, 1001), bce_curve)
ax_loss.set(
    xscale="log",
    xlabel="gradient step",
    ylabel="training loss",
    title="sigmoid cross-entropy on y ~ 150: no minimum",
)
ax_pred.scatter(y_test, clf.predict(X_test), s=12, label="classifier (log_loss)")
ax_pred.scatter(y_test, reg.predict(X_test), s=12, label="LinearNNRegressor")
ax_pred.plot([25, 346], [25, 346], "k--", lw=1)
ax_pred.set(xlabel="true y (test)", ylabel="predicted y", title="predictions")
ax_pred.legend()
plt.show()

# %%
# 2. Adam for the weights, plain SGD for the bias
# -----------------------------------------------
#
# A hand-written loop often gives the weights to Adam and updates the bias
# with a plain gradient step at the same learning rate, from a zero start. The
# two steps are in different units. Adam's step is about ``lr`` **in parameter
# units**, whatever the size of the gradient; SGD's is ``lr`` times the
# gradient, here the mean residual, **in units of y**. So the bias's progress
# depends on how ``y`` happens to be scaled.
#
# With PyTorch's default ``lr=1e-3`` the SGD bias of the diabetes model is
# still far from its optimum, the mean 152, after a thousand steps (and Adam
# on everything, from zero, at that step would be slower still: a step of
# 0.001 per iteration).

Xs = StandardScaler().fit_transform(X)  # all 442 rows, full-batch steps
n_samples, n_features = Xs.shape


def train(target, lr, bias_optimizer, n_steps, bias_init=0.0):
    """Full-batch squared error; Adam (torch's rule) for W; SGD or Adam for b.

    Returns the intercept after every step.
    """
    beta_1, beta_2, eps = 0.9, 0.999, 1e-8
    W, b = np.zeros(n_features), float(bias_init)
    m, v = np.zeros(n_features + 1), np.zeros(n_features + 1)
    intercepts = np.full(n_steps, np.nan)
    for t in range(1, n_steps + 1):
        residual = Xs @ W + b - target
        g = np.append(Xs.T @ residual, residual.sum()) / n_samples
        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g * g
        adam_step = lr * (m / (1 - beta_1**t)) / (np.sqrt(v / (1 - beta_2**t)) + eps)
        W -= adam_step[:-1]
        b -= lr * g[-1] if bias_optimizer == "sgd" else adam_step[-1]
        if not np.isfinite(b) or abs(b) > 1e6 * np.abs(target).max():
            break  # diverged
        intercepts[t - 1] = b
    return intercepts


b_sgd = train(y, 1e-3, "sgd", 5000)
b_adam = train(y, 1e-3, "adam", 5000)
for t in (100, 1000, 5000):
    print(
        f"lr=1e-3, step {t:4d}: intercept with SGD {b_sgd[t - 1]:6.1f}, "
        f"with Adam {b_adam[t - 1]:5.1f}  (optimum {y.mean():.1f})"
    )

# %%
# Now choose the step that suits Adam's weights, ``lr = 0.01 * std(y)`` (the
# library's automatic step for standardized ``X``), and express the same
# target in three units: ``y / 100``, ``y`` and ``y * 100``. The Adam runs are
# the same run in every unit; the SGD bias gets there in 4 steps in one unit,
# in about 600 in another, and diverges in the third, where its step ``lr``
# exceeds the stable limit of 2 for a bias.

n_steps = 2000
runs = {}
for scale in (0.01, 1.0, 100.0):
    target = y * scale
    lr = 0.01 * target.std()
    with np.errstate(over="ignore", invalid="ignore"):
        runs[scale] = {
            "sgd": train(target, lr, "sgd", n_steps) / target.mean(),
            "adam": train(target, lr, "adam", n_steps) / target.mean(),
        }
    for name, path in runs[scale].items():
        close = np.flatnonzero(np.abs(path - 1) < 0.01)
        verdict = (
            f"within 1% of the mean after {close[0] + 1} steps"
            if len(close)
            else f"diverged at step {np.flatnonzero(np.isnan(path))[0] + 1}"
        )
        print(f"y * {scale:<6g} lr {lr:8.4f}, bias by {name:<4}: {verdict}")

# %%
# **What the library does.** One optimizer updates all the parameters, so the
# intercept moves in the same units as the coefficients, and the intercept
# starts at the loss's best constant, so it has no distance to travel. The
# automatic step follows the units of ``y``, and the fit is the same in every
# unit:

for scale in (0.01, 1.0, 100.0):
    est = LinearNNRegressor(random_state=0).fit(Xs, y * scale)
    print(
        f"y * {scale:<6g} learning_rate_init_ {est.learning_rate_init_:8.4f}  "
        f"intercept_ / scale {est.intercept_ / scale:7.2f}  "
        f"R^2 {est.score(Xs, y * scale):.4f}"
    )

fig, ax = plt.subplots(figsize=(8, 4.2), layout="constrained")
steps = np.arange(1, n_steps + 1)
for scale, color in zip((0.01, 1.0, 100.0), ("C0", "C1", "C3"), strict=True):
    ax.plot(
        steps, runs[scale]["sgd"], "--", color=color, label=f"SGD bias, y*{scale:g}"
    )
    ax.plot(steps, runs[scale]["adam"], "-", color="0.5", lw=3, alpha=0.4)
ax.plot([], [], "-", color="0.5", lw=3, alpha=0.4, label="Adam bias, every unit")
ax.annotate("y*100: the SGD bias diverges", (1.1, 1.45), color="C3", fontsize=9)
ax.axhline(1.0, color="k", lw=1, label="library: starts at the mean")
ax.set(
    xscale="log",
    ylim=(-0.2, 1.6),
    xlabel="step",
    ylabel="intercept / mean(y)",
    title="Adam weights, with an SGD or an Adam bias (same lr)",
)
ax.legend(fontsize=8, loc="lower right")
plt.show()

# %%
# 3. Adam without bias correction
# -------------------------------
#
# Adam's moment estimates start at zero, so for a while they are too small:
# :math:`m_t` by the factor :math:`1 - \beta_1^t`, :math:`v_t` by
# :math:`1 - \beta_2^t`. Bias correction divides both out. For a constant
# gradient the corrected step is exactly ``lr`` per coordinate, from the first
# step on. Leaving the corrections out, the step becomes
# :math:`\mathrm{lr}\,(1 - \beta_1^t) / \sqrt{1 - \beta_2^t}` instead: at the
# first step :math:`\mathrm{lr}\,(1 - \beta_1) / \sqrt{1 - \beta_2}`, which is
# **3.2 lr** with the default betas, not a small step, and it keeps changing
# for thousands of steps. Dropping only one correction is worse: ``v`` alone
# uncorrected gives a first step of 31.6 lr, ``m`` alone uncorrected a first
# step of 0.1 lr. Measured by running each rule on a constant gradient:

beta_1, beta_2 = 0.9, 0.999
variants = {
    "bias-corrected (torch, library)": (True, True),
    "no correction": (False, False),
    "m corrected, v not": (True, False),
    "v corrected, m not": (False, True),
}


def adam_steps(gradients, lr, correct_m, correct_v, eps=1e-8):
    """Per-coordinate Adam step at every iteration, for a gradient sequence."""
    m = v = 0.0
    out = []
    for t, g in enumerate(gradients, start=1):
        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g * g
        m_hat = m / (1 - beta_1**t) if correct_m else m
        v_hat = v / (1 - beta_2**t) if correct_v else v
        out.append(lr * m_hat / (np.sqrt(v_hat) + eps))
    return np.array(out)


t_max = 10_000
multipliers = {
    name: adam_steps(np.ones(t_max), 1.0, *flags) for name, flags in variants.items()
}
for name, mult in multipliers.items():
    print(
        f"{name:<32} step / lr at t=1: {mult[0]:6.2f}, t=10: {mult[9]:5.2f}, "
        f"t=100: {mult[99]:5.2f}, t=1000: {mult[999]:5.2f}, max {mult.max():6.2f}"
    )

# The library's Adam is torch's rule: its first step is lr per coordinate.
params, grads = [np.zeros(3)], [np.array([1e-3, 2.0, -50.0])]
Adam().step(params, grads, lr=0.1)
print("sklearn_nnopt.Adam, first step with lr=0.1:", params[0])

# %%
# On a real problem, the log loss on breast cancer (full batch, intercept at
# the log-odds, ``lr=0.1``), each rule takes the steps above instead of the
# ones asked for. Without any correction the first hundred steps are 3 to 6.6
# times larger than ``lr``, and the objective bounces; with only ``m``
# corrected the first step is 31.6 times too large and throws the model far
# off; with only ``v`` corrected the first steps are a tenth of ``lr``.

Xc, yc = load_breast_cancer(return_X_y=True)
Xc = StandardScaler().fit_transform(Xc)


def logistic_adam(lr, correct_m, correct_v, n_steps=1000, eps=1e-8):
    """Full-batch Adam on the mean log loss; the objective after each step."""
    theta = np.zeros(Xc.shape[1] + 1)
    theta[-1] = np.log(yc.mean() / (1 - yc.mean()))
    m, v = np.zeros_like(theta), np.zeros_like(theta)
    curve = []
    for t in range(1, n_steps + 1):
        z = Xc @ theta[:-1] + theta[-1]
        r = expit(z) - yc
        g = np.append(Xc.T @ r, r.sum()) / len(yc)
        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g * g
        m_hat = m / (1 - beta_1**t) if correct_m else m
        v_hat = v / (1 - beta_2**t) if correct_v else v
        theta -= lr * m_hat / (np.sqrt(v_hat) + eps)
        z = Xc @ theta[:-1] + theta[-1]
        curve.append(np.mean(np.logaddexp(0, z) - yc * z))
    return np.array(curve)


curves = {name: logistic_adam(0.1, *flags) for name, flags in variants.items()}
print("lr = 0.1: objective after 1, 10, 100, 1000 steps")
for name, curve in curves.items():
    print(
        f"  {name:<32} {curve[0]:.3f} {curve[9]:.3f} {curve[99]:.3f} {curve[999]:.4f}"
    )
print("lr = 0.01:")
for name in ["bias-corrected (torch, library)", "no correction"]:
    curve = logistic_adam(0.01, *variants[name])
    print(
        f"  {name:<32} {curve[0]:.3f} {curve[9]:.3f} {curve[99]:.3f} {curve[999]:.4f}"
    )

fig, (ax_mult, ax_obj) = plt.subplots(1, 2, figsize=(12, 4.2), layout="constrained")
for name, mult in multipliers.items():
    ax_mult.loglog(np.arange(1, t_max + 1), mult, label=name)
    ax_obj.semilogx(np.arange(1, 1001), curves[name], label=name)
ax_mult.set(
    xlabel="step t",
    ylabel="step / lr",
    title="step taken for a constant gradient (betas 0.9, 0.999)",
)
ax_obj.set(
    xlabel="step",
    ylabel="training log loss",
    ylim=(0, 1.3),
    title="breast_cancer, full batch, lr = 0.1",
)
for ax in (ax_mult, ax_obj):
    ax.grid(alpha=0.3, which="both")
ax_mult.legend(fontsize=8)
plt.show()

# %%
# Without correction, ``lr`` no longer says how far a step goes: the first
# thousand steps follow a hidden schedule that rises to 6.6 times ``lr``. At a
# small ``lr`` this can even look faster, for the same reason a larger ``lr``
# would; at a larger one it overshoots. ``sklearn_nnopt.Adam`` follows
# ``torch.optim.Adam`` exactly, corrections included, so its step is ``lr``
# per coordinate from the first step on, which is what its automatic
# ``learning_rate_init`` (a hundredth of the typical coefficient size) relies
# on.

# %%
# 4. A gradient that does not match its loss
# ------------------------------------------
#
# A hand-written loop computes the loss it prints and the gradient it steps
# with in two places, and they can drift apart. A common case: the loop prints
# the log loss, but its gradient comes from "sigmoid, then squared error",
# :math:`(p - y)\, p (1 - p)` with :math:`p = \sigma(z)`, instead of the log
# loss's :math:`p - y`. Nothing fails: the loop minimizes the squared error of
# the probabilities (the Brier score) while it reports the log loss.
#
# The data: ``make_classification`` (4,000 rows, 20 features, 10% of the labels
# flipped), three quarters to train. Full-batch gradient descent from the
# log-odds start, each loop at the step ``1 / L`` of its own curvature bound
# (``L`` is 4 times smaller for the mismatched gradient, whose factor
# :math:`p (1 - p)` is at most 1/4), and each stops by its own rule: its
# gradient's largest entry below :math:`10^{-4}` times its size at the start.

Xg, yg = make_classification(
    n_samples=4000,
    n_features=20,
    n_informative=10,
    n_clusters_per_class=1,
    flip_y=0.1,
    random_state=0,
)
Xg = StandardScaler().fit_transform(Xg)
Xg_train, Xg_test, yg_train, yg_test = train_test_split(Xg, yg, random_state=0)
Ag = np.hstack([Xg_train, np.ones((len(yg_train), 1))])  # intercept column


def printed_loss(theta):
    """The mean log loss, the loss the loop prints."""
    z = Ag @ theta
    return np.mean(np.logaddexp(0, z) - yg_train * z)


def log_loss_gradient(theta):
    """Its gradient."""
    return Ag.T @ (expit(Ag @ theta) - yg_train) / len(yg_train)


def mismatched_gradient(theta):
    """The gradient of half the squared error of sigmoid(z): another loss."""
    p = expit(Ag @ theta)
    return Ag.T @ ((p - yg_train) * p * (1 - p)) / len(yg_train)


theta0 = np.zeros(Ag.shape[1])
theta0[-1] = np.log(yg_train.mean() / (1 - yg_train.mean()))
L_log = 0.25 * np.mean(np.sum(Ag**2, axis=1))
gradients = {
    "log loss gradient": (log_loss_gradient, 1 / L_log),
    "mismatched gradient": (mismatched_gradient, 4 / L_log),
}
numerical = approx_fprime(theta0, printed_loss, 1e-7)  # finite differences
print("finite-difference check at the start, |g - numerical| / |numerical|:")
for name, (gradient, _) in gradients.items():
    error = np.linalg.norm(gradient(theta0) - numerical) / np.linalg.norm(numerical)
    print(f"  {name:<20} {error:.1e}")

loss_curves, stops = {}, {}
for name, (gradient, lr) in gradients.items():
    theta, curve = theta0.copy(), []
    g0 = np.max(np.abs(gradient(theta0)))
    for _ in range(30_000):
        g = gradient(theta)
        if np.max(np.abs(g)) < 1e-4 * g0:
            break
        theta -= lr * g
        curve.append(printed_loss(theta))
    loss_curves[name], stops[name] = np.array(curve), theta
    proba = expit(np.hstack([Xg_test, np.ones((len(yg_test), 1))]) @ theta)
    print(
        f"{name:<20} stops after {len(curve):5d} steps: printed loss "
        f"{curve[-1]:.4f} (lowest on the way {min(curve):.4f}), largest entry "
        f"of its true gradient {np.max(np.abs(log_loss_gradient(theta))):.1e}; "
        f"test log loss {log_loss(yg_test, proba):.4f}, "
        f"accuracy {np.mean((proba > 0.5) == yg_test):.3f}"
    )

# %%
# The mismatched loop's printed loss falls, then rises, and the loop stops,
# "converged" by its own test, at a point where the printed loss's gradient is
# far from zero. Its model is not worse at everything (it is the training
# set's Brier-score minimizer), but the loss it reports says nothing about
# what it optimizes, so a learning curve, an early-stopping rule or a model
# selection read from it follows the wrong objective. A finite-difference
# check at the first step finds the mismatch.

fig, ax = plt.subplots(figsize=(8, 4.2), layout="constrained")
for name, curve in loss_curves.items():
    ax.plot(np.arange(1, len(curve) + 1), curve, label=name)
    ax.plot(len(curve), curve[-1], "ko", ms=4)
ax.plot([], [], "ko", ms=4, label="the loop's own stopping rule fires")
ax.set(
    xscale="log",
    ylim=(0.37, 0.45),
    xlabel="gradient step",
    ylabel="printed training log loss",
    title="full-batch descent on the log loss, with its own or a mismatched gradient",
)
ax.legend()
plt.show()

# %%
# **What the library does.** A loss is one class whose ``loss_gradient``
# returns the value and the gradient together, and every built-in loss's
# gradient is compared with finite differences in the test suite
# (``tests/test_losses.py``). A loss of your own can still get it wrong;
# fitted with the mismatched gradient, the estimator does not report success:


class MismatchedLogLoss(LogLoss):
    """The log loss's value with the squared-error-of-sigmoid gradient."""

    def loss_gradient(self, y_true, raw_prediction):
        value, _ = super().loss_gradient(y_true, raw_prediction)
        p = expit(raw_prediction)
        return value, (p - y_true) * p * (1 - p)


for optimizer in ("auto", "sgd"):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        est = LinearNNClassifier(
            loss=MismatchedLogLoss(), optimizer=optimizer, random_state=0
        ).fit(Xg_train, yg_train)
    messages = [str(w.message) for w in caught if w.category is ConvergenceWarning]
    print(f"optimizer={optimizer!r} ({type(est.optimizer_).__name__}): ", end="")
    print(f"ConvergenceWarning: {messages[0]}" if messages else "no warning")

# %%
# The warning says the fit is away from the optimum, not why; the check that
# names the cause is the finite-difference one, shown for a loss of your own
# on the "Extending" page of the user guide.
