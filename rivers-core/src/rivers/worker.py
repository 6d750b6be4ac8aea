"""``python -m rivers.worker``: run one step attempt from a wire request and report its outcome.

This is exactly what a worker process of the parallel executor does for each
attempt, made available as a command so that a Kubernetes pod (or any other
process) can run a step::

    python -m rivers.worker request.bin                       # pickled report on stdout
    python -m rivers.worker - --output report.json --format json < request.bin
    python -m rivers.worker --request-env RIVERS_STEP_REQUEST --format json   # base64 request in the env

The request is a :class:`rivers.execution.wire.StepRequest` (e.g.
``rivers.execution.wire.step_request(planned, state).encode()``); the report
is a :class:`~rivers.execution.wire.StepReport` (``--format json``:
:func:`~rivers.execution.wire.report_to_json`), turned back into a step
outcome with :func:`rivers.execution.wire.outcome_of`. The step's inputs are
loaded and its outputs written here, through its IO handlers; only events,
logs and errors are reported.

Several ``--request-env`` options make a *bundle* (a chain of steps run in one
process, so that a pod's start-up is paid once,
:func:`rivers.execution.step_host.run_chain`): the attempts run in the order
given, each seeing the data versions the earlier ones produced, and the
chain stops after the first attempt that did not succeed. One report is
written per attempt that ran, as soon as it ends (``--format json``: one JSON
object per line; pickle: one pickled record after the other).

Exit status: 0 when the step ran (whether it succeeded or failed — the report
says which), 2 when the request could not be read or decoded (the report's
status is then ``load_error``; a request of another wire protocol version is
one).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rivers.worker", description=__doc__.splitlines()[0])
    parser.add_argument("request", nargs="?", default="-", help="request file, or - for stdin (default)")
    parser.add_argument("--request-env", metavar="NAME", action="append",
                        help="read the request, base64-encoded, from environment variable NAME instead (pods); "
                             "repeated: a bundle, run in order, stopping after the first step that did not succeed")
    parser.add_argument("-o", "--output", default="-", help="report file, or - for stdout (default)")
    parser.add_argument("--format", choices=("pickle", "json"), default="pickle", help="report encoding")
    args = parser.parse_args(argv)
    result_stream = None
    if args.output == "-":
        # the step's own prints go to stderr: stdout carries the result only
        sys.stdout.flush()
        result_stream = os.fdopen(os.dup(1), "wb")
        os.dup2(2, 1)
    if args.request_env:
        import base64

        requests = [base64.b64decode(os.environ.get(name, "")) for name in args.request_env]
    elif args.request == "-":
        requests = [sys.stdin.buffer.read()]
    else:
        with open(args.request, "rb") as file:
            requests = [file.read()]
    from rivers.execution.step_host import encode_report, run_chain, run_request
    from rivers.execution.wire import report_to_json

    reports = iter([run_request(requests[0])]) if len(requests) == 1 else run_chain(requests)
    output = result_stream if result_stream is not None else open(args.output, "wb")  # noqa: SIM115 - closed below
    status = 0
    try:
        for report in reports:
            if args.format == "json":
                encoded = json.dumps(report_to_json(report)).encode("utf-8") + (b"\n" if len(requests) > 1 else b"")
            else:
                encoded = encode_report(report)
            sys.stdout.flush()
            output.write(encoded)
            output.flush()
            if report.status == "load_error":
                status = 2
    finally:
        output.close()
    return status


if __name__ == "__main__":
    sys.exit(main())
