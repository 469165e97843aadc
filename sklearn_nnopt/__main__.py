"""Command line: ``python -m sklearn_nnopt compare ...`` (see ``--help``)."""

import argparse
import math
import os
import sys
import textwrap
import warnings

from ._compare import (
    DATASETS,
    PLOT_MESSAGE,
    REPORT_MESSAGE,
    TASKS,
    CompareError,
    check_plot_path,
    check_report_path,
    compare,
    default_losses,
    default_optimizers,
)

PROG = "python -m sklearn_nnopt"

COMPARE_DESCRIPTION = """\
Cross-validate LinearNNClassifier / LinearNNRegressor for every combination of
loss x optimizer (x learning rate) in Pipeline([StandardScaler(), model]), on the
same folds, each candidate at its own best alpha (chosen inside each fold on an
inner 80/20 split), and print a table ranked by mean CV score (accuracy for
classification, R^2 for regression). The best candidate and those not
significantly worse (Nadeau-Bengio corrected paired t-test, p >= 0.05) share
rank 1; of those that converged in every fold and fit within 2x of the fastest
one's time, the best score is recommended, as one line of code. Each row shows
the chosen alpha, the score's standard deviation,
the p-value against the best, the mean fit time per fold, the mean number of
epochs (L-BFGS, Newton: iterations) and a status: converged, not converged
(k/n folds) (a ConvergenceWarning in k folds), failed: <ErrorType> (a fold
raised, e.g. DivergenceError for a too-large learning rate) or refused (a pair
the estimator does not train, e.g. perceptron x lbfgs; the reasons are listed).
LogisticRegression() / Ridge() on the same folds is printed as a reference.

Figures (--plot, --report): after the ranking, every candidate that did not
fail is fit once more on the whole standardized data, at its loss's alpha (the
most frequent alpha of that loss's candidates), for its training curve.
--plot FILE.png saves one image with two figures, one above the other: (top)
mean CV score against mean fit time per fold (log scale), one point per
candidate with bars of one standard deviation over the folds, the tied group
filled, the recommendation ringed, the reference as a grey band; (bottom) one
panel per loss, the objective gap to that loss's best (log scale) against time,
one line (one colour) per optimizer. --report FILE.html writes one
self-contained HTML file (no scripts, no external links) with the settings, the
recommendation, the reference, the ranked table, the refused and failed
candidates and both figures embedded, for sharing.
"""


def _description():
    grid = (
        "Default grid: every loss of the task (classification: "
        f"{', '.join(default_losses('classification'))}; regression: "
        f"{', '.join(default_losses('regression'))}, the latter if y >= 0) x the "
        f"optimizers {', '.join(default_optimizers())}. 'all' selects every "
        "registered name (aliases once). Progress (one line per candidate) goes "
        "to stderr, the table to stdout."
    )
    return COMPARE_DESCRIPTION + "\n" + textwrap.fill(grid, 79)


COMPARE_EPILOG = """\
examples:
  # the bundled default (breast_cancer, classification), 5 folds
  python -m sklearn_nnopt compare

  # a regression dataset, every registered optimizer, in parallel
  python -m sklearn_nnopt compare --dataset diabetes --optimizers all --n-jobs -1

  # a few candidates, with learning_rate_init as a third axis, and the figures
  python -m sklearn_nnopt compare --dataset iris --losses log_loss,hinge \\
      --optimizers sgd,adam --learning-rates 0.001,0.01,0.1 --plot compare.png

  # one HTML file to share: the table, both figures and the recommendation
  python -m sklearn_nnopt compare --n-jobs -1 --report compare.html

  # your own data: numeric feature columns, a target column (numbers or labels)
  python -m sklearn_nnopt compare --csv data.csv --target label --cv 10

  # an integer-valued quantity is taken for class labels unless you say so
  python -m sklearn_nnopt compare --csv houses.csv --target price --task regression

exit status: 0 on success; 2 for an invalid argument or unreadable input (a
one-line message on stderr); 1 if the figure or the report cannot be written.
"""


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are one line: ``prog: error: message``."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _names(text):
    """Comma-separated names, or "all"."""
    names = [part.strip() for part in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"empty name in {text!r}")
    return names


def _number(part, example, positive):
    """One comma-separated value: a finite number > 0 (``positive``) or >= 0."""
    try:
        value = float(part)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{part!r} is not a number (expected e.g. {example})"
        ) from None
    if not (math.isfinite(value) and (value > 0 if positive else value >= 0)):
        raise argparse.ArgumentTypeError(
            f"{part!r} is not a number {'>' if positive else '>='} 0"
        )
    return value


def _rates(text):
    """Comma-separated learning rates: numbers > 0 or "auto"."""
    parts = [part.strip() for part in text.split(",")]
    return [
        part if part == "auto" else _number(part, "0.001,0.01,0.1", positive=True)
        for part in parts
    ]


def _alphas(text):
    """Comma-separated alphas: numbers >= 0."""
    parts = [part.strip() for part in text.split(",")]
    return [_number(part, "1e-4,1e-3,1e-2", positive=False) for part in parts]


def _int_at_least(low):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"{text} is less than {low}")
        return value

    parse.__name__ = "integer"
    return parse


def _int(text):
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None


_names.__name__ = "names"
_rates.__name__ = "learning rates"
_alphas.__name__ = "alphas"
_int.__name__ = "integer"


