"""Orchestration: Kubernetes manifests validated against the schemas and a policy scanner, and
run by podman kube play; the compose file deployed as a Swarm stack, scaled and updated under
load through Caddy."""

import json
import re
import time
import uuid

import kubernetes_validate
import pytest
import yaml

from helpers import (
    LABEL,
    MESSAGE,
    bake,
    build,
    combinations,
    commands,
    docker,
    free_port,
    get,
    gunicorn_settings,
    ids,
    run,
    shell,
    tool,
    wait_for,
)

KUBERNETES_VERSION = "1.37"
K8S_MATRIX = combinations(
    [{"kubernetes": "yes"}],
    [{"python_version": "3.11"}, {"python_version": "3.15"}],
    [{"port": "6000"}, {"port": "8080"}],
    [{"replicas": "1"}, {"replicas": "3"}],
) + [
    {"kubernetes": "yes", "database": "postgres"},
    {"kubernetes": "yes", "metrics": "yes"},
    {"kubernetes": "yes", "database": "postgres", "metrics": "yes", "replicas": "3"},
]


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
    expected = ["Deployment", "Service", "PodDisruptionBudget", "NetworkPolicy", "Ingress"]
    assert kinds == expected * len(k8s_bakes)
    print(f"kubernetes-validate {KUBERNETES_VERSION} --strict: {len(kinds)} objects valid")


def manifests(project) -> dict[str, dict]:
    return {d["kind"]: d for d in yaml.safe_load_all((project / "k8s" / "app.yaml").read_text())}


