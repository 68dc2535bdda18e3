"""Design-space comparison: error EDFs (plain and complexity-normalized), KS tests, bootstrap ranges of the best
models, random-search efficiency, the paper's plots, and a self-contained report."""

from analysis.load import Sweeps, load_sweeps
from analysis.report import Report, compare
from analysis.stats import (
    AnalysisError, Bootstrap, bootstrap_best, edf, ks_test, normalized_weights, search_efficiency, shared_range,
)  # fmt: skip

__all__ = [
    "AnalysisError", "Bootstrap", "Report", "Sweeps", "bootstrap_best", "compare", "edf", "ks_test", "load_sweeps",
    "normalized_weights", "search_efficiency", "shared_range",
]  # fmt: skip