def build_parser():
    """The ``python -m sklearn_nnopt`` argument parser."""
    parser = _Parser(
        prog=PROG,
        description="Tools for sklearn-nnopt (linear models with a choice of loss "
        "and optimizer).",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    p = commands.add_parser(
        "compare",
        help="cross-validate and rank losses x optimizers on a dataset",
        description=_description(),
        epilog=COMPARE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_data_arguments(p)
    _add_grid_arguments(p)
    _add_run_arguments(p)
    _add_output_arguments(p)
    p.set_defaults(handler=_run_compare, parser=p)
    return parser


def _add_data_arguments(p):
    data_group = p.add_argument_group("data (--dataset, or --csv with --target)")
    data = data_group.add_mutually_exclusive_group()
    data.add_argument(
        "--dataset",
        metavar="NAME",
        default=None,
        help=f"a dataset bundled with scikit-learn: {', '.join(DATASETS)} "
        f"(default: breast_cancer; diabetes is regression)",
    )
    data.add_argument(
        "--csv",
        metavar="PATH",
        help="a CSV file with a header row; every column but --target must be "
        "numeric (no missing values)",
    )
    data_group.add_argument(
        "--target",
        metavar="COL",
        help="the target column of --csv (required with it): numbers or labels",
    )
    data_group.add_argument(
        "--task",
        choices=TASKS,
        help="default: inferred from the target (labels -> classification, "
        "non-integer numbers -> regression)",
    )


def _add_grid_arguments(p):
    grid = p.add_argument_group("grid")
    grid.add_argument(
        "--losses",
        metavar="A,B",
        type=_names,
        help="comma-separated loss names, or 'all' (default: every loss of the task)",
    )
    grid.add_argument(
        "--optimizers",
        metavar="A,B",
        type=_names,
        help=f"comma-separated optimizer names, or 'all' "
        f"(default: {','.join(default_optimizers())})",
    )
    grid.add_argument(
        "--learning-rates",
        metavar="R,S",
        type=_rates,
        help="comma-separated learning_rate_init values (numbers > 0 or 'auto') "
        "searched as a third axis (default: each optimizer's automatic step)",
    )
    grid.add_argument(
        "--alphas",
        metavar="A,B",
        type=_alphas,
        help="comma-separated alphas (numbers >= 0) each candidate chooses from "
        "in every fold (default: 1e-5,1e-4,1e-3,1e-2,1e-1)",
    )


def _add_run_arguments(p):
    run = p.add_argument_group("cross-validation")
    run.add_argument(
        "--cv",
        metavar="K",
        type=_int_at_least(2),
        default=5,
        help="number of folds, (stratified) KFold without shuffling (default: 5)",
    )
    run.add_argument(
        "--max-iter",
        metavar="N",
        type=_int_at_least(1),
        default=200,
        help="epochs (L-BFGS: iterations) per fit (default: 200)",
    )
    run.add_argument(
        "--random-state",
        metavar="SEED",
        type=_int,
        default=0,
        help="the estimators' random_state, for minibatch shuffling (default: 0)",
    )
    run.add_argument(
        "--n-jobs",
        metavar="N",
        type=_int,
        default=None,
        help="candidates cross-validated in parallel; -1 for all cores (default: 1)",
    )


def _add_output_arguments(p):
    out = p.add_argument_group("output")
    out.add_argument(
        "--plot",
        metavar="FILE.png",
        help="save both figures in one image, one above the other: score against "
        "fit time per candidate, and the training curves, one panel per loss "
        "(format from the extension: .png, .svg, .pdf, ...); needs matplotlib",
    )
    out.add_argument(
        "--report",
        metavar="FILE.html",
        help="write one self-contained HTML file with the settings, the "
        "recommendation, the ranked table and both figures; needs matplotlib",
    )
    out.add_argument(
        "--quiet",
        action="store_true",
        help="no progress lines on stderr, only the table",
    )


def _one_line_warning(message, category, filename, lineno, line=None):
    return f"warning: {message}\n"


def _run_compare(args):
    sub = args.parser
    if args.csv is None and args.target is not None:
        sub.error("--target needs --csv")
    if args.csv is not None and args.target is None:
        sub.error("--csv needs --target COLUMN (the name of the target column)")
    if args.plot is not None:
        try:
            check_plot_path(args.plot)
        except ImportError:
            sub.error(PLOT_MESSAGE)
        except CompareError as exc:
            sub.error(f"--plot: {exc}")
    if args.report is not None:
        try:
            check_report_path(args.report)
        except ImportError:
            sub.error(REPORT_MESSAGE)
        except CompareError as exc:
            sub.error(f"--report: {exc}")
    warnings.formatwarning = _one_line_warning
    try:
        result = compare(
            dataset=args.dataset or "breast_cancer",
            csv=args.csv,
            target=args.target,
            task=args.task,
            losses=args.losses,
            optimizers=args.optimizers,
            learning_rates=args.learning_rates,
            alphas=args.alphas,
            cv=args.cv,
            max_iter=args.max_iter,
            random_state=args.random_state,
            n_jobs=args.n_jobs,
            plot=args.plot,
            report=args.report,
            verbose=not args.quiet,
        )
    except CompareError as exc:
        sub.error(str(exc))
    except KeyboardInterrupt:
        print(f"{sub.prog}: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:  # e.g. the figure could not be written
        print(f"{sub.prog}: error: {exc}", file=sys.stderr)
        return 1
    try:
        print(result.to_text())
        saved = [
            f"{what} saved to {path}"
            for what, path in (("Figures", result.plot), ("Report", result.report))
            if path is not None
        ]
        if saved:
            print("\n" + "\n".join(saved))
        refused = sum(r["status"].startswith("refused") for r in result.rows)
        ran = len(result.rows) - refused
        extra = f", {refused} refused" if refused else ""
        print(f"\n({ran} candidates run{extra}, in {result.elapsed:.1f} s)")
        sys.stdout.flush()
    except BrokenPipeError:  # e.g. piped into head: not an error worth a traceback
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    return 0


def main(argv=None):
    """Run the command line; return the exit status."""
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
