"""rivers-io-s3 as an installed plugin: entry point, lazy loading, rs.io_handler, rivers.toml, the CLI, workers."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import textwrap

import pytest

import rivers as rs
import rivers.plugins
from rivers.config import ProjectConfig
from rivers.exceptions import ConfigurationError

import rivers_io_s3
from rivers_io_s3 import S3IOHandler
from s3_support import BUCKET, prefix_for


def _environ(endpoint: str, **extra: str) -> dict[str, str]:
    environ = {key: value for key, value in os.environ.items() if not key.startswith("RIVERS_")}
    environ.update(PYTHONIOENCODING="utf-8", S3_ENDPOINT=endpoint, **extra)
    return environ


def _stored(moto_server, key: str) -> bytes:
    client = moto_server.client()
    try:
        return client.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    except client.exceptions.NoSuchKey:
        listing = client.list_objects_v2(Bucket=BUCKET, Prefix=key.split("/", 2)[0] + "/" + key.split("/", 2)[1])
        raise AssertionError(f"{key} not stored; stored: {[o['Key'] for o in listing.get('Contents', [])]}") from None


def test_entry_point_provides_s3():
    assert rivers.plugins.io_handler_class("s3") is S3IOHandler
    info = next(p for p in rivers.plugins.list_plugins() if p.distribution == "rivers-io-s3")
    assert info.version == rivers_io_s3.__version__
    assert not [b for b in rivers.plugins.broken_plugins() if b.distribution == "rivers-io-s3"]


def test_loading_the_entry_point_imports_no_client_library():
    # every rivers process loads the entry point; obstore (and boto3) wait until an s3 client is needed
    script = textwrap.dedent("""
        import json, os, sys, tempfile
        os.chdir(tempfile.mkdtemp())
        import rivers as rs

        def loaded():
            return sorted(name for name in sys.modules if name.startswith(("rivers_io_s3", "obstore", "boto")))

        @rs.Asset
        def a():
            return 1

        assert rs.CodeRepository(assets=[a]).materialize().success
        after_run = loaded()
        rs.io_handler("fs", base_dir="data")   # a lookup of another handler builds no client either
        after_lookup = loaded()
        handler = rs.io_handler("s3", bucket="b", endpoint_url="http://127.0.0.1:1")
        print(json.dumps([after_run, after_lookup, loaded(), type(handler).__name__]))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    after_run, after_lookup, after_constructor, handler = json.loads(out.stdout.strip().splitlines()[-1])
    assert after_run == ["rivers_io_s3", "rivers_io_s3.plugin", "rivers_io_s3.runtime"]  # the fork hook only
    for names in (after_lookup, after_constructor):
        assert not [name for name in names if name.startswith(("obstore", "boto"))], names
    assert handler == "S3IOHandler"


def test_rs_io_handler_builds_a_configured_handler(endpoint):
    handler = rs.io_handler("s3", bucket=BUCKET, prefix="/p/q/", endpoint_url=endpoint, region="eu-west-1",
                            format="json", retries=5)
    assert isinstance(handler, S3IOHandler)
    assert (handler.bucket, handler.prefix, handler.format, handler.retries) == (BUCKET, "/p/q/", "json", 5)
    assert repr(handler).startswith(f"S3IOHandler(bucket={BUCKET!r}, prefix='/p/q/', endpoint_url={endpoint!r}")


def test_bad_settings_are_configuration_errors():
    with pytest.raises(TypeError, match=r"unknown setting\(s\) \['buckt'\]"):
        rs.io_handler("s3", buckt="b")
    with pytest.raises(TypeError, match="requires the setting 'bucket'"):
        rs.io_handler("s3")
    with pytest.raises(ConfigurationError, match="bare bucket name.*prefix="):
        S3IOHandler(bucket="s3://data/x")
    with pytest.raises(ConfigurationError, match="retries must be an int >= 0"):
        S3IOHandler(bucket="data", retries=-1)
    with pytest.raises(ConfigurationError, match="endpoint_url must be a URL"):
        S3IOHandler(bucket="data", endpoint_url="localhost")
    with pytest.raises(ConfigurationError, match="unknown serialisation format 'yaml'"):
        S3IOHandler(bucket="data", format="yaml")


def test_endpoint_with_credentials_is_refused_without_echoing_them():
    with pytest.raises(ConfigurationError) as info:
        S3IOHandler(bucket="data", endpoint_url="http://AKIDEXAMPLE:s3cr3tvalue@127.0.0.1:9000")
    assert "s3cr3tvalue" not in str(info.value) and "AKIDEXAMPLE" not in str(info.value)


def test_rivers_toml_selects_the_s3_handler(tmp_path, endpoint):
    (tmp_path / "rivers.toml").write_text(
        f'[io_handler]\nname = "s3"\nbucket = "{BUCKET}"\nprefix = "toml"\nendpoint_url = "{endpoint}"\nformat = "json"\n'
    )
    handler = ProjectConfig.load(tmp_path).make_io_handler()
    assert isinstance(handler, S3IOHandler)
    assert (handler.bucket, handler.prefix, handler.endpoint_url, handler.format) == (BUCKET, "toml", endpoint, "json")


