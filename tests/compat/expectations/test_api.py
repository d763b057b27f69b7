"""Expectations from tests/integration_tests/functional/test_api.py that hold before boot."""

import re

from common import FILES, NOT_SUPPORTED_BEFORE_START, TAP1, TAP2, TAP3, basic_config, net_iface
from replay_lib import Api, Group, field, has_keys

F = "test_api.py::"

PUT_UPDATE = F + "test_api_put_update_pre_boot"
put_update_pre_boot = Group("api_put_update_pre_boot", files=FILES, rows=basic_config(PUT_UPDATE) + [
    Api(PUT_UPDATE, "PUT /drives/scratch", "PUT", "/drives/scratch",
        {"drive_id": "scratch", "path_on_host": "{dir}/scratch.ext4", "is_root_device": False,
         "is_read_only": False, "io_engine": "Sync"}),
    Api(PUT_UPDATE, "kernel that does not exist refused at the PUT", "PUT", "/boot-source",
        {"kernel_image_path": "foo.bar"}, status=400,
        fault="The kernel file cannot be opened: No such file or directory (os error 2)"),
    Api(PUT_UPDATE, "valid kernel path accepted again", "PUT", "/boot-source",
        {"kernel_image_path": "{dir}/vmlinux.bin"}),
    Api(PUT_UPDATE, "drive path that does not exist refused", "PUT", "/drives/rootfs",
        {"drive_id": "rootfs", "path_on_host": "foo.bar", "is_read_only": True,
         "is_root_device": True, "io_engine": "Sync"}, status=400,
        fault="No such file or directory"),
    Api(PUT_UPDATE, "second root device refused", "PUT", "/drives/scratch",
        {"drive_id": "scratch", "path_on_host": "{dir}/scratch.ext4", "is_read_only": False,
         "is_root_device": True, "io_engine": "Sync"}, status=400,
        fault="A root block device already exists"),
    Api(PUT_UPDATE, "drive updated with a new path and read-only", "PUT", "/drives/scratch",
        {"drive_id": "scratch", "path_on_host": "{dir}/otherscratch.ext4", "is_read_only": True,
         "is_root_device": False, "io_engine": "Sync"}),
    Api(PUT_UPDATE, "machine-config with every field (C3 template)", "PUT", "/machine-config",
        {"vcpu_count": 4, "smt": True, "mem_size_mib": 256, "track_dirty_pages": True,
         "cpu_template": "C3"}),
    Api(PUT_UPDATE, "GET /machine-config echoes every field", "GET", "/machine-config",
        status=200, json=lambda d: next((r for r in (
            field(["vcpu_count"], 4)(d), field(["smt"], True)(d), field(["mem_size_mib"], 256)(d),
            field(["cpu_template"], "C3")(d), field(["track_dirty_pages"], True)(d)) if r), None)),
])

NET_PUT = F + "test_net_api_put_update_pre_boot"
net_put_update_pre_boot = Group("api_net_put_update_pre_boot", needs=["tap"], rows=[
    net_iface(NET_PUT, "1", TAP1, "06:00:00:00:00:01"),
    net_iface(NET_PUT, "2", TAP2, "07:00:00:00:00:01", what="second interface"),
    net_iface(NET_PUT, "2", TAP2, "06:00:00:00:00:01", status=400,
              fault="The MAC address is already in use: 06:00:00:00:00:01",
              what="MAC in use refused"),
    net_iface(NET_PUT, "2", TAP2, "08:00:00:00:00:01", what="update with a free MAC"),
    net_iface(NET_PUT, "1", TAP2, "06:00:00:00:00:01", status=400,
              fault="Could not create the network device", what="tap in use refused"),
    net_iface(NET_PUT, "3", TAP3, "06:00:00:00:00:01", what="new interface, free tap"),
])

MMDS_CFG = F + "test_api_mmds_config"
EMPTY_IFACES = "The list of network interface IDs that allow forwarding MMDS requests is empty."
BAD_IFACE = ("The list of network interface IDs provided contains at least one ID that does not "
             "correspond to any existing network interface.")
