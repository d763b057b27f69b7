"""Expectations from test_metrics.py / the framework's metrics use, before boot."""

from replay_lib import Api, Group

FILES = {"metrics.ndjson": ""}
metrics = Group("metrics_pre_boot", files=FILES, rows=[
    Api("test_metrics.py::test_flush_metrics", "PUT /metrics", "PUT", "/metrics",
        {"metrics_path": "{dir}/metrics.ndjson"}),
    Api("test_metrics.py::test_flush_metrics", "PUT /metrics a second time refused", "PUT",
        "/metrics", {"metrics_path": "{dir}/metrics.ndjson"}, status=400,
        fault="Reinitialization of metrics not allowed."),
    Api("rpc_interface.rs::handle_preboot_request", "FlushMetrics before boot refused", "PUT",
        "/actions", {"action_type": "FlushMetrics"}, status=400,
        fault="The requested operation is not supported before starting the microVM."),
])

GROUPS = [metrics]
