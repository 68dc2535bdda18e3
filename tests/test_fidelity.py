"""The fidelity check: the subsample, the re-run folders, the statistics on planted rankings, the report's
section, and `anynet fidelity` end to end on Ray."""

import subprocess
import sys

import numpy as np
import pytest

from analysis.fidelity import analyse, correlation, describe, load_fidelity
from analysis.report import compare
from sweeps.config import SweepError, sweep_from_dict
from sweeps.fidelity import LONG_STREAM, RESEED_STREAM, fidelity_folders, prepare_fidelity, scaled, subsample
from sweeps.plan import prepare
from sweeps.recipe import Recipe
from sweeps.store import SweepFolder


def sweep(root, name, n=20, space="AnyNetX_E-small", seed=0, failed=()):
    """A sweep folder with a real plan and made-up errors (no training); models in `failed` failed."""
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
        ok = row["id"] not in failed
        folder.append(
            {
                **row,
                "status": "ok" if ok else "failed",
                "attempts": 1,
                "result": {"error": 50.0 + row["id"]} if ok else None,
            }
        )
    return folder


def plant(folder, quality, noise, seed):
    """Record each re-run of the sweep's fidelity folders, and rewrite the sweep's own errors: the long run's error
    is the model's planted quality, the brief runs' are quality + 20 + noise of the given size."""
    rng = np.random.default_rng(seed)
    records = {r["id"]: r for r in folder.records()}
    folder.path.joinpath("results.jsonl").unlink()
    for i, record in records.items():
        folder.append({**record, "result": {"error": quality[i] + 20 + rng.normal(0, noise)}})
    for name, run in fidelity_folders(folder.path).items():
        for row in run.plan():
            error = quality[row["id"]] + (0 if name.startswith("x") else 20 + rng.normal(0, noise))
            run.append({**row, "status": "ok", "attempts": 1, "result": {"error": float(error)}})


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
    assert [r["id"] for r in reseed_plan] == [r["id"] for r in long_plan] == subsample(folder, 0, 4)
    source = {r["id"]: r for r in folder.plan()}
    assert all(r == source[r["id"]] for r in long_plan)
    assert reseed.recipe == Recipe(budget_macs=50e9) and long.recipe == Recipe(budget_macs=200e9)
    assert (reseed.stream, long.stream, reseed.seed) == (RESEED_STREAM, LONG_STREAM, 0)
    assert long_folder.plan() == long_plan and long_folder.settings()["factor"] == 4
    grown = prepare_fidelity(folder.path, 6, 4)[1][2]  # a larger k keeps the models chosen before
    assert [r["id"] for r in grown][:4] == [r["id"] for r in long_plan] and len(grown) == 6
    assert scaled(Recipe(epochs=0.5), 4).epochs == 2 and scaled(Recipe(images=1000), 2.5).images == 2500


@pytest.mark.parametrize(("k", "factor", "message"), [(1, 4, "k: at least 2"), (4, 1, "factor: the longer budget")])
def test_bad_fidelity_settings_are_one_line_errors(tmp_path, k, factor, message):
    folder = sweep(tmp_path, "s")
    with pytest.raises(SweepError, match=message):
        prepare_fidelity(folder.path, k, factor)


def test_too_few_ok_models_is_an_error_naming_the_folder(tmp_path):
    folder = sweep(tmp_path, "s", n=3, failed={0, 1})
    with pytest.raises(SweepError, match=r"1 model\(s\) finished ok; the fidelity check needs at least 2"):
        prepare_fidelity(folder.path, 3, 4)


def test_a_planted_ranking_is_recovered_and_seed_noise_lowers_it(tmp_path):
    rng = np.random.default_rng(0)
    folders = [
        sweep(tmp_path, name, n=40, space=space) for name, space in (("a", "AnyNetX_A-small"), ("e", "AnyNetX_E-small"))
    ]
    for i, folder in enumerate(folders):
        prepare_fidelity(folder.path, 12, 4)
        quality = rng.uniform(10, 40, 40) + 10 * i  # space e is planted 10 points worse
        plant(folder, quality, noise=0.5, seed=i)
    faithful = analyse(load_fidelity([f.path for f in folders], ["a", "e"]))
    brief_long = faithful.pooled[0]
    assert (brief_long.a, brief_long.b, brief_long.n) == ("brief", "long", 24)
    assert brief_long.spearman > 0.95 and brief_long.spearman_low > 0.85 and brief_long.spearman_high <= 1
    assert faithful.orders.mean_kept.all() and faithful.orders.median_kept.all() and faithful.orders.ks_kept.all()
    assert faithful.orders.mean_long.tolist() == ["a"]
    lines = describe(faithful)
    assert "brief vs 4x budget: Spearman 1.00" in lines[1] and "n = 24 (95% bootstrap intervals)" in lines[1]
    assert "(the seed-noise ceiling)" in lines[3] and "keeping their order" in lines[-1]
    for i, folder in enumerate(folders):  # the same models, but brief errors swamped by seed noise
        for run in fidelity_folders(folder.path).values():
            run.path.joinpath("results.jsonl").unlink()
        plant(folder, rng.uniform(10, 40, 40), noise=100, seed=10 + i)
    noisy = analyse(load_fidelity([f.path for f in folders], ["a", "e"]))
    assert noisy.pooled[0].spearman < 0.6 and noisy.pooled[2].spearman < 0.6


