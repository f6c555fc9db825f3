"""The Helm chart, rendered by the real helm binary.

Every `ci/*-values.yaml` scenario renders for the oldest and newest Kubernetes we support and passes
`helm lint --strict`; every rendered object validates strictly against that version's schemas
(Metacontroller's and Prometheus Operator's kinds, which kubernetes_validate cannot know, get a
structural check instead); values.schema.json refuses bad values; and the chart agrees with what it
packages: metacontroller/controllers.yaml and rbac.yaml, crds/, and the image versions.

A missing helm fails these tests (it is built by `make tools`); it never skips them.
"""

from __future__ import annotations

import copy
import functools
import json
import pathlib
import re
import shutil
import subprocess
import tomllib
from collections.abc import Iterator
from typing import Any

import kubernetes_validate
import pytest
import yaml

from hooks.models import DEFAULT_BACKUP_IMAGE
from tests.support.tools import ToolMissingError, tool_path

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
CHART = ROOT / "charts" / "database-operator"
SCENARIOS = sorted((CHART / "ci").glob("*-values.yaml"))
KUBE_VERSIONS = ["1.29.0", "1.37.0"]
# Installed under this release name and namespace, the chart names its objects exactly as
# metacontroller/controllers.yaml expects (Service database-operator/database-operator-hooks).
RELEASE = NAMESPACE = "database-operator"
CONTROLLER_KINDS = {"CompositeController", "DecoratorController"}
Doc = dict[str, Any]


def helm_binary() -> pathlib.Path:
    """The helm that `make tools` builds; a test without it fails and says how to get it."""
    try:
        return tool_path("helm")
    except ToolMissingError as error:
        pytest.fail(str(error))


def run_helm(*args: str | pathlib.Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(helm_binary()), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,  # the callers assert on the exit code and show helm's message
    )


@functools.cache
def render(
    values: pathlib.Path | None = None,
    kube_version: str = KUBE_VERSIONS[-1],
    release: str = RELEASE,
    namespace: str = NAMESPACE,
    chart: pathlib.Path = CHART,
) -> tuple[Doc, ...]:
    """The objects `helm template` renders (cached: several tests look at the same output)."""
    args: list[str | pathlib.Path] = ["template", release, chart, "--namespace", namespace]
    args += ["--kube-version", kube_version]
    if values is not None:
        args += ["--values", values]
    result = run_helm(*args)
    assert result.returncode == 0, result.stderr
    return tuple(d for d in yaml.safe_load_all(result.stdout) if d)


def render_values(tmp_path: pathlib.Path, values: Doc, **kwargs: Any) -> tuple[Doc, ...]:
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump(values))
    return render(path, **kwargs)


