"""cluster.yaml as Kubernetes manifests for KubeRay: a RayCluster, a RayJob per search and
an MLflow tracking server (`adaptune cluster k8s`; docs/cluster.md#kubernetes-kuberay).

    files = manifests(read_cluster("cluster.yaml"), job=Path("jobs/dao_finsent.yaml"))
    for name, documents in files.items():       # raycluster.yaml, mlflow.yaml, rayjob.yaml
        Path(name).write_text(dump(documents))

Plain dicts in the shapes of KubeRay v1.7's `ray.io/v1` CRDs, emitted with PyYAML. Each
node type becomes a group under Ray's in-tree autoscaler: the head type the head group,
every other one a worker group of min_workers..max_workers replicas, named after the type
with `_` as `-` (pod names hold it; Kubernetes allows no `_`). A group's Ray resources
are the type's `resources` (and `accelerator_type:<GPU>` for a GPU type, so that trials
asking for one scale it up from 0), its labels Ray node labels; its pod asks for its AWS
instance type's machine less the node's own share, GPUs as `nvidia.com/gpu` limits, and
is placed on that instance type, spot or on-demand.
"""

from __future__ import annotations

import re
import shlex
from importlib.metadata import version
from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from adaptune.autoscale import gpus_of
from adaptune.job.yamlfile import KeyedValueError, SpecError, load_yaml, problems_from_validation

__all__ = ["DEFAULT_IMAGE", "PROJECT_DIR", "Cluster", "dump", "manifests", "read_cluster"]

# The image every pod runs: the project's Dockerfile (Ray's GPU image at the pinned Ray,
# this checkout installed in PROJECT_DIR). Build and push it, or pass --image.
DEFAULT_IMAGE = f"adaptune:{version('adaptune')}"
PROJECT_DIR = "/home/ray/adaptune"
RAY_VERSION = version("ray")
GCS_PORT, DASHBOARD_PORT, MLFLOW_PORT = 6379, 8265, 5000  # cluster.yaml's ports too
PART_OF = {"app.kubernetes.io/part-of": "adaptune"}
INSTANCE_TYPE_LABEL = "node.kubernetes.io/instance-type"  # Kubernetes' well-known label
CAPACITY_LABEL = "karpenter.sh/capacity-type"  # spot | on-demand
RESERVED_CPUS = 1  # per node: kubelet, the container runtime and daemon sets
MEMORY_SHARE = 0.85  # of a node's memory, what a pod asks for
GIB = 1 << 30
# Memory of the AWS instance families cluster.yaml may name, GiB per vCPU; vCPUs follow
# from the size (large 2, xlarge 4, Nxlarge 4N).
GIB_PER_VCPU: dict[str, float] = {
    "m5": 4, "m6i": 4, "m7i": 4, "c5": 2, "c6i": 2, "r5": 8, "r6i": 8,
    "g4dn": 4, "g5": 4, "g6": 4, "g6e": 8, "p3": 7.625, "p4d": 12, "p4de": 12,
    "p5": 2048 / 192,
}  # fmt: skip
NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")  # a DNS label: Kubernetes names
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
LABEL_PREFIX = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def _label_problem(key: str, value: str) -> str | None:
    """Why Kubernetes refuses `key: value` as a label (KubeRay puts Ray's node labels on
    the pods), or None."""
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not LABEL_PREFIX.match(prefix)):
        return f"label key {key!r}: its prefix is not a DNS subdomain"
    if not name or len(name) > 63 or not LABEL_VALUE.match(name):
        return f"label key {key!r}: not a Kubernetes label name"
    if len(value) > 63 or not LABEL_VALUE.match(value):
        return f"label {key}: value {value!r} is not a Kubernetes label value"
    return None


