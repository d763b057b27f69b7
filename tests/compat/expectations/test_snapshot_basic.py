"""API-side pre-load rules from test_snapshot_basic.py and rpc_interface.rs (load_snapshot's
boot_path rule), and the framework's spawn (PUT /serial before a restore)."""

from common import FILES, NOT_SUPPORTED_BEFORE_START
from replay_lib import Alive, Api, Group

F = "test_snapshot_basic.py::"
RULE = "rpc_interface.rs::load_snapshot (boot_path)"
NOT_ALLOWED = ("Loading a microVM snapshot not allowed after configuring boot-specific "
               "resources.")
LOAD = {"snapshot_path": "{dir}/snapshot_vmstate",
        "mem_backend": {"backend_type": "File", "backend_path": "{dir}/snapshot_mem"}}
SNAP_FILES = dict(FILES, snapshot_vmstate=b"", snapshot_mem=b"", **{"serial.log": b"",
                                                                    "metrics.ndjson": b"",
                                                                    "log": b""})

empty_files = Group("snapshot_load_empty_files", files=SNAP_FILES, rows=[
    Api(F + "test_load_snapshot_failure_handling", "empty state and memory files refused", "PUT",
        "/snapshot/load", {"mem_file_path": "{dir}/snapshot_mem",
                           "snapshot_path": "{dir}/snapshot_vmstate"}, status=400),
    Alive(F + "test_load_snapshot_failure_handling", "ember exits after a failed load",
          alive=False),
])


def allowed_before_load(name, method, path, body):
    """After `method path`, a load is still tried (it fails only on the empty files)."""
    return Group(f"snapshot_load_after_{name}", files=SNAP_FILES, rows=[
        Api(RULE, f"{method} {path}", method, path, body),
        Api(RULE, f"load after {path} is tried, not refused", "PUT", "/snapshot/load", LOAD,
            status=400, not_fault=NOT_ALLOWED),
    ])


def refused_before_load(name, method, path, body):
    return Group(f"snapshot_load_after_{name}", files=SNAP_FILES, rows=[
        Api(RULE, f"{method} {path}", method, path, body),
        Api(RULE, f"load after {path} refused", "PUT", "/snapshot/load", LOAD, status=400,
            fault=NOT_ALLOWED),
    ])


GROUPS = [
    empty_files,
    # microvm.py::spawn configures the serial port on every spawn, restores included.
    allowed_before_load("serial", "PUT", "/serial", {"serial_out_path": "{dir}/serial.log"}),
    allowed_before_load("logger", "PUT", "/logger", {"log_path": "{dir}/log", "level": "Info"}),
    allowed_before_load("metrics", "PUT", "/metrics", {"metrics_path": "{dir}/metrics.ndjson"}),
    allowed_before_load("mmds_data", "PUT", "/mmds", {"latest": {"meta-data": {"a": "b"}}}),
    refused_before_load("boot_source", "PUT", "/boot-source",
                        {"kernel_image_path": "{dir}/vmlinux.bin"}),
    refused_before_load("machine_config", "PUT", "/machine-config",
                        {"vcpu_count": 1, "mem_size_mib": 128}),
    refused_before_load("drive", "PUT", "/drives/rootfs",
                        {"drive_id": "rootfs", "path_on_host": "{dir}/rootfs.ext4",
                         "is_root_device": True, "is_read_only": True}),
    Group("snapshot_create_pre_boot", rows=[
        Api("rpc_interface.rs::handle_preboot_request", "PUT /snapshot/create before boot refused",
            "PUT", "/snapshot/create", {"snapshot_path": "s", "mem_file_path": "m"}, status=400,
            fault=NOT_SUPPORTED_BEFORE_START),
        Api("rpc_interface.rs::handle_preboot_request", "PATCH /vm Paused before boot refused",
            "PATCH", "/vm", {"state": "Paused"}, status=400, fault=NOT_SUPPORTED_BEFORE_START),
        Api("rpc_interface.rs::handle_preboot_request", "PATCH /vm Resumed before boot refused",
            "PATCH", "/vm", {"state": "Resumed"}, status=400, fault=NOT_SUPPORTED_BEFORE_START),
        Api("rpc_interface.rs::handle_preboot_request", "SendCtrlAltDel before boot refused",
            "PUT", "/actions", {"action_type": "SendCtrlAltDel"}, status=400,
            fault=NOT_SUPPORTED_BEFORE_START),
    ]),
]
