"""The companion over HTTPS (SPEC §9), its calendar reminder and its systemd unit: the real
`sisessions companion --https` spoken to with a client that trusts only the authority it made."""
from __future__ import annotations

import datetime as dt
import socket
import ssl
import subprocess
from pathlib import Path

import httpx
import pytest

from sisessions.phone import tls
from tests.conftest import FIXTURES, run_cli
from tests.phone.helpers import LIBS, Companion


def started(*args) -> Companion:
    """The companion with ARGS in the test's home, and `next_line`: the line after the address (on
    the authority with --https, on what --https adds without it; none with --cert)."""
    c = Companion({}, *args)
    c.next_line = "" if "--cert" in args else c.proc.stdout.readline().strip()
    return c


def peer_serial(port: int, cafile: Path | None) -> int:
    """The serial number of the certificate the server shows (checked against `cafile` if given)."""
    from cryptography import x509

    if cafile is None:  # a certificate made for a later date: read, not checked
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    else:
        ctx = ssl.create_default_context(cafile=str(cafile))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
            return x509.load_der_x509_certificate(s.getpeercert(binary_form=True)).serial_number


# ---------------------------------------------------------------- the authority


def test_the_authority_is_made_once_its_key_0600_and_the_certificate_names_the_machine(isolated):
    from cryptography import x509

    cert, key, renewed = tls.ensure("10.77.0.1")
    assert renewed
    folder = isolated / "config" / "sisessions" / "companion-https"
    assert folder.stat().st_mode & 0o777 == 0o700
    assert (folder / "ca.key").stat().st_mode & 0o777 == 0o600 and key.stat().st_mode & 0o777 == 0o600
    ca = x509.load_pem_x509_certificate(tls.ca_cert_file().read_bytes())
    server = x509.load_pem_x509_certificate(cert.read_bytes())
    server.verify_directly_issued_by(ca)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    ips = {str(i) for i in san.get_values_for_type(x509.IPAddress)}
    names = set(san.get_values_for_type(x509.DNSName))
    assert {"10.77.0.1", "127.0.0.1"} <= ips and {"localhost", socket.gethostname()} <= names
    days = (server.not_valid_after_utc - server.not_valid_before_utc).days
    assert days <= tls.SERVER_DAYS
    ca_bytes = tls.ca_cert_file().read_bytes()
    assert tls.ensure("10.77.0.1")[2] is False  # kept while it is good
    assert tls.ensure("myhost.example")[2] is True  # a name it does not carry: made anew
    assert tls.ca_cert_file().read_bytes() == ca_bytes  # by the same authority


def test_a_server_certificate_near_its_end_is_renewed_and_a_running_server_takes_it(isolated):
    from sisessions.phone.companion import make_app
    from sisessions.phone.server import Running, renew_every

    cert, key, _ = tls.ensure("127.0.0.1")
    srv = Running(make_app("x" * 43), tls=(str(cert), str(key)))
    try:
        before = peer_serial(srv.port, tls.ca_cert_file())
        later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=tls.SERVER_DAYS - tls.RENEW_DAYS + 1)
        assert tls.ensure("127.0.0.1", now=later)[2] is True
        stop = renew_every(srv.config, lambda: (str(cert), str(key)), 0.05)
        try:
            import time

            end = time.monotonic() + 10
            while peer_serial(srv.port, None) == before and time.monotonic() < end:
                time.sleep(0.05)
        finally:
            stop.set()
        from cryptography import x509

        assert peer_serial(srv.port, None) == x509.load_pem_x509_certificate(cert.read_bytes()).serial_number != before
    finally:
        srv.stop()


# ---------------------------------------------------------------- the command


def test_https_companion_serves_the_authority_without_the_token_and_nothing_else(isolated):
    c = started("--https")
    try:
        assert c.scheme == "https" and "ca.crt" in c.next_line
        ca = isolated / "config" / "sisessions" / "companion-https" / "ca.crt"
        with httpx.Client(base_url=c.base, verify=ssl.create_default_context(cafile=str(ca)), timeout=30) as h:
            r = h.get("/ca.crt")
            assert r.status_code == 200 and r.content == ca.read_bytes()
            assert r.headers["content-type"] == "application/x-x509-ca-cert" and b"PRIVATE" not in r.content
            for p in ("/", "/ca.key", "/api/today", "/companion-https/ca.key"):
                assert h.get(p).status_code == 401
            r = h.get("/", params={"t": c.token})
            assert r.status_code == 303 and "Secure" in r.headers["set-cookie"]
            authed = {"Authorization": f"Bearer {c.token}"}
            assert h.get("/ca.key", headers=authed).status_code == 404
            assert h.get("/api/today", headers=authed).status_code == 200
        with pytest.raises(httpx.ConnectError):  # a client that does not trust the authority
            httpx.get(c.base + "/ca.crt", timeout=10)
        state = isolated / "state" / "sisessions" / "companion-address"
        assert state.read_text().strip() == c.base + "/"
    finally:
        assert "Traceback" not in c.stop()


