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
    parser.add_argument("--request-env", metavar="NAME",
                        help="read the request, base64-encoded, from environment variable NAME instead (pods)")
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

        data = base64.b64decode(os.environ.get(args.request_env, ""))
    elif args.request == "-":
        data = sys.stdin.buffer.read()
    else:
        with open(args.request, "rb") as file:
            data = file.read()
    from rivers.execution.step_host import encode_report, run_request
    from rivers.execution.wire import report_to_json

    report = run_request(data)
    if args.format == "json":
        encoded = json.dumps(report_to_json(report)).encode("utf-8")
    else:
        encoded = encode_report(report)
    sys.stdout.flush()
    if result_stream is not None:
        result_stream.write(encoded)
        result_stream.close()
    else:
        with open(args.output, "wb") as file:
            file.write(encoded)
    return 2 if report.status == "load_error" else 0


if __name__ == "__main__":
    sys.exit(main())
