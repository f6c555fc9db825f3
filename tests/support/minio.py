"""A real MinIO server on 127.0.0.1 for the backup tests: plain HTTP, or TLS with a throw-away CA.

`start_minio(directory)` runs the binary that `scripts/build-tools.sh` builds from MinIO's Go module
(`tool_path("minio")`: a missing binary fails the test and says how to build it) with a fresh data
directory, random root credentials and the web console off. The server can be stopped, killed and
started again on the same port and data (the fault tests need that). Fixtures:

- `minio_server`: one plain-HTTP server per test module.
- `fresh_minio`: a server of its own for one test (for tests that stop or break it).
- `minio_tls_server`: one TLS server per module, its certificate signed by a self-signed CA made
  with `openssl` (`ca_file` is the CA a client must be told to trust).

`runner_env()` gives the `BACKUP_REPO_*` variables that point `python -m backup_runner` at it.
"""

from __future__ import annotations

import dataclasses
import pathlib
import secrets
import ssl
import subprocess
import urllib.request
from collections.abc import Iterator

import pytest
import urllib3
from minio import Minio, MinioAdmin
from minio.credentials import StaticProvider

from tests.support.control_plane import ManagedProcess, free_port, wait_until
from tests.support.tools import tool_path

__all__ = [
    "MinioServer",
    "fresh_minio",
    "make_ca",
    "minio_server",
    "minio_tls_server",
    "start_minio",
]

LOCALHOST = "127.0.0.1"
_START_TIMEOUT = 60.0


@dataclasses.dataclass
class MinioServer:
    directory: pathlib.Path
    port: int
    access_key: str
    secret_key: str
    ca_file: pathlib.Path | None = None
    process: ManagedProcess | None = None

    @property
    def endpoint(self) -> str:
        return f"{LOCALHOST}:{self.port}"

    @property
    def secure(self) -> bool:
        return self.ca_file is not None

    @property
    def url(self) -> str:
        return f"{'https' if self.secure else 'http'}://{self.endpoint}"

    @property
    def certs_dir(self) -> pathlib.Path:
        return self.directory / "certs"

    def start(self) -> MinioServer:
        data = self.directory / "data"
        data.mkdir(parents=True, exist_ok=True)
        args = [str(tool_path("minio")), "server", str(data), "--address", self.endpoint, "--quiet"]
        args += [
            "--console-address",
            f"{LOCALHOST}:{free_port()}",
            "--certs-dir",
            str(self.certs_dir),
        ]
        env = {
            "MINIO_ROOT_USER": self.access_key,
            "MINIO_ROOT_PASSWORD": self.secret_key,
            "MINIO_BROWSER": "off",
            "MINIO_UPDATE": "off",
            "HOME": str(self.directory),
            "PATH": "/usr/bin:/bin",
        }
        self.process = ManagedProcess("minio", args, self.directory / "minio.log", env=env).start()
        wait_until(
            f"MinIO on {self.url}",
            self._live,
            timeout=_START_TIMEOUT,
            diagnose=self.process.describe_failure,
        )
        return self

    def _live(self) -> bool:
        if self.process is not None and not self.process.running():
            raise RuntimeError(self.process.describe_failure())
        context = ssl.create_default_context(cafile=str(self.ca_file)) if self.ca_file else None
        with urllib.request.urlopen(
            f"{self.url}/minio/health/ready", timeout=2, context=context
        ) as response:
            return bool(response.status == 200)

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()

    def kill(self) -> None:
        """SIGKILL: the server vanishes mid-request, as on a node failure."""
        if self.process is not None and self.process.popen is not None:
            self.process.popen.kill()
            self.process.popen.wait()
            self.process.stop()

    def _http(self) -> urllib3.PoolManager:
        if self.ca_file is None:
            return urllib3.PoolManager()
        return urllib3.PoolManager(cert_reqs="CERT_REQUIRED", ca_certs=str(self.ca_file))

    def client(self, access_key: str | None = None, secret_key: str | None = None) -> Minio:
        return Minio(
            self.endpoint,
            access_key=access_key or self.access_key,
            secret_key=secret_key or self.secret_key,
            secure=self.secure,
            http_client=self._http(),
        )

    def admin(self) -> MinioAdmin:
        return MinioAdmin(
            endpoint=self.endpoint,
            credentials=StaticProvider(self.access_key, self.secret_key),
            secure=self.secure,
            http_client=self._http(),
        )

    def add_user(self, name: str, policy: dict[str, object]) -> tuple[str, str]:
        """A user holding only `policy` (an IAM policy document); returns its keys."""
        secret = secrets.token_hex(16)
        admin = self.admin()
        admin.user_add(name, secret)
        admin.policy_add(f"{name}-policy", policy=policy)
        admin.attach_policy([f"{name}-policy"], user=name)
        return name, secret

    def runner_env(self, **overrides: str) -> dict[str, str]:
        """The `BACKUP_REPO_*` variables for this server (path-style: there is no bucket DNS)."""
        env = {
            "BACKUP_REPO_TYPE": "s3",
            "BACKUP_REPO_ENDPOINT": self.endpoint,
            "BACKUP_REPO_REGION": "us-east-1",
            "BACKUP_REPO_PATH_STYLE": "true",
            "BACKUP_REPO_INSECURE": "false" if self.secure else "true",
            "BACKUP_REPO_ACCESS_KEY_ID": self.access_key,
            "BACKUP_REPO_SECRET_ACCESS_KEY": self.secret_key,
        }
        if self.ca_file is not None:
            env["BACKUP_REPO_CA_BUNDLE"] = str(self.ca_file)
        env.update(overrides)
        return env


