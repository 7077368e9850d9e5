"""``trpo-gym-worker``: the command line of the Python rollout worker, and its ``evaluate`` and
``render`` commands."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Optional, Sequence

from . import SOFTWARE_VERSION
from .environments import SimulatorError
from .evaluate import CheckpointError, evaluate
from .render import render
from .worker import EXIT_INCOMPATIBLE, KeyFileError, Worker, WorkerOptions

EXIT_EVALUATION_FAILED = 1


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="trpo-gym-worker",
        description="A rollout worker for a trpo learner, stepping Gymnasium environments (built-in ids, "
                    "gym:ID, py:MODULE:FACTORY): it collects single-path or vine samples with the learner's policy "
                    "until the learner says stop. Reconnects by itself when the learner restarts; SIGINT or SIGTERM "
                    "stops it cleanly (exit 0). `trpo-gym-worker evaluate --checkpoint DIR` evaluates a "
                    "checkpoint instead (see `trpo-gym-worker evaluate --help`).")
    p.add_argument("--connect", required=True, metavar="ENDPOINT",
                   help="the learner's endpoint, e.g. tcp://learner-host:5555")
    p.add_argument("--worker-id", type=int, default=None, metavar="N",
                   help="this worker's id, unique among the run's workers (default: the learner assigns one)")
    p.add_argument("--envs", type=int, default=0, metavar="E",
                   help="environment copies stepped in lockstep (default: the learner's setting)")
    p.add_argument("--env", default="", metavar="NAME",
                   help="only work on this environment: a built-in id, gym:ID or py:MODULE:FACTORY (default: "
                        "whatever the learner runs)")
    p.add_argument("--learner-timeout", type=float, default=10.0, metavar="SECONDS",
                   help="seconds without a word from the learner before reconnecting (default: 10)")
    p.add_argument("--max-message-mb", type=float, default=256.0, metavar="MIB",
                   help="largest message accepted from the learner, in MiB (default: 256)")
    p.add_argument("--curve-secret", default=None, metavar="FILE",
                   help="this worker's CURVE secret key file (from `trpo keys generate`); needs --learner-public")
    p.add_argument("--learner-public", default=None, metavar="FILE",
                   help="the learner's public key file (its NAME.pub); needs --curve-secret")
    p.add_argument("--quiet", action="store_true", help="print only warnings and errors")
    # `trpo train --workers N` starts its workers with its own pid, as it starts `trpo worker`:
    # they exit when that process is gone (exit 0, as on SIGTERM).
    p.add_argument("--parent-pid", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--version", action="version", version=SOFTWARE_VERSION)
    return p


def evaluate_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="trpo-gym-worker evaluate",
        description="Evaluate a trpo checkpoint in Python (for runs of external environments, which `trpo eval` "
                    "cannot make): runs K episodes of the checkpoint's policy on its environment and prints each "
                    "return and their mean ± standard deviation. Episode k starts from reset(seed=S+k).")
    p.add_argument("--checkpoint", required=True, metavar="DIR",
                   help="run directory (or its checkpoint.json); DIR/best is the best policy of a run trained "
                        "with --eval-every")
    p.add_argument("--episodes", type=int, default=10, metavar="K", help="number of episodes (default: 10)")
    p.add_argument("--seed", type=int, default=12345, metavar="S",
                   help="seed of the episodes' initial states (default: 12345)")
    p.add_argument("--stochastic", action="store_true",
                   help="sample actions from the policy instead of acting with its mode (argmax / mean)")
    p.add_argument("--json", action="store_true",
                   help='print only one line, {"returns": [...], "lengths": [...]} (what `trpo eval` reads)')
    return p


def render_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="trpo-gym-worker render",
        description="Render a trpo checkpoint's policy playing its environment (for `trpo render` of external "
                    "environments): writes the binary frame stream trpo_worker.render documents to standard output.")
    p.add_argument("--checkpoint", required=True, metavar="DIR", help="run directory (or its checkpoint.json)")
    p.add_argument("--episodes", type=int, default=1, metavar="K", help="number of episodes (default: 1)")
    p.add_argument("--steps", type=int, default=None, metavar="MAX", help="most steps per episode (default: none)")
    p.add_argument("--seed", type=int, default=12345, metavar="S", help="episode k starts from reset(seed=S+k)")
    p.add_argument("--stochastic", action="store_true", help="sample actions instead of acting with the mode")
    p.add_argument("--fps", type=int, default=25, metavar="F", help="frames per second of the video (default: 25)")
    p.add_argument("--width", type=int, default=None, metavar="W", help="frame width (even; default: see the module)")
    p.add_argument("--height", type=int, default=None, metavar="H", help="frame height (even; with --width)")
    return p


def main_render(argv: Sequence[str]) -> int:
    args = render_parser().parse_args(argv)
    if args.episodes < 1 or (args.steps is not None and args.steps < 1) or not 1 <= args.fps <= 120:
        render_parser().error("--episodes and --steps must be positive, --fps within 1 … 120")
    if (args.width is None) != (args.height is None):
        render_parser().error("--width and --height go together")
    if args.width is not None and not all(16 <= v <= 4096 and v % 2 == 0 for v in (args.width, args.height)):
        render_parser().error("--width and --height must be even, within 16 … 4096")
    size = (args.width, args.height) if args.width is not None else None
    # The stream gets standard output to itself: whatever else prints there meanwhile (pygame's
    # greeting, an environment's own prints, C libraries) goes to standard error instead.
    sys.stdout.flush()
    saved_stdout = os.dup(1)
    stream = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    try:
        render(args.checkpoint, args.episodes, args.seed, args.stochastic, args.fps, stream,
               max_steps=args.steps, size=size)
        stream.flush()
    except (CheckpointError, SimulatorError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_EVALUATION_FAILED
    except BrokenPipeError:  # the reader (trpo render's encoder) went away; it reports why
        return EXIT_EVALUATION_FAILED
    finally:
        sys.stdout.flush()
        os.dup2(saved_stdout, 1)
        os.close(saved_stdout)
        try:
            stream.close()
        except BrokenPipeError:
            pass
    return 0


def main_evaluate(argv: Sequence[str]) -> int:
    args = evaluate_parser().parse_args(argv)
    if args.episodes < 1:
        evaluate_parser().error("--episodes must be positive")
    if args.seed < 0:
        evaluate_parser().error("--seed must be 0 or more")
    try:
        evaluate(args.checkpoint, args.episodes, args.seed, args.stochastic, sys.stdout, as_json=args.json)
    except (CheckpointError, SimulatorError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_EVALUATION_FAILED
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["evaluate"]:
        return main_evaluate(arguments[1:])
    if arguments[:1] == ["render"]:
        return main_render(arguments[1:])
    args = parser().parse_args(arguments)
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
        learner_public=args.learner_public, max_message_bytes=int(args.max_message_mb * 1024 * 1024),
        parent_pid=args.parent_pid)
    try:
        worker = Worker(options)
    except KeyFileError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_INCOMPATIBLE
    return worker.run()


if __name__ == "__main__":
    sys.exit(main())
