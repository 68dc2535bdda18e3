"""Design-space comparison: error EDFs (plain and complexity-normalized), KS tests, bootstrap ranges of the best
models, random-search efficiency, RegNet fits and exports, the paper's plots, a self-contained report, and the
study that runs it all.

analysis is the orchestration layer: it may import sampler, anynet and the sweeps package's public API
(`from sweeps import ...`); sweeps never imports analysis (ARCHITECTURE.md).

The names below load their modules on first use, so the command line does not pay for pandas and matplotlib
until a command needs them."""

from anynet.lazy import lazy_exports

_EXPORTS = {
    "Sweeps": "analysis.load",
    "load_sweeps": "analysis.load",
    "Report": "analysis.report",
    "compare": "analysis.report",
    "AnalysisError": "analysis.stats",
    "Bootstrap": "analysis.stats",
    "bootstrap_best": "analysis.stats",
    "edf": "analysis.stats",
    "ks_test": "analysis.stats",
    "most_bins": "analysis.stats",
    "normalized_weights": "analysis.stats",
    "search_efficiency": "analysis.stats",
    "shared_range": "analysis.stats",
    "RuleFit": "analysis.fit",
    "fit_rule": "analysis.fit",
    "fit_rules": "analysis.fit",
    "with_fits": "analysis.fit",
    "Study": "analysis.study",
    "StudyResult": "analysis.study",
    "run_study": "analysis.study",
}
__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