mmds_config = Group("api_mmds_config", files=FILES, needs=["tap"], rows=basic_config(MMDS_CFG) + [
    Api(MMDS_CFG, "empty network_interfaces refused", "PUT", "/mmds/config",
        {"network_interfaces": []}, status=400, fault=EMPTY_IFACES),
    Api(MMDS_CFG, "unknown interface refused (none attached)", "PUT", "/mmds/config",
        {"network_interfaces": ["foo"]}, status=400, fault=BAD_IFACE),
    net_iface(MMDS_CFG, "1", TAP1, "06:00:00:00:00:01"),
    Api(MMDS_CFG, "one unknown interface among known refused", "PUT", "/mmds/config",
        {"network_interfaces": ["1", "foo"]}, status=400, fault=BAD_IFACE),
    Api(MMDS_CFG, "unknown version refused with serde's words", "PUT", "/mmds/config",
        {"version": "foo", "network_interfaces": ["1"]}, status=400,
        fault="An error occurred when deserializing the json body of a request: "
              "unknown variant `foo`, expected `V1` or `V2`"),
    Api(MMDS_CFG, "config without version or address accepted", "PUT", "/mmds/config",
        {"network_interfaces": ["1"]}),
    Api(MMDS_CFG, "default version is V1 in GET /vm/config", "GET", "/vm/config", status=200,
        json=field(["mmds-config", "version"], "V1")),
    Api(MMDS_CFG, "custom ipv4_address accepted", "PUT", "/mmds/config",
        {"ipv4_address": "169.254.169.250", "network_interfaces": ["1"]}),
    Api(MMDS_CFG, "custom ipv4_address in GET /vm/config", "GET", "/vm/config", status=200,
        json=field(["mmds-config", "ipv4_address"], "169.254.169.250")),
    Api(MMDS_CFG, "V2 accepted", "PUT", "/mmds/config",
        {"version": "V2", "ipv4_address": "169.254.169.250", "network_interfaces": ["1"]}),
    Api(MMDS_CFG, "V2 in GET /vm/config", "GET", "/vm/config", status=200,
        json=field(["mmds-config", "version"], "V2")),
])

MACHINE = F + "test_api_machine_config"
machine_config = Group("api_machine_config", files=FILES, rows=[
    Api(MACHINE, "vcpu_count as a string refused", "PUT", "/machine-config",
        {"vcpu_count": "-2"}, status=400),
    Api(MACHINE, "smt as a string refused", "PUT", "/machine-config",
        {"smt": "random_string"}, status=400),
    Api(MACHINE, "unknown cpu_template refused", "PUT", "/machine-config",
        {"cpu_template": "random_string"}, status=400),
    Api(MACHINE, "PATCH track_dirty_pages accepted", "PATCH", "/machine-config",
        {"track_dirty_pages": True}),
    Api(MACHINE, "missing vcpu_count named with serde's position", "PUT", "/machine-config",
        {"mem_size_mib": 128}, status=400, fault="missing field `vcpu_count` at line 1 column 21."),
    Api(MACHINE, "missing mem_size_mib named with serde's position", "PUT", "/machine-config",
        {"vcpu_count": 2}, status=400, fault="missing field `mem_size_mib` at line 1 column 17."),
    Api(MACHINE, "PUT without smt accepted", "PUT", "/machine-config",
        {"mem_size_mib": 128, "vcpu_count": 1}),
    Api(MACHINE, "smt defaults to false", "GET", "/machine-config", status=200,
        json=field(["smt"], False)),
    Api(MACHINE, "PATCH smt=true accepted on x86_64", "PATCH", "/machine-config", {"smt": True}),
    Api(MACHINE, "mem_size_mib as a string refused", "PUT", "/machine-config",
        {"mem_size_mib": "-2"}, status=400),
    Api(MACHINE, "mem_size_mib over u64 refused as an invalid type", "PUT", "/machine-config",
        {"mem_size_mib": 1 << 64}, status=400,
        fault="error occurred when deserializing the json body of a request: invalid type"),
] + basic_config(MACHINE) + [
    Api(MACHINE, "PATCH mem_size_mib = u64::MAX accepted (fails only at start)", "PATCH",
        "/machine-config", {"mem_size_mib": (1 << 64) - 1}),
    Api(MACHINE, "PATCH mem_size_mib = 0 refused", "PATCH", "/machine-config",
        {"mem_size_mib": 0}, status=400,
        fault="The memory size (MiB) is either 0, or not a multiple of the configured page size."),
    Api(MACHINE, "PATCH mem_size_mib = 256 accepted", "PATCH", "/machine-config",
        {"mem_size_mib": 256}),
    Api(MACHINE, "PATCH cpu_template None accepted", "PATCH", "/machine-config",
        {"cpu_template": "None"}),
    Api(MACHINE, "GET /vm/config machine-config after the PATCHes", "GET", "/vm/config",
        status=200, json=lambda d: field(["machine-config", "vcpu_count"], 2)(d)
        or field(["machine-config", "mem_size_mib"], 256)(d)
        or field(["machine-config", "smt"], False)(d)),
])

