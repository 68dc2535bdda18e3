"""The README's commands are the ones CI runs and the study uses, and its stated defaults are the study's."""

import re
import shlex
from pathlib import Path

from analysis.study import DEFAULT_FIDELITY, DEFAULT_FLOPS, DEFAULT_N, DEFAULT_RECIPE, DEFAULT_SPACES, Study
from anynet.cli import build_parser
from anynet.cli.study import study_from_args

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
CI = (ROOT / ".ci" / "run").read_text().splitlines()


def readme_commands() -> list[str]:
    return re.findall(r"```bash\n(.+?)\n```", README)


def ci_commands() -> list[str]:
    """.ci/run's commands: its lines less comments, blank lines, the shell's settings and the dataset step."""
    text = re.sub(r"^if \[ ! -d /usr/share/datasets/fashion-mnist \].*?^fi$", "", "\n".join(CI), flags=re.M | re.S)
    skip = ("#", "set -", "cd ")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith(skip)]


def test_ci_runs_the_readme_test_command_and_nothing_else():
    """The whole line, installs included: a newcomer who pastes it gets what CI tests (the dataset aside)."""
    tests = [c for c in readme_commands() if "pytest" in c]
    assert len(tests) == 1
    assert ci_commands() == [tests[0]]


def test_the_test_command_installs_the_reference_libraries():
    """The cross-library tests need pycls, timm and torchvision: the test command installs them, without their
    dependencies (which would replace the CPU torch)."""
    steps = [c for c in readme_commands() if "pytest" in c][0].split(" && ")
    assert "python -m pip install --no-deps -r tests/reference-libs.txt" in steps
    assert steps[-1] == "python -m pytest"
    listed = (ROOT / "tests" / "reference-libs.txt").read_text()
    assert all(f"{name}==" in listed for name in ("pycls", "timm", "torchvision"))


def test_the_readme_main_job_is_the_default_study_installed_as_ci_installs():
    main = [c for c in readme_commands() if "pytest" not in c]
    assert len(main) == 1
    data, install = main[0].split(") && ", 1)  # the dataset step, then the same installs as CI, then the study
    assert "/usr/share/datasets/fashion-mnist" in data and "apt-get install -y dataset-fashion-mnist" in data
    ci = "\n".join(CI)
    assert "/usr/share/datasets/fashion-mnist" in ci and "apt-get install" in ci and "dataset-fashion-mnist" in ci
    steps = install.split(" && ")
    ci_steps = [line for line in CI if "pytest" in line][0].split(" && ")
    assert steps[0] == ci_steps[0] == "python -m pip install torch==2.13.0"
    assert steps[1] == "python -m pip install -e ." and ci_steps[1].startswith("python -m pip install -e ")
    assert steps[2:] == ["anynet study"]
    assert study_from_args(build_parser().parse_args(shlex.split(steps[2])[1:])) == Study()


def test_the_readme_states_the_study_defaults():
    assert re.search(r"\*\*Spaces\*\* `([^`]+)`", README).group(1) == ",".join(DEFAULT_SPACES)
    low, high = re.search(r"\*\*Band\*\* (\d+)-(\d+) MF", README).groups()
    assert f"{low}M:{high}M" == DEFAULT_FLOPS
    assert re.search(r"\*\*Budget\*\* (\d+) G ", README).group(1) + "G" == DEFAULT_RECIPE["budget_macs"]
    assert int(re.search(r"\*\*n\*\* (\d+) models per space", README).group(1)) == DEFAULT_N
    batch, warmup = re.search(r"\*\*Recipe\*\* batch (\d+), .*?, (\d+)% warm-up", README).groups()
    assert {"batch_size": int(batch), "warmup": int(warmup) / 100} == {
        k: DEFAULT_RECIPE[k] for k in ("batch_size", "warmup")
    }
    assert int(re.search(r"\*\*`--fidelity (\d+)`\*\*", README).group(1)) == DEFAULT_FIDELITY


def test_every_anynet_study_command_in_the_readme_parses():
    commands = [c.replace("\\\n", " ") for c in re.findall(r"^\s*(?:\$ )?(anynet study(?: .*\\\n)*.*)$", README, re.M)]
    assert len(commands) >= 2
    parser = build_parser()
    for command in commands:
        words = shlex.split(command.split("#")[0])[1:]
        study_from_args(parser.parse_args(words))
