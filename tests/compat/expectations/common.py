"""Shared pieces of the expectation files: the framework's basic_config and its files."""

import os

from replay_lib import Api

# tests/framework/microvm.py::basic_config's default boot arguments (without PCI).
BOOT_ARGS = "reboot=k panic=1 nomodule swiotlb=noforce console=ttyS0 cryptomgr.notests pci=off"
NOT_SUPPORTED_BEFORE_START = "The requested operation is not supported before starting the microVM."
NOT_SUPPORTED_AFTER_START = "The requested operation is not supported after starting the microVM"

# A kernel and a root image that exist: nothing boots, but Firecracker opens them at the PUT.
FILES = {
    "vmlinux.bin": b"\0" * 4096,
    "rootfs.ext4": b"\0" * (1 << 20),
    "scratch.ext4": b"\0" * (1 << 20),
    "otherscratch.ext4": b"\0" * (1 << 20),
}

# Tap names for the rows that attach a network interface (unique per run; <= 15 chars).
_TAG = os.getpid() % 100000
TAP1, TAP2, TAP3 = (f"fcr{_TAG}t{i}" for i in (1, 2, 3))


def basic_config(origin, boot_args=BOOT_ARGS, read_only=False, io_engine=None):
    """microvm.py::basic_config: machine-config, boot-source and the root drive, each 204."""
    drive = {"drive_id": "rootfs", "path_on_host": "{dir}/rootfs.ext4", "is_root_device": True,
             "is_read_only": read_only}
    if io_engine:
        drive["io_engine"] = io_engine
    return [
        Api(origin, "basic_config: PUT /machine-config", "PUT", "/machine-config",
            {"vcpu_count": 2, "mem_size_mib": 256}),
        Api(origin, "basic_config: PUT /boot-source", "PUT", "/boot-source",
            {"kernel_image_path": "{dir}/vmlinux.bin", "boot_args": boot_args}),
        Api(origin, "basic_config: PUT /drives/rootfs", "PUT", "/drives/rootfs", drive),
    ]


def net_iface(origin, iface_id, tap, mac, status=204, fault=None, what=None):
    return Api(origin, what or f"PUT /network-interfaces/{iface_id}", "PUT",
               f"/network-interfaces/{iface_id}",
               {"iface_id": iface_id, "guest_mac": mac, "host_dev_name": tap},
               status=status, fault=fault)
