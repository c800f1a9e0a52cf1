"""The RBAC LB Lab asks of a cluster (k8s/base/rbac.yaml) is exactly what the Kubernetes adapter's
code does: every official-client call in clusters/kubernetes/ is read from the source (its method
name says the verb and the resource, as the client generates them), and the rules must grant those
and nothing else."""

from __future__ import annotations

import ast
import re

import yaml

from tests.conftest import REPO

ADAPTER = sorted((REPO / "clusters" / "kubernetes").glob("*.py"))
# The official client's API classes the adapter holds, by attribute, and their API groups.
CLIENTS = {"core": "", "apps": "apps", "policy": "policy", "autoscaling": "autoscaling", "networking": "networking.k8s.io",
           "batch": "batch", "discovery": "discovery.k8s.io"}
# What runs in LB Lab's own namespace (a run's Locust workers as a Job), granted by its own Role there;
# the rest acts on the target namespaces and nodes.
HOME = REPO / "clusters" / "kubernetes" / "locust_workers.py"
HOME_ROLE = "lblab-locust-workers"
VERBS = {"list": "list", "read": "get", "get": "get", "create": "create", "delete": "delete", "patch": "patch",
         "replace": "update", "watch": "watch"}
# client names whose plural is not name + "s"
PLURALS = {"network_policy": "networkpolicies", "horizontal_pod_autoscaler": "horizontalpodautoscalers",
           "ingress": "ingresses"}
SUBRESOURCES = ("eviction", "scale", "status")


def permission(client: str, method: str) -> tuple[str, str, str]:
    """(api group, resource, verb) of an official-client method, e.g. create_namespaced_pod_eviction ->
    ("", "pods/eviction", "create")."""
    found = re.fullmatch(r"(list|read|create|delete|patch|replace|watch)_(?:namespaced_)?(\w+?)(?:_for_all_namespaces)?",
                         method)
    assert found, f"{client}.{method}: not a method name the test can read; extend it"
    verb, name = VERBS[found.group(1)], found.group(2)
    sub = next((s for s in SUBRESOURCES if name.endswith("_" + s)), None)
    kind = name[: -len(sub) - 1] if sub else name
    resource = PLURALS.get(kind, kind.replace("_", "") + "s")
    return CLIENTS[client], f"{resource}/{sub}" if sub else resource, verb


def api_attributes(tree: ast.AST) -> dict[str, str]:
    """`self.<attr> = client.<Class>(...)`: which official API class each attribute holds."""
    held = {}
    for node in ast.walk(tree):
        if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)
                and isinstance(node.value.func, ast.Attribute) and node.value.func.attr.endswith("Api")):
            for target in node.targets:
                if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and target.value.id == "self":
                    held[target.attr] = node.value.func.attr
    return held


def constants(tree: ast.AST) -> dict:
    """Module-level names bound to a string, or to a tuple of strings (`CHAOS_MESH_PLURALS`), the
    names of a tuple unpacking of strings (`CHAOS_GROUP, CHAOS_VERSION = "chaos-mesh.org", "v1alpha1"`),
    and a mapping of kinds to (group, version, plural) tuples (`BALANCER_OBJECTS`) as a list of them."""
    out: dict = {}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1):
            continue
        target, value = node.targets[0], node.value
        if isinstance(target, ast.Name) and isinstance(value, ast.Dict) and value.values and all(
                isinstance(item, ast.Tuple) and len(item.elts) == 3 and all(
                    isinstance(part, ast.Constant) and isinstance(part.value, str) for part in item.elts)
                for item in value.values):
            out[target.id] = [tuple(part.value for part in item.elts) for item in value.values]
            continue
        strings = isinstance(value, ast.Tuple) and all(
            isinstance(item, ast.Constant) and isinstance(item.value, str) for item in value.elts)
        if isinstance(target, ast.Name) and isinstance(value, ast.Constant) and isinstance(value.value, str):
            out[target.id] = value.value
        elif isinstance(target, ast.Name) and strings:
            out[target.id] = tuple(item.value for item in value.elts)
        elif isinstance(target, ast.Tuple) and strings and len(target.elts) == len(value.elts):
            out.update({name.id: item.value for name, item in zip(target.elts, value.elts, strict=True)
                        if isinstance(name, ast.Name)})
    return out


