"""Postgres over TLS for real: a private cluster with ``ssl=on`` and a certificate from a CA made here with
openssl, plain TCP refused. The product's DSN (settings.pg_sslmode / pg_sslrootcert) connects with
``verify-full`` and the right CA, and fails with another CA or a host name the certificate does not name."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from bottleneck_qbo.settings import Settings
from tests.fixtures.private_pg import private_cluster
from tests.fixtures.schema_sql import FIXTURE_SCHEMA

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class TlsPg:
    port: int
    ca: Path
    other_ca: Path


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _make_certs(base: Path, as_user: list[str]) -> None:
    """A CA, a second unrelated CA, and a server certificate for DNS name ``localhost`` only (no IP SAN)."""
    certs = base / "certs"
    certs.mkdir()
    for ca in ("ca", "other-ca"):
        _openssl(
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            f"/CN=bq test {ca}",
            "-keyout",
            f"{ca}.key",
            "-out",
            f"{ca}.pem",
            cwd=certs,
        )
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", "server.key", "-out", "server.csr", cwd=certs)
    (certs / "san.ext").write_text("subjectAltName=DNS:localhost\n")
    _openssl(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
        "-extfile", "san.ext", "-out", "server.pem", cwd=certs,
    )  # fmt: skip
    # Postgres refuses a key others can read; it runs as the cluster's OS user.
    owner = pwd.getpwnam(as_user[2]) if as_user else pwd.getpwuid(os.getuid())
    for name in ("server.key", "server.pem"):
        os.chown(certs / name, owner.pw_uid, owner.pw_gid)
    os.chmod(certs / "server.key", 0o600)
    os.chmod(certs, 0o755)


@pytest.fixture(scope="module")
def tls_pg() -> Iterator[TlsPg]:
    if not shutil.which("openssl"):
        pytest.fail("openssl is required for this test (apt-get install openssl)")
    holder: dict[str, Path] = {}

    def prepare(base: Path, as_user: list[str]) -> None:
        _make_certs(base, as_user)
        holder["certs"] = base / "certs"

    with private_cluster(
        options="-c ssl=on -c ssl_cert_file=../certs/server.pem -c ssl_key_file=../certs/server.key",
        hba="hostnossl all all all reject",
        prepare=prepare,
    ) as (port, _):
        certs = holder["certs"]
        yield TlsPg(port=port, ca=certs / "ca.pem", other_ca=certs / "other-ca.pem")


def _settings(tls_pg: TlsPg, **kw: Any) -> Settings:
    base: dict[str, Any] = {"pg_host": "localhost", "pg_port": tls_pg.port, "pg_user": "bq", "pg_database": "postgres"}
    return Settings(_env_file=None, **(base | kw))


def test_verify_full_with_the_right_ca_connects_over_tls(tls_pg: TlsPg) -> None:
    s = _settings(tls_pg, pg_sslmode="verify-full", pg_sslrootcert=tls_pg.ca)
    with psycopg.connect(s.postgres_dsn) as conn:
        ssl, version = conn.execute("select ssl, version from pg_stat_ssl where pid = pg_backend_pid()").fetchone()  # type: ignore[misc]
    assert ssl is True and version.startswith("TLS")


def test_another_ca_is_refused(tls_pg: TlsPg) -> None:
    s = _settings(tls_pg, pg_sslmode="verify-full", pg_sslrootcert=tls_pg.other_ca)
    with pytest.raises(psycopg.OperationalError, match="certificate verify failed"):
        psycopg.connect(s.postgres_dsn).close()


def test_a_host_name_the_certificate_does_not_name_is_refused(tls_pg: TlsPg) -> None:
    # The certificate names "localhost" only; verify-ca accepts it on 127.0.0.1, verify-full does not.
    psycopg.connect(_settings(tls_pg, pg_host="127.0.0.1", pg_sslmode="verify-ca", pg_sslrootcert=tls_pg.ca).postgres_dsn).close()
    s = _settings(tls_pg, pg_host="127.0.0.1", pg_sslmode="verify-full", pg_sslrootcert=tls_pg.ca)
    with pytest.raises(psycopg.OperationalError, match="does not match host name"):
        psycopg.connect(s.postgres_dsn).close()


def test_without_tls_the_server_refuses(tls_pg: TlsPg) -> None:
    with pytest.raises(psycopg.OperationalError, match="no encryption"):
        psycopg.connect(_settings(tls_pg, pg_sslmode="disable").postgres_dsn).close()


def test_migrate_runs_over_verify_full(tls_pg: TlsPg) -> None:
    """The CLI takes the TLS settings from the environment like every other setting."""
    dsn = _settings(tls_pg, pg_sslmode="verify-full", pg_sslrootcert=tls_pg.ca).postgres_dsn
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("create database bq_tls")
    with psycopg.connect(dsn.replace("/postgres?", "/bq_tls?"), autocommit=True) as conn:
        conn.execute(FIXTURE_SCHEMA.read_text(encoding="utf-8"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("BQ_")} | {
        "BQ_PG_HOST": "localhost",
        "BQ_PG_PORT": str(tls_pg.port),
        "BQ_PG_USER": "bq",
        "BQ_PG_DATABASE": "bq_tls",
        "BQ_PG_SSLMODE": "verify-full",
        "BQ_PG_SSLROOTCERT": str(tls_pg.ca),
    }
    run = subprocess.run([sys.executable, "-m", "bottleneck_qbo", "migrate"], env=env, capture_output=True, text=True, timeout=120, cwd="/")
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("applied: 0002_qbo_sync")
    wrong = subprocess.run(
        [sys.executable, "-m", "bottleneck_qbo", "migrate"],
        env=env | {"BQ_PG_SSLROOTCERT": str(tls_pg.other_ca)},
        capture_output=True,
        text=True,
        timeout=120,
        cwd="/",
    )
    assert wrong.returncode == 1 and "certificate verify failed" in wrong.stderr and "Traceback" not in wrong.stderr