def test_pods_meet_the_restricted_pod_security_standard(k8s_bakes):
    pod = manifests(k8s_bakes[0])["Deployment"]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    (container,) = pod["containers"]
    security = container["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"] == {"drop": ["ALL"]}
    # The one writable path: a memory-backed /tmp, where Werkzeug spools large uploads.
    assert container["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert pod["volumes"] == [
        {"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}}
    ]
    assert set(container["resources"]) == {"requests", "limits"}


def test_ingress_database_and_metrics_in_the_manifest(k8s_bakes):
    """HTTPS through cert-manager's annotation; the migrations in an init container as locked
    down as the app, the database's URL from a Secret read as a file, no database of its own;
    the scrape annotations and the metrics port let in."""
    found = manifests(k8s_bakes[-1])
    assert set(found) == {
        "Deployment",
        "Service",
        "PodDisruptionBudget",
        "NetworkPolicy",
        "Ingress",
    }
    ingress = found["Ingress"]
    assert ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == "letsencrypt"
    (tls,) = ingress["spec"]["tls"]
    assert tls["hosts"] == [ingress["spec"]["rules"][0]["host"]] and tls["secretName"]
    template = found["Deployment"]["spec"]["template"]
    pod = template["spec"]
    (migrate,) = pod["initContainers"]
    (web,) = pod["containers"]
    assert migrate["command"] == ["alembic", "upgrade", "head"] and migrate["image"] == web["image"]
    assert migrate["securityContext"] == web["securityContext"]
    secret = {v["name"]: v for v in pod["volumes"]}["database"]["secret"]["secretName"]
    for container in (migrate, web):
        environ = {e["name"]: e["value"] for e in container["env"]}
        mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
        assert environ["DATABASE_URL_FILE"].startswith(mounts["database"] + "/")
    assert secret.endswith("-database")
    annotations = template["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert {"name": "metrics", "containerPort": int(annotations["prometheus.io/port"])} in web[
        "ports"
    ]
    allowed = found["NetworkPolicy"]["spec"]["ingress"][0]["ports"]
    assert {"port": "metrics"} in allowed


@pytest.mark.parametrize("project", range(len(K8S_MATRIX)), ids=lambda i: ids(K8S_MATRIX[i]))
def test_pods_shut_down_and_spread_safely(k8s_bakes, project):
    """The manifest agrees with the image: its grace period covers the pause before SIGTERM
    plus Gunicorn's graceful timeout, its probes wait as long as the image's health check; a
    disruption budget and a spread over nodes keep replicas up; every name fits in 63
    characters."""
    bake_dir = k8s_bakes[project]
    found = manifests(bake_dir)
    pod = found["Deployment"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    drain = int(container["lifecycle"]["preStop"]["exec"]["command"][-1])
    graceful = gunicorn_settings(bake_dir)["graceful_timeout"]
    assert pod["terminationGracePeriodSeconds"] > drain + graceful
    # The image's HEALTHCHECK gives /healthz this long; Kubernetes' probes (1 s unless told)
    # must give it as long, or a busy pod is restarted where Docker would wait.
    dockerfile = (bake_dir / "Dockerfile").read_text()
    health_timeout = int(re.search(r"^HEALTHCHECK .*--timeout=(\d+)s", dockerfile, re.MULTILINE)[1])
    ready = "/readyz" if K8S_MATRIX[project].get("database") == "postgres" else "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == ready
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["timeoutSeconds"] >= health_timeout
    assert found["PodDisruptionBudget"]["spec"]["maxUnavailable"] == 1
    (spread,) = pod["topologySpreadConstraints"]
    assert spread["topologyKey"] == "kubernetes.io/hostname"
    assert all(len(d["metadata"]["name"]) <= 63 for d in found.values())


def test_checkov_finds_nothing_unjustified(k8s_bakes):
    """Manifests and Dockerfiles of every bake: zero failed checks; each skipped check is
    skipped in the manifest itself, with its reason."""
    folders = [argument for project in k8s_bakes for argument in ("--directory", str(project))]
    checkov = run(
        tool("checkov"), *folders, "--framework", "kubernetes", "dockerfile",
        "--output", "json", "--skip-download", check=False,
    )  # fmt: skip
    # One JSON document per folder, each a report or a list of reports.
    documents, text, decoder = [], checkov.stdout.strip(), json.JSONDecoder()
    while text:
        document, end = decoder.raw_decode(text)
        documents.append(document)
        text = text[end:].strip()
    reports = [r for d in documents for r in (d if isinstance(d, list) else [d])]
    assert {report["check_type"] for report in reports} == {"kubernetes", "dockerfile"}
    for report in reports:
        assert report["summary"]["failed"] == 0, report["results"]["failed_checks"]
        assert report["summary"]["passed"] > 0
        for skipped in report["results"]["skipped_checks"]:
            assert len(skipped["check_result"]["suppress_comment"]) > 20, skipped["check_id"]
    scanned = {r["file_abs_path"] for rep in reports for r in rep["results"]["passed_checks"]}
    assert len([path for path in scanned if path.endswith("app.yaml")]) == len(k8s_bakes)


@pytest.mark.docker
def test_podman_kube_play_runs_the_deployment(docker_engine, cookies):
    """The Deployment's pod, run by podman with its security context, serves: uid 10001, a
    read-only root, no capabilities. podman 4.3 publishes containerPort on the host, so the bake
    takes a free port and one replica."""
    port = free_port()
    project = bake(
        cookies, project_name=f"Kube {port}", port=str(port), kubernetes="yes", replicas="1"
    )
    manifest = project / "k8s" / "app.yaml"
    image = manifests(project)["Deployment"]["spec"]["template"]["spec"]["containers"][0]["image"]
    build(project, image)
    run("bash", "-c", f"docker save {image} | podman load")
    # podman cannot pull what only this machine has: it uses the loaded image.
    manifest.write_text(
        manifest.read_text().replace("imagePullPolicy: Always", "imagePullPolicy: Never")
    )
    try:
        run("podman", "kube", "play", str(manifest), timeout=300)
        assert wait_for(lambda: get(f"http://127.0.0.1:{port}/"), 60, "the pod") == (200, MESSAGE)
        (name,) = run(
            "podman", "ps", "--format", "{{.Names}}", "--filter", "name=-web$"
        ).stdout.split()
        assert run("podman", "exec", name, "id", "-u").stdout.strip() == "10001"
        status = run("podman", "exec", name, "cat", "/proc/1/status").stdout
        assert re.search(r"^CapEff:\s+0+$", status, re.MULTILINE)
        refused = run("podman", "exec", name, "touch", "/app/file", check=False)
        assert "Read-only file system" in refused.stderr
    finally:
        run("podman", "kube", "down", str(manifest), check=False)
        run("podman", "rmi", "-f", image, check=False)


# Swarm: this machine's kernel has no IPVS, so neither the ingress routing mesh nor service
# VIPs answer here. The client reaches Caddy the way Swarm's DNS always allows, tasks.edge,
# from a container on the stack's network; Caddy finds the app's replicas the same way (the
# web service's endpoint mode is dnsrr), as the client counts them.
CLIENT = """
import collections, json, signal, socket, sys, time, urllib.request
seconds = float(sys.argv[1])
counts, replicas = collections.Counter(), set()
deadline = time.monotonic() + seconds
stop = []
signal.signal(signal.SIGTERM, lambda *_: stop.append(True))  # docker stop: report and exit
while not stop:
    try:
        replicas.update(socket.gethostbyname_ex("tasks.web")[2])
        edge = socket.gethostbyname("tasks.edge")
        with urllib.request.urlopen(f"http://{edge}:8080/", timeout=5) as response:
            counts["ok" if response.read().decode() == sys.argv[2] else "wrong"] += 1
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
    bridge_before = docker("network", "ls", "-q", "--filter", "name=^docker_gwbridge$")
    if created:
        docker("swarm", "init", "--advertise-addr", "127.0.0.1")
    yield
    if created:
        docker("swarm", "leave", "--force")
        # swarm init also made docker_gwbridge, which outlives the swarm.
        if not bridge_before:
            docker("network", "rm", "docker_gwbridge", check=False)


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
        project / "docs" / "swarm.md", "Docker Swarm"
    )
    assert init == "docker swarm init"
    service = f"{stack}_web"

    def client(seconds: float, detach: bool = False) -> str:
        command = ["run", "--label", LABEL, "--network", service, "--entrypoint", "python"]
        command += ["-d"] if detach else ["--rm"]
        return docker(*command, f"{stack}:latest", "-c", CLIENT, str(seconds), MESSAGE)

    watcher = None
    try:
        shell(build_image, project)
        shell(deploy, project, PUBLISH_PORT=str(port))
        spec = json.loads(docker("service", "inspect", service))[0]["Spec"]
        assert spec["UpdateConfig"]["Order"] == "start-first"
        assert spec["TaskTemplate"]["ContainerSpec"]["Healthcheck"]["Test"][-1] == "healthcheck.py"
        assert spec["TaskTemplate"]["ContainerSpec"]["ReadOnly"] is True
        wait_for(lambda: replicas_running(service, 2), 90, "2 replicas")
        wait_for(lambda: replicas_running(f"{stack}_edge", 1), 90, "the edge")
        # Caddy answers once it has resolved the replicas' addresses.
        wait_for(lambda: json.loads(client(0))["counts"].get("ok"), 60, "Caddy to answer")
        answered = json.loads(client(3))
        assert set(answered["counts"]) == {"ok"} and len(answered["replicas"]) == 2

        shell(scale, project)
        wait_for(lambda: replicas_running(service, 4), 90, "4 replicas")
        assert len(json.loads(client(3))["replicas"]) == 4

        # The update line rebuilds the image: change the code first, as a user would.
        with (project / project.name / "views.py").open("a") as views:
            views.write("\n# v2\n")
        watcher = client(300, detach=True)
        started = time.monotonic()
        shell(update, project)
        wait_for(lambda: replicas_running(service, 4, f"{stack}:v2"), 120, "4 updated replicas")
        rollout = time.monotonic() - started
        after = json.loads(client(3))  # the updated replicas answer, while the watcher goes on
        docker("stop", watcher)
        counts = json.loads(docker("logs", watcher).splitlines()[-1])["counts"]
    finally:
        if watcher:
            docker("rm", "-f", watcher, check=False)
        shell(remove, project, check=False)
    print(f"\nrolling update of 4 replicas: {rollout:.1f}s, client requests {counts}")
    assert counts.get("failed", 0) == 0 and counts.get("wrong", 0) == 0
    assert counts["ok"] > 50
    assert set(after["counts"]) == {"ok"} and len(after["replicas"]) == 4
    # The stack's network goes away once its tasks have stopped.
    wait_for(
        lambda: not docker("network", "ls", "-q", "--filter", f"name={service}"),
        60,
        "stack removal",
    )
    docker("rmi", "-f", f"{stack}:latest", f"{stack}-edge:latest", f"{stack}:v2", check=False)

    def volumes_gone() -> bool:
        """Swarm keeps a stack's volumes after docker stack rm: the edge's goes once no task
        holds it."""
        docker("volume", "rm", f"{stack}_edge-data", check=False)
        return not docker("volume", "ls", "-q", "--filter", f"name={stack}_")

    wait_for(volumes_gone, 60, "the stack's volumes removed")
