"""The architecture contracts of pyproject.toml ([tool.importlinter]) hold, and they are not
vacuous: a deliberate violation, made in a copy of the tree, breaks the contract that forbids it."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

LINT_IMPORTS = str(Path(sys.executable).with_name("lint-imports"))
PACKAGES = ("clusters", "lbsite", "tests_app", "metrics_app", "chaos_app")


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([LINT_IMPORTS, "--no-cache"], cwd=root, env={"PYTHONPATH": str(root), "PATH": ""},
                          capture_output=True, text=True, timeout=300)


def test_the_tree_keeps_every_contract():
    result = lint_imports(REPO)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "violation", "contract"),
    [
        # an import in a function body to dodge a cycle is still a cycle
        ("metrics_app/services.py", "def _probe():\n    from tests_app.models import LoadTestRun\n", "Layers"),
        ("chaos_app/models.py", "from metrics_app.models import TuningPolicy\n", "Layers"),  # two peers
        ("clusters/simulate.py", "from lbsite import db\n", "Layers"),  # the ground looks up
        ("clusters/balance.py", "import django\n", "import no Django"),
        ("metrics_app/live.py", "from channels.layers import get_channel_layer\n", "import no Django"),
        ("tests_app/services.py", "def _probe():\n    import locust\n", "Locust (gevent)"),
        ("metrics_app/selectors.py", "from tests_app import views\n", "Layers"),
    ],
)
def test_a_deliberate_violation_breaks_its_contract(tmp_path, module, violation, contract):
    for package in PACKAGES:
        shutil.copytree(REPO / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    with open(tmp_path / module, "a") as source:
        source.write("\n\n" + violation)
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    _, _, broken = result.stdout.partition("Broken contracts")
    assert contract in broken, result.stdout[-3000:]
