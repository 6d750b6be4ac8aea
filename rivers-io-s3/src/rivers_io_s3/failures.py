"""What went wrong talking to S3: turning client exceptions into the errors of :mod:`rivers_io_s3.errors`.

obstore reports most failures as one ``GenericError`` whose text says what
happened (a refused connection, a timeout, a dropped connection, the status
and S3 error code of the last answer after the retries). :func:`translate`
reads that, picks the specific error and writes a message naming the
bucket, the key and what to check. The client's text is kept only as a
short ``detail`` with anything credential-like removed.
"""

from __future__ import annotations

import os
import re
from typing import Any

from rivers_io_s3.errors import (
    S3AccessDeniedError,
    S3BucketNotFoundError,
    S3ConnectionError,
    S3IOHandlerError,
    S3TimeoutError,
    S3ValueNotFoundError,
)

__all__ = ["redact", "translate"]

_SECRET_QUERY = re.compile(r"(?i)(X-Amz-(?:Credential|Signature|Security-Token)=)[^&\s\"']+")
_AUTHORIZATION = re.compile(r"(?i)(authorization[\"']?\s*[:=]\s*[\"']?)[^\"'\n]+")
_SECRET_ENV = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID")
_STATUS = re.compile(r"status code: (\d{3})")
_S3_CODE = re.compile(r"<Code>([A-Za-z]+)</Code>")
_DETAIL_LIMIT = 300


def redact(text: str) -> str:
    """``text`` without signatures, authorization headers or the environment's AWS secrets."""
    text = _SECRET_QUERY.sub(r"\1<redacted>", text)
    text = _AUTHORIZATION.sub(r"\1<redacted>", text)
    for name in _SECRET_ENV:
        value = os.environ.get(name)
        if value and len(value) >= 4:
            text = text.replace(value, "<redacted>")
    return text


def _detail(text: str) -> str:
    first = text.split("\n\nDebug source", 1)[0].strip().splitlines()[0] if text.strip() else ""
    first = redact(first.split(": <?xml", 1)[0].split(": <Error>", 1)[0])
    code = _S3_CODE.search(text)
    if code and code.group(1) not in first:
        first += f" ({code.group(1)})"
    return first if len(first) <= _DETAIL_LIMIT else first[: _DETAIL_LIMIT - 3] + "..."


def translate(
    exc: BaseException,
    *,
    action: str,
    bucket: str,
    key: str | None,
    endpoint: str | None,
    what: str,
    retries: int,
    timeout_s: float,
    asset: str | None = None,
    partition: Any = None,
) -> S3IOHandlerError:
    """The specific error for ``exc``, raised while ``action`` ("write", "read") ``what`` at ``bucket``/``key``."""
    if isinstance(exc, S3IOHandlerError):
        return exc
    text = str(exc)
    kind = type(exc).__name__
    status_match = _STATUS.search(text)
    status = int(status_match.group(1)) if status_match else None
    code_match = _S3_CODE.search(text)
    code = code_match.group(1) if code_match else None
    where = f"s3://{bucket}/{key}" if key else f"s3://{bucket}"
    server = endpoint or "AWS S3"
    preposition = "to" if action == "write" else "from"
    head = f"cannot {action} {what} {preposition} {where}"
    fields: dict[str, Any] = {
        "bucket": bucket, "key": key, "asset": asset, "partition": partition, "detail": _detail(text)
    }
    tries = f"after {retries + 1} attempt{'s' if retries else ''}"

    if code == "NoSuchBucket" or (status == 404 and action == "write"):
        return S3BucketNotFoundError(
            f"{head}: the bucket {bucket!r} does not exist on {server}; create it, or check bucket=, "
            "endpoint_url= and region=",
            **fields,
        )
    if isinstance(exc, FileNotFoundError) or kind == "NotFoundError" or status == 404:
        return S3ValueNotFoundError(
            f"no stored value for {what}: s3://{bucket}/{key} does not exist; it has not been materialised "
            "with this handler (same bucket, prefix and format) yet",
            **fields,
        )
    if kind in ("PermissionDeniedError", "UnauthenticatedError") or status in (401, 403):
        needed = "s3:PutObject (and s3:AbortMultipartUpload)" if action == "write" else "s3:GetObject"
        return S3AccessDeniedError(
            f"{head}: access denied{f' ({code})' if code else ''}; check the credentials this process "
            f"uses (AWS_PROFILE / profile=, AWS_ACCESS_KEY_ID, the instance or pod role) and that they "
            f"allow {needed} on arn:aws:s3:::{bucket}/{key or '*'}",
            **fields,
        )
    if "kind: Timeout" in text or "TimedOut" in text or "timed out" in text:
        return S3TimeoutError(
            f"{head}: {server} did not answer within timeout_s={timeout_s:g} s ({tries}); check the "
            "server's health and the network, or raise timeout_s=",
            **fields,
        )
    if "kind: Connect" in text or "ConnectionRefused" in text or "dns error" in text:
        return S3ConnectionError(
            f"{head}: cannot connect to {server} ({tries}); check endpoint_url= and region=, that the "
            "server is running and reachable from this machine",
            **fields,
        )
    if status is not None and status >= 500:
        return S3ConnectionError(
            f"{head}: {server} kept answering {status}{f' {code}' if code else ''} ({tries}); the "
            "service is failing or throttling: retry later, or raise retries= / backoff_s=",
            **fields,
        )
    if "IncompleteMessage" in text or "connection closed" in text.lower() or "reset" in text.lower() \
            or "error sending request" in text or "error decoding response body" in text:
        stored = " (nothing was stored: the previous value is intact)" if action == "write" else ""
        return S3ConnectionError(
            f"{head}: the connection to {server} was dropped ({tries}){stored}; check the network "
            "and the server's logs",
            **fields,
        )
    return S3IOHandlerError(f"{head}: {type(exc).__name__}: {fields['detail']}", **fields)