def test_correlation_intervals_cover_the_value_and_survive_ties():
    x = np.array([1.0, 2, 3, 4])
    c = correlation(x, x[::-1], "brief", "long")
    assert c.spearman == pytest.approx(-1) and c.spearman_low == pytest.approx(-1) and c.n == 4
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=30), rng.normal(size=30)
    c = correlation(x, x + y, "brief", "long")
    assert c.spearman_low < c.spearman < c.spearman_high and c.kendall_low < c.kendall < c.kendall_high


def test_the_report_shows_the_fidelity_check_where_the_sweeps_have_reruns(tmp_path):
    folders = [sweep(tmp_path, name, n=20) for name in ("a", "b")]
    plain = compare([f.path for f in folders], tmp_path / "plain")
    assert "Fidelity" not in plain.html.read_text() and plain.fidelity == ()
    for i, folder in enumerate(folders):
        prepare_fidelity(folder.path, 5, 4)
        plant(folder, np.linspace(10, 30, 20), noise=1, seed=i)
    report = compare([f.path for f in folders], tmp_path / "report")
    page = report.html.read_text()
    assert "Fidelity: does the brief budget rank models as a longer one does?" in page
    assert page.index("What the errors are") < page.index("Fidelity") < page.index('alt="edf"')
    assert "50G training multiply-adds per model" in page and (tmp_path / "report" / "fidelity.png").is_file()
    assert report.fidelity[1].startswith("  brief vs 4x budget: Spearman ")
    assert "## Fidelity" in (tmp_path / "report" / "summary.md").read_text()


def test_a_study_reads_each_sweeps_results_once_for_its_report_and_exports(tmp_path, monkeypatch):
    from types import SimpleNamespace

    import sweeps.store
    from analysis.study import Study, _report_and_export

    folders = [sweep(tmp_path, name, n=20, space="RegNetX-small") for name in ("a", "b")]
    for i, folder in enumerate(folders):
        prepare_fidelity(folder.path, 5, 4)
        plant(folder, np.linspace(10, 30, 20), noise=1, seed=i)
    reads = []
    read = sweeps.store._read_jsonl
    monkeypatch.setattr(sweeps.store, "_read_jsonl", lambda path: reads.append(path.resolve()) or read(path))
    usable = [(SimpleNamespace(name=f.path.name, out_dir=f.path), 20) for f in folders]
    notes = []
    report, exports, best = _report_and_export(usable, Study(out=tmp_path / "study", top=2), notes)
    assert report.fidelity and set(exports) == {"a", "b"} and best is not None
    for folder in folders:
        assert reads.count((folder.path / "results.jsonl").resolve()) == 1


def test_anynet_fidelity_reruns_a_real_sweep_and_resumes(tmp_path, ray_env):
    def anynet(*args):
        return subprocess.run(
            [sys.executable, "-m", "anynet.cli", *args], env=ray_env, capture_output=True, text=True, timeout=600
        )

    sweep_file = tmp_path / "s.yaml"
    sweep_file.write_text(
        f"name: s\nspace: AnyNetX_E-small\nn: 5\nflops: 1M:4M\ndataset: synthetic\n"
        f"recipe: {{images: 256}}\nout_dir: {tmp_path / 's'}\n"
    )
    assert anynet("sweep", "run", str(sweep_file), "--no-progress").returncode == 0
    done = anynet("fidelity", str(tmp_path / "s"), "--k", "3", "--no-progress")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "brief vs 4x budget: Spearman " in done.stdout and "n = 3" in done.stdout
    runs = fidelity_folders(tmp_path / "s")
    assert sorted(runs) == ["reseed", "x4"]
    for name, run in runs.items():
        records = run.records()
        assert len(records) == 3 and all(r["status"] == "ok" for r in records)
        images = {r["result"]["images"] for r in records}
        assert images == ({1024} if name == "x4" else {256})
    seeds = {name: {r["id"]: r["seed"] for r in run.records()} for name, run in runs.items()}
    source = {r["id"]: r["seed"] for r in SweepFolder(tmp_path / "s").records()}
    assert all(seeds["reseed"][i] != source[i] != seeds["x4"][i] for i in seeds["reseed"])
    before = {name: run.path.joinpath("results.jsonl").read_bytes() for name, run in runs.items()}
    again = anynet("fidelity", str(tmp_path / "s"), "--k", "3", "--no-progress")  # resumes: nothing trained again
    assert (
        again.returncode == 0 and {n: r.path.joinpath("results.jsonl").read_bytes() for n, r in runs.items()} == before
    )
    bad = anynet("fidelity", str(tmp_path / "s"), "--k", "1")
    assert (
        bad.returncode == 1
        and bad.stderr.strip() == "anynet fidelity: error: k: at least 2 models per sweep for a rank correlation, got 1"
    )