NEG_MACHINE = F + "test_negative_machine_config_api"
negative_machine_config = Group("api_cpu_template_deprecated", rows=[
    Api(NEG_MACHINE, "PUT with cpu_template answers with a Deprecation header", "PUT",
        "/machine-config", {"vcpu_count": 2, "mem_size_mib": 256, "cpu_template": "None"},
        headers={"deprecation": True},
        log=r"PUT /machine-config: cpu_template field is deprecated\."),
    Api(NEG_MACHINE, "PATCH with cpu_template logs the deprecation", "PATCH", "/machine-config",
        {"cpu_template": "None"}, headers={"deprecation": True},
        log=r"PATCH /machine-config: cpu_template field is deprecated\."),
])

CPU_CONFIG = F + "test_api_cpu_config"
# A custom template in the shape of tests/data/custom_cpu_templates (x86_64): one CPUID bit.
CUSTOM_TEMPLATE = {
    "cpuid_modifiers": [{"leaf": "0x1", "subleaf": "0x0", "flags": 0, "modifiers": [
        {"register": "ecx", "bitmap": "0bxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx0"}]}],
    "msr_modifiers": [],
}
cpu_config = Group("api_cpu_config", rows=[
    Api(CPU_CONFIG, "unknown field refused", "PUT", "/cpu-config", {"foo": False}, status=400),
    Api(CPU_CONFIG, "custom template accepted", "PUT", "/cpu-config", CUSTOM_TEMPLATE),
])

PATCH_PRE = F + "test_api_patch_pre_boot"
patch_pre_boot = Group("api_patch_pre_boot", files=FILES, rows=basic_config(PATCH_PRE) + [
    Api(PATCH_PRE, "PUT /drives/scratch", "PUT", "/drives/scratch",
        {"drive_id": "scratch", "path_on_host": "{dir}/scratch.ext4", "is_root_device": False,
         "is_read_only": False}),
    Api(PATCH_PRE, "PATCH /boot-source is an invalid method", "PATCH", "/boot-source",
        {"kernel_image_path": "otherfile"}, status=400, fault="Invalid request method"),
    Api(PATCH_PRE, "PATCH /machine-config vcpu_count accepted", "PATCH", "/machine-config",
        {"vcpu_count": 4}),
    Api(PATCH_PRE, "GET /machine-config shows the PATCH", "GET", "/machine-config", status=200,
        json=field(["vcpu_count"], 4)),
    Api(PATCH_PRE, "PATCH /logger is an invalid method", "PATCH", "/logger", {"level": "Error"},
        status=400, fault="Invalid request method"),
    Api(PATCH_PRE, "PATCH /drives before boot refused", "PATCH", "/drives/scratch",
        {"drive_id": "scratch", "path_on_host": "foo.bar"}, status=400,
        fault=NOT_SUPPORTED_BEFORE_START),
    Api(PATCH_PRE, "PATCH /network-interfaces before boot refused", "PATCH",
        "/network-interfaces/1", {"iface_id": "1"}, status=400, fault=NOT_SUPPORTED_BEFORE_START),
])

DRIVE_PATCH = F + "test_drive_patch"
drive_patch = Group("api_drive_patch_pre_boot", files=FILES,
                    rows=basic_config(DRIVE_PATCH, read_only=False, io_engine="Sync") + [
    Api(DRIVE_PATCH, "PUT /drives/scratch", "PUT", "/drives/scratch",
        {"drive_id": "scratch", "path_on_host": "{dir}/scratch.ext4", "is_root_device": False,
         "is_read_only": False}),
    Api(DRIVE_PATCH, "PATCH /drives before boot refused", "PATCH", "/drives/scratch",
        {"drive_id": "scratch", "path_on_host": "foo.bar"}, status=400,
        fault=NOT_SUPPORTED_BEFORE_START),
])

VERSION = F + "test_api_version"
version = Group("api_version", files=FILES, rows=basic_config(VERSION) + [
    Api(VERSION, "GET /version has firecracker_version (semver)", "GET", "/version", status=200,
        json=lambda d: has_keys("firecracker_version")(d) or (
            None if re.fullmatch(r"\d+\.\d+\.\d+(-[\w.]+)?", str(d["firecracker_version"]))
            else f"not semver: {d['firecracker_version']!r}")),
])

