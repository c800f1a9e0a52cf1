"""The Kubernetes side of LB Lab's cluster adapter (ARCHITECTURE.md s5), on the official `kubernetes`
client. Pure of Django. `api.KubeApi` holds the calls the adapter makes; `cluster.KubernetesCluster`
is the `Cluster` on top of it (pods, scale and its HPA, faults through the API and Chaos Mesh,
metrics.k8s.io, balancer settings); `balancers` maps LB Lab's algorithms to what each balancer in
front of Kubernetes pods reads (no client needed)."""
