"""Storage on an S3-compatible endpoint (IBM Cloud Object Storage, AWS S3, MinIO) with `minio`.

- TLS is on unless `BACKUP_REPO_INSECURE=true`; the certificate is checked against the system CAs,
  certifi's bundle and, when given, `BACKUP_REPO_CA_BUNDLE`.
- Addressing: path-style when `BACKUP_REPO_PATH_STYLE=true`, else virtual-hosted
  (`bucket.endpoint`), except for an IP address or `localhost`, where only path-style can work.
- Uploads of unknown length are multipart in `PART_SIZE` pieces with at most `PARALLEL_UPLOADS`
  parts in flight, so memory stays flat whatever the size; when the data source raises, `minio`
  aborts the multipart upload and no object appears.
- Transient failures (refused connections, 5xx) are retried per request by urllib3, with
  exponential backoff, `BACKUP_RETRY_ATTEMPTS` times in all.
- Every `minio`/urllib3 exception is translated here into a `RunnerError` whose message names what
  to fix; the access keys appear in no message (they are only ever handed to the signer).
"""

from __future__ import annotations

import io
import ipaddress
import ssl
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, TypeVar, cast

import certifi
import urllib3
from minio import Minio
from minio.deleteobjects import DeleteObject
from minio.error import InvalidResponseError, S3Error, ServerError
from urllib3.exceptions import MaxRetryError, SSLError

from backup_runner import layout
from backup_runner.errors import Reason, RunnerError
from backup_runner.settings import Settings
from backup_runner.storage import Leftover, StoredObject

__all__ = ["PARALLEL_UPLOADS", "PART_SIZE", "S3Storage"]

# Memory holds about PARALLEL_UPLOADS + 2 parts (minio copies the part being filled once); 8 MiB
# parts allow objects up to 80 GiB (10,000 parts). Chosen by bench/backup.py: larger parts or more
# parallel uploads bought no throughput against the local MinIO, only memory.
PART_SIZE = 8 * 1024 * 1024
PARALLEL_UPLOADS = 3
_READ_PIECE = 1024 * 1024
_DELETE_BATCH = 1000

_CREDENTIAL_CODES = frozenset(
    {
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "InvalidToken",
        "ExpiredToken",
        "InvalidSecurity",
        "InvalidClientTokenId",
        "XMinioInvalidIAMCredentials",
    }
)
_PERMISSION_CODES = frozenset({"AccessDenied", "AllAccessDisabled", "AccountProblem"})

T = TypeVar("T")


class _ChunkReader:
    """The file-like `read(n)` that `put_object` wants, over an iterator of chunks.

    It answers each read with exactly `n` bytes (fewer only at the end): `minio` grows a part by
    concatenation, so one big read per part avoids copying it over and over.
    """

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._rest = b""

    def read(self, size: int = -1) -> bytes:
        pieces: list[bytes] = []
        have = 0
        while size < 0 or have < size:
            if self._rest:
                chunk, self._rest = self._rest, b""
            else:
                following = next(self._chunks, None)
                if following is None:
                    break
                chunk = following
            if size >= 0 and have + len(chunk) > size:
                cut = size - have
                chunk, self._rest = chunk[:cut], chunk[cut:]
            pieces.append(chunk)
            have += len(chunk)
        return b"".join(pieces)


