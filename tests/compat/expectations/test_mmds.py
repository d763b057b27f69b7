"""API-side expectations from tests/integration_tests/functional/test_mmds.py."""

from common import FILES, TAP1, basic_config, net_iface
from replay_lib import Api, Group

F = "test_mmds.py::"

DUMMY = F + "test_mmds_dummy"
D1 = {"latest": {"meta-data": {"ami-id": "dummy"}}}
D2 = {"latest": {"meta-data": {"ami-id": "another_dummy", "secret_key": "eaasda48141411aeaeae"}}}
mmds_dummy = Group("mmds_dummy", rows=[
    Api(DUMMY, "GET /mmds is {} at first", "GET", "/mmds", status=200, json={}),
    Api(DUMMY, "PATCH before any PUT refused", "PATCH", "/mmds", D1, status=400,
        fault="The MMDS data store is not initialized."),
    Api(DUMMY, "PUT /mmds creates the store", "PUT", "/mmds", D1),
    Api(DUMMY, "GET /mmds returns it", "GET", "/mmds", status=200, json=D1),
    Api(DUMMY, "PATCH /mmds merges", "PATCH", "/mmds", D2),
    Api(DUMMY, "GET /mmds returns the merge", "GET", "/mmds", status=200, json=D2),
])

LIMIT = F + "test_mmds_limit_scenario"


def store(secret, extra=None):
    meta = {"ami-id": "smth", "secret_key": secret}
    if extra:
        meta.update(extra)
    return {"latest": {"meta-data": meta}}


mmds_limit = Group("mmds_limit_scenario",
                   args=["--http-api-max-payload-size", "512000", "--mmds-size-limit", "51200"],
                   rows=[
    Api(LIMIT, "PUT a small store", "PUT", "/mmds", D1),
    Api(LIMIT, "PUT over --mmds-size-limit: 413", "PUT", "/mmds", store("a" * 51200), status=413),
    Api(LIMIT, "store unchanged after the 413", "GET", "/mmds", status=200, json=D1),
    Api(LIMIT, "PATCH that fills the store exactly", "PATCH", "/mmds", store("a" * 51137)),
    Api(LIMIT, "PATCH that grows a full store: 413", "PATCH", "/mmds",
        {"latest": {"meta-data": {"ami-id": "smth", "secret_key2": "b" * 10}}}, status=413),
    Api(LIMIT, "store unchanged after the PATCH 413", "GET", "/mmds", status=200,
        json=store("a" * 51137)),
    Api(LIMIT, "PATCH that shrinks the store", "PATCH", "/mmds", store("a")),
    Api(LIMIT, "store shrank", "GET", "/mmds", status=200, json=store("a")),
    Api(LIMIT, "PATCH that grows it within the limit", "PATCH", "/mmds", store("a" * 100)),
    Api(LIMIT, "store grew", "GET", "/mmds", status=200, json=store("a" * 100)),
])

DEPR = F + "test_deprecated_mmds_config"
deprecated = Group("mmds_deprecated_config", files=FILES, needs=["tap"],
                   rows=basic_config(DEPR) + [
    net_iface(DEPR, "eth0", TAP1, "06:00:00:00:00:01"),
    Api(DEPR, "no version: Deprecation header", "PUT", "/mmds/config",
        {"network_interfaces": ["eth0"]}, headers={"deprecation": True}),
    Api(DEPR, "V1: Deprecation header", "PUT", "/mmds/config",
        {"network_interfaces": ["eth0"], "version": "V1"}, headers={"deprecation": True}),
    Api(DEPR, "V2: no Deprecation header", "PUT", "/mmds/config",
        {"network_interfaces": ["eth0"], "version": "V2"}, headers={"deprecation": False}),
])

IPV4 = F + "test_custom_ipv4"
custom_ipv4 = Group("mmds_custom_ipv4", needs=["tap"], rows=[
    Api(IPV4, "PUT /mmds before the interface", "PUT", "/mmds", {"latest": {"meta-data": {
        "ami-id": "ami-12345678"}}}),
    net_iface(IPV4, "eth0", TAP1, "06:00:00:00:00:01"),
    Api(IPV4, "empty ipv4_address refused", "PUT", "/mmds/config",
        {"ipv4_address": "", "network_interfaces": ["eth0"]}, status=400,
        fault="An error occurred when deserializing the json body of a request"),
    Api(IPV4, "non link-local ipv4_address refused", "PUT", "/mmds/config",
        {"ipv4_address": "1.1.1.1", "network_interfaces": ["eth0"]}, status=400,
        fault="The MMDS IPv4 address is not link local."),
    Api(IPV4, "link-local ipv4_address accepted", "PUT", "/mmds/config",
        {"ipv4_address": "169.254.169.250", "network_interfaces": ["eth0"], "version": "V2"}),
])

SNAP = F + "test_mmds_snapshot"
snapshot_cfg = Group("mmds_config_in_vm_config", needs=["tap"], rows=[
    net_iface(SNAP, "eth0", TAP1, "06:00:00:00:00:01"),
    Api(SNAP, "config without imds_compat", "PUT", "/mmds/config",
        {"version": "V1", "ipv4_address": "169.254.169.250", "network_interfaces": ["eth0"]}),
    Api(SNAP, "GET /vm/config mmds-config has imds_compat false", "GET", "/vm/config", status=200,
        json=lambda d: None if d.get("mmds-config") == {
            "version": "V1", "ipv4_address": "169.254.169.250", "network_interfaces": ["eth0"],
            "imds_compat": False} else f"mmds-config is {d.get('mmds-config')!r}"),
])

GROUPS = [mmds_dummy, mmds_limit, deprecated, custom_ipv4, snapshot_cfg]
