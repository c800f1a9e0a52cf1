"""A Locust that dies without a final line is reported as an error line with its log."""

import pytest

from tests_app.engine.launcher import LocustProcess
from tests_app.engine.testing import base_config


@pytest.mark.timeout(60)
def test_exit_without_final_line_gives_error_line(tmp_path):
    fake = tmp_path / "fake-locust"
    fake.write_text("#!/bin/sh\necho 'ImportError: something broke in the locustfile' >&2\nexit 3\n")
    fake.chmod(0o755)
    with LocustProcess(base_config("http://127.0.0.1:9"), locust_bin=str(fake)) as run:
        run.start()
        lines = []
        for _ in range(40):
            lines += run.poll(0.5)
            if lines:
                break
        assert run.returncode == 3
        log = run.log_path.read_text()
    assert [line["type"] for line in lines] == ["error"]
    assert "code 3" in lines[0]["message"]
    assert "something broke" in lines[0]["message"]
    assert "something broke" in log