def custom_object_permissions(method: str, args: list[ast.expr], known: dict) -> set[tuple[str, str, str]]:
    """CustomObjectsApi: `<verb>_namespaced_custom_object(group, version, namespace, plural, ...)`. A
    plural given as a variable stands for every name of the adapter's one `*_PLURALS` tuple (KubeApi
    refuses any other)."""
    def values(arg) -> tuple[str, ...]:
        if isinstance(arg, ast.Constant):
            return (arg.value,)
        assert isinstance(arg, ast.Name), f"{method}: group and plural must be constants"
        if arg.id in known:
            found = known[arg.id]
            return found if isinstance(found, tuple) else (found,)
        plurals = [value for name, value in known.items() if name.endswith("_PLURALS")]
        assert len(plurals) == 1, f"{method}: a variable {arg.id} needs one *_PLURALS tuple to stand for"
        return plurals[0]

    verb = VERBS[method.split("_", 1)[0]]
    if isinstance(args[0], ast.Name) and args[0].id not in known:
        # a group given as a variable: read from the adapter's one mapping of kinds to (group, version, plural)
        objects = [value for value in known.values() if isinstance(value, list)]
        assert len(objects) == 1, f"{method}: a variable group needs one mapping of kinds to (group, version, plural)"
        return {(group, plural, verb) for group, _, plural in objects[0]}
    return {(group, plural, verb) for group in values(args[0]) for plural in values(args[3])}


def calls_in_the_adapter(paths=ADAPTER) -> set[tuple[str, str, str]]:
    used = set()
    trees = [ast.parse(path.read_text()) for path in paths]
    known = {name: value for tree in trees for name, value in constants(tree).items()}
    for tree in trees:
        held = api_attributes(tree)
        for name, api in held.items():
            assert name in CLIENTS or api == "CustomObjectsApi", f"self.{name} = {api}: add it to CLIENTS"
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and isinstance(node.func.value, ast.Attribute) and node.func.value.attr in held
                    and isinstance(node.func.value.value, ast.Name) and node.func.value.value.id == "self"):
                attribute, method = node.func.value.attr, node.func.attr
                if method == "get_api_resources":  # discovery: every authenticated user may (system:discovery)
                    continue
                if held[attribute] == "CustomObjectsApi":
                    used |= custom_object_permissions(method, node.args, known)
                else:
                    used.add(permission(attribute, method))
    return used


def granted(*, home: bool | None = None) -> set[tuple[str, str, str]]:
    """What the roles grant: all of them, or (`home`) the Role in LB Lab's namespace, or the others."""
    out = set()
    for doc in yaml.safe_load_all((REPO / "k8s" / "base" / "rbac.yaml").read_text()):
        if doc["kind"] not in ("ClusterRole", "Role"):
            continue
        if home is not None and (doc["metadata"]["name"] == HOME_ROLE) != home:
            continue
        for rule in doc["rules"]:
            out |= {(group, resource, verb) for group in rule["apiGroups"] for resource in rule["resources"]
                    for verb in rule["verbs"]}
    return out


def test_the_method_names_read_as_kubernetes_permissions():
    assert permission("core", "list_namespaced_pod") == ("", "pods", "list")
    assert permission("core", "create_namespaced_pod_eviction") == ("", "pods/eviction", "create")
    assert permission("apps", "read_namespaced_deployment_scale") == ("apps", "deployments/scale", "get")
    assert permission("core", "patch_node") == ("", "nodes", "patch")


def test_the_rules_grant_exactly_what_the_adapter_calls():
    used = calls_in_the_adapter()
    assert ("", "pods", "delete") in used  # the reading found the calls
    assert granted() == used, {"missing": used - granted(), "more than needed": granted() - used}


def test_lblab_s_own_namespace_is_granted_exactly_what_the_locust_worker_job_calls():
    used = calls_in_the_adapter([HOME])
    assert ("batch", "jobs", "create") in used and ("discovery.k8s.io", "endpointslices", "delete") in used
    assert granted(home=True) == used, {"missing": used - granted(home=True),
                                        "more than needed": granted(home=True) - used}
    targets = calls_in_the_adapter([path for path in ADAPTER if path != HOME])
    assert granted(home=False) == targets, {"missing": targets - granted(home=False),
                                            "more than needed": granted(home=False) - targets}


def test_only_the_worker_mounts_the_service_account_token():
    workloads = {path.stem: list(yaml.safe_load_all(path.read_text())) for path in (REPO / "k8s" / "base").glob("*.yaml")}
    worker = workloads["worker"][0]["spec"]["template"]["spec"]
    assert worker["serviceAccountName"] == "lblab" and worker["automountServiceAccountToken"] is True
    assert workloads["serviceaccount"][0]["automountServiceAccountToken"] is False  # the others: no token
