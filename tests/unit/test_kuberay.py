"""`adaptune cluster k8s`: cluster.yaml rendered for KubeRay, checked by the parts that will
read it: KubeRay's CRD schemas (v1.7.0, tests/fixtures/kuberay), Ray's own KubeRay
autoscaler (what it makes of the RayCluster's groups), `ray start`'s and `mlflow
server`'s own option parsers, MLflow's Host-header check. No Kubernetes cluster needed."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from tests.conftest import ROOT

from adaptune import kuberay
from adaptune.cli import main
from adaptune.cluster import EXCLUDES

FIXTURES = ROOT / "tests" / "fixtures" / "kuberay"
CLUSTER_YAML = ROOT / "cluster.yaml"
GIB = 1 << 30
# What cluster.yaml's AWS instance types hold: GPUs, and the pod a node of it runs
# (vCPUs less one, 85 % of its memory), stated here apart from kuberay.py's tables.
INSTANCES = {
    "m5.2xlarge": (None, 0, 7, 27),
    "g5.2xlarge": ("A10G", 1, 7, 27),
    "p5.48xlarge": ("H100", 8, 191, 1740),
    "p4d.24xlarge": ("A100", 8, 95, 979),
}


def _schema(name: str) -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(json.loads((FIXTURES / name).read_text()))


def _errors(validator: jsonschema.Draft7Validator, doc: dict[str, Any]) -> list[str]:
    return [
        f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)
    ]


def _render(cluster: kuberay.Cluster | None = None) -> dict[str, Any]:
    """kind -> its document, for cluster.yaml (or `cluster`) with a job."""
    files = kuberay.manifests(
        cluster or kuberay.read_cluster(CLUSTER_YAML),
        image="registry.example/adaptune:1",
        job=Path("jobs/quickstart.yaml"),
        storage_path="s3://bucket/ray",
    )
    return {d["kind"]: d for docs in files.values() for d in docs}


def _explicit() -> kuberay.Cluster:
    """cluster.yaml with one worker type sized by its `resources`, no instance type."""
    cluster = kuberay.read_cluster(CLUSTER_YAML)
    worker = next(iter(cluster.workers.values()))
    worker.resources = {"CPU": 4, "GPU": 1, "memory": 16 * GIB, "accelerator_type:L4": 1}
    worker.node_config = {}
    return cluster


def _autoscaler_view(raycluster: dict[str, Any]) -> dict[str, Any]:
    """The autoscaling config Ray's in-tree KubeRay autoscaler derives from the RayCluster
    (it validates it with Ray's own config schema)."""
    from ray.autoscaler._private.kuberay.autoscaling_config import (
        _derive_autoscaling_config_from_ray_cr,
    )

    cr = {**raycluster, "metadata": {**raycluster["metadata"], "namespace": "default"}}
    return dict(_derive_autoscaling_config_from_ray_cr(cr))


@pytest.mark.parametrize("cluster", [None, _explicit], ids=["cluster.yaml", "explicit"])
def test_manifests_pass_kuberays_crd_schemas(cluster: Any) -> None:
    docs = _render(cluster() if cluster else None)
    assert _errors(_schema("raycluster.v1.schema.json"), docs["RayCluster"]) == []
    assert _errors(_schema("rayjob.v1.schema.json"), docs["RayJob"]) == []
    pod = docs["Deployment"]["spec"]["template"]
    assert _errors(_schema("podtemplate.v1.schema.json"), pod) == []
    assert docs["RayCluster"]["apiVersion"] == docs["RayJob"]["apiVersion"] == "ray.io/v1"


def test_the_schemas_refuse_an_unknown_field_and_a_wrong_value() -> None:
    """The fixtures are strict (kubectl's strict field validation): a misspelt field or a
    value out of KubeRay's enum fails."""
    rc = _render()["RayCluster"]
    rc["spec"]["enableInTreeAutoScaling"] = True
    rc["spec"]["autoscalerOptions"]["upscalingMode"] = "Fast"
    rc["spec"]["workerGroupSpecs"][0]["maxReplicas"] = "8"
    errors = _errors(_schema("raycluster.v1.schema.json"), rc)
    assert len(errors) == 3, errors


def test_node_types_round_trip_through_rays_kuberay_autoscaler() -> None:
    raw = yaml.safe_load(CLUSTER_YAML.read_text())
    view = _autoscaler_view(_render()["RayCluster"])
    types = view["available_node_types"]
    head = raw["available_node_types"][raw["head_node_type"]]
    assert types["headgroup"]["resources"]["CPU"] == head["resources"]["CPU"] == 0
    assert types["headgroup"]["labels"] == head["labels"]
    workers = {n: t for n, t in raw["available_node_types"].items() if n != raw["head_node_type"]}
    assert set(types) == {"headgroup", *(n.replace("_", "-") for n in workers)}
    for name, spec in workers.items():
        got = types[name.replace("_", "-")]
        accelerator, gpus, cpus, gib = INSTANCES[spec["node_config"]["InstanceType"]]
        assert (got["min_workers"], got["max_workers"]) == (
            spec["min_workers"],
            spec["max_workers"],
        )
        assert got["resources"] == {
            "CPU": cpus,
            "GPU": gpus,
            "memory": gib * GIB,
            f"accelerator_type:{accelerator}": 1,
        }
        assert got["labels"] == spec["labels"]  # the price label rides on every node
    assert view["idle_timeout_minutes"] == raw["idle_timeout_minutes"]
    assert view["upscaling_speed"] == raw["upscaling_speed"] == 1


def test_pods_ask_for_their_machine_and_land_on_its_instance_type() -> None:
    raw = yaml.safe_load(CLUSTER_YAML.read_text())["available_node_types"]
    spec = _render()["RayCluster"]["spec"]
    groups = {g["groupName"]: g for g in spec["workerGroupSpecs"]}
    for name, node in raw.items():
        group = groups.get(name.replace("_", "-"), spec["headGroupSpec"])
        pod = group["template"]["spec"]
        _, gpus, cpus, gib = INSTANCES[node["node_config"]["InstanceType"]]
        want = {"cpu": str(cpus), "memory": f"{gib}Gi"}
        if gpus:
            want["nvidia.com/gpu"] = str(gpus)
        assert pod["containers"][0]["resources"] == {"requests": want, "limits": want}
        spot = node["node_config"].get("InstanceMarketOptions") == {"MarketType": "spot"}
        assert pod["nodeSelector"] == {
            kuberay.INSTANCE_TYPE_LABEL: node["node_config"]["InstanceType"],
            kuberay.CAPACITY_LABEL: "spot" if spot else "on-demand",
        }
        assert ("tolerations" in pod) == bool(gpus)


def test_a_type_sized_by_its_resources_keeps_them() -> None:
    group = _render(_explicit())["RayCluster"]["spec"]["workerGroupSpecs"][0]
    want = {"cpu": "4", "memory": "16Gi", "nvidia.com/gpu": "1"}
    assert group["template"]["spec"]["containers"][0]["resources"]["limits"] == want
    assert "nodeSelector" not in group["template"]["spec"]
    view = _autoscaler_view(_render(_explicit())["RayCluster"])
    resources = view["available_node_types"][group["groupName"]]["resources"]
    assert resources == {"CPU": 4, "GPU": 1, "memory": 16 * GIB, "accelerator_type:L4": 1}


def test_ray_start_params_are_ray_start_options_and_ports_match_cluster_yaml() -> None:
    from ray.scripts.scripts import start

    options = {o for p in start.params for o in p.opts}
    spec = _render()["RayCluster"]["spec"]
    params = spec["headGroupSpec"]["rayStartParams"]
    for group in [spec["headGroupSpec"], *spec["workerGroupSpecs"]]:
        assert {f"--{k}" for k in group["rayStartParams"]} <= options
        # KubeRay's own checks (validation.go): resources in one place, labels not here
        assert not {"num-cpus", "num-gpus", "memory", "resources", "labels"} & set(
            group["rayStartParams"]
        )
    head_start = " ".join(yaml.safe_load(CLUSTER_YAML.read_text())["head_start_ray_commands"])
    assert f"--port={params['port']}" in head_start
    ports = spec["headGroupSpec"]["template"]["spec"]["containers"][0]["ports"]
    assert {p["name"]: p["containerPort"] for p in ports} == {
        "gcs-server": int(params["port"]),
        "dashboard": int(params["dashboard-port"]),
    }
    assert spec["headGroupSpec"]["serviceType"] == "ClusterIP"
    assert spec["authOptions"] == {"mode": "token"} and spec["enableInTreeAutoscaling"] is True


def test_the_rayjob_runs_the_search_and_logs_to_the_mlflow_service() -> None:
    from mlflow.server.security_utils import is_allowed_host_header
    from ray.runtime_env import RuntimeEnv

    docs = _render()
    job, service, deployment = docs["RayJob"], docs["Service"], docs["Deployment"]
    entry = job["spec"]["entrypoint"]
    assert entry == f"adaptune search {kuberay.PROJECT_DIR}/jobs/quickstart.yaml"
    # KubeRay splices it unquoted into its submitter's bash line: words, no operators
    lexer = shlex.shlex(entry, posix=True, punctuation_chars=True)
    assert not [t for t in lexer if set(t) & set(";&|<>()`$")]
    assert job["spec"]["clusterSelector"] == {
        "ray.io/cluster": docs["RayCluster"]["metadata"]["name"]
    }
    runtime_env = yaml.safe_load(job["spec"]["runtimeEnvYAML"])
    RuntimeEnv(**runtime_env)  # what Ray will accept of it
    env = runtime_env["env_vars"]
    assert env["ADAPTUNE_STORAGE_PATH"] == "s3://bucket/ray"
    assert env["ADAPTUNE_HOME"] == f"{kuberay.PROJECT_DIR}/.adaptune"  # the state folder
    (port,) = service["spec"]["ports"]
    name = service["metadata"]["name"]
    assert env["MLFLOW_TRACKING_URI"] == f"http://{name}:{port['port']}"
    assert service["spec"]["type"] == "ClusterIP"
    pod = deployment["spec"]["template"]
    assert service["spec"]["selector"] == pod["metadata"]["labels"]
    (container,) = pod["spec"]["containers"]
    assert container["ports"][0]["name"] == port["targetPort"]
    command = container["command"]
    hosts = command[command.index("--allowed-hosts") + 1].split(",")
    for host in (f"{name}:5000", f"{name}.default.svc.cluster.local:5000", "127.0.0.1:5000"):
        assert is_allowed_host_header(hosts, host), host  # the RayJob's, port-forward's
    assert not is_allowed_host_header(hosts, "attacker.example:5000")
    head = docs["RayCluster"]["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]
    assert container["image"] == head["image"]  # one image: MLflow at the pinned version


def test_the_mlflow_command_parses_as_mlflow_server() -> None:
    from mlflow.cli import server

    command = _render()["Deployment"]["spec"]["template"]["spec"]["containers"][0]["command"]
    assert command[:2] == ["mlflow", "server"]
    with server.make_context("server", command[2:]) as ctx:
        assert ctx.params["host"] == "0.0.0.0" and ctx.params["port"] == 5000


def test_the_dockerfile_builds_the_image_the_manifests_expect() -> None:
    import sys

    from adaptune.kuberay import RAY_VERSION

    text = (ROOT / "Dockerfile").read_text()
    py = f"py{sys.version_info.major}{sys.version_info.minor}"
    assert re.search(rf"^FROM rayproject/ray:{re.escape(RAY_VERSION)}-{py}-gpu$", text, re.M)
    assert f"\nWORKDIR {kuberay.PROJECT_DIR}\n" in text
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert all(e in ignored or f"**/{e}" in ignored for e in EXCLUDES)


def test_the_command_writes_a_stream_or_one_file_per_kind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["cluster", "k8s", "--config", str(CLUSTER_YAML)]) == 0
    kinds = [d["kind"] for d in yaml.safe_load_all(capsys.readouterr().out)]
    assert kinds == ["RayCluster", "PersistentVolumeClaim", "Deployment", "Service"]
    job = str(ROOT / "jobs" / "quickstart.yaml")
    argv = ["cluster", "k8s", "--config", str(CLUSTER_YAML), "--job", job, "--out", str(tmp_path)]
    assert main([*argv, "--image", "r.example/a:2", "--storage-path", "s3://b/r"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "mlflow.yaml",
        "raycluster.yaml",
        "rayjob.yaml",
    ]
    (rayjob,) = yaml.safe_load_all((tmp_path / "rayjob.yaml").read_text())
    assert rayjob["metadata"]["name"] == "adaptune-quickstart"
    assert rayjob["spec"]["entrypoint"].endswith(f"{kuberay.PROJECT_DIR}/jobs/quickstart.yaml")
    assert "r.example/a:2" in (tmp_path / "raycluster.yaml").read_text()


def _bad(tmp_path: Path, old: str, new: str) -> Path:
    text = CLUSTER_YAML.read_text()
    assert old in text
    path = tmp_path / "cluster.yaml"
    path.write_text(text.replace(old, new, 1))
    return path


@pytest.mark.parametrize(
    ("old", "new", "key", "says"),
    [
        ("max_workers: 8", "max_workers: -1", "available_node_types.gpu_a10g.max_workers", "0"),
        ("min_workers: 0", "min_workers: 9", "gpu_a10g.min_workers", "more than max_workers"),
        ("head_node_type: head", "head_node_type: cpu", "head_node_type", "'cpu'"),
        ("InstanceType: g5.2xlarge", "InstanceType: x9.huge", "InstanceType", "x9.huge"),
        ('"1.212"', '"1.212 USD"', "gpu_a10g.labels", "label value"),
        ("  gpu_a10g_spot:", "  gpu-a10g:", "gpu-a10g", "same Kubernetes name"),
    ],
)
def test_a_bad_cluster_yaml_gives_one_line_naming_file_line_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], old: str, new: str, key: str, says: str
) -> None:
    path = _bad(tmp_path, old, new)
    assert main(["cluster", "k8s", "--config", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    where = rf"{re.escape(str(path))}:(\d+): \S*{re.escape(key)}\S*: .*{re.escape(says)}"
    found = re.match(where, line)
    assert found, line
    named = path.read_text().splitlines()[int(found.group(1)) - 1]
    assert f"{key.rsplit('.', 1)[-1]}:" in named, (line, named)


def test_the_docs_say_what_the_code_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """docs/cluster.md's Kubernetes section: its KubeRay version is the fixtures', its
    example error is the real one, its pod size, names and ports are what is rendered."""
    doc = (ROOT / "docs" / "cluster.md").read_text()
    section = doc.split("## Kubernetes (KubeRay)", 1)[1].split("\n## ", 1)[0]
    tested = re.search(r"KubeRay v(\d+\.\d+\.\d+)", (FIXTURES / "README.md").read_text())
    assert tested and f"kuberay/kuberay-operator --version {tested.group(1)}" in section
    assert f"KubeRay v{tested.group(1)}'s CRD schemas" in section
    path = _bad(tmp_path, "max_workers: 8", "max_workers: -1")
    assert main(["cluster", "k8s", "--config", str(path)]) == 2
    error = capsys.readouterr().err.strip().replace(str(path), "cluster.yaml")
    assert f"`{error}`" in section
    docs = _render()
    a10g = next(
        g for g in docs["RayCluster"]["spec"]["workerGroupSpecs"] if g["groupName"] == "gpu-a10g"
    )
    limits = a10g["template"]["spec"]["containers"][0]["resources"]["limits"]
    assert f"`g5.2xlarge` → {limits['cpu']} CPUs, {limits['memory']}" in section
    params = docs["RayCluster"]["spec"]["headGroupSpec"]["rayStartParams"]
    assert (
        f"GCS ({params['port']}," in section
        and f"dashboard ({params['dashboard-port']})" in section
    )
    env = yaml.safe_load(docs["RayJob"]["spec"]["runtimeEnvYAML"])["env_vars"]
    assert f"MLFLOW_TRACKING_URI={env['MLFLOW_TRACKING_URI']}" in section
    assert (
        f"`{docs['RayJob']['spec']['entrypoint'].replace('quickstart', 'dao_finsent')}`" in section
    )
    assert f"`ADAPTUNE_HOME={env['ADAPTUNE_HOME']}`" in section
