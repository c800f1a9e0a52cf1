import pytest

from clusters.allowlist import check_url, check_url_allowed, host_allowed, parse_allowlist
from clusters.base import ClusterError

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


@pytest.mark.parametrize(
    ("port", "expected"),
    [(8000, True), (8500, True), (8999, True), (7999, False), (9000, False), (None, False)],
)
def test_an_entry_can_allow_a_range_of_ports_only(port, expected):
    assert host_allowed("127.0.0.1", port, ["127.0.0.1:8000-8999"], resolve=False) is expected
    assert host_allowed("127.9.9.9", port, ["127.0.0.0/8:8000-8999"], resolve=False) is expected
    assert host_allowed("::1", port, ["[::1]:8000-8999"], resolve=False) is expected


@pytest.mark.parametrize(
    "entry", ["127.0.0.1:0", "127.0.0.1:70000", "127.0.0.1:9000-8000", "127.0.0.1:http", "[::1]8080", ":8080",
              "10.0.0.0/99"],
)
def test_a_bad_entry_says_what_is_wrong(entry):
    with pytest.raises(ValueError, match="^'"):
        parse_allowlist((entry,))


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://user:secret@127.0.0.1:8080", "credentials"),
        ("http://127.0.0.1:8080@203.0.113.9", "credentials"),
        ("http://127.0.0.1\\@203.0.113.9", "backslash"),
        ("http://127.0.0.1:8080/\\evil", "backslash"),
        ("http://127.0.0.1:0", "port 0"),
        ("ftp://127.0.0.1", "scheme"),
        ("file:///etc/passwd", "scheme"),
        ("gopher://127.0.0.1:70", "scheme"),
        ("http://127.0.0.1 :80", "space"),
        ("http:///nohost", "no host"),
    ],
)
def test_urls_clients_disagree_about_are_refused_on_their_field(url, problem):
    with pytest.raises(ClusterError, match=problem) as caught:
        check_url(url, field="prometheus_url")
    assert caught.value.field == "prometheus_url"


def test_a_plain_url_gives_its_host_and_port():
    assert check_url("http://127.0.0.1:8080/x") == ("127.0.0.1", 8080)
    assert check_url("https://localhost") == ("localhost", 443)
    with pytest.raises(ClusterError, match="not allow-listed on port 9090"):
        check_url_allowed("http://127.0.0.1:9090", ["127.0.0.1:8000-8999"])
