"""``sklearn_nnopt.compare`` and ``python -m sklearn_nnopt compare``.

Small grids on iris (or a few dozen synthetic rows), ``cv=3``, ``max_iter=20``.
Bad command lines run in-process through ``main`` (a traceback there would be
an uncaught exception, not ``SystemExit(2)``); one good run uses a real
``python -m sklearn_nnopt compare`` subprocess.
"""

import html
import importlib.util
import math
import re
import subprocess
import sys

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_nnopt import LOSSES, OPTIMIZERS, SGD, LinearNNClassifier, Optimizer
from sklearn_nnopt.__main__ import main
from sklearn_nnopt._compare import (
    PLOT_MESSAGE,
    REPORT_MESSAGE,
    CompareError,
    _infer_task,
    compare,
    default_losses,
    default_optimizers,
)
from sklearn_nnopt._registry import Registry

HAS_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None

ROW_KEYS = {
    "rank",
    "index",
    "loss",
    "optimizer",
    "learning_rate",
    "alpha",
    "alphas",
    "mean_score",
    "std_score",
    "scores",
    "mean_fit_time",
    "mean_n_iter",
    "not_converged_folds",
    "converged",
    "tied",
    "p_value",
    "status",
    "error",
    "params",
    "grid_params",
    "loss_curve",
    "curve_time",
    "curve_alpha",
    "curve_converged",
}

#: One alpha: no inner selection (the tests of the selection set their own).
FAST = dict(cv=3, max_iter=20, verbose=False, alphas=[1e-4])
STATUS = re.compile(r"converged|not converged \(\d/3 folds\)")


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "sklearn_nnopt", "compare", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def iris_result():
    return compare(
        dataset="iris",
        losses=["log_loss", "hinge", "squared_error"],
        optimizers=["sgd", "adam", "lbfgs"],
        **FAST,
    )


def test_rows_have_the_expected_keys(iris_result):
    assert len(iris_result.rows) == 9
    (refused,) = [r for r in iris_result.rows if r["status"].startswith("refused")]
    assert (refused["loss"], refused["optimizer"]) == ("hinge", "lbfgs")
    assert "needs a smooth loss" in refused["error"]
    for row in iris_result.rows:
        assert set(row) == ROW_KEYS
        if row is refused:
            continue
        assert len(row["scores"]) == 3
        assert STATUS.fullmatch(row["status"]), row["status"]
        assert row["converged"] == (row["status"] == "converged")
        assert row["mean_n_iter"] > 0 or row["optimizer"] == "lbfgs"
        assert row["mean_fit_time"] >= 0
        assert row["params"] == {
            "loss": row["loss"],
            "optimizer": row["optimizer"],
            "alpha": 1e-4,
        }
    pairs = {(r["loss"], r["optimizer"]) for r in iris_result.rows}
    assert len(pairs) == 9
    assert iris_result.task == "classification"
    assert iris_result.scoring == "accuracy"


def test_ties_with_the_best_rank_first(iris_result):
    rows = iris_result.rows
    best = max(rows, key=lambda r: r["mean_score"])
    assert best["tied"] and best["rank"] == 1 and best["p_value"] == 1.0
    tied = [r for r in rows if r["tied"]]
    assert rows[: len(tied)] == tied and {r["rank"] for r in tied} == {1}
    rest = [r for r in rows[len(tied) :] if math.isfinite(r["mean_score"])]
    means = [round(r["mean_score"], 4) for r in rest]
    assert means == sorted(means, reverse=True)
    for row in rest:
        assert row["p_value"] < 0.05
        same = [
            r for r in rest if round(r["mean_score"], 4) == round(row["mean_score"], 4)
        ]
        assert row["rank"] == len(tied) + 1 + rest.index(same[0])


def test_table(iris_result):
    text = str(iris_result)
    assert text == iris_result.to_text()
    assert "mean accuracy" in text and "epochs" in text and "status" in text
    lines = text.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("rank"))
    top = iris_result.rows[0]
    assert lines[first + 2].split()[1:3] == [top["loss"], top["optimizer"]]
    assert lines[first + 2].split()[0].rstrip("=").lstrip("*") == "1"
    assert "learning rate" not in text  # no learning-rate axis requested
    assert "Reference: LogisticRegression()" in text


