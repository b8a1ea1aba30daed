"""Orchestration: Kubernetes manifests validated offline against the schemas and a policy
scanner; the compose file deployed for real as a Swarm stack, scaled and updated under load."""

import json
import time
import uuid

import kubernetes_validate
import pytest
import yaml

from helpers import (
    LABEL,
    MESSAGE,
    bake,
    combinations,
    commands,
    docker,
    free_port,
    run,
    shell,
    tool,
    wait_for,
)

KUBERNETES_VERSION = "1.33"
K8S_MATRIX = combinations(
    [{"kubernetes": "yes"}],
    [{"python_version": "3.11"}, {"python_version": "3.15"}],
    [{"port": "6000"}, {"port": "8080"}],
    [{"replicas": "1"}, {"replicas": "3"}],
)


@pytest.fixture(scope="module")
def k8s_bakes(cookies_session):
    return [bake(cookies_session, **answers) for answers in K8S_MATRIX]


def test_every_manifest_matches_the_kubernetes_schemas(k8s_bakes):
    kinds = []
    for project in k8s_bakes:
        for document in yaml.safe_load_all((project / "k8s" / "app.yaml").read_text()):
            # strict: an unknown or misspelt field is an error, not silently dropped.
            kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
            kinds.append(document["kind"])
    assert kinds == ["Deployment", "Service", "NetworkPolicy"] * len(k8s_bakes)


def test_pods_meet_the_restricted_pod_security_standard(k8s_bakes):
    deployment = next(yaml.safe_load_all((k8s_bakes[0] / "k8s" / "app.yaml").read_text()))
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    (container,) = pod["containers"]
    security = container["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"] == {"drop": ["ALL"]}
    # The only writable path is an emptyDir where Gunicorn keeps its worker heartbeat.
    assert container["volumeMounts"] == [{"name": "shm", "mountPath": "/dev/shm"}]
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert set(container["resources"]) == {"requests", "limits"}