class NodeType(BaseModel):
    """What a node type of cluster.yaml says that a Kubernetes pod group needs."""

    model_config = ConfigDict(extra="ignore", strict=True)

    min_workers: NonNegativeInt = 0
    max_workers: NonNegativeInt = 0
    resources: dict[str, NonNegativeFloat] = {}
    labels: dict[str, str] = {}
    node_config: dict[str, Any] = {}

    @field_validator("labels")
    @classmethod
    def _labels(cls, labels: dict[str, str]) -> dict[str, str]:
        for key, value in labels.items():
            if (problem := _label_problem(key, value)) is not None:
                raise PydanticCustomError("label", problem)
        return labels

    @property
    def instance_type(self) -> str:
        return str(self.node_config.get("InstanceType") or "")

    @property
    def spot(self) -> bool:
        market = self.node_config.get("InstanceMarketOptions") or {}
        return isinstance(market, dict) and market.get("MarketType") == "spot"

    def gpus(self) -> tuple[str | None, int]:
        """(accelerator, count); (None, 0) for a CPU type."""
        found = gpus_of(self.model_dump())
        if found is not None:
            return found
        return None, int(self.resources.get("GPU", 0))

    def machine(self) -> tuple[float, int] | None:
        """(CPUs, memory bytes) a pod of this type asks for: the type's `resources` CPU
        and memory when both are given, else its instance type's less the node's share;
        None when neither says."""
        cpu, memory = self.resources.get("CPU"), self.resources.get("memory")
        if cpu and memory:
            return cpu, int(memory)
        family, _, size = self.instance_type.partition(".")
        found = re.fullmatch(r"(\d*)xlarge|(large)|medium", size)
        if family not in GIB_PER_VCPU or found is None:
            return None
        xlarge, large = found.groups()
        vcpus = 4 * int(xlarge or 1) if xlarge is not None else 2 if large else 1
        memory_bytes = int(vcpus * GIB_PER_VCPU[family] * MEMORY_SHARE) * GIB
        return max(vcpus - RESERVED_CPUS, 1), memory_bytes


class Cluster(BaseModel):
    """The part of cluster.yaml (Ray's cluster launcher config) a KubeRay cluster keeps."""

    model_config = ConfigDict(extra="ignore", strict=True)

    cluster_name: str = "adaptune"
    available_node_types: dict[str, NodeType] = Field(min_length=1)
    head_node_type: str
    idle_timeout_minutes: NonNegativeFloat = 5.0  # Ray's launcher's default
    upscaling_speed: PositiveFloat = 1.0

    @model_validator(mode="after")
    def _kubernetes_names(self) -> Cluster:
        if not NAME.match(self.cluster_name) or len(self.cluster_name) > 40:
            raise KeyedValueError(
                "cluster_name",
                f"{self.cluster_name!r} is not a Kubernetes name (a-z, 0-9, '-'; at most 40)",
            )
        if self.head_node_type not in self.available_node_types:
            raise KeyedValueError(
                "head_node_type", f"{self.head_node_type!r} is not in available_node_types"
            )
        seen: dict[str, str] = {}
        for name, spec in self.available_node_types.items():
            key = f"available_node_types.{name}"
            group = group_name(name)
            if not NAME.match(group) or len(group) > 40:
                raise KeyedValueError(key, f"{name!r} makes no Kubernetes name ({group!r})")
            if group in seen:
                raise KeyedValueError(key, f"same Kubernetes name as {seen[group]!r}: {group}")
            seen[group] = name
            if spec.min_workers > spec.max_workers:
                raise KeyedValueError(
                    f"{key}.min_workers",
                    f"{spec.min_workers} is more than max_workers ({spec.max_workers})",
                )
            if spec.machine() is None:
                raise KeyedValueError(
                    f"{key}.node_config.InstanceType",
                    f"no pod size for {spec.instance_type or 'no instance type'!r}: name an "
                    f"instance type of {', '.join(sorted(GIB_PER_VCPU))} (sizes medium to "
                    "Nxlarge), or give the type resources: {CPU: n, memory: bytes}",
                )
        return self

    @property
    def workers(self) -> dict[str, NodeType]:
        return {n: t for n, t in self.available_node_types.items() if n != self.head_node_type}


def group_name(node_type: str) -> str:
    """A node type's KubeRay group: Ray labels its nodes with it (ray.io/node-group)."""
    return node_type.lower().replace("_", "-")


def read_cluster(path: str | Path) -> Cluster:
    """cluster.yaml, checked; a SpecError naming file, line and key when it is wrong."""
    data, lines = load_yaml(path)
    try:
        return Cluster.model_validate(data)
    except ValidationError as e:
        raise SpecError(problems_from_validation(e, str(path), lines)) from None


