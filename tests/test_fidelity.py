"""The fidelity check: the subsample, the re-run folders, the within-space statistics on planted rankings, the
gate, the report's section, and `anynet fidelity` end to end on Ray."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

from analysis.fidelity import (
    MIN_INTERVAL,
    analyse,
    check_gate,
    describe,
    gate,
    interval,
    load_fidelity,
    spearman_u,
)
from analysis.load import load_sweeps
from analysis.report import compare
from analysis.stats import AnalysisError
from sweeps.config import SweepError, sweep_from_dict
from sweeps.fidelity import (
    LONG_RESEED_STREAM,
    LONG_STREAM,
    RESEED_STREAM,
    fidelity_folders,
    prepare_fidelity,
    scaled,
    subsample,
)
from sweeps.plan import prepare
from sweeps.recipe import Recipe
from sweeps.store import SweepFolder
from anynet.counting import Complexity
from planted import ok_record, with_result
from random_specs import TINY
from sweeps import PlanRow


def sweep(root, name, n=20, space="AnyNetX_E-small", seed=0, failed=(), errors=None):
    """A sweep folder with a real plan and made-up errors (no training: 50 + id, or errors[id]); models in `failed`
    failed."""
    config = sweep_from_dict(
        {
            "name": name,
            "space": space,
            "n": n,
            "seed": seed,
            "dataset": "synthetic",
            "recipe": {"budget_macs": "50G"},
            "out_dir": str(root / name),
        }
    )
    folder = SweepFolder(config.out_dir)
    for row in prepare(config, folder)[1]:
        error = 50.0 + row.id if errors is None else float(errors[row.id])
        folder.append(ok_record(row, error=error) if row.id not in failed else ok_record(row, "failed"))
    return folder


def plant(folder, quality, noise, seed, long_noise=0.0):
    """Record each re-run of the sweep's fidelity folders, and rewrite the sweep's own errors: the long runs' error
    is the model's planted quality (+ long_noise), the brief runs' are quality + 20 + noise of the given size."""
    rng = np.random.default_rng(seed)
    records = {r.id: r for r in folder.records()}
    folder.path.joinpath("results.jsonl").unlink()
    for i, record in records.items():
        folder.append(with_result(record, error=quality[i] + 20 + rng.normal(0, noise)))
    for name, run in fidelity_folders(folder.path).items():
        for row in run.plan():
            brief = not name.startswith("x")
            error = quality[row.id] + (20 + rng.normal(0, noise) if brief else rng.normal(0, long_noise))
            run.append(ok_record(row, error=float(error)))


def frame(groups):
    """A models frame as load_fidelity returns it, from (brief, long) error arrays per space (reseed = brief)."""
    rows = [
        pd.DataFrame({"sweep": f"s{i}", "id": range(len(b)), "flops": 1e6, "brief": b, "long": g})
        for i, (b, g) in enumerate(groups)
    ]
    models = pd.concat(rows, ignore_index=True)
    return models.assign(reseed=models.brief, long_reseed=np.nan, factor=4.0)


def test_the_subsample_is_uniform_seeded_over_ok_models_and_grows_as_a_prefix(tmp_path):
    folder = sweep(tmp_path, "s", n=30, failed={0, 1, 2})
    five, eight = subsample(folder, 0, 5), subsample(folder, 0, 8)
    assert eight[:5] == five and len(set(eight)) == 8 and not {0, 1, 2} & set(eight)
    assert subsample(folder, 0, 5) == five and subsample(folder, 1, 5) != five
    counts = np.zeros(30)  # over many seeds every ok model is chosen about equally often: not the best ones
    for seed in range(600):
        counts[subsample(folder, seed, 9)] += 1
    assert counts[:3].sum() == 0 and counts[3:].min() > 0.6 * 200 and counts[3:].max() < 1.4 * 200


def test_rerun_folders_hold_the_chosen_models_with_scaled_budgets_and_their_own_seeds(tmp_path):
    folder = sweep(tmp_path, "s")
    work = prepare_fidelity(folder.path, 4, 4)
    (reseed, reseed_folder, reseed_plan), (long, long_folder, long_plan) = work
    assert reseed_folder.path == folder.path / "fidelity" / "reseed" and long_folder.path.name == "x4"
    assert [r.id for r in reseed_plan] == [r.id for r in long_plan] == subsample(folder, 0, 4)
    source = {r.id: r for r in folder.plan()}
    assert all(r == source[r.id] for r in long_plan)
    assert reseed.recipe == Recipe(budget_macs=50e9) and long.recipe == Recipe(budget_macs=200e9)
    assert (reseed.stream, long.stream, reseed.seed) == (RESEED_STREAM, LONG_STREAM, 0)
    assert long_folder.plan() == long_plan and long_folder.settings()["factor"] == 4
    assert sorted(fidelity_folders(folder.path)) == ["reseed", "x4"]  # the long run is re-seeded only when asked
    grown = prepare_fidelity(folder.path, 6, 4)[1][2]  # a larger k keeps the models chosen before
    assert [r.id for r in grown][:4] == [r.id for r in long_plan] and len(grown) == 6
    assert scaled(Recipe(epochs=0.5), 4).epochs == 2 and scaled(Recipe(images=1000), 2.5).images == 2500


def test_the_long_run_re_seeded_is_a_third_folder_with_its_own_seed_stream(tmp_path):
    folder = sweep(tmp_path, "s")
    prepare_fidelity(folder.path, 4, 4)
    work = prepare_fidelity(folder.path, 5, 4, reseed_long=True)  # added to a check that has run: same models
    twin, twin_folder, twin_plan = work[2]
    assert twin_folder.path == folder.path / "fidelity" / "x4-reseed" and twin.name == "s-x4-reseed"
    assert [r.id for r in twin_plan] == [r.id for r in work[1][2]] == subsample(folder, 0, 5)
    assert twin.recipe == work[1][0].recipe == Recipe(budget_macs=200e9) and twin.stream == LONG_RESEED_STREAM
    assert len({RESEED_STREAM, LONG_STREAM, LONG_RESEED_STREAM, 0}) == 4
    assert sorted(fidelity_folders(folder.path)) == ["reseed", "x4", "x4-reseed"]


@pytest.mark.parametrize(("k", "factor", "message"), [(1, 4, "k: at least 2"), (4, 1, "factor: the longer budget")])
def test_bad_fidelity_settings_are_one_line_errors(tmp_path, k, factor, message):
    folder = sweep(tmp_path, "s")
    with pytest.raises(SweepError, match=message):
        prepare_fidelity(folder.path, k, factor)


def test_too_few_ok_models_is_an_error_naming_the_folder(tmp_path):
    folder = sweep(tmp_path, "s", n=3, failed={0, 1})
    with pytest.raises(SweepError, match=r"1 model\(s\) finished ok; the fidelity check needs at least 2"):
        prepare_fidelity(folder.path, 3, 4)


def planted(tmp_path, k=12, reseed_long=False, long_noise=0.0):
    """Two sweeps of 40 models, k of each re-run, space e planted 10 points worse; brief noise 0.5 points."""
    rng = np.random.default_rng(0)
    folders = [
        sweep(tmp_path, name, n=40, space=space) for name, space in (("a", "AnyNetX_A-small"), ("e", "AnyNetX_E-small"))
    ]
    for i, folder in enumerate(folders):
        prepare_fidelity(folder.path, k, 4, reseed_long)
        plant(folder, rng.uniform(10, 40, 40) + 10 * i, noise=0.5, seed=i, long_noise=long_noise)
    return folders


def test_a_planted_ranking_is_recovered_within_spaces_and_seed_noise_lowers_it(tmp_path):
    folders = planted(tmp_path)
    faithful = analyse(load_fidelity([f.path for f in folders], ["a", "e"]))
    h = faithful.headline
    assert (h.a, h.b, h.n, h.spaces) == ("brief", "long", 24, 2)
    assert h.spearman > 0.95 and h.low > 0.85 and h.high <= 1
    assert faithful.orders.mean_kept.all() and faithful.orders.median_kept.all() and faithful.orders.ks_kept.all()
    assert faithful.orders.mean_long.tolist() == ["a"]
    lines = describe(faithful)
    assert lines[1].startswith("  within spaces, brief vs 4x budget: Spearman 1.00 [") and lines[1].endswith("n = 24")
    assert lines[3].startswith("  within spaces, seed reliability of the brief budget (brief vs brief re-seeded): ")
    assert not any("ceiling" in line or "bound" in line for line in lines)  # the long run was not re-seeded
    assert any("pooled over the spaces (including the gaps between their mean errors)" in line for line in lines)
    assert "keeping their order" in lines[-1]
    for i, folder in enumerate(folders):  # the same models, but brief errors swamped by seed noise
        for run in fidelity_folders(folder.path).values():
            run.path.joinpath("results.jsonl").unlink()
        plant(folder, np.random.default_rng(i).uniform(10, 40, 40), noise=100, seed=10 + i)
    noisy = analyse(load_fidelity([f.path for f in folders], ["a", "e"]))
    assert noisy.headline.spearman < 0.6 and noisy.find("brief", "reseed").spearman < 0.6


def test_the_pooled_figure_includes_the_gaps_between_spaces_and_the_within_one_does_not():
    rng = np.random.default_rng(3)  # two spaces 20 points apart (mean errors 40 and 60), random order inside each
    models = frame([(rng.normal(40 + 20 * i, 3, 25), rng.normal(40 + 20 * i, 3, 25)) for i in range(2)])
    result = analyse(models)
    assert 0.65 < result.pooled.spearman < 0.85 and abs(result.headline.spearman) < 0.2
    assert result.headline.low < 0 < result.headline.high and result.headline.n == 50


def test_the_estimate_is_the_unbiased_u_statistic_where_a_samples_spearman_leans_to_kendall():
    rng = np.random.default_rng(0)
    for n in (3, 5, 12):
        x, y = rng.normal(size=n), rng.normal(size=n)
        r_s, tau = stats.spearmanr(x, y).statistic, stats.kendalltau(x, y).statistic
        assert spearman_u(x, y) == pytest.approx(((n + 1) * r_s - 3 * tau) / (n - 2))
    r = 2 * np.sin(np.pi * 0.8 / 6)  # normal pairs with Spearman correlation 0.8 (Kendall's tau 2/pi asin r)
    z = rng.multivariate_normal([0, 0], [[1, r], [r, 1]], (20000, 5))
    x, y = z[..., 0], z[..., 1]
    tau = 2 / np.pi * np.arcsin(r)
    assert spearman_u(x, y).mean() == pytest.approx(0.8, abs=0.01)
    sample = np.array([stats.spearmanr(a, b).statistic for a, b in zip(x[:4000], y[:4000])])
    assert sample.mean() == pytest.approx((3 * 0.8 + 3 * tau) / 6, abs=0.015) and sample.mean() < 0.76


def test_every_re_run_model_counts_and_below_ten_there_is_no_interval():
    rng = np.random.default_rng(1)
    models = frame([(rng.normal(size=5), rng.normal(size=5)) for _ in range(4)])
    result = analyse(models)
    assert result.headline.n == 20 and result.headline.low is not None
    assert all(w.n == 5 and w.low is None for w in result.per_sweep.values())
    lines = describe(result)
    assert sum("(too few models for an interval)" in line for line in lines) == 4
    assert "n = 20" in lines[1] and "[" in lines[1]
    few = analyse(frame([(rng.normal(size=4), rng.normal(size=4)) for _ in range(2)]))
    assert few.headline.n == 8 < MIN_INTERVAL and few.headline.low is None
    assert describe(few)[1].endswith("n = 8 (too few models for an interval)")
    large = analyse(frame([(np.arange(12.0), np.arange(12.0) + rng.normal(0, 3, 12))]))
    w = large.per_sweep["s0"]
    assert (
        describe(large)[-1]
        == f"  inside s0: brief vs 4x budget: Spearman {w.spearman:.2f} [{w.low:.2f}, {w.high:.2f}], n = 12"
    )


def test_a_space_of_two_models_leaves_the_within_figure_but_not_the_pooled_one():
    rng = np.random.default_rng(2)
    result = analyse(frame([(rng.normal(size=2), rng.normal(size=2)) for _ in range(3)]))
    assert result.headline is None and result.pooled.n == 6 and result.per_sweep == {}
    assert describe(result)[1] == "  within spaces, brief vs 4x budget: none, no space has 3 re-run models"
    assert gate(result, 0.5).startswith("WARNING: the fidelity check cannot pass --min-fidelity 0.5: no space")


def test_the_interval_holds_the_estimate_and_a_perfect_ranking_is_not_certain():
    for estimate in (-0.3, 0.0, 0.55, 0.95):
        low, high = interval(estimate, (5, 5, 5, 5))
        assert -1 <= low <= estimate <= high <= 1
    low, high = interval(1.0, (5, 5, 5, 5))  # 20 models ranked perfectly inside their spaces: not "[1.00, 1.00]"
    assert high == 1 and 0.5 < low < 0.99
    assert interval(0.6, (5, 5, 5, 5), seed=1) != interval(0.6, (5, 5, 5, 5))  # the seed drives the simulation
    narrow, wide = interval(0.6, (10, 10, 10, 10)), interval(0.6, (5, 5, 5, 5))
    assert narrow[1] - narrow[0] < wide[1] - wide[0]  # more models per space, a narrower interval


def test_the_long_runs_seed_reliability_gives_the_seed_noise_bound(tmp_path):
    folders = planted(tmp_path, k=6, reseed_long=True, long_noise=2.0)
    models = load_fidelity([f.path for f in folders], ["a", "e"])
    assert models.long_reseed.notna().all() and len(models) == 12
    result = analyse(models)
    brief, long = result.find("brief", "reseed"), result.find("long", "long_reseed")
    assert long.n == 12 and result.bound == pytest.approx(np.sqrt(brief.spearman * long.spearman))
    lines = describe(result)
    assert any(
        line.startswith("  within spaces, seed reliability of the 4x budget (4x vs 4x re-seeded): ") for line in lines
    )
    bound = f"  seed-noise bound on brief vs 4x budget: sqrt({brief.spearman:.2f} x {long.spearman:.2f}) = "
    assert any(line.startswith(bound) for line in lines)
    assert "and at 4x the budget twice" in lines[0]


def test_the_gate_warns_when_the_lower_end_is_below_the_minimum():
    rng = np.random.default_rng(4)
    quality = [rng.normal(size=5) for _ in range(4)]
    result = analyse(frame([(q + rng.normal(0, 0.3, 5), q) for q in quality]))
    low = result.headline.low
    assert gate(result, low - 0.01) is None
    warning = gate(result, low + 0.01)
    assert warning.startswith("WARNING: ") and f"[{low:.2f}, " in warning and "--min-fidelity" in warning
    few = analyse(frame([(q[:4], q[:4]) for q in quality[:2]]))
    assert "8 re-run models, too few for an interval" in gate(few, -1)


@pytest.mark.parametrize(
    ("minimum", "strict", "message"),
    [(1.5, False, "--min-fidelity: a rank correlation from -1 to 1, got 1.5"), (None, True, "--strict: ")],
)
def test_bad_gates_are_one_line_errors_naming_the_flag(minimum, strict, message):
    with pytest.raises(AnalysisError, match=message):
        check_gate(minimum, strict)
    check_gate(0.5, True)


def test_the_study_flags_for_the_fidelity_check(tmp_path, capsys):
    from types import SimpleNamespace

    from analysis.study import Study, rerun_plan
    from anynet.cli import build_parser, main
    from anynet.cli.study import study_from_args

    parse = build_parser().parse_args
    assert study_from_args(parse(["study"])) == Study()
    study = study_from_args(parse(["study", "--fidelity-reseed-long", "--min-fidelity", "0.5", "--strict"]))
    assert (study.fidelity_reseed_long, study.min_fidelity, study.strict) == (True, 0.5, True)
    plan = [PlanRow(i, "s", TINY, Complexity(f, 1, 1)) for i, f in enumerate([3, 1, 2])]
    config = SimpleNamespace(recipe=Recipe(budget_macs=1e9))
    only = dict(fidelity_recipe=None, retrain_top=0)
    assert rerun_plan(Study(fidelity=2, fidelity_factor=4, **only), config, plan) == [(plan[2], 1.0), (plan[2], 4)] * 2
    long = Study(fidelity=2, fidelity_factor=4, fidelity_reseed_long=True, **only)
    assert rerun_plan(long, config, plan) == [(plan[2], 1.0), (plan[2], 4), (plan[2], 4)] * 2
    reference = Recipe(budget_macs=1e9, lr=0.1)
    both = Study(fidelity=1, fidelity_factor=4, fidelity_recipe={"lr": 0.1}, retrain_top=2, retrain_seeds=3)
    assert rerun_plan(both, config, plan) == [(plan[2], 1.0), (plan[2], 4), (plan[2], reference)] + [(plan[2], 4)] * 6
    for flags, message in [
        (["--strict"], "--strict: "),
        (["--min-fidelity", "2"], "--min-fidelity: a rank correlation from -1 to 1, got 2"),
        (["--min-fidelity", "0.5", "--fidelity", "0"], "--min-fidelity: needs the fidelity check"),
    ]:
        assert main(["study", *flags, "--plan", "--out", str(tmp_path / "s")]) == 1
        error = capsys.readouterr().err
        assert error.startswith(f"anynet study: error: {message}") and len(error.splitlines()) == 1


def test_the_report_shows_the_fidelity_check_where_the_sweeps_have_reruns(tmp_path):
    folders = [sweep(tmp_path, name, n=20) for name in ("a", "b")]
    plain = compare(load_sweeps([f.path for f in folders]), tmp_path / "plain")
    assert "Fidelity" not in plain.html.read_text() and plain.fidelity == ()
    for i, folder in enumerate(folders):
        prepare_fidelity(folder.path, 5, 4)
        plant(folder, np.linspace(10, 30, 20), noise=1, seed=i)
    report = compare(load_sweeps([f.path for f in folders]), tmp_path / "report")
    page = report.html.read_text()
    assert "Fidelity: does the brief budget rank models as a longer one does?" in page
    assert page.index("What the errors are") < page.index("Fidelity") < page.index('alt="edf"')
    assert "50G training multiply-adds per model" in page and (tmp_path / "report" / "fidelity.png").is_file()
    assert report.fidelity[0].startswith("The verdict separated no pair of spaces")  # the words first
    headline = next(line for line in report.fidelity if line.startswith("  within spaces, brief vs 4x budget"))
    assert headline.startswith("  within spaces, brief vs 4x budget: Spearman ") and headline.endswith("n = 10")
    assert "## Fidelity" in (tmp_path / "report" / "summary.md").read_text()


def test_a_study_reads_each_sweeps_results_once_for_its_report_exports_and_gate(tmp_path, monkeypatch):
    from types import SimpleNamespace

    import sweeps.store
    from analysis.load import load_sweeps
    from analysis.study import Study, _gate, _report_and_export

    folders = [sweep(tmp_path, name, n=20, space="RegNetX-small") for name in ("a", "b")]
    for i, folder in enumerate(folders):
        prepare_fidelity(folder.path, 5, 4)
        plant(folder, np.linspace(10, 30, 20), noise=1, seed=i)
    reads = []
    read = sweeps.store._read_jsonl
    monkeypatch.setattr(sweeps.store, "_read_jsonl", lambda path: reads.append(path.resolve()) or read(path))
    usable = [(SimpleNamespace(name=f.path.name, out_dir=f.path), 20) for f in folders]
    notes = []
    study = Study(out=tmp_path / "study", top=2, min_fidelity=0.99, fidelity_factor=4)
    report, exports, best, warning = _report_and_export(usable, study, notes)
    assert report.fidelity and set(exports) == {"a", "b"} and best is not None
    assert warning.startswith("WARNING: the brief budget may rank each space's models worse than --min-fidelity")
    for folder in folders:
        assert reads.count((folder.path / "results.jsonl").resolve()) == 1
    loaded = load_sweeps([f.path for f in folders])
    assert (
        _gate(Study(min_fidelity=-1, fidelity_factor=4), [f.path for f in folders], loaded) is None
    )  # any lower end passes -1
    assert _gate(Study(), [f.path for f in folders], loaded) is None  # no gate asked for


def test_anynet_fidelity_reruns_a_real_sweep_and_resumes(tmp_path, ray_env):
    def anynet(*args):
        return subprocess.run([sys.executable, "-m", "anynet.cli", *args], env=ray_env, capture_output=True, text=True)

    sweep_file = tmp_path / "s.yaml"
    sweep_file.write_text(
        f"name: s\nspace: AnyNetX_E-small\nn: 5\nflops: 1M:4M\ndataset: synthetic\n"
        f"recipe: {{images: 256}}\nout_dir: {tmp_path / 's'}\n"
    )
    assert anynet("sweep", "run", str(sweep_file), "--no-progress").returncode == 0
    done = anynet("fidelity", str(tmp_path / "s"), "--k", "3", "--no-progress")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "  within spaces, brief vs 4x budget: Spearman " in done.stdout
    assert "n = 3 (too few models for an interval)" in done.stdout and "WARNING" not in done.stdout
    runs = fidelity_folders(tmp_path / "s")
    assert sorted(runs) == ["reseed", "x4"]
    for name, run in runs.items():
        records = run.records()
        assert len(records) == 3 and all(r.status == "ok" for r in records)
        images = {r.result.images for r in records}
        assert images == ({1024} if name == "x4" else {256})
    before = {name: run.path.joinpath("results.jsonl").read_bytes() for name, run in runs.items()}
    # resumes: nothing trained again but the long run's re-seeded twin; the gate cannot pass with 3 models
    again = anynet(
        "fidelity", str(tmp_path / "s"), "--k", "3", "--reseed-long", "--min-fidelity", "0", "--strict", "--no-progress"
    )
    assert again.returncode == 1, again.stderr[-3000:]
    assert again.stdout.splitlines()[-1].startswith("WARNING: the fidelity check cannot pass --min-fidelity 0: 3 ")
    assert "seed reliability of the 4x budget (4x vs 4x re-seeded)" in again.stdout
    runs = fidelity_folders(tmp_path / "s")
    assert {n: r.path.joinpath("results.jsonl").read_bytes() for n, r in runs.items() if n in before} == before
    assert {r.result.images for r in runs["x4-reseed"].records()} == {1024}
    seeds = {name: {r.id: r.seed for r in run.records()} for name, run in runs.items()}
    source = {r.id: r.seed for r in SweepFolder(tmp_path / "s").records()}
    assert all(len({source[i], *(s[i] for s in seeds.values())}) == 4 for i in seeds["reseed"])
    # a reference recipe: one more folder, the same subsample, at the sweep's budget with lr changed
    reference = anynet("fidelity", str(tmp_path / "s"), "--k", "3", "--recipe", "lr=0.1", "--no-progress")
    assert reference.returncode == 0, reference.stderr[-3000:]
    assert "  within spaces, brief vs reference recipe: Spearman " in reference.stdout
    assert "and under a reference recipe (the sweep's with lr=0.1)" in reference.stdout
    records = fidelity_folders(tmp_path / "s")["reference"].records()
    assert {r.id for r in records} == set(seeds["reseed"]) and {r.result.images for r in records} == {256}
    # the export ranks by re-trained errors: the top 2 by brief error, at 2x the budget with 2 seeds
    out = tmp_path / "best.yaml"
    flags = ["--top", "3", "--retrain-top", "2", "--retrain-factor", "2", "--no-progress", "--out", str(out)]
    exported = anynet("export", str(tmp_path / "s"), *flags)
    assert exported.returncode == 0, exported.stderr[-3000:]
    ranked = [c["ranked_by"] for c in yaml.safe_load(out.read_text())["configs"]]
    assert [r["by"] for r in ranked] == ["retrained", "retrained", "brief"]
    assert ranked[0]["error"] <= ranked[1]["error"] and ranked[0]["how"] == "2x the budget" and ranked[0]["seeds"] == 2
    retrained = [SweepFolder(tmp_path / "s" / "retrain" / name) for name in ("x2-1", "x2-2")]
    assert all({r.result.images for r in folder.records()} == {512} for folder in retrained)
    bad = anynet("fidelity", str(tmp_path / "s"), "--k", "1")
    assert (
        bad.returncode == 1
        and bad.stderr.strip() == "anynet fidelity: error: k: at least 2 models per sweep for a rank correlation, got 1"
    )
