"""Fault texts from src/firecracker/src/api_server/request/*.rs unit tests and the vmm_config
errors they lead to, checked before boot."""

from common import FILES, NOT_SUPPORTED_BEFORE_START
from replay_lib import Api, Group

R = "request/"
MISMATCH = "The id from the path does not match the id from the body!"
VCPU = "The vCPU number is invalid! The vCPU number can only be 1 or an even number when SMT is enabled."

requests = Group("request_parsers", files=FILES, rows=[
    Api(R + "drive.rs::test_parse_put_drive_request", "PUT drive id differs from the path",
        "PUT", "/drives/foo", {"drive_id": "1000", "path_on_host": "{dir}/scratch.ext4",
                               "is_root_device": True, "is_read_only": True},
        status=400, fault=MISMATCH),
    Api(R + "drive.rs::test_parse_put_drive_request", "PUT drive without is_root_device",
        "PUT", "/drives/bar", {"drive_id": "bar", "is_read_only": False}, status=400,
        fault="missing field `is_root_device`"),
    Api(R + "drive.rs::test_parse_patch_drive_request", "PATCH drive id differs from the path",
        "PATCH", "/drives/bar", {"drive_id": "foo", "path_on_host": "dummy"}, status=400,
        fault=MISMATCH),
    Api(R + "drive.rs::test_parse_patch_drive_request", "PATCH drive with is_read_only",
        "PATCH", "/drives/foo", {"drive_id": "foo", "path_on_host": "dummy",
                                 "is_read_only": False}, status=400,
        fault="unknown field `is_read_only`"),
    Api(R + "drive.rs::test_parse_patch_drive_request", "PATCH drive with an ops bucket "
        "without refill_time", "PATCH", "/drives/foo",
        {"drive_id": "foo", "path_on_host": "/there", "rate_limiter": {"ops": {"size": 100}}},
        status=400, fault="missing field `refill_time`"),
    Api(R + "net.rs::test_parse_put_net_request", "PUT net id differs from the path", "PUT",
        "/network-interfaces/bar", {"iface_id": "foo", "host_dev_name": "tap0"}, status=400,
        fault=MISMATCH),
    Api(R + "net.rs::test_parse_patch_net_request", "PATCH net id differs from the path",
        "PATCH", "/network-interfaces/bar", {"iface_id": "foo"}, status=400, fault=MISMATCH),
    Api(R + "mmds.rs::test_parse_put_mmds_request", "PUT /mmds with a body that is not JSON",
        "PUT", "/mmds", raw_body="invalid_body", status=400,
        fault="An error occurred when deserializing the json body of a request"),
    Api(R + "mmds.rs::test_parse_put_mmds_request", "PUT /mmds/config without interfaces",
        "PUT", "/mmds/config", {"version": "V2"}, status=400,
        fault="missing field `network_interfaces`"),
    Api(R + "mmds.rs::test_parse_put_mmds_request", "PUT /mmds/config with an unknown field",
        "PUT", "/mmds/config", {"invalid_config": "invalid_value"}, status=400),
    Api(R + "mmds.rs::test_parse_put_mmds_request", "PUT /mmds/invalid_path refused", "PUT",
        "/mmds/invalid_path", {"network_interfaces": []}, status=400,
        fault="Unrecognized PUT request path `invalid_path`."),
    Api(R + "mmds.rs::test_parse_patch_mmds_request", "PATCH /mmds with a body that is not JSON",
        "PATCH", "/mmds", raw_body="invalid_body", status=400),
    Api(R + "boot_source.rs", "PUT /boot-source without kernel_image_path", "PUT",
        "/boot-source", {"boot_args": "x"}, status=400,
        fault="missing field `kernel_image_path`"),
    Api(R + "boot_source.rs", "PUT /boot-source with an unknown field", "PUT", "/boot-source",
        {"kernel_image_path": "{dir}/vmlinux.bin", "foo": 1}, status=400,
        fault="unknown field `foo`"),
    Api(R + "machine_configuration.rs", "vcpu_count 0 refused", "PUT", "/machine-config",
        {"vcpu_count": 0, "mem_size_mib": 128}, status=400, fault=VCPU),
    Api(R + "machine_configuration.rs", "odd vcpu_count with smt refused", "PUT",
        "/machine-config", {"vcpu_count": 3, "mem_size_mib": 128, "smt": True}, status=400,
        fault=VCPU),
    Api(R + "machine_configuration.rs", "vcpu_count 33 refused", "PUT", "/machine-config",
        {"vcpu_count": 33, "mem_size_mib": 128}, status=400, fault=VCPU),
    Api(R + "machine_configuration.rs", "unknown field refused", "PUT", "/machine-config",
        {"vcpu_count": 1, "mem_size_mib": 128, "foo": 1}, status=400,
        fault="unknown field `foo`"),
    Api(R + "machine_configuration.rs", "PATCH with no field refused", "PATCH",
        "/machine-config", {}, status=400),
    Api(R + "actions.rs", "unknown action_type refused", "PUT", "/actions",
        {"action_type": "foo"}, status=400, fault="unknown variant `foo`"),
    Api(R + "logger.rs", "unknown log level refused", "PUT", "/logger",
        {"log_path": "{dir}/x.log", "level": "foo"}, status=400),
    Api(R + "snapshot.rs::parse_patch_vm_state", "unknown VM state refused", "PATCH", "/vm",
        {"state": "foo"}, status=400, fault="unknown variant `foo`"),
    Api(R + "snapshot.rs::parse_patch_vm_state", "valid VM state before boot refused", "PATCH",
        "/vm", {"state": "Paused"}, status=400, fault=NOT_SUPPORTED_BEFORE_START),
    Api(R + "metrics.rs", "PUT /metrics without metrics_path", "PUT", "/metrics", {},
        status=400, fault="missing field `metrics_path`"),
])

GROUPS = [requests]
