"""`inspect_locustfile` reads a user's own locustfile in a child Python: what it holds (user
classes, shape, text and hash) without Locust or the file ever entering the caller's process."""

import hashlib
import subprocess
import sys
import textwrap

from tests.conftest import REPO

FILE = textwrap.dedent('''
    from locust import FastHttpUser, HttpUser, LoadTestShape, task

    from helpers import PATH  # a helper module beside the file, as Locust lets a locustfile import


    class Browser(HttpUser):
        @task
        def home(self):
            self.client.get(PATH)


    class Api(FastHttpUser):
        @task
        def items(self):
            self.client.get("/api/items")


    class Base(HttpUser):
        abstract = True


    class Ramp(LoadTestShape):
        def tick(self):
            return None
''')


def test_classes_shape_and_hash_are_reported_and_the_caller_stays_locust_free(tmp_path):
    (tmp_path / "helpers.py").write_text('PATH = "/"\n')
    path = tmp_path / "shop.py"
    path.write_text(FILE)
    code = textwrap.dedent(f"""
        import json, sys
        from tests_app.engine.userfile import inspect_locustfile
        info = inspect_locustfile({str(path)!r}, user_classes=["Api"])
        loaded = [m for m in ("locust", "gevent", "shop", "helpers") if m in sys.modules]
        print(json.dumps({{"classes": info.user_classes, "all": info.all_user_classes, "shape": info.shape,
                          "sha256": info.sha256, "text": info.text, "loaded": loaded, "config": info.config()}}))
    """)
    result = subprocess.run([sys.executable, "-c", code], cwd=str(REPO), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    found = __import__("json").loads(result.stdout)
    assert found["loaded"] == []
    assert found["classes"] == ["Api"] and found["all"] == ["Browser", "Api"]  # the abstract Base is no user
    assert found["shape"] == "Ramp"
    assert found["text"] == FILE and found["sha256"] == hashlib.sha256(FILE.encode()).hexdigest()
    assert found["config"] == {"path": str(path), "user_classes": ["Api"], "shape": "Ramp"}
