"""A rollout worker for the trpo learner, in Python: Gymnasium environments, the wire protocol
of docs/protocol.md (version 4), and the policy evaluated in numpy."""

__version__ = "0.1.0"
SOFTWARE_VERSION = f"trpo-worker-py {__version__}"
