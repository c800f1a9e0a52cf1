import pytest

from clusters.allowlist import host_allowed

LOOPBACK = ["127.0.0.0/8", "::1", "localhost"]


@pytest.mark.parametrize(
    ("host", "port", "allowed", "expected"),
    [
        ("127.0.0.1", 80, LOOPBACK, True),
        ("127.3.4.5", 8080, LOOPBACK, True),
        ("::1", 80, LOOPBACK, True),
        ("[::1]", 80, LOOPBACK, True),
        ("localhost", 80, LOOPBACK, True),
        ("10.0.0.1", 80, LOOPBACK, False),
        ("203.0.113.9", 80, LOOPBACK, False),
        ("shop.example.test", 8080, ["shop.example.test:8080"], True),
        ("shop.example.test", 9090, ["shop.example.test:8080"], False),
        ("192.168.1.4", 80, ["192.168.0.0/16"], True),
        ("::1", 8080, ["[::1]:8080"], True),
        ("127.0.0.1", 80, [], False),
    ],
)
def test_host_allowed(host, port, allowed, expected):
    assert host_allowed(host, port, allowed, resolve=False) is expected


def test_names_resolve_and_every_address_must_be_allowed():
    assert host_allowed("localhost", 80, ["127.0.0.0/8", "::1"]) is True
    assert host_allowed("localhost", 80, ["10.0.0.0/8"]) is False
    assert host_allowed("no-such-host.invalid", 80, LOOPBACK) is False
