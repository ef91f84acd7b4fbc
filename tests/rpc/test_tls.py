"""TLS on the TCP listener: the daemon serves it from PEM files (or systemd credentials), the
client library and the CLI dial it with a CA, and plain TCP beyond loopback is refused."""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gepad.cli import main
from gepad.client import Client
from gepad.client.status_errors import Unreachable
from gepad.settings import ConfigError, load_settings
from gepad.v1 import gepad_pb2 as pb
from gepad.v1 import gepad_pb2_grpc as pbg
from tests.conftest import ADMIN_TOKEN, DaemonThread, make_settings


@dataclass(frozen=True)
class Pki:
    ca: Path  # the self-signed certificate is its own CA
    cert: Path
    key: Path


def self_signed(directory: Path, name: str = "gepad-tls") -> Pki:
    """A certificate for 127.0.0.1 and localhost, made with `cryptography` (in the lock)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gepad test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / f"{name}.crt", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    return Pki(cert_path, cert_path, key_path)


@pytest.fixture
def tls_daemon(daemon_root: Path) -> Iterator[tuple[str, Pki]]:
    pki = self_signed(daemon_root)
    settings = replace(make_settings(daemon_root), tls_cert=pki.cert, tls_key=pki.key)
    daemon = DaemonThread(settings)
    daemon.wait_ready()
    try:
        assert settings.tcp_address is not None
        yield settings.tcp_address, pki
    finally:
        daemon.stop()


def test_the_client_library_dials_tls_with_the_ca(tls_daemon: tuple[str, Pki]) -> None:
    address, pki = tls_daemon
    with Client(address, token=ADMIN_TOKEN, tls_ca=pki.ca) as client:
        assert [p.name for p in client.list_programs().programs] == []
    with Client(address, token=ADMIN_TOKEN, tls_ca=pki.ca.read_bytes()) as client:
        client.upsert_program(pb.Program(name="bot", seed_components={"system": "Be kind."}))
        assert [p.name for p in client.list_programs().programs] == ["bot"]


def test_plain_tcp_and_an_untrusted_ca_cannot_talk_to_it(tls_daemon: tuple[str, Pki],
                                                         tmp_path: Path) -> None:
    address, _ = tls_daemon
    with grpc.insecure_channel(address) as channel:
        with pytest.raises(grpc.RpcError) as info:
            pbg.GepadStub(channel).ListPrograms(
                pb.ListProgramsRequest(), metadata=[("authorization", f"Bearer {ADMIN_TOKEN}")],
                timeout=5)
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    stranger = self_signed(tmp_path, "stranger")
    with Client(address, token=ADMIN_TOKEN, tls_ca=stranger.ca, timeout=5) as client, \
            pytest.raises(Unreachable):
        client.list_programs()


def test_the_cli_takes_a_ca(tls_daemon: tuple[str, Pki],
                            capsys: pytest.CaptureFixture[str]) -> None:
    address, pki = tls_daemon
    args = ["--target", address, "--token", ADMIN_TOKEN, "--json", "programs", "list"]
    assert main(["--tls-ca", str(pki.ca), *args], env={}) == 0
    assert capsys.readouterr().out.strip()
    assert main(args, env={"GEPAD_TLS_CA": str(pki.ca)}) == 0


def config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gepad.toml"
    path.write_text(text)
    return path


TOKEN = '[[tokens]]\nsha256 = "' + "a" * 64 + '"\nadmin = true\n'


@pytest.mark.parametrize("address", ["0.0.0.0:7419", "[::]:7419", "192.0.2.7:7419",
                                     "gepad.example.com:7419", ":7419"])
def test_plain_tcp_beyond_loopback_is_refused(tmp_path: Path, address: str) -> None:
    path = config(tmp_path, f'tcp = "{address}"\n{TOKEN}')
    with pytest.raises(ConfigError, match="without TLS"):
        load_settings(path, env={})
    allowed = config(tmp_path, f'tcp = "{address}"\ntcp_allow_plaintext = true\n{TOKEN}')
    assert load_settings(allowed, env={}).tcp_address == address


@pytest.mark.parametrize("address", ["127.0.0.1:7419", "localhost:7419", "[::1]:7419"])
def test_plain_tcp_on_loopback_stays_allowed(tmp_path: Path, address: str) -> None:
    assert load_settings(config(tmp_path, f'tcp = "{address}"\n{TOKEN}'), env={}).tls_cert is None


def test_tls_files_come_from_the_config_or_systemd_credentials(tmp_path: Path) -> None:
    pki = self_signed(tmp_path)
    path = config(tmp_path, f'tcp = "0.0.0.0:7419"\ntls_cert = "{pki.cert}"\n'
                            f'tls_key = "{pki.key}"\n{TOKEN}')
    settings = load_settings(path, env={})
    assert (settings.tls_cert, settings.tls_key) == (pki.cert, pki.key)
    # LoadCredential=gepad-tls.crt:... and gepad-tls.key:... in the unit.
    bare = config(tmp_path, f'tcp = "0.0.0.0:7419"\n{TOKEN}')
    settings = load_settings(bare, env={"CREDENTIALS_DIRECTORY": str(tmp_path)})
    assert (settings.tls_cert, settings.tls_key) == (pki.cert, pki.key)
    half = config(tmp_path, f'tcp = "127.0.0.1:7419"\ntls_cert = "{pki.cert}"\n{TOKEN}')
    with pytest.raises(ConfigError, match="set both"):
        load_settings(half, env={})


def test_an_unreadable_key_stops_the_daemon_naming_it(daemon_root: Path) -> None:
    pki = self_signed(daemon_root)
    settings = replace(make_settings(daemon_root), tls_cert=pki.cert,
                       tls_key=daemon_root / "missing.key")
    daemon = DaemonThread(settings)
    with pytest.raises(BaseException) as info:
        daemon.wait_ready()
    with contextlib.suppress(BaseException):  # stop() raises the start's error again
        daemon.stop()
    exc: BaseException = info.value
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    assert isinstance(exc, ConfigError) and str(exc).startswith("tls_key"), exc