def test_scores_equal_cross_validate_on_the_same_folds():
    """At one alpha: the documented pipeline's scores, fold by fold."""
    X, y = load_iris(return_X_y=True)
    grid = {"model__loss": ["log_loss", "hinge"], "model__optimizer": ["sgd", "adam"]}
    result = compare(
        X, y, losses=grid["model__loss"], optimizers=grid["model__optimizer"], **FAST
    )
    pipe = Pipeline(
        [
            ("scale", StandardScaler()),
            ("model", LinearNNClassifier(max_iter=20, random_state=0, alpha=1e-4)),
        ]
    )
    with pytest.warns(Warning):  # ConvergenceWarning at max_iter=20
        search = GridSearchCV(pipe, grid, cv=3, refit=False, error_score=np.nan).fit(
            X, y
        )
    for row in result.rows:
        assert row["grid_params"] == search.cv_results_["params"][row["index"]]
        expected = [
            search.cv_results_[f"split{k}_test_score"][row["index"]] for k in range(3)
        ]
        assert row["scores"] == pytest.approx(expected)


def test_each_candidate_gets_its_own_alpha_and_the_recommendation_is_pasteable():
    X, y = load_iris(return_X_y=True)
    result = compare(
        X,
        y,
        losses=["log_loss"],
        optimizers=["lbfgs", "newton"],
        alphas=[1e-4, 1e-2, 10.0],
        cv=3,
        verbose=False,
    )
    for row in result.rows:
        assert set(row["alphas"]) <= {1e-4, 1e-2, 10.0} and len(row["alphas"]) == 3
        assert row["alpha"] in row["alphas"]
        assert 10.0 not in row["alphas"]  # far too strong for iris
    best = result.best
    assert best is not None and best["converged"] and best["tied"]
    tied = [r for r in result.rows if r["tied"] and r["converged"]]
    fastest = min(r["mean_fit_time"] for r in tied)
    assert best["mean_fit_time"] <= 2 * fastest
    quick = [r for r in tied if r["mean_fit_time"] <= 2 * fastest]
    assert best["mean_score"] == max(r["mean_score"] for r in quick)
    assert set(best["params"]) == {"loss", "optimizer", "alpha"}
    # The printed imports and line build the recommended estimator.
    from sklearn_nnopt._compare._result import imports_line

    namespace = {}
    exec(imports_line("classification"), namespace)  # noqa: S102
    model = eval(result.recommendation, namespace)  # noqa: S307
    assert f"(needs: {imports_line('classification')})" in result.to_text()
    assert model[-1].get_params()["optimizer"] == best["optimizer"]
    assert model[-1].alpha == best["alpha"]
    assert result.recommendation in result.to_text()


def test_no_recommendation_without_a_converged_tie():
    result = compare(
        dataset="iris",
        losses=["log_loss"],
        optimizers=["sgd"],
        cv=3,
        max_iter=2,
        verbose=False,
        alphas=[1e-4],
    )
    assert result.best is None and result.recommendation == ""
    assert "No recommendation" in result.to_text()


def test_recommendation_is_the_best_score_among_the_fastest():
    from sklearn_nnopt._compare._result import recommend

    rows = []

    def row(score, seconds, tied=True, converged=True):
        return dict(
            mean_score=score,
            mean_fit_time=seconds,
            tied=tied,
            converged=converged,
            index=len(rows),
        )

    for args in [
        (0.97, 0.010),
        (0.98, 0.015),  # within 2x of the fastest, and scores better
        (0.99, 0.050),  # better still, but 5x slower
        (0.995, 0.005, True, False),  # not converged: never recommended
        (0.999, 0.001, False, True),  # not tied: not either
    ]:
        rows.append(row(*args))
    best, reason = recommend(rows)
    assert best is rows[1] and "within 2x of the fastest" in reason
    assert recommend([row(0.9, 0.01, converged=False)])[0] is None


