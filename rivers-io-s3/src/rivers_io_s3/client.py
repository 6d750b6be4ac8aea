"""Building the obstore ``S3Store`` of a handler or store: endpoint, retries, timeouts, credentials.

Credentials are never settings: they come from the standard AWS chain when
the client is built, in the process that uses it, so nothing secret is held
by the handler, its repr or its pickle.

* With boto3 installed (``rivers-io-s3[boto3]``), or when ``profile`` is
  given, botocore's chain: environment variables, the shared credentials
  and config files (``AWS_PROFILE`` / ``profile``), SSO, ``credential_process``,
  web identity (IRSA), ECS and EC2 instance roles; refreshed when they expire.
* Without boto3, obstore's chain: ``AWS_ACCESS_KEY_ID`` /
  ``AWS_SECRET_ACCESS_KEY`` / ``AWS_SESSION_TOKEN``, web identity (IRSA), ECS
  container credentials, EC2 instance metadata.

When the environment already holds an access key, obstore reads it itself
(the result is the same, and a worker process saves importing boto3).
"""

from __future__ import annotations

import datetime
import importlib.util
import os
from typing import Any

from rivers.exceptions import ConfigurationError

from rivers_io_s3.runtime import native

__all__ = ["ClientSettings", "build_store"]


class ClientSettings:
    """The connection settings shared by :class:`~rivers_io_s3.S3IOHandler` and :class:`~rivers_io_s3.S3Store`."""

    __slots__ = (
        "bucket", "endpoint_url", "region", "profile", "anonymous",
        "retries", "backoff_s", "timeout_s", "connect_timeout_s", "max_concurrency",
    )

    def __init__(
        self,
        bucket: str,
        endpoint_url: str | None,
        region: str | None,
        profile: str | None,
        anonymous: bool,
        retries: int,
        backoff_s: float,
        timeout_s: float,
        connect_timeout_s: float,
        max_concurrency: int,
        owner: str,
    ) -> None:
        if not isinstance(bucket, str) or not bucket:
            raise ConfigurationError(f"{owner} bucket must be a non-empty bucket name, got {bucket!r}")
        if "/" in bucket or "://" in bucket:
            raise ConfigurationError(
                f"{owner} bucket must be a bare bucket name, got {bucket!r}; put folders in prefix= "
                "and the server in endpoint_url="
            )
        if isinstance(endpoint_url, str) and "@" in endpoint_url.split("://", 1)[-1].split("/", 1)[0]:
            raise ConfigurationError(  # never echo the URL: it holds credentials
                f"{owner} endpoint_url must not contain credentials (user:password@); the client reads them "
                "from the environment, the shared AWS config or the instance role"
            )
        if endpoint_url is not None and (not isinstance(endpoint_url, str) or "://" not in endpoint_url):
            raise ConfigurationError(
                f"{owner} endpoint_url must be a URL such as 'https://s3.eu-west-1.amazonaws.com' "
                f"or 'http://127.0.0.1:9000', got {endpoint_url!r}"
            )
        for name, value in (("region", region), ("profile", profile)):
            if value is not None and (not isinstance(value, str) or not value):
                raise ConfigurationError(f"{owner} {name} must be a non-empty str or None, got {value!r}")
        if not isinstance(anonymous, bool):
            raise ConfigurationError(f"{owner} anonymous must be true or false, got {anonymous!r}")
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ConfigurationError(f"{owner} retries must be an int >= 0, got {retries!r}")
        if isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int) or max_concurrency < 1:
            raise ConfigurationError(f"{owner} max_concurrency must be an int >= 1, got {max_concurrency!r}")
        for name, seconds in (("backoff_s", backoff_s), ("timeout_s", timeout_s), ("connect_timeout_s", connect_timeout_s)):
            if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds <= 0:
                raise ConfigurationError(f"{owner} {name} must be a number of seconds > 0, got {seconds!r}")
        self.bucket, self.endpoint_url, self.region, self.profile = bucket, endpoint_url, region, profile
        self.anonymous, self.retries, self.backoff_s = anonymous, retries, float(backoff_s)
        self.timeout_s, self.connect_timeout_s = float(timeout_s), float(connect_timeout_s)
        self.max_concurrency = max_concurrency

    def where(self) -> str:
        """``bucket 'b' at http://...`` for messages."""
        return f"bucket {self.bucket!r}" + (f" at {self.endpoint_url}" if self.endpoint_url else "")


def _seconds(value: float) -> datetime.timedelta:
    return datetime.timedelta(seconds=value)


def _credential_provider(settings: ClientSettings) -> Any:
    """A boto3-backed provider, or ``None`` to let obstore read its own chain."""
    if settings.anonymous:
        return None
    wants_boto3 = settings.profile is not None
    if not wants_boto3 and (os.environ.get("AWS_ACCESS_KEY_ID") or importlib.util.find_spec("boto3") is None):
        return None
    try:
        import boto3
        from obstore.auth.boto3 import Boto3CredentialProvider
    except ImportError:
        raise ConfigurationError(
            f"profile={settings.profile!r} needs boto3 for the shared AWS config: pip install 'rivers-io-s3[boto3]'"
        ) from None
    session = boto3.Session(profile_name=settings.profile)
    if session.get_credentials() is None:
        if wants_boto3:
            raise ConfigurationError(
                f"the AWS profile {settings.profile!r} yields no credentials for {settings.where()}: "
                "check ~/.aws/config and ~/.aws/credentials (or run 'aws sso login')"
            )
        return None  # nothing in boto3's chain either: obstore tries instance metadata itself
    return Boto3CredentialProvider(session)


def build_store(settings: ClientSettings, prefix: str | None = None) -> Any:
    """A new ``obstore.store.S3Store`` for ``settings`` (one per process: it is not fork-safe)."""
    S3Store = native()._store.S3Store  # noqa: N806 - the class of this process's obstore
    config: dict[str, Any] = {}
    client_options: dict[str, Any] = {
        "timeout": _seconds(settings.timeout_s),
        "connect_timeout": _seconds(settings.connect_timeout_s),
    }
    if settings.endpoint_url:
        config["endpoint"] = settings.endpoint_url
        if settings.endpoint_url.startswith("http://"):
            client_options["allow_http"] = True
    region = settings.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if region:
        config["region"] = region
    if settings.anonymous:
        config["skip_signature"] = True
    retry_config = {
        "max_retries": settings.retries,
        "backoff": {"init_backoff": _seconds(settings.backoff_s), "max_backoff": _seconds(max(settings.backoff_s, 15.0))},
        "retry_timeout": _seconds(max(settings.timeout_s * (settings.retries + 1), 180.0)),
    }
    provider = _credential_provider(settings)
    return S3Store(
        settings.bucket,
        prefix=prefix or None,
        config=config,
        client_options=client_options,
        retry_config=retry_config,
        credential_provider=provider,
    )
