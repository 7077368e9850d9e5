"""A rollout worker for the trpo learner, in Python: Gymnasium environments, the wire protocol
of docs/protocol.md (version 5), and the policy evaluated in numpy."""

import os as _os

# The policy's matrices are tiny (E rows): BLAS threads only cost. Set before numpy loads BLAS.
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    _os.environ.setdefault(_name, "1")

__version__ = "0.1.0"
SOFTWARE_VERSION = f"trpo-worker-py {__version__}"
