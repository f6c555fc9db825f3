"""`make demo`: the whole system running locally, with no cluster, in about a minute.

What a platform engineer would see on a cluster, done with local processes on 127.0.0.x:

1. the hooks serve over HTTP, as Metacontroller calls them;
2. the sample DatabaseCluster is sent to the sync hook, and the pods of the StatefulSet it returns
   run as local processes (command and env exactly as rendered): a leader and a follower;
3. a person is written through the leader Service and read back from the follower;
4. a backup runs: the Job the backup hook renders, run as a process, into MinIO when it is built
   (`make tools`) or else into a filesystem repo;
5. a new cluster is rendered with `spec.restore`; its init container restores the leader, then the
   cluster starts and serves the same people;
6. a summary, with the commands to try next. Everything started is stopped and removed at the end.
"""

from __future__ import annotations

import json
import pathlib
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import httpx
import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.local_pods import LocalPods, local_pods  # noqa: E402
from tests.support.processes import hooks_server  # noqa: E402

NAMESPACE = "database"
SECRET = "demo-repo"  # noqa: S105 - the name of a Secret, not its value


def step(text: str) -> None:
    print(f"\n==> {text}", flush=True)


def post(url: str, body: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(url, json=body, timeout=10)
    response.raise_for_status()
    answer: dict[str, Any] = response.json()
    return answer


def sample(name: str, kind: str) -> dict[str, Any]:
    for doc in yaml.safe_load_all((ROOT / "samples" / name).read_text()):
        if isinstance(doc, dict) and doc.get("kind") == kind:
            return doc
    raise LookupError(f"{kind} not in samples/{name}")


def with_identity(parent: dict[str, Any], uid: str) -> dict[str, Any]:
    """What the API server adds to an applied resource and Metacontroller sends along."""
    metadata = {**parent["metadata"], "uid": uid, "generation": 1}
    metadata["creationTimestamp"] = "2026-01-01T00:00:00Z"
    return {**parent, "metadata": metadata}


def related(kind: str, *objects: dict[str, Any]) -> dict[str, Any]:
    group = {f"{NAMESPACE}/{o['metadata']['name']}": o for o in objects}
    return {f"{kind}.database.sample.third.party/v1alpha1": group}


def the(kind: str, children: list[dict[str, Any]]) -> dict[str, Any]:
    return next(c for c in children if c["kind"] == kind)


def start_pods(pods: LocalPods, sts: dict[str, Any]) -> list[str]:
    names = pods.add_statefulset(sts)
    for name in names:  # OrderedReady: the leader first
        argv, env = pods.command(sts["spec"]["template"], "database", name)
        pods.start(name, argv, env, ready_path="/readyz")
        role = "leader" if name.endswith("-0") else "follower"
        print(f"    pod {name} runs at {pods.url(name)} ({role})")
    return names


def wait_for(check: Any, what: str, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise TimeoutError(what)


@contextmanager
def storage(work: pathlib.Path) -> Iterator[tuple[dict[str, Any], dict[str, dict[str, str]], str]]:
    """A repo for the demo's backups: MinIO if it is built, else a volume (filesystem repo)."""
    from tests.support.tools import ToolMissingError, tool_path

    try:
        tool_path("minio")
    except ToolMissingError:
        repo = {"name": "local-repo", "type": "filesystem", "claimName": "demo-backups"}
        yield repo, {}, "a filesystem repo (run `make tools` to use MinIO)"
        return
    from tests.support.minio import start_minio

    server = start_minio(work / "minio")
    try:
        repo = {
            "name": "minio-repo",
            "type": "s3",
            "secretName": SECRET,
            "serviceEndpoint": server.endpoint,
            "bucketNamePrefix": "demo-",
            "pathStyle": True,
            "tls": {"insecure": True},
        }
        keys = {"HmacAccessKeyId": server.access_key, "HmacSecretAccessKey": server.secret_key}
        yield repo, {SECRET: keys}, f"MinIO at {server.endpoint}"
    finally:
        server.stop()


def main() -> int:
    started = time.monotonic()
    with ExitStack() as stack:
        work = pathlib.Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="db-demo-")))
        step("Serving the hooks (python -m hooks serve)")
        hooks = stack.enter_context(hooks_server())
        print(f"    hooks at {hooks}: {httpx.get(hooks + '/healthz').json()}")
        pods = stack.enter_context(local_pods(work / "pods", NAMESPACE))

        step("Sync hook: samples/databasecluster-sample.yaml")
        source = with_identity(sample("databasecluster-sample.yaml", "DatabaseCluster"), "uid-a")
        answer = post(f"{hooks}/sync/databasecluster", {"parent": source, "children": {}})
        for child in answer["children"]:
            print(f"    {child['kind']} {child['metadata']['name']}")
        names = start_pods(pods, the("StatefulSet", answer["children"]))

        step("Write through the leader, read from a follower")
        leader, follower = pods.url(names[0]), pods.url(names[1])
        person = post(f"{leader}/persons", {"firstName": "Grace", "lastName": "Hopper"})
        read = wait_for(
            lambda: httpx.get(f"{follower}/persons/{person['id']}").status_code == 200,
            "the follower did not replicate the write",
        )
        people = httpx.get(f"{follower}/persons").json()
        print(
            f"    wrote {person['firstName']} {person['lastName']} ({person['id']}) on {names[0]}"
        )
        print(f"    read it back from {names[1]}: {bool(read)}; it holds {len(people)} people")

        repo, secrets, where = stack.enter_context(storage(work))
        step(f"Backup: the Job the backup hook renders, into {where}")
        backup = with_identity(sample("databasebackup-manual.yaml", "DatabaseBackup"), "uid-b")
        backup["spec"] = {
            **backup["spec"],
            "repos": [repo],
            "manualTrigger": {"time": "demo", "repo": repo["name"]},
            "scheduledTrigger": {"schedule": "0 0 * * *", "repo": repo["name"]},
        }
        rendered = post(
            f"{hooks}/sync/databasebackup",
            {"parent": backup, "related": related("DatabaseCluster", source)},
        )
        backup["status"] = rendered["status"]
        job = the("Job", rendered["children"])
        argv, env = pods.command(job["spec"]["template"], "backup", "backup-job", secrets)
        run = pods.run(argv, env)
        if run.returncode != 0:
            print(run.stdout, run.stderr, file=sys.stderr)
            return 1
        report = json.loads(pods.pod("backup-job").termination_log.read_text())
        print(f"    job {job['metadata']['name']}: {report['result']}, {report['records']} records")
        size, digest = report["bytes"], report["sha256"][:12]
        print(f"    object {report['objectKey']} ({size} bytes, sha256 {digest}...)")
        print(f"    read from {report['sourcePod']} at sequence {report['sequence']}")

        step("Restore: a new cluster with spec.restore")
        copy = with_identity(sample("databasecluster-sample.yaml", "DatabaseCluster"), "uid-c")
        copy["metadata"]["name"] = "databasecluster-restored"
        copy["spec"] = {**copy["spec"], "restore": {"backup": backup["metadata"]["name"]}}
        answer = post(
            f"{hooks}/sync/databasecluster",
            {"parent": copy, "related": related("DatabaseBackup", backup)},
        )
        sts = the("StatefulSet", answer["children"])
        for name in pods.add_statefulset(sts):
            argv, env = pods.command(sts["spec"]["template"], "restore", name, secrets, init=True)
            outcome = pods.run(argv, env)
            result = json.loads(pods.pod(name).termination_log.read_text())
            said = f"{result['result']} {result.get('reason', '')}".rstrip()
            print(f"    init container of {name}: {said}")
            if outcome.returncode != 0:
                print(outcome.stdout, outcome.stderr, file=sys.stderr)
                return 1
        restored = start_pods(pods, sts)
        same = httpx.get(f"{pods.url(restored[1])}/persons").json() == people
        print(f"    the restored cluster serves the same {len(people)} people: {same}")
        if not same:
            return 1

    step(f"Done in {time.monotonic() - started:.0f}s; everything started was stopped and removed.")
    print(
        "\nTry next:\n"
        "  make serve                                   # the hooks on 127.0.0.1:8080\n"
        "  curl -s -X POST localhost:8080/sync/databasecluster \\\n"
        "       -d @tests/fixtures/sync-databasecluster-v2-observed.json | python -m json.tool\n"
        "  python -m hooks render samples/*.yaml          # the children of every sample\n"
        "  make test                                    # the whole suite\n"
        "  helm install database-operator charts/database-operator   # on a real cluster\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
