"""Issue 22, point 4: one address rule, a policy per caller, against real receivers.

The monitors may reach the tracked app on a private address (and loopback); webhooks and
Slack reach public addresses only (loopback too with WEBHOOK_ALLOW_LOOPBACK_HTTP); no one
reaches a link-local address, however the name resolves. A refused request never reaches
the receiver; the address connected to is the one checked, and TLS still verifies the
certificate against the host's name."""

from __future__ import annotations

import ipaddress
import shutil
import socket
import ssl
import subprocess

import pytest

from statuspage import outbound
from statuspage.monitors import probe
from statuspage.outbox import webhook_http
from statuspage.outbox.slack_delivery import post_text
from tests.webhook_receiver import Receiver

TIMEOUT = 2.0


def this_machines_private_address() -> str:
    """The address this machine reaches the network from, when it is a private one (as
    the tracked app's is); the test is skipped on a machine without one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(("198.51.100.1", 9))  # UDP: picks the route, sends nothing
        except OSError:
            pytest.skip("no network interface but loopback")
        address = sock.getsockname()[0]
    ip = ipaddress.ip_address(address)
    if ip.is_loopback or outbound.refusal(ip, outbound.public("x")) != "a private address":
        pytest.skip(f"this machine's address {address} is not a private one")
    return address


@pytest.fixture
def receivers():
    """A receiver on loopback and one on this machine's private address."""
    started = [Receiver("127.0.0.1"), Receiver(this_machines_private_address())]
    for server in started:
        server.thread.start()
    yield started
    for server in started:
        server.close()


def webhook(url: str, **kwargs) -> outbound.PostResult:
    return webhook_http.post(url, b"{}", {}, timeout=TIMEOUT, **kwargs)


def test_a_monitor_reaches_loopback_and_a_private_address(receivers):
    loopback, private = receivers
    for server in receivers:
        result = probe.check(server.url(path="/health/ready"), TIMEOUT)
        assert (result.ok, result.status_code, result.error) == (True, 200, None)
    # Through a name too: the address the name resolves to is the one connected to.
    result = probe.check(f"http://tracked.internal:{private.port}/health/ready", TIMEOUT,
                         resolver=lambda host, port: [private.server.server_address[0]])
    assert result.ok
    assert [r.path for r in loopback.requests] == ["/health/ready"]
    assert [r.path for r in private.requests] == ["/health/ready"] * 2


def test_a_webhook_and_slack_reach_loopback_only_with_the_key_and_a_private_address_never(
        receivers):
    loopback, private = receivers
    refused = webhook(loopback.url(), allow_loopback_http=False)
    assert refused.outcome == "final" and "https://" in refused.error
    refused = webhook(f"https://localhost:{loopback.port}/hook", allow_loopback_http=False)
    assert refused.outcome == "final" and "a loopback address" in refused.error
    assert loopback.requests == []
    assert webhook(loopback.url(), allow_loopback_http=True).outcome == "sent"
    assert post_text(loopback.url(), "Up.", timeout=TIMEOUT,
                     allow_loopback_http=True).outcome == "sent"
    assert len(loopback.requests) == 2

    address = private.server.server_address[0]
    for result in (
            webhook(private.url(), allow_loopback_http=True),
            webhook(f"http://tracked.internal:{private.port}/hook", allow_loopback_http=True,
                    resolver=lambda host, port: [address]),
            post_text(private.url(), "Down.", timeout=TIMEOUT, allow_loopback_http=True)):
        assert result.outcome == "final"
        assert f"a private address ({address})" in result.error
    assert private.requests == []
    with pytest.raises(webhook_http.RefusedURL, match="a private address"):
        webhook_http.check_url(private.url(), allow_loopback_http=True)


def test_link_local_is_refused_for_monitors_and_webhooks_alike(receivers):
    loopback, _ = receivers
    # The name leads to the live receiver on loopback and to a metadata address: refused
    # as a whole, so the receiver hears nothing from anyone.
    both = lambda host, port: ["127.0.0.1", "169.254.169.254"]  # noqa: E731
    url = f"http://metadata.internal:{loopback.port}/latest/meta-data"
    checked = probe.check(url, TIMEOUT, resolver=both)
    assert not checked.ok and "Link-local" in checked.error
    posted = webhook(url, allow_loopback_http=True, resolver=both)
    assert posted.outcome == "final" and "a link-local address (169.254.169.254)" in posted.error
    assert loopback.requests == []
    for address in ("169.254.169.254", "fe80::1", "::ffff:169.254.169.254",
                    "64:ff9b::a9fe:a9fe", "2002:a9fe:a9fe::1"):
        ip = ipaddress.ip_address(address)
        assert outbound.refusal(ip, outbound.MONITORS) is not None, address
        assert webhook_http.address_refusal(ip, allow_loopback=True) is not None, address


@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "10.1.2.3", "172.16.0.1",
                                     "192.168.1.1", "100.64.0.1", "fd00::1",
                                     "::ffff:10.0.0.1", "8.8.8.8"])
def test_the_monitors_policy_allows_what_the_public_one_refuses(address):
    ip = ipaddress.ip_address(address)
    assert outbound.refusal(ip, outbound.MONITORS) is None
    public = outbound.refusal(ip, outbound.public("webhooks"))
    assert (public is None) == (address == "8.8.8.8")


@pytest.fixture
def tls_receiver(tmp_path):
    """An https server on loopback whose certificate names ``localhost`` only."""
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
                    "-keyout", str(key), "-out", str(cert)], check=True,
                   capture_output=True)
    server = Receiver("127.0.0.1")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.server.socket = context.wrap_socket(server.server.socket, server_side=True)
    server.thread.start()
    yield server, cert
    server.close()


def test_tls_checks_the_host_name_while_connecting_to_the_address_checked(tls_receiver):
    server, cert = tls_receiver
    trusting = outbound.tls_context()
    trusting.load_verify_locations(cert)

    def exchange(host: str) -> outbound.Response:
        return outbound.exchange(
            "POST", scheme="https", host=host, port=server.port, path="/hook",
            address="127.0.0.1", headers={}, body=b"{}", tls=trusting,
            deadline=outbound.Deadline(TIMEOUT), max_body=1024)

    assert exchange("localhost").status == 200
    assert server.requests[0].headers["Host"] == f"localhost:{server.port}"
    with pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch"):
        exchange("hooks.example.org")  # the right address, the wrong name: refused
    assert len(server.requests) == 1