def test_tie_p_value():
    from sklearn_nnopt._compare._result import tie_p_value

    sizes = [(100, 25)] * 5
    assert tie_p_value([0.9] * 5, [0.9] * 5, sizes) == 1.0
    assert tie_p_value([0.9] * 5, [0.8] * 5, sizes) == 0.0
    # Nadeau & Bengio: the variance is inflated by 1/K + n_test/n_train.
    best, other = [0.90, 0.92, 0.88, 0.91, 0.89], [0.88, 0.90, 0.89, 0.87, 0.88]
    d = np.subtract(best, other)
    t = d.mean() / np.sqrt((1 / 5 + 25 / 100) * d.var(ddof=1))
    from scipy import stats

    assert tie_p_value(best, other, sizes) == pytest.approx(stats.t.sf(t, 4))
    # Uncorrected it would look far more significant.
    assert tie_p_value(best, other, sizes) > stats.t.sf(
        d.mean() / np.sqrt(d.var(ddof=1) / 5), 4
    )


def test_diverging_candidate_is_reported_as_failed():
    result = compare(
        dataset="iris",
        losses=["log_loss"],
        optimizers=["sgd", "adam"],
        learning_rates=[0.01, 1e6],
        **FAST,
    )
    failed = [r for r in result.rows if r["status"].startswith("failed")]
    # Adam's steps are bounded by the learning rate, but steps of 1e6 put the
    # objective 1e4 times above its start within the first epoch: diverged.
    assert sorted((r["optimizer"], r["learning_rate"]) for r in failed) == [
        ("adam", 1e6),
        ("sgd", 1e6),
    ]
    for row in failed:
        assert row["status"].startswith("failed: DivergenceError: ")
        assert "diverged" in row["error"]
        assert math.isnan(row["mean_score"]) and row["scores"] == []
    assert result.rows[-2:] == failed
    assert [r["rank"] for r in failed] == [len(result.rows) - 1] * 2  # tied last
    text = result.to_text()
    assert "learning rate" in text and "failed: DivergenceError" in text
    assert "Failed: log_loss x sgd: Training diverged" in text


def test_not_converged_candidate_is_flagged():
    result = compare(
        dataset="iris",
        losses=["log_loss"],
        optimizers=["sgd"],
        cv=3,
        max_iter=2,
        verbose=False,
    )
    (row,) = result.rows
    assert row["status"] == "not converged (3/3 folds)"
    assert row["not_converged_folds"] == 3 and not row["converged"]
    assert row["mean_n_iter"] == 2
    assert "not converged (3/3 folds)" in result.to_text()


def test_warnings_are_seen_in_parallel_workers():
    """With n_jobs, ConvergenceWarning is recorded inside the worker processes."""
    result = compare(
        dataset="iris",
        losses=["log_loss", "hinge"],
        optimizers=["sgd"],
        cv=3,
        max_iter=2,
        n_jobs=2,
        verbose=False,
    )
    assert [r["status"] for r in result.rows] == ["not converged (3/3 folds)"] * 2


def test_progress_lines_and_quiet(capsys):
    compare(
        dataset="iris", losses=["hinge"], optimizers=["sgd", "adam"], cv=3, max_iter=20
    )
    err = capsys.readouterr().err
    assert "[1/2] hinge x sgd ... " in err and "[2/2] hinge x adam ... " in err
    compare(dataset="iris", losses=["hinge"], optimizers=["sgd"], **FAST)
    assert capsys.readouterr() == ("", "")


def test_default_and_all_grids():
    X, y = load_iris(return_X_y=True)
    X, y = X[::3], y[::3]
    result = compare(X, y, optimizers=["sgd"], **FAST)
    assert [r["loss"] for r in sorted(result.rows, key=lambda r: r["index"])] == [
        "log_loss",
        "hinge",
        "squared_hinge",
        "modified_huber",
        "perceptron",
        "squared_error",
    ]
    result = compare(X, y, losses="all", optimizers=["sgd"], **FAST)
    assert "cross_entropy" not in {r["loss"] for r in result.rows}  # an alias
    assert len(result.rows) == 6
    # The estimator refuses the perceptron with L-BFGS: listed, with the reason.
    result = compare(X, y, optimizers=["lbfgs"], **FAST)
    (refused,) = [r for r in result.rows if r["loss"] == "perceptron"]
    assert refused["status"].startswith("refused: ") and refused["rank"] is None
    assert "needs a stochastic optimizer" in refused["error"]
    assert result.rows[-1] is refused
    assert "Refused: perceptron x lbfgs" in result.to_text()
    assert len(result.rows) == 6