def _openssl(*args: str) -> None:
    result = subprocess.run(["openssl", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed:\n{result.stderr}")


def make_ca(directory: pathlib.Path) -> pathlib.Path:
    """A self-signed CA and, in `directory/certs`, MinIO's pair for 127.0.0.1; returns the CA."""
    certs = directory / "certs"
    certs.mkdir(parents=True, exist_ok=True)
    ca_key, ca_crt = directory / "ca.key", directory / "ca.crt"
    ec_key = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes")
    _openssl(
        "req", "-x509", *ec_key, "-keyout", str(ca_key), "-out", str(ca_crt), "-days", "2",
        "-subj", "/CN=backup-test-ca",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    csr = directory / "server.csr"
    _openssl(
        "req", "-new", *ec_key, "-keyout", str(certs / "private.key"), "-out", str(csr),
        "-subj", "/CN=127.0.0.1",
    )  # fmt: skip
    extensions = directory / "server.ext"
    extensions.write_text(
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature\n"
        "extendedKeyUsage=serverAuth\n"
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
    )
    _openssl(
        "x509", "-req", "-in", str(csr), "-CA", str(ca_crt), "-CAkey", str(ca_key),
        "-CAcreateserial", "-out", str(certs / "public.crt"), "-days", "2",
        "-extfile", str(extensions),
    )  # fmt: skip
    return ca_crt


def start_minio(directory: pathlib.Path, *, tls: bool = False) -> MinioServer:
    directory.mkdir(parents=True, exist_ok=True)
    server = MinioServer(
        directory=directory,
        port=free_port(),
        access_key=f"root-{secrets.token_hex(4)}",
        secret_key=secrets.token_hex(20),
        ca_file=make_ca(directory) if tls else None,
    )
    server.certs_dir.mkdir(parents=True, exist_ok=True)
    return server.start()


@pytest.fixture(scope="module")
def minio_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MinioServer]:
    server = start_minio(tmp_path_factory.mktemp("minio"))
    yield server
    server.stop()


@pytest.fixture
def fresh_minio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MinioServer]:
    server = start_minio(tmp_path_factory.mktemp("minio"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def minio_tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MinioServer]:
    server = start_minio(tmp_path_factory.mktemp("minio-tls"), tls=True)
    yield server
    server.stop()
