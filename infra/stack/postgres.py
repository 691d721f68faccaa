"""PostgreSQL: a private cluster (initdb) under ``run_dir/pg``, run as an unprivileged OS user.

Superuser ``postgres`` connects only through a Unix socket in a 0700 directory owned by that OS user
(trust there; TCP on 127.0.0.1 requires passwords). Roles: ``settings.pg_user`` owns Bottleneck's
database and tables (migrations run as it); ``dbz`` (LOGIN REPLICATION) is what Debezium connects as.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from pathlib import Path

import psycopg
from psycopg import sql

from bottleneck_qbo import migrations
from infra import bottleneck
from infra.stack import prereqs, proc
from infra.stack.component import Component
from infra.stack.errors import StackError

CDC_ROLE = "dbz"

_CONF = """
# --- bottleneck-qbo local stack (port, listen address and socket are given on pg_ctl's command line)
wal_level = logical
max_wal_senders = 10
max_replication_slots = 10
# A connector that is gone for good must not fill the disk with retained WAL.
max_slot_wal_keep_size = 2GB
"""


class Postgres(Component):
    name = "postgres"

    @property
    def base(self) -> Path:
        return self.run_dir / "pg"

    @property
    def data_dir(self) -> Path:
        return self.base / "data"

    @property
    def socket_dir(self) -> Path:
        return self.base / "sock"

    def ports(self) -> dict[str, int]:
        return {"postgres": self.settings.pg_port}

    def pid(self) -> int | None:
        # pg_ctl keeps its own pid file; the postmaster's pid is its first line.
        return proc.read_pid(self.data_dir / "postmaster.pid")

    # --- running as the cluster's OS user --------------------------------------------------------
    def _as_root(self) -> bool:
        return os.geteuid() == 0

    def _os_user(self) -> str:
        return self.settings.pg_os_user if self._as_root() else pwd.getpwuid(os.geteuid()).pw_name

    def _ensure_os_user(self) -> None:
        if not self._as_root():
            return
        try:
            pwd.getpwnam(self.settings.pg_os_user)
        except KeyError:
            subprocess.run(
                ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", self.settings.pg_os_user],
                check=True,
                capture_output=True,
            )

    def _run(self, argv: list[str], *, timeout: float | None = None) -> subprocess.CompletedProcess[str]:
        if self._as_root():
            argv = ["runuser", "-u", self.settings.pg_os_user, "--", *argv]
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=str(self.base))

    def _chown(self, *paths: Path) -> None:
        if self._as_root():
            for p in paths:
                shutil.chown(p, user=self.settings.pg_os_user)

    # --- lifecycle -----------------------------------------------------------------------------------
    def _init_cluster(self) -> None:
        bin_dir = prereqs.pg_bin_dir()
        self._ensure_os_user()
        self.base.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        self.socket_dir.chmod(0o700)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self.log_file.touch()
        self._chown(self.base, self.socket_dir, self.log_file)
        if (self.data_dir / "PG_VERSION").exists():
            return
        r = self._run(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--locale=C",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
            ]
        )
        if r.returncode != 0:
            hint = ""
            if "Permission denied" in r.stderr:
                hint = f" (the OS user {self._os_user()!r} must be able to reach {self.base}: check its parents' permissions)"
            raise StackError(f"initdb failed{hint}: {r.stderr.strip().splitlines()[-1] if r.stderr.strip() else r.stdout}")
        with open(self.data_dir / "postgresql.conf", "a", encoding="utf-8") as f:
            f.write(_CONF)

    def start(self) -> None:
        self._init_cluster()
        bin_dir = prereqs.pg_bin_dir()
        opts = f"-p {self.settings.pg_port} -h 127.0.0.1 -k {self.socket_dir}"
        timeout = str(int(self.settings.stack_start_timeout_s))
        # pg_ctl daemonizes the postmaster and (-w) waits until it accepts connections.
        r = self._run(
            [str(bin_dir / "pg_ctl"), "start", "-w", "-t", timeout, "-D", str(self.data_dir), "-l", str(self.log_file), "-o", opts]
        )
        if r.returncode != 0:
            raise StackError(f"pg_ctl start failed: {(r.stderr or r.stdout).strip()}\n{proc.tail(self.log_file)}")

    def stop(self) -> bool:
        if not self.process_alive():
            return False
        bin_dir = prereqs.pg_bin_dir()
        r = self._run([str(bin_dir / "pg_ctl"), "stop", "-D", str(self.data_dir), "-m", "fast", "-w", "-t", "60"])
        if r.returncode != 0:
            raise StackError(f"pg_ctl stop failed: {(r.stderr or r.stdout).strip()}")
        return True

    def superuser_conninfo(self) -> str:
        return f"host={self.socket_dir} port={self.settings.pg_port} user=postgres dbname=postgres"

    def healthy(self) -> bool:
        try:
            with psycopg.connect(self.superuser_conninfo(), connect_timeout=2) as conn:
                conn.execute("select 1")
            return True
        except psycopg.Error:
            return False

    def ready(self) -> None:
        """Roles and database (as superuser), then, as the app user: Bottleneck's tables (what Bottleneck
        would have), the product's migrations, and the replica identity the product asks Bottleneck for."""
        s = self.settings
        with psycopg.connect(self.superuser_conninfo(), autocommit=True) as conn:
            for role, password, extra in (
                (s.pg_user, s.pg_password.get_secret_value(), sql.SQL("")),
                (CDC_ROLE, s.pg_cdc_password.get_secret_value(), sql.SQL(" REPLICATION")),
            ):
                exists = conn.execute("select 1 from pg_roles where rolname = %s", (role,)).fetchone()
                verb = sql.SQL("ALTER") if exists else sql.SQL("CREATE")
                conn.execute(sql.SQL("{} ROLE {} LOGIN{} PASSWORD {}").format(verb, sql.Identifier(role), extra, sql.Literal(password)))
            if not conn.execute("select 1 from pg_database where datname = %s", (s.pg_database,)).fetchone():
                conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(s.pg_database), sql.Identifier(s.pg_user)))
        bottleneck.ensure_schema(s.postgres_dsn)
        migrations.apply(s.postgres_dsn, cdc_role=CDC_ROLE)
        migrations.set_replica_identity(s.postgres_dsn)
