"""The Kubernetes side of LB Lab's cluster adapter (ARCHITECTURE.md s5), on the official `kubernetes`
client. Pure of Django. `api.KubeApi` holds the calls the adapter makes; the `Cluster` on top of it
(faults through Chaos Mesh, balancer settings, metrics) is issue 19's next slice."""