def test_regression_task_is_inferred_and_poisson_skipped_for_negative_y():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = X @ [1.0, -2.0, 0.5] + rng.normal(scale=0.1, size=60)  # negative values
    result = compare(X, y, optimizers=["lbfgs"], **FAST)
    assert result.task == "regression" and result.scoring == "R^2"
    losses = {r["loss"] for r in result.rows}
    assert "poisson" not in losses and "huber" in losses
    assert any("poisson" in note for note in result.notes)
    assert result.rows[0]["mean_score"] > 0.9
    assert result.reference["name"] == "Ridge()"


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(dataset="nope"), "unknown dataset"),
        (dict(losses=["hinj"]), "unknown loss"),
        (dict(losses=["huber"]), "not valid for classification"),
        (dict(optimizers=["adma"]), "unknown optimizer"),
        (dict(learning_rates=[-1.0]), "learning rate"),
        (dict(csv="x.csv"), "target"),
        (dict(n_jobs=0), "n_jobs"),
    ],
)
def test_api_rejects_bad_arguments(kwargs, match):
    kwargs = {"dataset": "iris", **kwargs}
    with pytest.raises(CompareError, match=match):
        compare(**kwargs, **FAST)


def test_integer_quantity_is_taken_for_labels_with_a_warning():
    y = np.arange(60) % 30  # 30 distinct integers
    with pytest.warns(UserWarning, match="30 distinct integer values"):
        assert _infer_task(y, None) == "classification"
    assert _infer_task(y, "regression") == "regression"


def test_forced_classification_on_a_continuous_target():
    rng = np.random.default_rng(0)
    with pytest.raises(CompareError, match="needs class labels"):
        compare(rng.normal(size=(20, 2)), rng.normal(size=20), task="classification")


# ---------------------------------------------- the default grid's registries
def test_register_candidate_flag():
    registry = Registry("optimizer", Optimizer)
    registry.register("b", candidate=True, momentum=0.5)(SGD)
    registry.register("c")(SGD)
    registry.register("a", candidate=True)(SGD)
    assert registry.candidates() == ["b", "a"]  # registration order
    assert registry.names() == ["a", "b", "c"]
    assert registry.names(sort=False) == ["b", "c", "a"]
    # The flag is not a constructor argument: only the defaults reach the class.
    assert (
        registry.create("b", "optimizer").get_params() == SGD(momentum=0.5).get_params()
    )
    assert [name for name, _, defaults in registry.items() if defaults] == ["b"]
    with pytest.raises(ValueError, match="already registered"):
        registry.register("c", candidate=True)(SGD)
    assert registry.candidates() == ["b", "a"]
    registry.candidates().append("x")  # a copy
    assert registry.candidates() == ["b", "a"]


def test_default_optimizers_are_the_registered_candidates():
    # Today's display order, which is the order of registration.
    expected = [
        "sgd",
        "momentum",
        "adam",
        "rmsprop",
        "adagrad",
        "schedulefree_adamw",
        "lbfgs",
        "newton",
    ]
    assert OPTIMIZERS.candidates() == expected
    assert default_optimizers() == expected
    X, y = load_iris(return_X_y=True)
    result = compare(X[::3], y[::3], losses=["log_loss"], **FAST)
    by_index = sorted(result.rows, key=lambda r: r["index"])
    assert [r["optimizer"] for r in by_index] == expected