RATE = F + "test_rate_limiters_api_config"
RL_BOTH = {"bandwidth": {"size": 1000000, "refill_time": 100}, "ops": {"size": 1, "refill_time": 100}}
rate_limiters = Group("api_rate_limiters_config", files=FILES, rows=[
    Api(RATE, "drive with a bandwidth limit", "PUT", "/drives/bw",
        {"drive_id": "bw", "path_on_host": "{dir}/scratch.ext4", "is_read_only": False,
         "is_root_device": False, "rate_limiter": {"bandwidth": {"size": 1000000, "refill_time": 100}},
         "io_engine": "Sync"}),
    Api(RATE, "drive with an ops limit", "PUT", "/drives/ops",
        {"drive_id": "ops", "path_on_host": "{dir}/otherscratch.ext4", "is_read_only": False,
         "is_root_device": False, "rate_limiter": {"ops": {"size": 1, "refill_time": 100}},
         "io_engine": "Sync"}),
    Api(RATE, "drive with both limits", "PUT", "/drives/bwops",
        {"drive_id": "bwops", "path_on_host": "{dir}/rootfs.ext4", "is_read_only": False,
         "is_root_device": False, "rate_limiter": RL_BOTH, "io_engine": "Sync"}),
    Api(RATE, "drive with an empty rate_limiter", "PUT", "/drives/nada",
        {"drive_id": "nada", "path_on_host": "{dir}/scratch.ext4", "is_read_only": False,
         "is_root_device": False, "rate_limiter": {}, "io_engine": "Sync"}),
])

FULL = F + "test_get_full_config"
ROOT_DRIVE = {"drive_id": "rootfs", "partuuid": None, "is_root_device": True,
              "cache_type": "Unsafe", "is_read_only": True, "path_on_host": "{dir}/rootfs.ext4",
              "rate_limiter": None, "io_engine": "Sync", "socket": None}
# test_get_full_config's expected document with the devices Ember lacks left unconfigured:
# FullVmConfiguration has every key, null (or []) where nothing is configured.
FULL_PRE_BOOT = {
    "balloon": None,
    "drives": [ROOT_DRIVE],
    "boot-source": {"boot_args": "", "kernel_image_path": "{dir}/vmlinux.bin", "initrd_path": None},
    "cpu-config": None,
    "logger": None,
    "machine-config": {"vcpu_count": 2, "mem_size_mib": 256, "smt": False,
                       "track_dirty_pages": False, "huge_pages": "None"},
    "metrics": None,
    "memory-hotplug": None,
    "mmds-config": None,
    "network-interfaces": [],
    "pmem": [],
    "vsock": None,
    "entropy": None,
}
full_config = Group("api_get_full_config", files=FILES,
                    rows=basic_config(FULL, boot_args="", read_only=True, io_engine="Sync") + [
    Api(FULL, "GET /vm/config is FullVmConfiguration exactly", "GET", "/vm/config", status=200,
        json=FULL_PRE_BOOT),
])
FULL_NET = FULL + " (net, mmds-config)"
TX_RL = {"bandwidth": {"size": 1000000, "refill_time": 100, "one_time_burst": None}, "ops": None}
full_config_net = Group("api_get_full_config_net", files=FILES, needs=["tap"], rows=[
    Api(FULL_NET, "interface with a tx limiter", "PUT", "/network-interfaces/1",
        {"iface_id": "1", "guest_mac": "06:00:00:00:00:01", "host_dev_name": TAP1,
         "tx_rate_limiter": TX_RL}),
    Api(FULL_NET, "mmds-config V2 with imds_compat", "PUT", "/mmds/config",
        {"version": "V2", "ipv4_address": "169.254.169.250", "network_interfaces": ["1"],
         "imds_compat": True}),
    Api(FULL_NET, "network-interfaces entry exactly", "GET", "/vm/config", status=200,
        json=field(["network-interfaces"], [
            {"iface_id": "1", "host_dev_name": TAP1, "guest_mac": "06:00:00:00:00:01",
             "mtu": None, "rx_rate_limiter": None, "tx_rate_limiter": TX_RL}])),
    Api(FULL_NET, "mmds-config exactly", "GET", "/vm/config", status=200,
        json=field(["mmds-config"], {"version": "V2", "ipv4_address": "169.254.169.250",
                                     "network_interfaces": ["1"], "imds_compat": True})),
])

