"""``rivers k8s cleanup``: the plugin's ``rivers`` sub-command (hook ``rivers_cli_commands``).

Cheap to import: every ``rivers`` invocation builds this parser; the
``kubernetes`` client is imported by the handler only.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rivers.cli.context import CommandContext

    from rivers_executor_k8s.cleanup import Leftover

__all__ = ["FINISHED", "add_parser", "handle_cleanup"]

#: run statuses after which nothing of the run should be left in the cluster
FINISHED = ("Success", "Failure", "Canceled")
#: executor settings the command takes from ``[executor]`` of ``rivers.toml`` (when it is the kubernetes executor)
_CONNECTION_SETTINGS = ("namespace", "kubeconfig", "context", "in_cluster")


def add_parser(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add ``rivers k8s`` and its ``cleanup`` action."""
    k8s = subparsers.add_parser("k8s", parents=parents, help="Kubernetes executor: clean up what runs left",
                                description="Commands of the Kubernetes executor (rivers-executor-k8s).")
    actions = k8s.add_subparsers(dest="action", metavar="ACTION", required=True)
    cleanup = actions.add_parser(
        "cleanup", parents=parents, help="delete the Jobs, pods and parent ConfigMaps runs left",
        description="Delete the step Jobs, their pods and the per-run parent ConfigMaps of runs, found by the "
                    "rivers.io/run-id label. With --run, those of that run whatever its status; without, those of "
                    "every run the project storage records as finished (runs in progress or unknown to the "
                    "storage are kept and listed). Idempotent. Connection settings default to the [executor] "
                    "section of rivers.toml when it names the kubernetes executor.")
    cleanup.add_argument("--run", dest="runs", action="append", metavar="RUN_ID",
                         help="only this run (repeatable); deleted even when the run is not finished")
    cleanup.add_argument("--dry-run", action="store_true", help="list what would be deleted, delete nothing")
    cleanup.add_argument("--namespace", help="the namespace (default: the executor's, the kubeconfig's, 'default')")
    cleanup.add_argument("--kubeconfig", metavar="PATH",
                         help="the kubeconfig file (default: $KUBECONFIG, ~/.kube/config)")
    cleanup.add_argument("--context", help="the kubeconfig context (default: its current one)")
    cleanup.add_argument("--in-cluster", action="store_true", default=None,
                         help="use the pod's service account (default: when running in a cluster)")
    cleanup.set_defaults(handler=handle_cleanup)


def _connection(args: argparse.Namespace, context: CommandContext) -> dict[str, Any]:
    """Connection settings: the flags, over ``[executor]`` of the settings when it is the kubernetes executor."""
    config = context.project.config
    configured: Mapping[str, Any] = config.executor_settings if config.executor_name in ("kubernetes", "k8s") else {}
    settings = {key: configured[key] for key in _CONNECTION_SETTINGS if configured.get(key) is not None}
    settings.update({key: getattr(args, key) for key in _CONNECTION_SETTINGS if getattr(args, key) is not None})
    return settings


def _run_statuses(context: CommandContext, run_ids: set[str]) -> dict[str, str | None]:
    """The recorded status of each run (``None``: not in the project storage)."""
    project = context.project
    if not project.storage_exists():
        return dict.fromkeys(run_ids)
    storage = project.storage()
    statuses: dict[str, str | None] = {}
    for run_id in run_ids:
        record = storage.get_run(run_id)
        statuses[run_id] = None if record is None else record.status
    return statuses


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def handle_cleanup(args: argparse.Namespace, context: CommandContext) -> int:
    """Find the leftovers, keep those of unfinished or unknown runs (without ``--run``), delete or list the rest."""
    from rivers.cli.errors import EXIT_FAILURE, EXIT_OK, CliError

    from rivers_executor_k8s.api import ApiException, KubeApi, is_unavailable
    from rivers_executor_k8s.cleanup import delete_leftovers, find_leftovers
    from rivers_executor_k8s.executor import KubernetesExecutor

    console = context.console
    try:
        api = KubeApi(KubernetesExecutor(**_connection(args, context)))
    except Exception as error:  # noqa: BLE001 - kubeconfig/in-cluster problems are the user's to fix
        raise CliError(f"rivers k8s cleanup: cannot configure the Kubernetes client: {error} "
                       "(pass --kubeconfig PATH / --context NAME, or set $KUBECONFIG)") from error
    try:
        if args.runs:
            found = [item for run_id in dict.fromkeys(args.runs) for item in find_leftovers(api, run_id)]
            chosen, kept = found, {}
        else:
            found = find_leftovers(api)
            statuses = _run_statuses(context, {item.run_id for item in found})
            chosen = [item for item in found if statuses[item.run_id] in FINISHED]
            kept = {run_id: status for run_id, status in statuses.items() if status not in FINISHED}
        done = chosen if args.dry_run else delete_leftovers(api, chosen)
    except ApiException as error:
        problem = "unreachable" if is_unavailable(error) else "refused the request"
        raise CliError(f"rivers k8s cleanup: the Kubernetes API at {api.client.configuration.host} {problem}: "
                       f"{error.status} {error.reason}", exit_code=EXIT_FAILURE) from error
    except Exception as error:  # noqa: BLE001 - connection errors of urllib3
        if not is_unavailable(error):
            raise
        raise CliError(f"rivers k8s cleanup: the Kubernetes API at {api.client.configuration.host} is unreachable: "
                       f"{error}", exit_code=EXIT_FAILURE) from error
    finally:
        api.close()
    _report(console, api.namespace, done, kept, dry_run=args.dry_run)
    return EXIT_OK


def _report(console: Any, namespace: str, done: list[Leftover], kept: dict[str, str | None], *,
            dry_run: bool) -> None:
    verb = "would delete" if dry_run else "deleted"
    for item in done:
        console.print(f"{verb} {item.kind} {item.name} of run {item.run_id}")
    for run_id, status in sorted(kept.items()):
        why = "not recorded in the project storage" if status is None else f"still {status}"
        console.print(f"kept run {run_id} ({why}): `rivers k8s cleanup --run {run_id}` deletes its objects")
    runs = len({item.run_id for item in done})
    if done:
        console.info(f"{verb} {_plural(len(done), 'object')} of {_plural(runs, 'run')} in namespace {namespace}"
                     + (" (dry run: nothing deleted)" if dry_run else ""))
    else:
        console.info(f"nothing to clean up in namespace {namespace}")