def test_a_registered_candidate_joins_the_default_grid(monkeypatch, capsys):
    monkeypatch.setattr(OPTIMIZERS, "_entries", dict(OPTIMIZERS._entries))
    monkeypatch.setattr(OPTIMIZERS, "_candidates", OPTIMIZERS.candidates())
    OPTIMIZERS.register("slow_sgd", candidate=True, momentum=0.5)(SGD)
    assert default_optimizers()[-1] == "slow_sgd"
    X, y = load_iris(return_X_y=True)
    result = compare(X[::3], y[::3], losses=["log_loss"], **FAST)
    assert len(result.rows) == len(default_optimizers())
    (row,) = [r for r in result.rows if r["optimizer"] == "slow_sgd"]
    assert STATUS.fullmatch(row["status"]), row["status"]
    with pytest.raises(SystemExit):
        main(["compare", "--help"])
    # argparse wraps the long default list inside a name: compare without spaces.
    out = "".join(capsys.readouterr().out.split())
    assert ",".join(default_optimizers()) in out


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_default_losses_are_the_registered_losses_of_the_task(task, capsys):
    names = default_losses(task)
    valid = {name for name, cls, _ in LOSSES.items() if task in cls.tasks}
    assert set(names) == valid - {"cross_entropy"}  # an alias of log_loss
    assert len(names) == len(set(names))
    with pytest.raises(SystemExit):
        main(["compare", "--help"])
    assert ", ".join(names) in " ".join(capsys.readouterr().out.split())


def test_default_regression_losses_order():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = np.exp(X @ [0.3, -0.2, 0.1])  # positive: poisson is included
    result = compare(X, y, optimizers=["lbfgs"], **FAST)
    assert [r["loss"] for r in sorted(result.rows, key=lambda r: r["index"])] == [
        "squared_error",
        "absolute_error",
        "huber",
        "epsilon_insensitive",
        "squared_epsilon_insensitive",
        "quantile",
        "poisson",
    ]
    assert result.notes == []


# ------------------------------------------------------------------ the CLI
def test_cli_prints_the_table():
    proc = run_cli(
        "--dataset",
        "iris",
        "--losses",
        "log_loss,hinge",
        "--optimizers",
        "adam,lbfgs",
        "--cv",
        "3",
        "--max-iter",
        "20",
    )
    assert proc.returncode == 0, proc.stderr
    assert "mean accuracy" in proc.stdout
    assert "[1/3]" not in proc.stdout  # progress goes to stderr
    for name in ("log_loss", "hinge", "adam", "lbfgs"):
        assert name in proc.stdout
    # hinge x lbfgs is refused (not run): listed in the table with the reason.
    assert "Refused: hinge x lbfgs" in proc.stdout
    assert "[3/3]" in proc.stderr and "Traceback" not in proc.stderr


