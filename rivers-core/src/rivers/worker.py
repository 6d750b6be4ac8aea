"""``python -m rivers.worker``: run one serialised step and report its outcome.

This is exactly what a worker process of the parallel executor does for each
step, made available as a command so that a Kubernetes pod (or any other
process) can run a step::

    python -m rivers.worker payload.bin                       # pickled result on stdout
    python -m rivers.worker - --output result.json --format json < payload.bin

The payload is produced by the controller with
:func:`rivers.execution.payload.dumps_payload`; the result is turned back
into a step outcome with :func:`rivers.execution.payload.outcome_from_result`
(after :func:`~rivers.execution.payload.result_from_json` for ``--format
json``). The step's inputs are loaded and its outputs written here, through
its IO handlers; only events, logs and errors are reported.

Exit status: 0 when the step ran (whether it succeeded or failed — the result
says which), 2 when the payload could not be read or decoded (the result then
has a ``load_error``).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import sys
from typing import Any, Sequence


def run_payload_bytes(data: bytes) -> dict[str, Any]:
    """Run one payload in this process (the function pool workers call too)."""
    from rivers.execution import payload

    payload.IN_WORKER = True
    return payload.execute_payload(data)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rivers.worker", description=__doc__.splitlines()[0])
    parser.add_argument("payload", nargs="?", default="-", help="payload file, or - for stdin (default)")
    parser.add_argument("-o", "--output", default="-", help="result file, or - for stdout (default)")
    parser.add_argument("--format", choices=("pickle", "json"), default="pickle", help="result encoding")
    args = parser.parse_args(argv)
    result_stream = None
    if args.output == "-":
        # the step's own prints go to stderr: stdout carries the result only
        sys.stdout.flush()
        result_stream = os.fdopen(os.dup(1), "wb")
        os.dup2(2, 1)
    if args.payload == "-":
        data = sys.stdin.buffer.read()
    else:
        with open(args.payload, "rb") as file:
            data = file.read()
    result = run_payload_bytes(data)
    if args.format == "json":
        from rivers.execution.payload import result_to_json

        encoded = json.dumps(result_to_json(result)).encode("utf-8")
    else:
        encoded = pickle.dumps(result, pickle.HIGHEST_PROTOCOL)
    sys.stdout.flush()
    if result_stream is not None:
        result_stream.write(encoded)
        result_stream.close()
    else:
        with open(args.output, "wb") as file:
            file.write(encoded)
    return 2 if "load_error" in result else 0


if __name__ == "__main__":
    sys.exit(main())