def test_plain_http_says_what_https_adds_and_has_no_authority(isolated):
    c = started()
    try:
        assert c.scheme == "http" and "--https" in c.next_line
        assert httpx.get(c.base + "/ca.crt", timeout=10).status_code == 404
        assert not (isolated / "config" / "sisessions" / "companion-https").exists()
    finally:
        c.stop()


def test_cert_and_key_of_ones_own(isolated, tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    k = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mine")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(k.public_key())
            .serial_number(7).not_valid_before(now - dt.timedelta(1)).not_valid_after(now + dt.timedelta(30))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(__import__("ipaddress").ip_address("127.0.0.1"))]),
                           critical=False).sign(k, hashes.SHA256()))
    (tmp_path / "c.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "k.pem").write_bytes(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                     serialization.NoEncryption()))
    c = started("--cert", tmp_path / "c.pem", "--key", tmp_path / "k.pem")
    try:
        assert c.scheme == "https"
        assert peer_serial(c.port, tmp_path / "c.pem") == 7
        assert not (isolated / "config" / "sisessions" / "companion-https").exists()  # no authority made
    finally:
        c.stop()
    p = run_cli("companion", "--cert", tmp_path / "k.pem", "--key", tmp_path / "k.pem", check=2)
    assert p.stderr.count("\n") == 1 and "not a certificate and its key" in p.stderr
    p = run_cli("companion", "--cert", tmp_path / "c.pem", check=2)
    assert "--cert and --key go together" in p.stderr


# ---------------------------------------------------------------- as a service


def test_install_writes_a_user_unit_and_uninstall_removes_only_it(isolated):
    unit = isolated / "config" / "systemd" / "user" / "sisessions-companion.service"
    p = run_cli(*LIBS, "companion", "--host", "0.0.0.0", "--https", "--install", check=0)
    assert "loginctl enable-linger" in p.stdout and "systemctl --user" in p.stdout
    text = unit.read_text()
    exec_start = next(ln for ln in text.splitlines() if ln.startswith("ExecStart="))
    assert exec_start.endswith("companion --host 0.0.0.0 --port 8765 --https")
    assert f"--scripts {FIXTURES / 'phone'}" in exec_start and "WantedBy=default.target" in text
    verify = subprocess.run(["systemd-analyze", "verify", "--user", str(unit)], capture_output=True, text=True)
    assert "Unknown" not in verify.stderr and "bad-setting" not in verify.stderr, verify.stderr
    run_cli("companion", "--uninstall", check=0)
    assert not unit.exists()
    unit.write_text("[Service]\nExecStart=/bin/true\n")  # the user's own unit of that name
    p = run_cli("companion", "--uninstall", check=1)
    assert "was not written by sisessions" in p.stderr and unit.read_text() == "[Service]\nExecStart=/bin/true\n"
    run_cli("companion", "--install", check=1)
    assert unit.read_text() == "[Service]\nExecStart=/bin/true\n"


# ---------------------------------------------------------------- the reminder


def test_the_companion_offers_the_reminder_as_a_download(isolated):
    import icalendar

    c = started("--https")
    try:
        ca = isolated / "config" / "sisessions" / "companion-https" / "ca.crt"
        with httpx.Client(base_url=c.base, verify=ssl.create_default_context(cafile=str(ca)), timeout=30,
                          headers={"Authorization": f"Bearer {c.token}"}) as h:
            r = h.get("/reminder.ics", params={"at": "06:45", "days": "0,6", "session": "short"})
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/calendar")
            assert h.get("/reminder.ics", params={"at": "25:00"}).status_code == 400
            assert h.get("/reminder.ics", params={"at": "06:45", "session": "../x"}).status_code == 400
            assert httpx.get(c.base + "/reminder.ics", verify=False).status_code == 401
    finally:
        c.stop()
    (ev,) = icalendar.Calendar.from_ical(r.content).walk("VEVENT")
    assert ev["rrule"]["BYDAY"] == ["SU", "SA"] and ev.decoded("dtstart").strftime("%H:%M") == "06:45"
    assert str(ev["url"]) == c.base + "/" and c.token not in r.text
    assert ev.walk("VALARM")