def test_cli_help_documents_every_option(capsys):
    with pytest.raises(SystemExit) as info:
        main(["compare", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for option in (
        "--dataset",
        "--csv",
        "--target",
        "--task",
        "--losses",
        "--optimizers",
        "--learning-rates",
        "--cv",
        "--max-iter",
        "--random-state",
        "--n-jobs",
        "--plot",
        "--report",
        "--quiet",
        "examples:",
    ):
        assert option in out, option


def test_cli_csv_with_string_target(tmp_path, capsys):
    X, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    path = tmp_path / "flowers.csv"
    lines = ["sepal length,sepal width,petal length,petal width,species"]
    lines += [
        ",".join([*map(str, row), name]) for row, name in zip(X, names, strict=True)
    ]
    path.write_text("\n".join(lines) + "\n")
    status = main(
        [
            "compare",
            "--csv",
            str(path),
            "--target",
            "species",
            "--losses",
            "log_loss",
            "--optimizers",
            "lbfgs",
            "--cv",
            "3",
            "--max-iter",
            "50",
            "--quiet",
        ]
    )
    out, err = capsys.readouterr()
    assert status == 0
    assert err == ""
    assert "150 samples x 4 features, target 'species'" in out
    assert "log_loss" in out and "lbfgs" in out


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--dataset", "nope"], "unknown dataset"),
        (["--losses", "hinj"], "unknown loss 'hinj'"),
        (["--losses", "huber"], "not valid for classification"),
        (["--optimizers", "adma"], "unknown optimizer 'adma'"),
        (["--csv", "{numeric}"], "--csv needs --target"),
        (["--target", "y"], "--target needs --csv"),
        (["--csv", "{missing_file}", "--target", "y"], "cannot read CSV"),
        (["--csv", "{tmp}", "--target", "y"], "cannot read CSV"),
        (["--csv", "{text}", "--target", "y"], "'color' of"),
        (["--csv", "{numeric}", "--target", "nope"], "is not a column"),
        (["--csv", "{ragged}", "--target", "y"], "fields, but the header has"),
        (["--learning-rates", "0.1,fast"], "'fast' is not a number"),
        (["--learning-rates", "0"], "not a number > 0"),
        (["--cv", "1"], "--cv"),
        (["--max-iter", "ten"], "--max-iter"),
        (["--task", "clustering"], "--task"),
        (["--dataset", "iris", "--csv", "{numeric}"], "not allowed with"),
        (["--n-jobs", "0"], "n_jobs"),
        (["--bogus"], "unrecognized arguments"),
        (["--plot", "curves.nope"], "image format"),
        (["--plot", "{tmp}/absent/c.png"], "no directory"),
        (["--report", "report.txt"], "must end in .html"),
        (["--report", "{tmp}/absent/r.html"], "no directory"),
    ],
)
def test_cli_bad_arguments_exit_2_with_one_line(tmp_path, capsys, args, message):
    files = {
        "numeric": _write(tmp_path, "n.csv", "a,b,y\n1,2,0\n3,4,1\n"),
        "text": _write(tmp_path, "t.csv", "a,color,y\n1,red,0\n2,blue,1\n"),
        "ragged": _write(tmp_path, "r.csv", "a,b,y\n1,2,0\n3,4\n"),
        "missing_file": str(tmp_path / "absent.csv"),
        "tmp": str(tmp_path),
    }
    if {"--plot", "--report"} & set(args) and not HAS_MATPLOTLIB:
        pytest.skip("the path check needs matplotlib")
    args = [a.format(**files) for a in args]
    with pytest.raises(SystemExit) as info:
        main(["compare", *args])
    assert info.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert "error:" in err and message in err


# ------------------------------------------------------- --plot and --report
needs_matplotlib = pytest.mark.skipif(
    not HAS_MATPLOTLIB, reason="matplotlib is not installed"
)
PNG = b"\x89PNG\r\n\x1a\n"
#: Two alphas, so that the candidates of a loss may choose differently.
FIGURES = dict(
    dataset="iris",
    losses=["log_loss", "hinge", "squared_error"],
    optimizers=["sgd", "lbfgs", "newton"],
    cv=3,
    max_iter=20,
    alphas=[1e-4, 1e-1],
    verbose=False,
)


@pytest.fixture(scope="module")
def figures(tmp_path_factory):
    """One run with both --plot and --report (hinge x newton is refused)."""
    if not HAS_MATPLOTLIB:
        pytest.skip("matplotlib is not installed")
    tmp = tmp_path_factory.mktemp("figures")
    result = compare(plot=tmp / "compare.png", report=tmp / "report.html", **FIGURES)
    return result, tmp


@needs_matplotlib
def test_plot_writes_one_valid_png(figures):
    result, tmp = figures
    path = tmp / "compare.png"
    assert result.plot == str(path)
    assert path.read_bytes()[:8] == PNG
    from matplotlib.image import imread

    image = imread(path)  # decodes: a valid PNG, both figures stacked
    assert image.ndim == 3 and image.shape[0] > image.shape[1] * 0.8


@needs_matplotlib
def test_curves_at_one_alpha_per_loss(figures):
    result, _ = figures
    scored = [r for r in result.rows if math.isfinite(r["mean_score"])]
    assert {r["loss"] for r in scored} == set(result.curve_alphas)
    for row in result.rows:
        if not math.isfinite(row["mean_score"]):  # refused: no curve
            assert row["loss_curve"] is None and math.isnan(row["curve_alpha"])
            continue
        assert row["loss_curve"] and all(map(math.isfinite, row["loss_curve"]))
        assert row["curve_time"] > 0 and isinstance(row["curve_converged"], bool)
        # Every curve of a loss at that loss's alpha, one of the candidates'.
        assert row["curve_alpha"] == result.curve_alphas[row["loss"]]
        assert row["curve_alpha"] in {
            r["alpha"] for r in scored if r["loss"] == row["loss"]
        }
        assert row["mean_n_iter"] > 0


