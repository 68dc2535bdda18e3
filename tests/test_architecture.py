"""The import graph between the packages has one direction (ARCHITECTURE.md): every import of every module,
those inside functions included, read with `ast`."""

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("anynet", "sampler", "sweeps", "analysis")
# What each layer may import of the others. The command line (anynet.cli, and `python -m anynet`'s
# anynet.__main__) is the top layer and may import all of them.
ALLOWED = {
    "anynet": set(),
    "sampler": {"anynet"},
    "sweeps": {"anynet", "sampler"},
    "analysis": {"anynet", "sampler", "sweeps"},
    "anynet.cli": {"anynet", "sampler", "sweeps", "analysis"},
}


def imported(tree: ast.AST) -> list[str]:
    """The absolute module names a module imports (relative imports stay inside its package)."""
    return [module for module, _ in imported_names(tree)]


def imported_names(tree: ast.AST) -> list[tuple[str, str | None]]:
    """(module, name) for each `from module import name`, (module, None) for each `import module`."""
    found: list[tuple[str, str | None]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found += [(node.module, alias.name) for alias in node.names]
    return found


def layer(module: str) -> str:
    """The layer a module belongs to: its top-level package, or anynet.cli."""
    cli = module in ("anynet.cli", "anynet.__main__") or module.startswith("anynet.cli.")
    return "anynet.cli" if cli else module.split(".")[0]


def modules() -> list[tuple[str, Path]]:
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found.append((".".join(parts[:-1] if parts[-1] == "__init__" else parts), path))
    return found


def test_every_package_is_read() -> None:
    names = {name for name, _ in modules()}
    assert {"anynet.spec", "sampler.space", "sweeps.trainer", "analysis.study", "anynet.cli.study"} <= names


@pytest.mark.parametrize("name,path", modules(), ids=[name for name, _ in modules()])
def test_imports_point_down(name: str, path: Path) -> None:
    own = layer(name)
    public = set(importlib.import_module("sweeps").__all__)
    bad = []
    for target, imported_name in imported_names(ast.parse(path.read_text(), str(path))):
        top, to = target.split(".")[0], layer(target)
        if top not in PACKAGES or to == own:
            continue
        if to not in ALLOWED[own]:
            bad.append(target)
        elif (
            own in ("analysis", "anynet.cli")
            and top == "sweeps"
            and (target != "sweeps" or imported_name not in public)
        ):
            shown = f"{target}.{imported_name}" if target == "sweeps" else target
            bad.append(f"{shown} (above sweeps, only the sweeps package's public API: `from sweeps import NAME`)")
    assert not bad, f"{name} imports {', '.join(bad)} against ARCHITECTURE.md's rule"


def test_generic_helpers_do_not_borrow_from_other_layers() -> None:
    """The lazy-export helper lives in anynet and imports no package of the project."""
    tree = ast.parse((ROOT / "anynet" / "lazy.py").read_text())
    assert not [t for t in imported(tree) if t.split(".")[0] in PACKAGES]


HEAVY = ("torch", "pandas", "matplotlib", "ray")


def loaded_heavy(code: str) -> str:
    """The heavy libraries in sys.modules after running `code` in a fresh interpreter."""
    shown = f"import sys; print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    run = subprocess.run([sys.executable, "-c", f"{code}\n{shown}"], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    return run.stdout.strip()


def test_importing_the_packages_stays_light() -> None:
    """`import analysis` (and sweeps, anynet, sampler, the command line) loads no heavy library: their names load
    on first use; the sampler counts complexity without torch (anynet.counting)."""
    assert loaded_heavy("import analysis, sweeps, anynet, sampler, anynet.cli, anynet.counting") == ""


@pytest.mark.parametrize("argv", [["--help"], ["sample", "--help"], ["info", "--help"], ["train", "--help"]])
def test_help_stays_light(argv: list[str]) -> None:
    """`anynet --help` registers no subcommand's flags; a subcommand's --help loads only what its flags name."""
    code = f"import contextlib, io\nfrom anynet.cli import main\nwith contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n    main({argv!r})"
    assert loaded_heavy(code) == ""


def test_sampling_stays_light() -> None:
    """Drawing specs inside a band and counting them loads no torch or pandas."""
    assert loaded_heavy("from sampler import sample\nsample('AnyNetX_A-small', 20, flops=(2e6, 6e6))") == ""


@pytest.mark.parametrize("package", ["anynet", "sweeps", "analysis"])
def test_no_lazy_export_is_also_a_module(package: str) -> None:
    """Importing a submodule sets it as its package's attribute: a lazily loaded export of the same name would be
    shadowed by the module once anything imports it (`from sweeps import estimate` gave a module, not the
    function)."""
    exported = set(getattr(importlib.import_module(package), "__all__", ()))
    submodules = {p.stem for p in (ROOT / package).glob("*.py")} | {
        p.parent.name for p in (ROOT / package).glob("*/__init__.py")
    }
    assert not exported & submodules
