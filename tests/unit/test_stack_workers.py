"""The local stack's worker instances: BQ_WORKERS of them, each on its own ports and Faust data dir, and a
further instance started by hand is still found (so `stack down` stops it)."""

from __future__ import annotations

from pathlib import Path

from bottleneck_qbo.settings import Settings
from infra.stack import components, workers
from infra.stack.worker import Worker


def test_instances_have_their_own_ports_and_data_dir(tmp_path: Path) -> None:
    settings = Settings(run_dir=tmp_path, worker_web_port=7000, admin_port=7001, workers=3, worker_instance_id="w")
    one, two, three = workers(settings)
    assert (one.name, one.web_port, one.admin_port, one.instance_env()) == ("worker", 7000, 7001, {})
    assert (two.name, two.web_port, two.admin_port) == ("worker-2", 7002, 7003)
    assert three.ports() == {"worker-3 web": 7004, "worker-3 admin": 7005}
    assert two.instance_env() == {
        "BQ_WORKER_WEB_PORT": "7002",
        "BQ_ADMIN_PORT": "7003",
        "BQ_WORKER_DATA_DIR": str(tmp_path.resolve() / "faust-2"),
        "BQ_WORKER_INSTANCE_ID": "w-2",
    }
    assert two.log_file.name == "worker-2.log" and two.pid_file.name == "worker-2.pid"
    assert [c.name for c in components(settings)][-3:] == ["worker", "worker-2", "worker-3"]


def test_a_hand_started_instance_is_part_of_the_stack(tmp_path: Path) -> None:
    settings = Settings(run_dir=tmp_path)
    assert [w.name for w in workers(settings)] == ["worker"]
    extra = Worker(settings, 3)
    extra.pid_file.parent.mkdir(parents=True)
    extra.pid_file.write_text("999999")
    assert [w.name for w in workers(settings)] == ["worker", "worker-2", "worker-3"]