@needs_matplotlib
def test_curves_leave_the_cross_validation_alone(figures):
    result, _ = figures
    plain = compare(**FIGURES)
    assert all(r["loss_curve"] is None for r in plain.rows) and not plain.curve_alphas
    # Row order and the recommendation also depend on the measured fit times.
    by_index = sorted(plain.rows, key=lambda r: r["index"])
    for ours in result.rows:
        theirs = by_index[ours["index"]]
        assert ours["scores"] == theirs["scores"] and ours["alphas"] == theirs["alphas"]
        assert ours["status"] == theirs["status"] and ours["rank"] == theirs["rank"]


def test_loss_alphas_most_frequent_ties_to_the_larger():
    from sklearn_nnopt._compare._run import loss_alphas

    def row(loss, alpha, score=0.9):
        return {"loss": loss, "alpha": alpha, "mean_score": score}

    rows = [
        row("a", 1e-4),
        row("a", 1e-4),
        row("a", 1e-2),
        row("b", 1e-4),
        row("b", 1e-1),  # a tie: the larger
        row("b", 1e-5, math.nan),  # failed: not counted
        row("c", math.nan, math.nan),  # every candidate failed: no curve
    ]
    assert loss_alphas(rows) == {"a": 1e-4, "b": 1e-1}


def test_objective_gaps_per_loss_with_a_floor():
    from sklearn_nnopt._compare._plot import GAP_FLOOR, objective_gaps

    rows = [
        {"index": 0, "loss": "a", "loss_curve": [3.0, 2.0, 1.5]},
        {"index": 1, "loss": "a", "loss_curve": [3.0, 1.0, 1.0]},
        {"index": 2, "loss": "b", "loss_curve": [0.5, 0.0]},  # J* = 0
        {"index": 3, "loss": "b", "loss_curve": None},
    ]
    gaps, best = objective_gaps(rows)
    assert set(gaps) == {0, 1, 2}
    floor = GAP_FLOOR * 2.0  # max(|J*| = 1, largest gap = 2)
    assert best["a"] == (1.0, floor)
    assert gaps[0] == pytest.approx([2.0 + floor, 1.0 + floor, 0.5 + floor])
    assert gaps[1][-1] == floor > 0
    assert best["b"] == (0.0, GAP_FLOOR * 0.5) and gaps[2][-1] > 0


@needs_matplotlib
def test_report_is_one_self_contained_html_file(figures):
    import base64

    result, tmp = figures
    path = tmp / "report.html"
    assert result.report == str(path)
    assert sorted(p.name for p in tmp.iterdir()) == ["compare.png", "report.html"]
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    assert result.recommendation and result.recommendation in text
    assert html.escape(result.reason, quote=False) in text
    assert "Reference: LogisticRegression()" in text
    for row in result.rows:
        assert f"<td>{row['loss']}</td><td>{row['optimizer']}</td>" in text
    assert "Refused: hinge x newton" in text
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)
    assert len(images) == 2 and text.count("data:image/png;base64,") == 2
    assert all(base64.b64decode(image)[:8] == PNG for image in images)
    # Without the images (base64 text can spell anything once lowercased).
    lowered = re.sub(r"base64,[A-Za-z0-9+/=]+", "", text).lower()
    assert "<script" not in lowered and "http" not in lowered
    assert "<link" not in lowered and "@import" not in lowered


@needs_matplotlib
def test_report_escapes_text():
    from sklearn_nnopt._compare._report import html_report

    X, y = load_iris(return_X_y=True)
    result = compare(
        X, y, losses=["log_loss"], optimizers=["lbfgs"], curves=True, **FAST
    )
    result.data = "<b>x</b> & y"
    text = html_report(result)
    assert "&lt;b&gt;x&lt;/b&gt; &amp; y" in text and "<b>x</b>" not in text


