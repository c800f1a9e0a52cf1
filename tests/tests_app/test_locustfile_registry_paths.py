"""The operator's registry of locustfiles (LBLAB_LOCUSTFILES_DIR): a name stands for a file of the
directory only. Paths, `../` tricks, helper modules and symlinks that resolve outside it are not
registered names; a symlink to a file inside it is."""

import os

import pytest

from tests_app.engine.userfile import LocustfileError, registered_names, registered_path


@pytest.fixture
def directory(tmp_path):
    """shop.py, a helper module, a README, a subdirectory's file, symlinks in and out, and a file beside it."""
    root = tmp_path / "locustfiles"
    (root / "team").mkdir(parents=True)
    (root / "shop.py").write_text("# shop\n")
    (root / "_helpers.py").write_text("PATH = '/'\n")
    (root / "README.md").write_text("notes\n")
    (root / "team" / "deep.py").write_text("# deep\n")
    (tmp_path / "secret.py").write_text("# not registered\n")
    os.symlink(root / "shop.py", root / "checkout.py")  # inside: registered, as the file it points to
    os.symlink(tmp_path / "secret.py", root / "escape.py")  # resolves outside the directory
    os.symlink(root / "missing.py", root / "dangling.py")
    return root


def test_only_the_directorys_own_python_files_are_registered(directory):
    assert registered_names(directory) == ["checkout.py", "shop.py"]


def test_a_registered_name_is_the_resolved_file_inside_the_directory(directory):
    assert registered_path(directory, "shop.py") == (directory / "shop.py").resolve()
    assert registered_path(directory, "checkout.py") == (directory / "shop.py").resolve()


@pytest.mark.parametrize("name", [
    "../secret.py",  # up and out
    "team/../../secret.py",
    "./shop.py",
    "team/deep.py",  # a subdirectory's file: not registered
    "escape.py",  # a symlink inside the directory to a file outside it
    "dangling.py",
    "_helpers.py",  # a helper module a locustfile imports
    "README.md",
    "missing.py",
    "",
    "..",
    "shop.py\0",
    "..\\secret.py",
])
def test_anything_else_is_refused_on_the_locustfile_field(directory, name):
    with pytest.raises(LocustfileError) as refused:
        registered_path(directory, name)
    assert refused.value.field == "locustfile"
    assert "is not a registered locustfile" in str(refused.value)


def test_an_absolute_path_is_refused_even_to_a_registered_file(directory):
    for path in (directory / "shop.py", directory.parent / "secret.py"):
        with pytest.raises(LocustfileError):
            registered_path(directory, str(path))