def _quantity(value: float) -> str:
    """A number as a Kubernetes quantity ("8", "0.5")."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _group(name: str, t: NodeType, image: str, *, head: bool) -> dict[str, Any]:
    cpus, memory = t.machine() or (1.0, GIB)
    accelerator, gpus = t.gpus()
    size = f"{memory // GIB}Gi" if memory % GIB == 0 else str(memory)
    machine = {"cpu": _quantity(cpus), "memory": size}
    if gpus:
        machine["nvidia.com/gpu"] = str(gpus)
    container: dict[str, Any] = {
        "name": "ray-head" if head else "ray-worker",
        "image": image,
        "resources": {"requests": dict(machine), "limits": machine},
    }
    pod: dict[str, Any] = {"containers": [container]}
    selector = {}
    if t.instance_type:
        selector[INSTANCE_TYPE_LABEL] = t.instance_type
        selector[CAPACITY_LABEL] = "spot" if t.spot else "on-demand"
        pod["nodeSelector"] = selector
    if gpus:  # GPU nodes are commonly tainted so that only GPU pods land there
        pod["tolerations"] = [{"key": "nvidia.com/gpu", "operator": "Exists"}]
    ray = {k: _quantity(v) for k, v in t.resources.items()}
    if accelerator and gpus:
        ray.setdefault(f"accelerator_type:{accelerator}", "1")
    params: dict[str, str] = {}
    if head:
        container["ports"] = [
            {"name": "gcs-server", "containerPort": GCS_PORT},
            {"name": "dashboard", "containerPort": DASHBOARD_PORT},
        ]
        # The operator and the job submitter reach the dashboard through the head's
        # ClusterIP Service, the pod's probes through localhost: all interfaces of the
        # pod, none outside the cluster (no Ingress, no NodePort; kubectl port-forward
        # binds 127.0.0.1 on your machine).
        params = {
            "port": str(GCS_PORT),
            "dashboard-port": str(DASHBOARD_PORT),
            "dashboard-host": "0.0.0.0",
        }
    group: dict[str, Any] = {"rayStartParams": params}
    if ray:
        group["resources"] = ray
    if t.labels:
        group["labels"] = dict(t.labels)
    group["template"] = {"spec": pod}
    if head:
        return {"serviceType": "ClusterIP", **group}
    return {
        "groupName": group_name(name),
        "replicas": t.min_workers,
        "minReplicas": t.min_workers,
        "maxReplicas": t.max_workers,
        **group,
    }


def raycluster(cluster: Cluster, image: str) -> dict[str, Any]:
    """The RayCluster: the head group, a worker group per other node type, autoscaled."""
    head = cluster.available_node_types[cluster.head_node_type]
    spec = {
        "rayVersion": RAY_VERSION,
        "enableInTreeAutoscaling": True,
        "autoscalerOptions": {
            "idleTimeoutSeconds": round(cluster.idle_timeout_minutes * 60),
            # Ray reads Conservative as upscaling_speed 1, the others as unlimited
            "upscalingMode": "Conservative" if cluster.upscaling_speed <= 1 else "Default",
        },
        "authOptions": {"mode": "token"},  # KubeRay makes the token, as Ray 2.60 wants
        "headGroupSpec": _group(cluster.head_node_type, head, image, head=True),
        "workerGroupSpecs": [_group(n, t, image, head=False) for n, t in cluster.workers.items()],
    }
    meta = {"name": cluster.cluster_name, "labels": dict(PART_OF)}
    return _object("ray.io/v1", "RayCluster", meta, spec)


def _object(api: str, kind: str, meta: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": api, "kind": kind, "metadata": meta, "spec": spec}


def mlflow_name(cluster: Cluster) -> str:
    return f"{cluster.cluster_name}-mlflow"


def tracking_uri(cluster: Cluster) -> str:
    """The MLflow server's address inside the Kubernetes namespace."""
    return f"http://{mlflow_name(cluster)}:{MLFLOW_PORT}"


