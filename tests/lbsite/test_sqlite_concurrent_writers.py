"""The embedded default under several writers: two `loadtest --sandbox --pods 12` started at the
same moment on one fresh SQLite file, while `make run`'s server and worker use it (the worker
polls its ORM broker, the API is read all along), both finish and keep every second with its 12
pod rows. Before WAL, the busy timeout and IMMEDIATE transactions, writers failed with
"database is locked"."""

import json
import sqlite3
import subprocess
import threading
import urllib.request

import pytest

from tests.conftest import PYTHON, REPO, fetch, free_port, wait_for
from tests.lbsite.embedded import embedded_env, manage

pytestmark = pytest.mark.timeout(300)

PODS = 12


@pytest.fixture
def site(tmp_path):
    """`make run`'s runner (daphne + qcluster) on a fresh, migrated SQLite file."""
    # Two runs at once: more than the run queue lets go together by default (LBLAB_MAX_CONCURRENT_RUNS).
    env = embedded_env(tmp_path, DJANGO_SUPERUSER_PASSWORD="embedded-test-pw", LBLAB_WORKERS="1",
                       LBLAB_MAX_CONCURRENT_RUNS="2")
    assert manage(env, "migrate", "--noinput").returncode == 0
    assert manage(env, "ensure_admin").returncode == 0
    port = free_port()
    runner = subprocess.Popen([PYTHON, "-m", "lbsite.runner"], cwd=REPO, env={**env, "PORT": str(port)},
                              start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _answers(url + "/accounts/login/"), "the site to answer", deadline_s=60)
        yield env, url, tmp_path / "lblab.sqlite3"
    finally:
        runner.send_signal(2)  # Ctrl-C: the runner stops its process groups
        runner.wait(timeout=60)
        runner.stderr.close()


def _answers(url: str) -> bool:
    try:
        return fetch(url)[0] == 200
    except OSError:
        return False


def test_two_loadtests_and_the_site_share_one_sqlite_file(site):
    env, url, database = site
    token = _token(url)
    stop_reading, read_errors, reads = threading.Event(), [], [0]

    def read_api_all_along():
        while not stop_reading.is_set():
            request = urllib.request.Request(url + "/api/runs/?page_size=5", headers={"Authorization": f"Token {token}"})
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    reads[0] += response.status == 200
            except Exception as error:
                read_errors.append(repr(error))
            stop_reading.wait(0.2)

    reader = threading.Thread(target=read_api_all_along)
    reader.start()
    command = [PYTHON, "manage.py", "loadtest", "--sandbox", "--pods", str(PODS), "--users", "24",
               "--duration", "8s", "--user", "admin"]
    try:
        runs = [subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for _ in range(2)]
        outputs = [run.communicate(timeout=240) for run in runs]
    finally:
        stop_reading.set()
        reader.join()
    for run, (out, err) in zip(runs, outputs, strict=True):
        assert run.returncode in (0, 1), err[-2000:]
        assert "locked" not in out + err
    assert read_errors == [] and reads[0] > 0

    with sqlite3.connect(database) as db:
        rows = db.execute("SELECT id, status FROM tests_app_loadtestrun ORDER BY id").fetchall()
        assert len(rows) == 2 and all(status in ("passed", "failed") for _, status in rows), rows
        for run_id, _ in rows:
            seconds = [t for (t,) in db.execute(
                "SELECT t FROM metrics_app_metricsample WHERE run_id = ? ORDER BY t", (run_id,))]
            assert len(seconds) >= 8
            assert seconds == [float(t) for t in range(1, len(seconds) + 1)], seconds  # none lost
            pods_per_second = dict(db.execute(
                "SELECT t, COUNT(*) FROM metrics_app_podsample WHERE run_id = ? AND pod != 'unattributed' GROUP BY t",
                (run_id,)))
            assert all(pods_per_second.get(t) == PODS for t in seconds), pods_per_second


def _token(url: str) -> str:
    request = urllib.request.Request(
        url + "/api/auth/token/", data=json.dumps({"username": "admin", "password": "embedded-test-pw"}).encode(),
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)["token"]
