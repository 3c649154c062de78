"""The companion's HTTPS (SPEC §9): a local certificate authority made once, and a server
certificate for this machine's addresses and names, renewed before it expires."""
from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import struct
from dataclasses import dataclass
from pathlib import Path

from sisessions import paths
from sisessions.errors import SisessionsError, UsageError
from sisessions.fileio import atomic_write_private, atomic_write_text

FOLDER = "companion-https"
CA_DAYS = 10 * 365       # the phone trusts the authority once; a new one would mean trusting again
SERVER_DAYS = 397        # what Apple and Chrome allow a public server certificate; kept here too
RENEW_DAYS = 30          # a server certificate this close to its end is made anew
CA_NAME = "sisessions local authority"


@dataclass(frozen=True)
class Names:
    """What the server certificate must name: host names and IP addresses."""

    dns: frozenset[str]
    ips: frozenset[ipaddress.IPv4Address | ipaddress.IPv6Address]


def folder() -> Path:
    return paths.config_dir() / FOLDER


def ca_cert_file() -> Path:
    return folder() / "ca.crt"


def server_files() -> tuple[Path, Path]:
    return folder() / "server.crt", folder() / "server.key"


# ---------------------------------------------------------------- the machine's names


def _interface_addresses() -> set[str]:
    """Each network interface's IPv4 address (Linux's SIOCGIFADDR; elsewhere nothing)."""
    found: set[str] = set()
    try:
        import fcntl

        interfaces = socket.if_nameindex()
    except (ImportError, OSError):
        return found
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for _index, name in interfaces:
            try:
                packed = fcntl.ioctl(s.fileno(), 0x8915, struct.pack("256s", name.encode()[:15]))
            except OSError:
                continue  # an interface without an IPv4 address
            found.add(socket.inet_ntoa(packed[20:24]))
    return found


def machine_names(host: str) -> Names:
    """localhost, this machine's name (and name.local), every address it has, and `host`."""
    from sisessions.phone.serve import lan_address

    name = socket.gethostname()
    dns = {"localhost", name, name.split(".")[0] + ".local"}
    ips = {"127.0.0.1", "::1"} | _interface_addresses()
    lan = lan_address()
    if lan:
        ips.add(lan)
    try:
        ips |= {info[4][0] for info in socket.getaddrinfo(name, None)}
    except OSError:
        pass
    if host and host not in ("0.0.0.0", "::"):
        try:
            ips.add(str(ipaddress.ip_address(host)))
        except ValueError:
            dns.add(host)
    parsed = set()
    for a in ips:
        try:
            parsed.add(ipaddress.ip_address(a.split("%")[0]))
        except ValueError:
            continue
    return Names(frozenset(d.lower() for d in dns if d), frozenset(parsed))


# ---------------------------------------------------------------- the authority and the certificate


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _key_pem(key) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _make_ca(now: dt.datetime):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{CA_NAME} ({socket.gethostname()})"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "sisessions")])
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(ski, critical=False)
            .sign(key, hashes.SHA256()))
    return key, cert


def _load_ca(now: dt.datetime):
    """The authority, made the first time (its key 0600, never served)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    key_file, cert_file = folder() / "ca.key", ca_cert_file()
    if not key_file.exists() and not cert_file.exists():
        key, cert = _make_ca(now)
        folder().mkdir(parents=True, exist_ok=True)
        folder().chmod(0o700)
        atomic_write_private(key_file, _key_pem(key))
        atomic_write_text(cert_file, cert.public_bytes(serialization.Encoding.PEM).decode("ascii"))
        return key, cert, True
    try:
        key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
        cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
    except (OSError, ValueError) as e:
        raise SisessionsError(f"the companion's certificate authority in {folder()} cannot be read ({e}); "
                              "move that folder away to make a new one (the phone must then trust it again)") from e
    if key_file.stat().st_mode & 0o077:
        key_file.chmod(0o600)
    if cert.not_valid_after_utc <= now + dt.timedelta(days=RENEW_DAYS):
        raise SisessionsError(f"the companion's certificate authority ends on {cert.not_valid_after_utc:%Y-%m-%d}; "
                              f"move {folder()} away to make a new one, then trust it on the phone again")
    return key, cert, False


def _covers(cert, names: Names) -> bool:
    from cryptography import x509

    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    have_dns = {d.lower() for d in san.get_values_for_type(x509.DNSName)}
    have_ips = set(san.get_values_for_type(x509.IPAddress))
    return names.dns <= have_dns and names.ips <= have_ips


def _make_server(ca_key, ca_cert, names: Names, now: dt.datetime):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    first = sorted(names.dns - {"localhost"}) or ["localhost"]
    alt = [x509.DNSName(d) for d in sorted(names.dns)] + [x509.IPAddress(i) for i in sorted(names.ips, key=str)]
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, first[0])]))
            .issuer_name(ca_cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=SERVER_DAYS))
            .add_extension(x509.SubjectAlternativeName(alt), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return key, cert


def ensure(host: str, now: dt.datetime | None = None) -> tuple[Path, Path, bool]:
    """The server certificate and key files for `host`, made (or made anew) when missing, when
    they do not name every address and name of this machine, or when near their end.
    Returns (cert, key, renewed)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    now = now or _now()
    ca_key, ca_cert, new_ca = _load_ca(now)
    names = machine_names(host)
    cert_file, key_file = server_files()
    if not new_ca and cert_file.exists() and key_file.exists():
        try:
            cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
            fresh = (cert.issuer == ca_cert.subject and _covers(cert, names)
                     and cert.not_valid_after_utc > now + dt.timedelta(days=RENEW_DAYS))
        except (OSError, ValueError):
            fresh = False
        if fresh:
            return cert_file, key_file, False
    key, cert = _make_server(ca_key, ca_cert, names, now)
    atomic_write_private(key_file, _key_pem(key))
    atomic_write_text(cert_file, cert.public_bytes(serialization.Encoding.PEM).decode("ascii"))
    return cert_file, key_file, True


def ca_pem() -> bytes | None:
    f = ca_cert_file()
    return f.read_bytes() if f.is_file() else None


def check_pair(cert: str, key: str) -> None:
    """--cert/--key: a certificate and key that TLS can use, or one sentence on why not."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        ctx.load_cert_chain(cert, key)
    except FileNotFoundError as e:
        raise UsageError(f"{e.filename}: no such file") from e
    except (ssl.SSLError, OSError) as e:
        raise UsageError(f"--cert {cert} --key {key}: not a certificate and its key in PEM ({e.strerror or e})") from e