def mlflow(cluster: Cluster, image: str) -> list[dict[str, Any]]:
    """The tracking server: its volume (SQLite store and artifacts), Deployment, Service."""
    name = mlflow_name(cluster)
    labels = {**PART_OF, "app.kubernetes.io/name": name}
    meta = {"name": name, "labels": labels}
    # The Host headers it answers: its Service's names, and kubectl port-forward's.
    hosts = [name, f"{name}:*", f"{name}.*", "localhost:*", "127.0.0.1:*"]
    command = [
        "mlflow", "server",
        "--host", "0.0.0.0",  # the pod's interfaces: the Service reaches it there
        "--port", str(MLFLOW_PORT),
        "--backend-store-uri", "sqlite:////mlflow/mlflow.db",
        "--artifacts-destination", "/mlflow/artifacts",
        "--allowed-hosts", ",".join(hosts),
    ]  # fmt: skip
    pod = {
        "securityContext": {"fsGroup": 100},  # the image's user (ray) can write the volume
        "containers": [
            {
                "name": "mlflow",
                "image": image,
                "command": command,
                "ports": [{"name": "http", "containerPort": MLFLOW_PORT}],
                "readinessProbe": {"httpGet": {"path": "/health", "port": "http"}},
                "resources": {"requests": {"cpu": "1", "memory": "2Gi"}},
                "volumeMounts": [{"name": "store", "mountPath": "/mlflow"}],
            }
        ],
        "volumes": [{"name": "store", "persistentVolumeClaim": {"claimName": name}}],
    }
    volume = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "20Gi"}}}
    deployment = {
        "replicas": 1,
        "strategy": {"type": "Recreate"},  # one writer of the volume at a time
        "selector": {"matchLabels": labels},
        "template": {"metadata": {"labels": labels}, "spec": pod},
    }
    ports = [{"name": "http", "port": MLFLOW_PORT, "targetPort": "http"}]
    return [
        _object("v1", "PersistentVolumeClaim", meta, volume),
        _object("apps/v1", "Deployment", meta, deployment),
        _object("v1", "Service", meta, {"type": "ClusterIP", "selector": labels, "ports": ports}),
    ]


def rayjob_name(cluster: Cluster, job: Path) -> str:
    stem = re.sub(r"[^a-z0-9]+", "-", job.stem.lower()).strip("-")[:40].strip("-")
    return f"{cluster.cluster_name}-{stem or 'search'}"


def rayjob(cluster: Cluster, job: Path, storage_path: str | None = None) -> dict[str, Any]:
    """A RayJob on the RayCluster: `adaptune search JOB` (the job by its path inside the
    project, which the image holds in PROJECT_DIR), logging to the MLflow server. KubeRay
    splices the entrypoint into its submitter's shell line unquoted: it is plain words."""
    env = {
        "MLFLOW_TRACKING_URI": tracking_uri(cluster),
        "ADAPTUNE_HOME": f"{PROJECT_DIR}/.adaptune",
    }
    if storage_path:
        env["ADAPTUNE_STORAGE_PATH"] = storage_path
    entry = f"adaptune search {shlex.quote(f'{PROJECT_DIR}/{job.as_posix()}')}"
    spec = {
        "entrypoint": entry,
        "clusterSelector": {"ray.io/cluster": cluster.cluster_name},
        "runtimeEnvYAML": yaml.safe_dump({"env_vars": env}, sort_keys=False),
    }
    meta = {"name": rayjob_name(cluster, job), "labels": dict(PART_OF)}
    return _object("ray.io/v1", "RayJob", meta, spec)


def manifests(
    cluster: Cluster,
    *,
    image: str = DEFAULT_IMAGE,
    job: Path | None = None,
    storage_path: str | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """File name -> its documents: raycluster.yaml, mlflow.yaml and, given a job (its
    path inside the project), rayjob.yaml."""
    files = {"raycluster.yaml": [raycluster(cluster, image)], "mlflow.yaml": mlflow(cluster, image)}
    if job is not None:
        files["rayjob.yaml"] = [rayjob(cluster, job, storage_path)]
    return files


class _Dumper(yaml.SafeDumper):
    """PyYAML's safe dumper, writing a shared dict out each time (no &anchors) and a
    multi-line string (runtimeEnvYAML) as a block."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _text(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _text)


def dump(documents: list[dict[str, Any]]) -> str:
    return yaml.dump_all(documents, Dumper=_Dumper, sort_keys=False, width=100)