@needs_matplotlib
def test_figures_from_the_result():
    from matplotlib.figure import Figure

    result = compare(
        dataset="iris", losses=["log_loss"], optimizers=["sgd", "lbfgs"], **FAST
    )
    assert all(r["loss_curve"] is None for r in result.rows)
    assert isinstance(result.plot_scores(), Figure)
    assert isinstance(result.plot_curves(), Figure)  # says there are no curves
    result = compare(
        dataset="iris",
        losses=["log_loss"],
        optimizers=["sgd", "lbfgs"],
        curves=True,
        **FAST,
    )
    assert result.curve_alphas == {"log_loss": 1e-4} and result.plot is None
    fig = Figure()
    assert result.plot_curves(fig) is fig and len(fig.axes) == 1


@needs_matplotlib
def test_cli_plot_and_report(tmp_path):
    proc = run_cli(
        "--dataset",
        "iris",
        "--losses",
        "log_loss,hinge",
        "--optimizers",
        "sgd,lbfgs",
        "--cv",
        "3",
        "--max-iter",
        "20",
        "--alphas",
        "1e-4",
        "--quiet",
        "--plot",
        str(tmp_path / "c.png"),
        "--report",
        str(tmp_path / "r.html"),
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert f"Figures saved to {tmp_path / 'c.png'}" in proc.stdout
    assert f"Report saved to {tmp_path / 'r.html'}" in proc.stdout
    assert (tmp_path / "c.png").read_bytes()[:8] == PNG
    assert "data:image/png;base64," in (tmp_path / "r.html").read_text()


@pytest.mark.parametrize(
    "option, message", [("plot", PLOT_MESSAGE), ("report", REPORT_MESSAGE)]
)
def test_figures_without_matplotlib(monkeypatch, tmp_path, capsys, option, message):
    for module in (
        "matplotlib",
        "matplotlib.figure",
        "matplotlib.backends.backend_agg",
    ):
        monkeypatch.setitem(sys.modules, module, None)  # import raises ImportError
    path = tmp_path / ("c.png" if option == "plot" else "r.html")
    with pytest.raises(ImportError) as info:
        compare(dataset="iris", **{option: path}, **FAST)
    assert str(info.value) == message
    assert "pip install 'sklearn-nnopt[plot]'" in message
    with pytest.raises(SystemExit) as exit_info:
        main(["compare", "--dataset", "iris", f"--{option}", str(path)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert not path.exists()


def test_every_candidate_failing_is_one_error():
    X, y = load_iris(return_X_y=True)
    X = X.copy()
    X[0, 0] = np.nan  # StandardScaler passes NaN through; every fit refuses it
    with pytest.raises(CompareError, match="every candidate failed"):
        compare(X, y, losses=["log_loss"], optimizers=["sgd", "lbfgs"], **FAST)


@pytest.mark.skipif(not HAS_MATPLOTLIB, reason="matplotlib is not installed")
def test_a_plot_path_that_is_a_directory_is_refused_before_the_work(tmp_path):
    target = tmp_path / "out.png"
    target.mkdir()
    with pytest.raises(CompareError, match="it is a directory"):
        compare(dataset="iris", plot=target, **FAST)
    missing = tmp_path / "new.png"
    from sklearn_nnopt._compare import check_plot_path

    check_plot_path(missing)
    assert not missing.exists()  # the check leaves nothing behind


def test_repeated_and_alias_names_and_ignored_rates_are_one_candidate():
    result = compare(
        dataset="iris",
        losses="log_loss,cross_entropy,log_loss",
        optimizers="sgd,sgd,lbfgs",
        learning_rates=[0.01, "auto", 0.01],
        **FAST,
    )
    points = sorted((r["optimizer"], str(r["learning_rate"])) for r in result.rows)
    # sgd at each distinct rate; lbfgs (which ignores the rate) once, at "auto".
    assert points == [("lbfgs", "auto"), ("sgd", "0.01"), ("sgd", "auto")]
    assert {r["loss"] for r in result.rows} == {"log_loss"}


def test_multilabel_targets_are_refused_with_a_clear_error():
    from sklearn.datasets import make_multilabel_classification

    X, Y = make_multilabel_classification(n_samples=60, n_classes=3, random_state=0)
    for task in (None, "classification"):
        with pytest.raises(CompareError, match="multilabel"):
            compare(X, Y, task=task)
