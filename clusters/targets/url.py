"""Any HTTP service at a base URL: LB Lab sends the load and attributes each response to a pod,
but cannot see or change the cluster behind it."""

from __future__ import annotations

from clusters.allowlist import check_url, check_url_allowed
from clusters.base import ClusterError
from clusters.targets import Allowed, TargetKind, TargetSpec, register

# How long a target's name may be (the Target model's `name`).
NAME_LENGTH = 100


@register
class Url(TargetKind):
    name = "url"
    label = "URL"
    help = "A service LB Lab only sends load to; declare its pods to count one that gets nothing."
    fields = ("base_url", "follow_redirects")
    required = {"base_url": "A URL target needs a base URL."}
    pod_usage_missing = "LB Lab only sends load to a URL target and cannot see its pods' processes."
    chaos_missing = ("LB Lab cannot inject faults into a URL target: it only sends load there. Cause the fault "
                     "yourself and declare when, as external@START:DURATION: its recovery is measured from the "
                     "load's own requests.")

    def describe(self, spec: TargetSpec) -> str:
        return spec.base_url.rstrip("/")[:NAME_LENGTH]

    def queue_key(self, spec: TargetSpec) -> str | None:
        """The host and port: every user's targets at one address load the same service."""
        try:
            host, port = check_url(spec.base_url)
        except ClusterError:
            return spec.base_url
        return f"{host.lower()}:{port}"

    def check_allowed(self, spec: TargetSpec, allowed: Allowed) -> None:
        check_url_allowed(spec.base_url, allowed.hosts, field="base_url")