def _ssl_context(ca_bundle: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.load_verify_locations(cafile=certifi.where())
    if ca_bundle is not None:
        context.load_verify_locations(cafile=ca_bundle)
    return context


def _is_literal_host(endpoint: str) -> bool:
    """Whether `host[:port]` names an IP address or localhost, which have no bucket subdomains."""
    if endpoint.startswith("["):
        host = endpoint[1 : endpoint.index("]")]
    else:
        host = endpoint.split(":", 1)[0]
    if host == "localhost":
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class _Target:
    """What messages may say about the endpoint: never the keys."""

    url: str
    bucket: str


class S3Storage:
    def __init__(self, client: Minio, bucket: str, url: str, region: str | None) -> None:
        self._client = client
        self._bucket = bucket
        self._target = _Target(url=url, bucket=bucket)
        self._region = region

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Storage:
        assert settings.repo_endpoint is not None
        assert settings.repo_access_key_id is not None
        assert settings.repo_secret_access_key is not None
        attempts = settings.retry_attempts
        retries = urllib3.Retry(
            total=attempts - 1,
            connect=attempts - 1,
            read=attempts - 1,
            status=attempts - 1,
            backoff_factor=settings.retry_delay.total_seconds(),
            backoff_max=30,
            status_forcelist=(500, 502, 503, 504),
            allowed_methods=None,  # S3 PUT/DELETE/POST of a part or a multipart are idempotent
            raise_on_status=False,  # hand the last 5xx to minio, which turns it into an S3Error
        )
        pool_options: dict[str, Any] = {
            "timeout": urllib3.Timeout(connect=10, read=120),
            "maxsize": PARALLEL_UPLOADS + 2,
            "retries": retries,
        }
        if not settings.repo_insecure:
            ca_bundle = str(settings.repo_ca_bundle) if settings.repo_ca_bundle else None
            pool_options["ssl_context"] = _ssl_context(ca_bundle)
            pool_options["cert_reqs"] = "CERT_REQUIRED"
        region = settings.repo_region or None
        try:
            client = Minio(
                settings.repo_endpoint,
                access_key=settings.repo_access_key_id.get_secret_value(),
                secret_key=settings.repo_secret_access_key.get_secret_value(),
                secure=not settings.repo_insecure,
                region=region,
                http_client=urllib3.PoolManager(**pool_options),
            )
        except ValueError as error:
            raise RunnerError(
                Reason.INVALID_CONFIGURATION,
                f"BACKUP_REPO_ENDPOINT/BACKUP_REPO_REGION: {error}",
            ) from None
        if settings.repo_path_style or _is_literal_host(settings.repo_endpoint):
            client.disable_virtual_style_endpoint()  # type: ignore[no-untyped-call]
        else:
            client.enable_virtual_style_endpoint()  # type: ignore[no-untyped-call]
        scheme = "http" if settings.repo_insecure else "https"
        bucket = layout.bucket_name(
            settings.repo_bucket_prefix, settings.namespace, settings.cluster
        )
        return cls(client, bucket, f"{scheme}://{settings.repo_endpoint}", region)

    @property
    def bucket(self) -> str:
        return self._bucket

    def ensure_bucket(self, *, create: bool) -> None:
        try:
            self._call(
                "listing the bucket",
                lambda: next(
                    iter(self._client.list_objects(self._bucket, prefix=layout.BACKUPS_PREFIX)),
                    None,
                ),
            )
            return
        except RunnerError as error:
            if not (error.reason is Reason.BACKUP_NOT_FOUND and create):
                raise
        try:
            self._client.make_bucket(self._bucket, location=self._region)
        except S3Error as error:
            if error.code == "BucketAlreadyOwnedByYou":  # another run created it meanwhile
                return
            if error.code == "BucketAlreadyExists":
                raise RunnerError(
                    Reason.PERMISSION_DENIED,
                    f"bucket {self._bucket} belongs to another account at "
                    f"{self._target.url}: choose another bucketNamePrefix for this repo",
                ) from None
            if error.code in _PERMISSION_CODES:
                raise RunnerError(
                    Reason.PERMISSION_DENIED,
                    f"bucket {self._bucket} does not exist at {self._target.url} and these "
                    "credentials may not create it: create the bucket, or grant the key "
                    "s3:CreateBucket",
                ) from None
            raise self._translate(error, f"creating bucket {self._bucket}") from None
        except Exception as error:
            raise self._translate(error, f"creating bucket {self._bucket}") from None

    def put_stream(self, key: str, chunks: Iterable[bytes]) -> None:
        self._call(
            f"uploading {key}",
            lambda: self._client.put_object(
                self._bucket,
                key,
                cast(BinaryIO, _ChunkReader(chunks)),
                length=-1,
                part_size=PART_SIZE,
                num_parallel_uploads=PARALLEL_UPLOADS,
                content_type="application/gzip",
            ),
        )

    def put_bytes(self, key: str, data: bytes) -> None:
        self._call(
            f"writing {key}",
            lambda: self._client.put_object(
                self._bucket,
                key,
                io.BytesIO(data),
                length=len(data),
                content_type="application/json",
            ),
        )

    def get_bytes(self, key: str) -> bytes:
        return b"".join(self.get_chunks(key))

    def get_chunks(self, key: str) -> Iterator[bytes]:
        action = f"downloading {key}"
        response = self._call(action, lambda: self._client.get_object(self._bucket, key))
        try:
            # `stream` is lazy: a dropped connection surfaces here, mid-iteration.
            yield from response.stream(_READ_PIECE)
        except Exception as error:
            raise self._translate(error, action) from None
        finally:
            response.close()
            response.release_conn()

    def size_of(self, key: str) -> int | None:
        try:
            stat = self._call(
                f"checking {key}", lambda: self._client.stat_object(self._bucket, key)
            )
        except RunnerError as error:
            if error.reason is Reason.BACKUP_NOT_FOUND:
                return None
            raise
        return int(stat.size) if stat.size is not None else None

    def list(self, prefix: str) -> Iterator[StoredObject]:
        action = f"listing {prefix} in bucket {self._bucket}"
        objects = self._client.list_objects(self._bucket, prefix=prefix, recursive=True)
        try:
            for item in objects:
                if not item.is_dir:
                    yield StoredObject(key=item.object_name, size=int(item.size or 0))
        except Exception as error:
            raise self._translate(error, action) from None

    def delete(self, keys: Iterable[str]) -> None:
        batch = [DeleteObject(key) for key in keys]
        for start in range(0, len(batch), _DELETE_BATCH):
            part = batch[start : start + _DELETE_BATCH]
            errors = self._call(
                "deleting old backups",
                lambda part=part: list(self._client.remove_objects(self._bucket, part)),  # type: ignore[misc]
            )
            if errors:
                first = errors[0]
                reason = (
                    Reason.PERMISSION_DENIED
                    if first.code in _PERMISSION_CODES
                    else Reason.STORAGE_ERROR
                )
                raise RunnerError(
                    reason,
                    f"could not delete {len(errors)} object(s) in bucket {self._bucket}, e.g. "
                    f"{first.name}: {first.code} ({first.message}); grant the key s3:DeleteObject",
                )

    def leftovers(self, prefix: str) -> Iterator[Leftover]:
        # MinIO answers ListMultipartUploads only for a whole key, or with no prefix at all (and
        # then only from memory, forgotten on restart): ask for a whole key as such, for a folder
        # without a prefix, and filter here.
        whole_key = not prefix.endswith("/")
        key_marker: str | None = None
        # Pages go by key; minio 7.2 drops the upload-id marker, so a bound on pages keeps a
        # pathological listing from looping.
        for _ in range(100):
            page = self._call(
                "listing unfinished uploads",
                lambda marker=key_marker: self._client._list_multipart_uploads(  # type: ignore[misc]
                    self._bucket, prefix=prefix if whole_key else None, key_marker=marker
                ),
            )
            for upload in page.uploads:
                if (
                    upload.object_name.startswith(prefix)
                    and upload.upload_id
                    and upload.initiated_time
                ):
                    yield Leftover(upload.object_name, upload.initiated_time, upload.upload_id)
            if not page.is_truncated or not page.next_key_marker:
                return
            key_marker = page.next_key_marker

    def discard(self, leftover: Leftover) -> None:
        self._call(
            f"aborting the unfinished upload of {leftover.key}",
            lambda: self._client._abort_multipart_upload(
                self._bucket, leftover.key, leftover.handle
            ),
        )

    def _call(self, action: str, operation: Callable[[], T]) -> T:
        try:
            return operation()
        except RunnerError:
            raise
        except Exception as error:
            raise self._translate(error, action) from None

    def _translate(self, error: Exception, action: str) -> RunnerError:
        url, bucket = self._target.url, self._target.bucket
        if isinstance(error, RunnerError):
            return error
        if isinstance(error, S3Error):
            code = error.code or ""
            if code in _CREDENTIAL_CODES:
                return RunnerError(
                    Reason.BAD_CREDENTIALS,
                    f"{url} rejected the access key while {action} ({code}): check the "
                    "HmacAccessKeyId and HmacSecretAccessKey in the repo's Secret",
                )
            if code in _PERMISSION_CODES:
                return RunnerError(
                    Reason.PERMISSION_DENIED,
                    f"access denied while {action} in bucket {bucket} at {url} ({code}): grant "
                    "the key s3:ListBucket, s3:GetObject, s3:PutObject and s3:DeleteObject on "
                    "the bucket (and s3:GetBucketLocation unless BACKUP_REPO_REGION is set)",
                )
            if code == "NoSuchBucket":
                return RunnerError(
                    Reason.BACKUP_NOT_FOUND,
                    f"bucket {bucket} does not exist at {url}: no backup was ever written for "
                    "this cluster to this repo",
                )
            if code == "NoSuchKey":
                return RunnerError(
                    Reason.BACKUP_NOT_FOUND,
                    f"object {error.object_name or ''} does not exist in bucket {bucket}",
                )
            if code == "AuthorizationHeaderMalformed":
                return RunnerError(
                    Reason.INVALID_CONFIGURATION,
                    f"{url} refused the request signature while {action} ({error.message}): "
                    "check BACKUP_REPO_REGION (the repo's cosRegion)",
                )
            return RunnerError(
                Reason.STORAGE_ERROR,
                f"storage at {url} failed while {action}: {code}: {error.message}",
            )
        if isinstance(error, ServerError):
            return RunnerError(
                Reason.STORAGE_ERROR,
                f"storage at {url} kept failing while {action} (HTTP {error.status_code}, "
                "retried): check the storage service's health",
            )
        if isinstance(error, InvalidResponseError):
            return RunnerError(
                Reason.STORAGE_ERROR,
                f"{url} does not answer like S3 storage while {action} ({error}): check "
                "BACKUP_REPO_ENDPOINT and whether it needs TLS (BACKUP_REPO_INSECURE)",
            )
        cause = error.reason if isinstance(error, MaxRetryError) else error
        if isinstance(cause, SSLError | ssl.SSLError):
            return RunnerError(
                Reason.TLS_VERIFICATION_FAILED,
                f"TLS with {url} failed while {action} ({cause}): if its certificate comes from "
                "a private CA, give that CA as BACKUP_REPO_CA_BUNDLE (the repo's tls.caConfigMap); "
                "if the endpoint speaks plain HTTP, set BACKUP_REPO_INSECURE=true",
            )
        if isinstance(error, urllib3.exceptions.HTTPError | OSError):
            return RunnerError(
                Reason.ENDPOINT_UNREACHABLE,
                f"cannot reach {url} while {action} ({type(cause).__name__}: {cause}): check "
                "BACKUP_REPO_ENDPOINT and that the storage service is up and reachable from the "
                "cluster",
                # A retried request surfaces as MaxRetryError: urllib3 has already waited it out.
                transient=not isinstance(error, MaxRetryError),
            )
        if isinstance(error, ValueError):
            return RunnerError(Reason.INVALID_CONFIGURATION, f"{action}: {error}")
        return RunnerError(
            Reason.STORAGE_ERROR, f"{action} failed: {type(error).__name__}: {error}"
        )
