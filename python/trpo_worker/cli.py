"""``trpo-gym-worker``: the command line of the Python rollout worker."""

from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

from . import SOFTWARE_VERSION
from .worker import EXIT_INCOMPATIBLE, KeyFileError, Worker, WorkerOptions


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="trpo-gym-worker",
        description="A rollout worker for a trpo learner, stepping Gymnasium environments: it collects "
                    "single-path samples with the learner's policy until the learner says stop. Reconnects "
                    "by itself when the learner restarts; SIGINT or SIGTERM stops it cleanly (exit 0).")
    p.add_argument("--connect", required=True, metavar="ENDPOINT",
                   help="the learner's endpoint, e.g. tcp://learner-host:5555")
    p.add_argument("--worker-id", type=int, default=None, metavar="N",
                   help="this worker's id, unique among the run's workers (default: the learner assigns one)")
    p.add_argument("--envs", type=int, default=0, metavar="E",
                   help="environment copies stepped in lockstep (default: the learner's setting)")
    p.add_argument("--env", default="", metavar="ID",
                   help="only work on this environment (default: whatever the learner runs)")
    p.add_argument("--learner-timeout", type=float, default=10.0, metavar="SECONDS",
                   help="seconds without a word from the learner before reconnecting (default: 10)")
    p.add_argument("--max-message-mb", type=float, default=256.0, metavar="MIB",
                   help="largest message accepted from the learner, in MiB (default: 256)")
    p.add_argument("--curve-secret", default=None, metavar="FILE",
                   help="this worker's CURVE secret key file (from `trpo keys generate`); needs --learner-public")
    p.add_argument("--learner-public", default=None, metavar="FILE",
                   help="the learner's public key file (its NAME.pub); needs --curve-secret")
    p.add_argument("--quiet", action="store_true", help="print only warnings and errors")
    p.add_argument("--version", action="version", version=SOFTWARE_VERSION)
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parser().parse_args(argv)
    if args.worker_id is not None and not 0 <= args.worker_id < 2**32:
        parser().error("--worker-id must be in 0 … 4294967295")
    if args.envs < 0:
        parser().error("--envs must be positive")
    if args.learner_timeout <= 0:
        parser().error("--learner-timeout must be positive")
    if bool(args.curve_secret) != bool(args.learner_public):
        parser().error("--curve-secret and --learner-public go together")
    options = WorkerOptions(
        connect=args.connect, worker_id=args.worker_id, simulator_count=args.envs, environment_id=args.env,
        learner_timeout=args.learner_timeout, quiet=args.quiet, curve_secret=args.curve_secret,
        learner_public=args.learner_public, max_message_bytes=int(args.max_message_mb * 1024 * 1024))
    try:
        worker = Worker(options)
    except KeyFileError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_INCOMPATIBLE
    return worker.run()


if __name__ == "__main__":
    sys.exit(main())