def test_checkov_finds_nothing_unjustified(k8s_bakes):
    """Manifests and Dockerfiles of every bake: zero failed checks; each skipped check is
    skipped in the manifest itself, with its reason."""
    root = k8s_bakes[0].parent.parent
    checkov = run(
        tool("checkov"), "--directory", str(root), "--framework", "kubernetes", "dockerfile",
        "--output", "json", "--skip-download", check=False,
    )  # fmt: skip
    reports = json.loads(checkov.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    assert {report["check_type"] for report in reports} == {"kubernetes", "dockerfile"}
    for report in reports:
        assert report["summary"]["failed"] == 0, report["results"]["failed_checks"]
        assert report["summary"]["passed"] > 0
        for skipped in report["results"]["skipped_checks"]:
            assert len(skipped["check_result"]["suppress_comment"]) > 20, skipped["check_id"]
    scanned = {r["file_path"] for rep in reports for r in rep["results"]["passed_checks"]}
    assert len([path for path in scanned if path.endswith("app.yaml")]) == len(k8s_bakes)


@pytest.mark.docker
def test_readme_compose_commands_work(docker_engine, cookies):
    """The generated README's Docker Compose block, verbatim, on a free port."""
    port = free_port()
    name = f"composecheck{port}"
    project = bake(cookies, project_name=name, port=str(port), compose="yes")
    up, curl, down = commands(project / "README.md", "Docker Compose")
    try:
        shell(up, project)
        assert wait_for(lambda: shell(curl, project, check=False), what="curl") == MESSAGE
        (container,) = docker(
            "ps", "-q", "--filter", f"label=com.docker.compose.project={name}"
        ).split()
        assert (
            docker("inspect", "--format", "{{json .HostConfig.ReadonlyRootfs}}", container)
            == "true"
        )
    finally:
        shell(down, project, check=False)
        docker("rmi", "-f", f"{name}:latest", check=False)
    assert not docker("ps", "-aq", "--filter", f"label=com.docker.compose.project={name}")


# Swarm: this machine's kernel has no IPVS, so neither the ingress routing mesh nor service
# VIPs answer here. Replicas are reached the way Swarm's DNS always allows: tasks.<service>
# resolves to every running (healthy) replica, from a container on the stack's network.
CLIENT = """
import collections, json, signal, socket, sys, time, urllib.request
port, seconds = int(sys.argv[1]), float(sys.argv[2])
counts, replicas = collections.Counter(), set()
deadline = time.monotonic() + seconds
stop = []
signal.signal(signal.SIGTERM, lambda *_: stop.append(True))  # docker stop: report and exit
while not stop:
    try:
        address = socket.gethostbyname("tasks.web")
        replicas.add(address)
        with urllib.request.urlopen(f"http://{address}:{port}/", timeout=5) as response:
            counts["ok" if response.read().decode() == sys.argv[3] else "wrong"] += 1
    except OSError as error:
        counts["failed"] += 1
        print(repr(error), file=sys.stderr)
    if time.monotonic() > deadline:
        break
    time.sleep(0.02)
print(json.dumps({"counts": counts, "replicas": sorted(replicas)}))
"""


@pytest.fixture(scope="module")
def swarm(docker_engine):
    """A single-node swarm on 127.0.0.1: this test's own unless one is already active."""
    state = docker("info", "--format", "{{.Swarm.LocalNodeState}}")
    created = state == "inactive"
    networks_before = set(docker("network", "ls", "-q").split())
    if created:
        docker("swarm", "init", "--advertise-addr", "127.0.0.1")
    yield
    if created:
        docker("swarm", "leave", "--force")
        # swarm init also made docker_gwbridge, which outlives the swarm.
        for network in set(docker("network", "ls", "-q").split()) - networks_before:
            docker("network", "rm", network, check=False)


def replicas_running(service: str, count: int, image: str | None = None) -> bool:
    tasks = docker(
        "service", "ps", service, "--filter", "desired-state=running",
        "--format", "{{.Image}} {{.CurrentState}}",
    ).splitlines()  # fmt: skip
    running = [
        t for t in tasks if " Running " in f" {t} " and (image is None or t.startswith(image))
    ]
    return len(tasks) == count and len(running) == count


@pytest.mark.docker
def test_readme_swarm_commands_deploy_scale_and_roll_out_without_failures(swarm, cookies):
    """The generated README's Swarm block, line by line (the fixture made the swarm): deploy,
    scale, then a rolling update to a rebuilt image while a client keeps requesting."""
    port = free_port()
    stack = f"swarmcheck{uuid.uuid4().hex[:6]}"
    project = bake(cookies, project_name=stack, port=str(port), compose="yes", replicas="2")
    init, build_image, deploy, scale, update, remove = commands(
        project / "README.md", "Docker Swarm"
    )
    assert init == "docker swarm init"
    service = f"{stack}_web"

    def client(seconds: float, detach: bool = False) -> str:
        command = ["run", "--label", LABEL, "--network", service, "--entrypoint", "python"]
        command += ["-d"] if detach else ["--rm"]
        return docker(*command, f"{stack}:latest", "-c", CLIENT, str(port), str(seconds), MESSAGE)

    watcher = None
    try:
        shell(build_image, project)
        shell(deploy, project)
        spec = json.loads(docker("service", "inspect", service))[0]["Spec"]
        assert spec["UpdateConfig"]["Order"] == "start-first"
        assert spec["TaskTemplate"]["ContainerSpec"]["Healthcheck"]["Test"][-1] == "healthcheck.py"
        assert spec["TaskTemplate"]["ContainerSpec"]["ReadOnly"] is True
        wait_for(lambda: replicas_running(service, 2), 90, "2 replicas")
        answered = json.loads(client(3))
        assert set(answered["counts"]) == {"ok"} and len(answered["replicas"]) == 2

        shell(scale, project)
        wait_for(lambda: replicas_running(service, 4), 90, "4 replicas")
        assert len(json.loads(client(3))["replicas"]) == 4

        # The update line rebuilds the image: change the code first, as a user would.
        with (project / "app.py").open("a") as app:
            app.write("\n# v2\n")
        watcher = client(300, detach=True)
        started = time.monotonic()
        shell(update, project)
        wait_for(lambda: replicas_running(service, 4, f"{stack}:v2"), 120, "4 updated replicas")
        rollout = time.monotonic() - started
        time.sleep(2)  # and the updated replicas keep answering
        docker("stop", watcher)
        counts = json.loads(docker("logs", watcher).splitlines()[-1])["counts"]
    finally:
        if watcher:
            docker("rm", "-f", watcher, check=False)
        shell(remove, project, check=False)
    print(f"\nrolling update of 4 replicas: {rollout:.1f}s, client requests {counts}")
    assert counts.get("failed", 0) == 0 and counts.get("wrong", 0) == 0
    assert counts["ok"] > 50
    # The stack's network goes away once its tasks have stopped.
    wait_for(
        lambda: not docker("network", "ls", "-q", "--filter", f"name={service}"),
        60,
        "stack removal",
    )
    docker("rmi", "-f", f"{stack}:latest", f"{stack}:v2", check=False)