SEC = F + "test_map_private_seccomp_regression"
seccomp_large_mmds = Group("api_large_mmds_put", args=["--http-api-max-payload-size",
                                                       str(1024 * 1024 * 2)], rows=[
    Api(SEC, "GET /mmds of a new VM is {}", "GET", "/mmds", status=200, json={}),
    Api(SEC, "PUT /mmds of 1 MiB under a 2 MiB payload limit", "PUT", "/mmds",
        {"latest": {"meta-data": {"ami-id": "b" * (1024 * 1024)}}}),
])

SNAP_LOAD = F + "test_negative_snapshot_load_api"
snapshot_load = Group("api_negative_snapshot_load", rows=[
    Api(SNAP_LOAD, "mem_backend and mem_file_path together refused", "PUT", "/snapshot/load",
        {"snapshot_path": "foo", "mem_backend": {"backend_type": "File", "backend_path": "bar"},
         "mem_file_path": "bar"}, status=400,
        fault="too many fields: either `mem_backend` or `mem_file_path` exclusively is required."),
    Api(SNAP_LOAD, "mem_backend without backend_type refused", "PUT", "/snapshot/load",
        {"snapshot_path": "foo", "mem_backend": {"backend_path": "bar"}}, status=400,
        fault="missing field `backend_type`"),
    Api(SNAP_LOAD, "mem_backend without backend_path refused", "PUT", "/snapshot/load",
        {"snapshot_path": "foo", "mem_backend": {"backend_type": "File"}}, status=400,
        fault="missing field `backend_path`"),
    Api(SNAP_LOAD, "unknown backend_type refused", "PUT", "/snapshot/load",
        {"snapshot_path": "foo", "mem_backend": {"backend_type": "foo", "backend_path": "bar"}},
        status=400, fault="unknown variant `foo`, expected `File` or `Uffd`"),
    Api(SNAP_LOAD, "missing snapshot_path refused", "PUT", "/snapshot/load",
        {"mem_backend": {"backend_type": "File", "backend_path": "bar"}}, status=400,
        fault="missing field `snapshot_path`"),
    Api(SNAP_LOAD, "neither mem_backend nor mem_file_path refused", "PUT", "/snapshot/load",
        {"snapshot_path": "foo"}, status=400,
        fault="missing field: either `mem_backend` or `mem_file_path` is required"),
    Api(SNAP_LOAD, "deprecated mem_file_path answers with a Deprecation header", "PUT",
        "/snapshot/load", {"snapshot_path": "foo", "mem_file_path": "bar"}, status=400,
        headers={"deprecation": True}),
])

# Devices Ember does not have: Firecracker accepts these before boot (test_api_vsock,
# test_api_entropy, test_api_balloon, test_pmem_api, test_api_memory_hotplug).
unsupported = Group("api_unsupported_devices", files=FILES, rows=[
    Api(F + "test_api_vsock", "PUT /vsock accepted", "PUT", "/vsock",
        {"guest_cid": 15, "uds_path": "vsock.sock"}),
    Api(F + "test_api_entropy", "PUT /entropy accepted", "PUT", "/entropy", {}),
    Api(F + "test_api_balloon", "PUT /balloon accepted", "PUT", "/balloon",
        {"amount_mib": 1, "deflate_on_oom": True}),
    Api(F + "test_pmem_api", "PUT /pmem accepted", "PUT", "/pmem/pmem",
        {"id": "pmem", "path_on_host": "{dir}/scratch.ext4", "root_device": False}),
    Api(F + "test_api_memory_hotplug", "PUT /hotplug/memory accepted", "PUT",
        "/hotplug/memory", {"total_size_mib": 1024, "block_size_mib": 128,
                            "slot_size_mib": 1024}),
    Api(F + "test_api_patch_pre_boot", "PATCH /pmem before boot refused", "PATCH",
        "/pmem/nonexistent", {"id": "nonexistent",
                              "rate_limiter": {"ops": {"size": 1, "refill_time": 100}}},
        status=400, fault=NOT_SUPPORTED_BEFORE_START),
])

GROUPS = [put_update_pre_boot, net_put_update_pre_boot, mmds_config, machine_config,
          negative_machine_config, cpu_config, patch_pre_boot, drive_patch, version,
          rate_limiters, full_config, full_config_net, seccomp_large_mmds, snapshot_load,
          unsupported]
