"""Machine / software description stored next to every sb3-contrib reference figure."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _cpu_flags() -> list[str]:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return sorted(f for f in flags if f.startswith(("avx", "fma", "sse4")))
    except OSError:
        pass
    return []


def _caches() -> dict:
    out = {}
    base = "/sys/devices/system/cpu/cpu0/cache"
    try:
        for idx in sorted(os.listdir(base)):
            d = os.path.join(base, idx)
            if not idx.startswith("index"):
                continue
            rd = lambda n: open(os.path.join(d, n)).read().strip()  # noqa: E731
            kind = rd("type")
            if kind == "Instruction":
                continue
            out[f"L{rd('level')}"] = rd("size")
    except OSError:
        pass
    return out


def _git_commit() -> str | None:
    try:
        here = os.path.dirname(os.path.abspath(__file__))
        return subprocess.run(
            ["git", "-C", here, "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except Exception:
        return None


def machine_info() -> dict:
    import gymnasium
    import numpy
    import sb3_contrib
    import stable_baselines3
    import torch

    env_vars = {
        k: os.environ[k]
        for k in sorted(os.environ)
        if k.startswith(("OPENBLAS_", "OMP_", "MKL_", "GOTO", "KMP_"))
    }
    config = torch.__config__.show()
    import re

    blas = sorted(set(re.findall(r"\b(BLAS_INFO=\w+|LAPACK_INFO=\w+|USE_MKLDNN=\w+|USE_OPENMP=\w+)", config)))
    return {
        "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpu_model": _cpu_model(),
        "cpu_flags_simd": _cpu_flags(),
        "logical_cpus": os.cpu_count(),
        "cpu_caches_per_cpu0": _caches(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_cuda_build": torch.version.cuda,
        "torch_blas": blas,
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "torch_num_threads_at_start": torch.get_num_threads(),
        "stable_baselines3": stable_baselines3.__version__,
        "sb3_contrib": sb3_contrib.__version__,
        "gymnasium": gymnasium.__version__,
        "numpy": numpy.__version__,
        "thread_env_vars": env_vars,
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
        "OPENBLAS_L2_SIZE": os.environ.get("OPENBLAS_L2_SIZE"),
        "repo_commit": _git_commit(),
    }
