"""DATABASE_URL and REDIS_URL parsing: clear errors for bad values, safe defaults."""

import subprocess

import pytest
from django.core.exceptions import ImproperlyConfigured

from lbsite.env import allowlist, database_config, locustfiles_dir, redis_url, split_list
from tests.conftest import PYTHON, REPO


def test_unset_database_url_gives_sqlite_file():
    config = database_config(None, default_sqlite_path="/tmp/x.sqlite3")
    assert (config["ENGINE"], config["NAME"]) == ("django.db.backends.sqlite3", "/tmp/x.sqlite3")


@pytest.mark.parametrize("raw", [None, "sqlite:////tmp/y.sqlite3"])
def test_sqlite_is_set_up_for_several_writers(raw):
    options = database_config(raw, default_sqlite_path="/tmp/x.sqlite3")["OPTIONS"]
    assert options["transaction_mode"] == "IMMEDIATE"
    assert options["timeout"] >= 10
    assert "journal_mode=WAL" in options["init_command"]


def test_postgres_url_is_parsed():
    config = database_config("postgres://lab:pw@127.0.0.1:5432/lblab", default_sqlite_path="unused")
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["NAME"], config["USER"], config["PASSWORD"], config["HOST"], config["PORT"]) == (
        "lblab", "lab", "pw", "127.0.0.1", 5432,
    )
    assert config["CONN_HEALTH_CHECKS"] is True


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "DATABASE_URL is set but empty"),
        ("   ", "DATABASE_URL is set but empty"),
        ("mysql://root@127.0.0.1/test", "unsupported scheme 'mysql'"),
        ("127.0.0.1:5432/test", "unsupported scheme"),
        ("postgres://127.0.0.1:5432/", "names no database"),
    ],
)
def test_bad_database_url_is_a_clear_error(raw, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        database_config(raw, default_sqlite_path="unused")


def test_redis_url_empty_means_embedded_defaults():
    assert redis_url(None) is None
    assert redis_url("") is None
    assert redis_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
    with pytest.raises(ImproperlyConfigured, match="REDIS_URL must start with"):
        redis_url("127.0.0.1:6379")


def test_split_list_drops_blanks_and_keeps_default_when_unset():
    assert split_list(None, default=["a"]) == ["a"]
    assert split_list(" a, ,b ", default=["x"]) == ["a", "b"]
    assert split_list("", default=["x"]) == []


def test_manage_py_with_bad_database_url_fails_with_one_clear_line(tmp_path):
    result = subprocess.run(
        [PYTHON, "manage.py", "check"], cwd=REPO, capture_output=True, text=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", "DATABASE_URL": "mysql://root@127.0.0.1/test"},
    )
    assert result.returncode != 0
    assert "DATABASE_URL has an unsupported scheme 'mysql'" in result.stderr


def test_a_bad_allow_list_entry_stops_the_start_with_the_entry_named():
    with pytest.raises(ImproperlyConfigured, match="LBLAB_ALLOWED_TARGETS: '127.0.0.1:8000-80'"):
        allowlist("localhost,127.0.0.1:8000-80", default=[])
    assert allowlist(None, default=["127.0.0.0/8"]) == ["127.0.0.0/8"]
    assert allowlist("127.0.0.1:8000-8999, ::1", default=[]) == ["127.0.0.1:8000-8999", "::1"]


def test_locustfiles_dir_is_resolved_and_a_missing_one_stops_the_start(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    assert locustfiles_dir(None) is None and locustfiles_dir("  ") is None  # none registered
    assert locustfiles_dir(str(tmp_path / "link")) == str(real)
    with pytest.raises(ImproperlyConfigured, match="LBLAB_LOCUSTFILES_DIR is not a directory"):
        locustfiles_dir(str(tmp_path / "nowhere"))
    (tmp_path / "file.py").write_text("")
    with pytest.raises(ImproperlyConfigured, match="LBLAB_LOCUSTFILES_DIR is not a directory"):
        locustfiles_dir(str(tmp_path / "file.py"))