def test_cli_lists_the_plugin(tmp_path):
    result = subprocess.run([sys.executable, "-m", "rivers.cli", "plugins"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=120, env=_environ(""))
    assert result.returncode == 0, result.stderr
    assert f"s3  (rivers-io-s3 {rivers_io_s3.__version__})" in result.stdout
    section = result.stdout.split("s3  (rivers-io-s3", 1)[1]
    assert "IO handlers:  s3" in section.split("\n\n", 1)[0]


def test_cli_materialize_persists_through_rivers_toml(tmp_path, moto_server):
    (tmp_path / "pipeline.py").write_text(textwrap.dedent("""
        import rivers as rs

        @rs.Asset
        def orders() -> list[int]:
            return [1, 2, 3]

        @rs.Asset
        def revenue(orders: list[int]) -> int:
            return sum(orders)
    """))
    prefix = prefix_for(tmp_path)
    (tmp_path / "rivers.toml").write_text(
        f'[io_handler]\nname = "s3"\nbucket = "{BUCKET}"\nprefix = "{prefix}"\n'
        f'endpoint_url = "{moto_server.endpoint_url}"\n'
    )
    result = subprocess.run([sys.executable, "-m", "rivers.cli", "materialize", "pipeline.py"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120, env=_environ(moto_server.endpoint_url))
    assert result.returncode == 0, result.stdout + result.stderr
    assert pickle.loads(_stored(moto_server, f"{prefix}/revenue.pkl")) == 6
    assert pickle.loads(_stored(moto_server, f"{prefix}/orders.pkl")) == [1, 2, 3]
    assert "testing" not in result.stdout + result.stderr  # the credentials never reach the output


PIPELINE = textwrap.dedent("""
    import os
    import rivers as rs
    from rivers_io_s3 import S3IOHandler

    data = S3IOHandler(bucket=os.environ["S3_BUCKET"], prefix=os.environ["S3_PREFIX"],
                       endpoint_url=os.environ["S3_ENDPOINT"])

    @rs.Asset(io_handler=data)
    def orders() -> list:
        return [os.getpid(), 1, 2]

    @rs.Asset(io_handler=data)
    def customers() -> list:
        return [os.getpid()]

    @rs.Asset(io_handler=data)
    def report(orders: list, customers: list) -> dict:
        return {"pids": [orders[0], customers[0], os.getpid()], "total": sum(orders[1:])}

    @rs.Asset(io_handler=data, partitions_def=rs.PartitionsDefinition.static_(["a/b", "c", "d"]))
    def parts(context: rs.AssetExecutionContext) -> str:
        return f"part {context.partition_key}"

    @rs.Asset(io_handler=data)
    def counter(self: rs.SelfDependency[int]) -> int:
        return (self.get_inner() or 0) + 1
""")

RUN = textwrap.dedent("""
    import json, os
    import rivers as rs
    import pipeline

    if __name__ == "__main__":
        # the controller talks to S3 before the workers start: forked workers must not inherit its client
        from rivers.testing.io_handlers import load_value, write_value
        write_value(pipeline.data, "warmup", 1)
        assert load_value(pipeline.data, "warmup") == 1
        repo = rs.CodeRepository(
            assets=[pipeline.orders, pipeline.customers, pipeline.report, pipeline.counter, pipeline.parts],
            default_executor=rs.Executor.parallel(max_workers=2),
        )
        repo.resolve(rs.Storage.memory())
        ok = [repo.materialize(selection=["orders", "customers", "report", "counter"]).success for _ in range(2)]
        ok += [repo.materialize(selection=["parts"], partition_key=key).success for key in ("a/b", "c")]
        events = [repo.storage.get_latest_materialization(name) for name in ("report", "counter")]
        print(json.dumps({"ok": ok, "report": repo.load_node("report"), "counter": repo.load_node("counter"),
                          "pid": os.getpid(), "metadata": [dict(e.metadata) for e in events]}, default=str))
""")


@pytest.mark.skipif(not hasattr(rs.Executor, "parallel"), reason="no parallel executor in this core")
@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_parallel_executor_exchanges_values_through_s3_between_workers(tmp_path, moto_server, start_method):
    (tmp_path / "pipeline.py").write_text(PIPELINE)
    (tmp_path / "run.py").write_text(RUN)
    prefix = prefix_for(tmp_path)
    environ = _environ(moto_server.endpoint_url, S3_BUCKET=BUCKET, S3_PREFIX=prefix,
                       RIVERS_WORKER_START_METHOD=start_method)
    out = subprocess.run([sys.executable, "run.py"], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                         env=environ)
    assert out.returncode == 0, out.stdout + out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["ok"] == [True, True, True, True]
    assert result["report"]["total"] == 3
    pids = result["report"]["pids"]
    assert result["pid"] not in pids, "steps ran in the controller, not in worker processes"
    assert result["counter"] == 2  # SelfDependency read the first run's value from S3, in a worker
    # the engine's key objects give their path suffix, split on "/" as the fs plugin does
    assert pickle.loads(_stored(moto_server, f"{prefix}/parts/a/b.pkl")) == "part a/b"
    assert pickle.loads(_stored(moto_server, f"{prefix}/parts/c.pkl")) == "part c"
    assert "testing" not in json.dumps(result["metadata"])
