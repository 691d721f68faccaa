"""The Dockerfile, the lock files, the Makefile and .env.example, read as text (no Docker engine here)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from bottleneck_qbo.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def _instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_image_installs_the_lock_with_hashes_then_the_project_without_deps() -> None:
    runs = [(i, rest) for i, (word, rest) in enumerate(_instructions()) if word == "RUN"]
    lock = next(i for i, rest in runs if "-r requirements.lock" in rest)
    assert "--require-hashes" in runs[[i for i, _ in runs].index(lock)][1]
    project = next(i for i, rest in runs if re.search(r"pip install .*--no-deps.* \.(\s|$)", rest))
    assert lock < project
    copies = [i for i, (word, rest) in enumerate(_instructions()) if word == "COPY" and "bottleneck_qbo" in rest]
    assert lock < copies[0], "the dependency layer is cached apart from the code"


def test_image_runs_as_a_non_root_user_with_a_healthcheck() -> None:
    ins = _instructions()
    users = [rest for word, rest in ins if word == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    last_user = max(i for i, (word, _) in enumerate(ins) if word == "USER")
    assert all(word != "RUN" for word, _ in ins[last_user:]), "nothing runs as root after USER"
    (health,) = [rest for word, rest in ins if word == "HEALTHCHECK"]
    assert "/health" in health and "CMD" in health
    assert ("ENTRYPOINT", '["bottleneck-qbo"]') in ins and ("CMD", '["worker"]') in ins


def _pins(lock: str) -> dict[str, str]:
    text = (ROOT / lock).read_text()
    pins = dict(re.findall(r"^([A-Za-z0-9_.\-]+)==([^\s;\\]+)", text, flags=re.M))
    blocks = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 1)[1] if text.startswith("#") else text)
    for block in blocks:
        if "==" in block:
            assert "--hash=sha256:" in block, f"{lock}: no hash for {block.splitlines()[0]}"
    return {canonicalize_name(k): v for k, v in pins.items()}


def test_locks_pin_every_dependency_with_hashes_and_agree() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    runtime, dev = _pins("requirements.lock"), _pins("requirements-dev.lock")
    for spec in project["project"]["dependencies"]:
        req = Requirement(spec)
        assert req.specifier.contains(runtime[canonicalize_name(req.name)]), spec
    for spec in project["project"]["optional-dependencies"]["dev"]:
        assert canonicalize_name(Requirement(spec).name) in dev, spec
    for build in project["build-system"]["requires"]:
        assert canonicalize_name(Requirement(build).name) in runtime, build
    # The dev lock is the runtime lock plus the test tools, at the same versions.
    assert {k: dev[k] for k in runtime} == runtime


def test_makefile_and_ci_install_from_the_lock() -> None:
    make = (ROOT / "Makefile").read_text()
    assert "pip install -q --require-hashes -r requirements-dev.lock" in make
    assert "pip install -q --no-deps --no-build-isolation -e ." in make
    target = next(line for line in make.splitlines() if line.startswith("$(BIN)/bottleneck-qbo:"))
    assert "requirements-dev.lock" in target.split(), "a changed lock must re-install the venv"
    assert "make test" in (ROOT / ".ci/run").read_text()


def test_env_example_names_only_real_settings_and_is_accepted_in_intuit_mode() -> None:
    values = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    fields = {f"BQ_{name.upper()}" for name in Settings.model_fields}
    assert set(values) <= fields, set(values) - fields
    assert values["BQ_QBO_ENVIRONMENT"] == "intuit" and values["BQ_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert values["BQ_PG_SSLMODE"] == "verify-full"
    files = {k for k in values if k.endswith(("_CAFILE", "_SSLROOTCERT"))}
    given = {k[3:].lower(): v for k, v in values.items() if k not in files}
    s = Settings(_env_file=None, **given)  # type: ignore[arg-type]
    assert s.topic_replication_factor == 3
