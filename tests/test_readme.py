"""The README's set-up commands are the ones CI runs and that work."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    return re.findall(r"```bash\n(.+?)\n```", (ROOT / "README.md").read_text())


def test_ci_runs_the_readme_test_command():
    tests = [c for c in readme_commands() if "pytest" in c]
    assert len(tests) == 1
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert tests[0] in ci_lines


def test_readme_main_job_installs_torch_first_and_runs_anynet():
    main = [c for c in readme_commands() if "pytest" not in c]
    assert len(main) == 1
    steps = main[0].split(" && ")
    assert steps[0] == "python -m pip install torch==2.13.0"
    assert steps[-1].startswith("anynet ")