def only(docs: tuple[Doc, ...], kind: str) -> Doc:
    found = [d for d in docs if d["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def load_yaml_documents(path: pathlib.Path) -> list[Doc]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


# --- rendering, lint, Kubernetes schemas -------------------------------------------------------


def test_there_are_ci_scenarios() -> None:
    names = {path.name for path in SCENARIOS}
    assert {
        "default-values.yaml",
        "monitoring-enabled-values.yaml",
        "custom-image-resources-values.yaml",
    } <= names


@pytest.mark.parametrize("values", SCENARIOS, ids=lambda p: p.name)
def test_helm_lint_strict(values: pathlib.Path) -> None:
    result = run_helm("lint", "--strict", CHART, "--values", values)
    assert result.returncode == 0, result.stdout + result.stderr


# Required fields of the kinds whose schemas kubernetes_validate does not ship, as paths with []
# for "every item". The API server (with those CRDs installed) is the final word; this catches a
# template that drops a whole block.
CUSTOM_KIND_REQUIRED: dict[tuple[str, str], list[str]] = {
    ("metacontroller.k8s.io/v1alpha1", "CompositeController"): [
        "metadata.name",
        "spec.parentResource.apiVersion",
        "spec.parentResource.resource",
        "spec.childResources[].apiVersion",
        "spec.childResources[].resource",
        "spec.childResources[].updateStrategy.method",
        "spec.hooks.sync.webhook.path",
        "spec.hooks.sync.webhook.service.name",
        "spec.hooks.sync.webhook.service.namespace",
    ],
    ("metacontroller.k8s.io/v1alpha1", "DecoratorController"): [
        "metadata.name",
        "spec.resources[].apiVersion",
        "spec.resources[].resource",
        "spec.hooks.sync.webhook.path",
        "spec.hooks.sync.webhook.service.name",
        "spec.hooks.sync.webhook.service.namespace",
    ],
    ("monitoring.coreos.com/v1", "ServiceMonitor"): [
        "metadata.name",
        "metadata.namespace",
        "spec.selector.matchLabels",
        "spec.endpoints[].port",
        "spec.endpoints[].path",
    ],
    ("monitoring.coreos.com/v1", "PrometheusRule"): [
        "metadata.name",
        "metadata.namespace",
        "spec.groups[].name",
        "spec.groups[].rules[].alert",
        "spec.groups[].rules[].expr",
        "spec.groups[].rules[].labels.severity",
        "spec.groups[].rules[].annotations.summary",
        "spec.groups[].rules[].annotations.description",
    ],
}
UPDATE_METHODS = {"OnDelete", "Recreate", "InPlace", "RollingRecreate", "RollingInPlace"}


def values_at(node: Any, path: str) -> Iterator[Any]:
    """Every value at `path` (a.b[].c); a missing key yields None so the caller can report it."""
    head, _, rest = path.partition(".")
    many = head.endswith("[]")
    key = head.removesuffix("[]")
    value = node.get(key) if isinstance(node, dict) else None
    items = (value or [None]) if many else [value]
    for item in items:
        if rest and item is not None:
            yield from values_at(item, rest)
        else:
            yield item


def custom_kind_problems(doc: Doc) -> list[str]:
    problems = [
        f"{path} is missing"
        for path in CUSTOM_KIND_REQUIRED[(doc["apiVersion"], doc["kind"])]
        if any(value in (None, "", [], {}) for value in values_at(doc, path))
    ]
    for method in values_at(doc, "spec.childResources[].updateStrategy.method"):
        if doc["kind"] == "CompositeController" and method not in UPDATE_METHODS:
            problems.append(f"unknown update method {method!r}")
    for expr in values_at(doc, "spec.groups[].rules[].expr"):
        if doc["kind"] == "PrometheusRule" and not balanced(str(expr)):
            problems.append(f"unbalanced brackets or quotes in {expr!r}")
    return problems


def balanced(expr: str) -> bool:
    """Brackets and double quotes pair up (outside quoted strings) in a PromQL expression."""
    closing = {")": "(", "]": "[", "}": "{"}
    stack: list[str] = []
    for part in re.split(r'("(?:[^"\\]|\\.)*")', expr):
        if part.startswith('"') and part.endswith('"') and len(part) > 1:
            continue
        if '"' in part:
            return False
        for char in part:
            if char in "([{":
                stack.append(char)
            elif char in closing and (not stack or stack.pop() != closing[char]):
                return False
    return not stack


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
@pytest.mark.parametrize("values", SCENARIOS, ids=lambda p: p.name)
def test_rendered_objects_are_valid(values: pathlib.Path, kube_version: str) -> None:
    docs = render(values, kube_version)
    assert docs
    problems = []
    for doc in docs:
        name = f"{doc['kind']}/{doc['metadata']['name']}"
        try:
            kubernetes_validate.validate(doc, kube_version, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            # Only the CRD-typed kinds we know of may lack a schema; anything else is a typo.
            if (doc["apiVersion"], doc["kind"]) not in CUSTOM_KIND_REQUIRED:
                problems.append(f"{name}: unknown kind {doc['apiVersion']} {doc['kind']}")
                continue
            problems += [f"{name}: {p}" for p in custom_kind_problems(doc)]
        except kubernetes_validate.ValidationError as error:
            problems.append(f"{name}: {error.message}")
    assert problems == []


def test_kubernetes_before_1_29_is_refused() -> None:
    result = run_helm("template", RELEASE, CHART, "--kube-version", "1.28.0")
    assert result.returncode != 0
    assert "kubeVersion" in result.stderr


def test_every_template_holds_one_kind() -> None:
    kinds_per_file: dict[str, set[str]] = {}
    monitoring = CHART / "ci" / "monitoring-enabled-values.yaml"
    result = run_helm("template", RELEASE, CHART, "--values", monitoring)
    for block in result.stdout.split("\n---\n"):
        source = re.search(r"^# Source: (\S+)$", block, re.MULTILINE)
        doc = yaml.safe_load(block)
        if source and doc:
            kinds_per_file.setdefault(source.group(1), set()).add(doc["kind"])
    assert len(kinds_per_file) >= 10
    assert {f: k for f, k in kinds_per_file.items() if len(k) != 1} == {}


# --- the hooks workload ------------------------------------------------------------------------


def test_hooks_deployment_is_highly_available_and_restricted() -> None:
    docs = render()
    deployment = only(docs, "Deployment")
    assert deployment["metadata"]["name"] == "database-operator-hooks"
    assert deployment["spec"]["replicas"] == 2
    pod = deployment["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    (container,) = pod["containers"]
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert container["command"] == ["python", "-m", "hooks"]
    assert container["args"][:5] == ["serve", "--host", "0.0.0.0", "--port", "8080"]
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["resources"]["requests"]
    assert container["resources"]["limits"]
    (spread,) = pod["topologySpreadConstraints"]
    assert spread["topologyKey"] == "kubernetes.io/hostname"
    assert spread["whenUnsatisfiable"] == "ScheduleAnyway"
    assert spread["labelSelector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]

    pdb = only(docs, "PodDisruptionBudget")
    assert pdb["spec"]["minAvailable"] == 1
    assert pdb["spec"]["selector"] == deployment["spec"]["selector"]
    account = only(docs, "ServiceAccount")
    assert account["automountServiceAccountToken"] is False
    assert pod["serviceAccountName"] == account["metadata"]["name"]
    assert not any(d["kind"] in ("Role", "RoleBinding") for d in docs)


def test_service_port_80_reaches_the_container_port_8080() -> None:
    docs = render()
    service, deployment = only(docs, "Service"), only(docs, "Deployment")
    assert service["metadata"]["name"] == "database-operator-hooks"
    assert service["metadata"]["namespace"] == "database-operator"
    (port,) = service["spec"]["ports"]
    assert (port["port"], port["targetPort"]) == (80, "http")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()


def test_custom_values_reach_the_pods() -> None:
    docs = render(CHART / "ci" / "custom-image-resources-values.yaml")
    deployment = only(docs, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == (
        "registry.example.com:5000/platform/database-operator-hooks@sha256:"
        + "0123456789abcdef" * 4
    )
    assert container["resources"]["limits"] == {"cpu": "1", "memory": "512Mi"}
    assert container["ports"][0]["containerPort"] == 9090
    assert deployment["spec"]["replicas"] == 3
    assert pod["serviceAccountName"] == "dbop-hooks-sa"
    assert pod["imagePullSecrets"] == [{"name": "registry-credentials"}]
    assert only(docs, "Service")["spec"]["ports"][0]["port"] == 8080
    binding = only(docs, "ClusterRoleBinding")
    assert binding["subjects"] == [
        {
            "kind": "ServiceAccount",
            "name": "metacontroller-controller",
            "namespace": "platform-metacontroller",
        }
    ]


# --- values.schema.json ------------------------------------------------------------------------

BAD_VALUES: list[tuple[str, Doc, str]] = [
    ("replicas-as-text", {"replicaCount": "two"}, "/replicaCount"),
    ("no-replicas", {"replicaCount": 0}, "/replicaCount"),
    ("unknown-top-level-key", {"replicas": 2}, "additional properties 'replicas' not allowed"),
    ("negative-service-port", {"service": {"port": -1}}, "/service/port"),
    ("port-out-of-range", {"containerPort": 70000}, "/containerPort"),
    ("privileged-container-port", {"containerPort": 80}, "/containerPort"),
    ("typo-in-nested-key", {"metrics": {"serviceMonitor": {"enable": True}}}, "'enable'"),
    ("unknown-pull-policy", {"image": {"pullPolicy": "Sometimes"}}, "/image/pullPolicy"),
    ("digest-not-sha256", {"image": {"digest": "latest"}}, "/image/digest"),
    ("tag-with-space", {"image": {"tag": "0.1 beta"}}, "/image/tag"),
    ("typo-in-resources", {"resources": {"requets": {"cpu": "1"}}}, "'requets'"),
    ("bad-quantity", {"resources": {"limits": {"memory": "lots"}}}, "/resources/limits/memory"),
    (
        "bad-namespace",
        {"metacontroller": {"serviceAccount": {"namespace": "Meta_Controller"}}},
        "/metacontroller/serviceAccount/namespace",
    ),
    (
        "unknown-spread-policy",
        {"topologySpread": {"whenUnsatisfiable": "Never"}},
        "/topologySpread/whenUnsatisfiable",
    ),
    (
        "interval-not-a-duration",
        {"metrics": {"serviceMonitor": {"interval": "30 seconds"}}},
        "/metrics/serviceMonitor/interval",
    ),
    (
        "backup-max-age-zero",
        {"metrics": {"prometheusRule": {"backupMaxAgeSeconds": 0}}},
        "/metrics/prometheusRule/backupMaxAgeSeconds",
    ),
    ("log-level", {"logLevel": "verbose"}, "/logLevel"),
    # Not a schema rule but the template's own check: a PDB nobody can satisfy blocks drains.
    (
        "pdb-blocks-drains",
        {"replicaCount": 2, "podDisruptionBudget": {"minAvailable": 2}},
        "must be below replicaCount",
    ),
]


@pytest.mark.parametrize(
    ("values", "message"), [c[1:] for c in BAD_VALUES], ids=[c[0] for c in BAD_VALUES]
)
def test_bad_values_are_refused(tmp_path: pathlib.Path, values: Doc, message: str) -> None:
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump(values))
    result = run_helm("template", RELEASE, CHART, "--values", path)
    assert result.returncode != 0, f"accepted: {values}"
    assert message in result.stderr


def closed_objects(schema: Any, path: str = "") -> Iterator[tuple[str, bool]]:
    """(path, closed) for every object node of the values schema that lists its properties."""
    if not isinstance(schema, dict):
        return
    if "properties" in schema:
        yield path or "<root>", schema.get("additionalProperties") is False
    for key, sub in schema.get("properties", {}).items():
        yield from closed_objects(sub, f"{path}.{key}")


def test_values_schema_is_strict() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    nodes = dict(closed_objects(schema))
    assert len(nodes) >= 10
    assert [path for path, closed in nodes.items() if not closed] == []
    # With the root closed, a key documented in values.yaml but missing from the schema would make
    # the chart's own defaults fail.
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    assert set(defaults) <= set(schema["properties"])


# --- agreement with metacontroller/, crds/ and the images ---------------------------------------

SERVICE_PLACEHOLDER = {"name": "<hooks service>"}


def without_service_references(doc: Doc) -> Doc:
    """The controller without its labels and with every webhook's Service replaced."""
    out = copy.deepcopy(doc)
    out["metadata"].pop("labels", None)
    for hook in out["spec"]["hooks"].values():
        hook["webhook"]["service"] = SERVICE_PLACEHOLDER
    return out


def service_references(doc: Doc) -> list[Doc]:
    return [hook["webhook"]["service"] for hook in doc["spec"]["hooks"].values()]


def chart_controllers(docs: tuple[Doc, ...]) -> list[Doc]:
    return sorted(
        (d for d in docs if d["kind"] in CONTROLLER_KINDS), key=lambda d: d["metadata"]["name"]
    )


def test_controllers_match_metacontroller_manifests_except_the_service() -> None:
    expected = sorted(
        load_yaml_documents(ROOT / "metacontroller" / "controllers.yaml"),
        key=lambda d: d["metadata"]["name"],
    )
    rendered = chart_controllers(render())
    assert [without_service_references(d) for d in rendered] == [
        without_service_references(d) for d in expected
    ]
    # Released as database-operator into database-operator, even the Service is the same.
    assert [service_references(d) for d in rendered] == [service_references(d) for d in expected]


def test_controllers_call_the_release_service(tmp_path: pathlib.Path) -> None:
    docs = render_values(tmp_path, {"service": {"port": 8080}}, release="ops", namespace="platform")
    service = only(docs, "Service")
    assert service["metadata"]["name"] == "ops-database-operator-hooks"
    expected = {
        "name": "ops-database-operator-hooks",
        "namespace": "platform",
        "port": 8080,
        "protocol": "http",
    }
    references = [ref for d in chart_controllers(docs) for ref in service_references(d)]
    assert len(references) == 5
    assert all(ref == expected for ref in references)


def test_rbac_matches_metacontroller_manifests(tmp_path: pathlib.Path) -> None:
    manifests = {d["kind"]: d for d in load_yaml_documents(ROOT / "metacontroller" / "rbac.yaml")}
    docs = render()
    role, binding = only(docs, "ClusterRole"), only(docs, "ClusterRoleBinding")
    assert role["rules"] == manifests["ClusterRole"]["rules"]
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == manifests["ClusterRoleBinding"]["subjects"]
    assert not any(
        d["kind"].startswith("ClusterRole")
        for d in render_values(tmp_path, {"rbac": {"create": False}})
    )


def test_chart_crds_are_byte_identical_to_crds() -> None:
    source = {p.name: p.read_bytes() for p in (ROOT / "crds").glob("*.yaml")}
    packaged = {p.name: p.read_bytes() for p in (CHART / "crds").iterdir()}
    assert source
    assert sorted(packaged) == sorted(source), "the chart's crds/ must hold exactly crds/*.yaml"
    stale = [name for name in source if packaged[name] != source[name]]
    assert stale == [], f"copy crds/{{{','.join(stale)}}} into {CHART / 'crds'}"


def project_version() -> str:
    version: str = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    return version


def test_image_versions_agree() -> None:
    version = project_version()
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert chart["appVersion"] == version
    assert values["image"]["tag"] == version
    assert values["image"]["repository"] == "database-operator/hooks"
    assert only(render(), "Deployment")["spec"]["template"]["spec"]["containers"][0]["image"] == (
        f"database-operator/hooks:{version}"
    )
    backup_image = f"database-operator/backup-runner:{version}"
    crd = yaml.safe_load((ROOT / "crds" / "databasebackups.yaml").read_text())
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert spec["properties"]["image"]["default"] == backup_image
    assert backup_image == DEFAULT_BACKUP_IMAGE


# The original project's samples stay exactly as they were (their images are the original's).
ORIGINAL_SAMPLES = {"databasecluster-sample.yaml", "databasebackup-manual.yaml"}


def test_samples_use_the_project_images() -> None:
    version = project_version()
    expected = {
        "DatabaseCluster": f"database-operator/database-service:{version}",
        "DatabaseBackup": f"database-operator/backup-runner:{version}",
    }
    images = [
        (path.name, doc["kind"], doc["spec"]["image"])
        for path in sorted((ROOT / "samples").rglob("*.yaml"))
        if path.name not in ORIGINAL_SAMPLES
        for doc in load_yaml_documents(path)
        if doc["kind"] in expected and "image" in doc.get("spec", {})
    ]
    assert any(kind == "DatabaseCluster" for _, kind, _ in images)
    assert [(name, image) for name, kind, image in images if image != expected[kind]] == []


# --- monitoring and NOTES ----------------------------------------------------------------------


def test_monitoring_is_off_by_default() -> None:
    kinds = {d["kind"] for d in render(CHART / "ci" / "default-values.yaml")}
    assert kinds.isdisjoint({"ServiceMonitor", "PrometheusRule"})


def test_monitoring_objects() -> None:
    docs = render(CHART / "ci" / "monitoring-enabled-values.yaml")
    monitor, service = only(docs, "ServiceMonitor"), only(docs, "Service")
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    assert monitor["spec"]["endpoints"][0]["port"] == service["spec"]["ports"][0]["name"]
    assert monitor["metadata"]["labels"]["release"] == "prometheus"

    rule = only(docs, "PrometheusRule")
    alerts = {r["alert"]: r for group in rule["spec"]["groups"] for r in group["rules"]}
    assert {
        "DatabaseBackupScheduledRunFailed",
        "DatabaseBackupManualRunFailed",
        "DatabaseBackupTooOld",
    } <= set(alerts)
    # The names the hooks give Jobs and CronJobs (hooks/names.py) are what the alerts match.
    assert 'cronjob=~".+-scheduled"' in alerts["DatabaseBackupScheduledRunFailed"]["expr"]
    assert "kube_cronjob_status_last_successful_time" in alerts["DatabaseBackupTooOld"]["expr"]
    assert "> 7200" in alerts["DatabaseBackupTooOld"]["expr"]
    assert 'job_name=~".+-manual-[0-9a-f]{8}"' in alerts["DatabaseBackupManualRunFailed"]["expr"]
    assert {
        a["labels"]["severity"] for a in alerts.values() if a["alert"].startswith("DatabaseBackup")
    } == {"warning"}
    # Prometheus' own templates survive Helm's: the annotations still hold {{ $labels.* }}.
    assert (
        "{{ $labels.databasebackup }}"
        in alerts["DatabaseBackupTooOld"]["annotations"]["description"]
    )


def test_alert_names_match_the_hooks_names() -> None:
    from hooks import names

    manual = re.compile(r".+-manual-[0-9a-f]{8}")
    assert manual.fullmatch(names.manual_job_name("nightly", "2026-11-20T10:00:00Z"))
    assert re.fullmatch(r".+-scheduled", names.cronjob_name("nightly"))


def test_notes_render(tmp_path: pathlib.Path) -> None:
    """NOTES.txt is only rendered by install/upgrade, which need a cluster: render it as a value of
    a throw-away template in a copy of the chart instead."""
    chart = tmp_path / "chart"
    shutil.copytree(CHART, chart)
    shutil.copy(chart / "templates" / "NOTES.txt", chart / "notes.txt")
    (chart / "templates" / "notes-preview.yaml").write_text(
        'kind: NotesPreview\ntext: {{ tpl (.Files.Get "notes.txt") . | toJson }}\n'
    )
    (doc,) = [d for d in render(chart=chart) if d["kind"] == "NotesPreview"]
    notes = doc["text"]
    for expected in (
        "kubectl apply -f samples/databasecluster-sample.yaml",
        "get dbc",
        "patch dbb",
        "port-forward service/database-operator-hooks 8080:80",
        "curl -s http://127.0.0.1:8080/healthz",
    ):
        assert expected in notes


# --- alerting rules, evaluated by Prometheus' own promtool ---------------------------------------


def test_alert_rules_pass_their_promtool_unit_tests(tmp_path: pathlib.Path) -> None:
    """The PrometheusRule's alerts fire on a failed or overdue backup and stay quiet on a run
    still active, a later success, a suspended schedule or a CronJob that is not ours."""
    promtool = tool_path("promtool")
    rule = only(render(CHART / "ci" / "monitoring-enabled-values.yaml"), "PrometheusRule")
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rule["spec"]))
    tests = ROOT / "tests" / "fixtures" / "promtool" / "prometheusrule-test.yaml"
    (tmp_path / "test.yaml").write_text(tests.read_text())
    for command in (["check", "rules", "rules.yaml"], ["test", "rules", "test.yaml"]):
        result = subprocess.run(
            [str(promtool), *command],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
