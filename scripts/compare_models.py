#!/usr/bin/env python3
"""Compares our MJCF models with Gymnasium's v4 assets, as compiled models.

    /work/venv-mj/bin/python scripts/compare_models.py            # needs gymnasium[mujoco]

Two compilers are used:

1. The PyPI `mujoco` package (the engine Gymnasium runs on): both XML files are compiled with
   `mujoco.MjModel.from_xml_path` and the physical fields listed in FIELDS are compared.
2. MuJoCo 2.2.2, the engine trpo links (Debian's libmujoco-dev): scripts/mujoco_model_dump.c
   is built with `cc` and dumps every numeric mjModel array of both compiled models; all
   arrays that describe the mechanism (bodies, joints, dofs, geoms, actuators, qpos0, opt) are
   compared. Skipped when no C compiler or no libmujoco is available.

For every field the maximum absolute difference is printed; anything above TOLERANCE is a
mismatch and makes the script exit with status 1, except for the documented deliberate
differences in EXPECTED (the Hopper contact margin, see Sources/Simulators/Models/Hopper.xml),
which are printed and checked to be exactly as intended.

Geoms are matched by body and by their order within the body. World geoms that collide with
nothing (the reference Swimmer's decorative floor) have no counterpart in our models and are
left out; visual-only data (materials, textures, lights, cameras, colours) is not compared.
"""

import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
MODELS = ROOT / "Sources" / "Simulators" / "Models"
DUMP_SOURCE = ROOT / "scripts" / "mujoco_model_dump.c"
TOLERANCE = 1e-12

# Our file, Gymnasium's asset.
PAIRS = {
    "Hopper-v4": ("Hopper.xml", "hopper.xml"),
    "Walker2d-v4": ("Walker2d.xml", "walker2d.xml"),
    "Swimmer-v4": ("Swimmer.xml", "swimmer.xml"),
    "HalfCheetah-v4": ("HalfCheetah.xml", "half_cheetah.xml"),
}

# Deliberate differences: (env, field) -> (ours, theirs), every element.
EXPECTED = {
    # 2.2.2 takes the larger margin of a contact pair, newer engines add them: 0.002 per geom
    # under "max" gives the pair margin 0.001 + 0.001 that current Gymnasium simulates.
    ("Hopper-v4", "geom_margin"): (0.002, 0.001),
}

# Fields compared with the PyPI engine (model attribute names; opt.* for mjOption).
FIELDS = [
    "opt.timestep", "opt.integrator", "opt.viscosity", "opt.density", "opt.gravity",
    "opt.wind", "opt.magnetic", "opt.impratio", "opt.tolerance", "opt.iterations",
    "opt.cone", "opt.jacobian", "opt.solver", "opt.o_margin", "opt.o_solref", "opt.o_solimp",
    "opt.disableflags", "opt.enableflags",
    "nq", "nv", "nu", "na", "nbody", "njnt",
    "qpos0", "qpos_spring",
    "body_parentid", "body_pos", "body_quat", "body_ipos", "body_iquat", "body_mass",
    "body_inertia", "body_jntnum", "body_dofnum",
    "jnt_type", "jnt_bodyid", "jnt_qposadr", "jnt_pos", "jnt_axis", "jnt_stiffness",
    "jnt_limited", "jnt_range", "jnt_margin", "jnt_solref", "jnt_solimp",
    "dof_damping", "dof_armature", "dof_frictionloss", "dof_invweight0",
    "dof_solref", "dof_solimp",
    "geom_type", "geom_contype", "geom_conaffinity", "geom_condim", "geom_priority",
    "geom_bodyid", "geom_size", "geom_rbound", "geom_pos", "geom_quat", "geom_friction",
    "geom_solmix", "geom_solref", "geom_solimp", "geom_margin", "geom_gap",
    "actuator_trntype", "actuator_dyntype", "actuator_gaintype", "actuator_biastype",
    "actuator_trnid", "actuator_ctrllimited", "actuator_forcelimited", "actuator_ctrlrange",
    "actuator_forcerange", "actuator_gear", "actuator_gainprm", "actuator_biasprm",
    "actuator_length0",
]

# MuJoCo 2.2.2 arrays that are bookkeeping rather than physics, or visual only.
SKIP_222 = {
    "body_geomnum", "body_geomadr", "body_simple", "body_sameframe", "geom_matid",
    "geom_group", "geom_rgba", "geom_dataid", "geom_user", "geom_sameframe",
    "jnt_group", "actuator_group",
}
PHYSICS_PREFIXES = ("qpos", "body_", "jnt_", "dof_", "geom_", "actuator_")


def gymnasium_asset(name):
    import gymnasium
    return pathlib.Path(gymnasium.__file__).parent / "envs" / "mujoco" / "assets" / name


def geom_matching(body_ids, contype, conaffinity, other_body_ids, other_contype, other_conaffinity):
    """Indices into the reference geoms, in our geom order (see the module docstring)."""
    def keyed(bodies, ct, ca):
        keys, seen = [], {}
        for g, b in enumerate(bodies):
            if b == 0 and ct[g] == 0 and ca[g] == 0:
                keys.append(None)  # a world geom that never collides
                continue
            seen[b] = seen.get(b, -1) + 1
            keys.append((b, seen[b]))
        return keys
    ours = keyed(body_ids, contype, conaffinity)
    theirs = keyed(other_body_ids, other_contype, other_conaffinity)
    index = {k: g for g, k in enumerate(theirs) if k is not None}
    assert all(k is not None for k in ours), "one of our world geoms collides with nothing"
    assert set(index) == set(ours), f"geoms differ: ours {ours}, theirs {theirs}"
    return np.array([index[k] for k in ours], dtype=int)


def compare_arrays(env, name, ours, theirs, report):
    ours, theirs = np.asarray(ours, dtype=float), np.asarray(theirs, dtype=float)
    if ours.shape != theirs.shape:
        report.append((name, None, f"shape {ours.shape} vs {theirs.shape}"))
        return False
    if ours.size == 0:
        report.append((name, 0.0, "empty"))
        return True
    both_inf = np.isinf(ours) & np.isinf(theirs) & (np.sign(ours) == np.sign(theirs))
    diff = np.where(both_inf, 0.0, np.abs(ours - theirs))
    worst = float(np.max(diff))
    expected = EXPECTED.get((env, name))
    if expected is not None:
        ok = bool(np.all(ours == expected[0]) and np.all(theirs == expected[1]))
        report.append((name, worst, f"deliberate: ours {expected[0]}, reference {expected[1]}"
                       + ("" if ok else "  << NOT AS DOCUMENTED")))
        return ok
    ok = worst <= TOLERANCE
    report.append((name, worst, "" if ok else "  << MISMATCH"))
    return ok


def print_report(title, report):
    print(title)
    width = max(len(r[0]) for r in report)
    for name, worst, note in report:
        shown = "   n/a  " if worst is None else f"{worst:.3g}"
        print(f"    {name:<{width}}  max |diff| {shown:>9}  {note}")


def pair_margins(model, rule):
    """The contact margin of every geom pair that can collide, under `rule` (max or sum)."""
    margins = {}
    for a in range(model.ngeom):
        for b in range(a + 1, model.ngeom):
            if not ((model.geom_contype[a] & model.geom_conaffinity[b])
                    or (model.geom_contype[b] & model.geom_conaffinity[a])):
                continue
            ba, bb = model.geom_bodyid[a], model.geom_bodyid[b]
            if ba == bb or model.body_parentid[ba] == bb or model.body_parentid[bb] == ba:
                continue  # same body or parent and child: never collide
            margins[(ba, bb)] = margins.get((ba, bb), []) + [rule(model.geom_margin[a], model.geom_margin[b])]
    return margins


def compare_pypi(env, ours_path, theirs_path):
    import mujoco
    ours = mujoco.MjModel.from_xml_path(str(ours_path))
    theirs = mujoco.MjModel.from_xml_path(str(theirs_path))
    order = geom_matching(ours.geom_bodyid, ours.geom_contype, ours.geom_conaffinity,
                          theirs.geom_bodyid, theirs.geom_contype, theirs.geom_conaffinity)
    report, ok = [], True
    for field in FIELDS:
        if field.startswith("opt."):
            a, b = getattr(ours.opt, field[4:]), getattr(theirs.opt, field[4:])
        else:
            a, b = getattr(ours, field), getattr(theirs, field)
            if field.startswith("geom_"):
                b = np.asarray(b)[order]
        ok &= compare_arrays(env, field, a, b, report)
    # The pair margins the engines simulate: ours under 2.2.2's max, theirs under the sum.
    m_ours = pair_margins(ours, max)
    m_theirs = pair_margins(theirs, lambda x, y: x + y)
    worst = max(abs(x - y) for k in m_ours for x, y in zip(m_ours[k], m_theirs[k])) if m_ours else 0.0
    same_pairs = m_ours.keys() == m_theirs.keys()
    report.append(("contact pair margin (ours: max in 2.2.2, theirs: sum in "
                   f"{mujoco.__version__})", worst, "" if same_pairs and worst <= TOLERANCE else "  << MISMATCH"))
    ok &= same_pairs and worst <= TOLERANCE
    print_report(f"{env}: {ours_path.name} vs Gymnasium {theirs_path.name}, compiled by mujoco {mujoco.__version__}", report)
    return ok


def build_dumper(directory):
    compiler = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if compiler is None:
        return None
    binary = pathlib.Path(directory) / "mujoco_model_dump"
    result = subprocess.run([compiler, "-O1", "-o", str(binary), str(DUMP_SOURCE), "-lmujoco"],
                            capture_output=True, text=True)
    if result.returncode != 0:
        print(f"(MuJoCo 2.2.2 comparison skipped: cannot build the dumper: {result.stderr.strip()})")
        return None
    return binary


def dump(binary, path):
    result = subprocess.run([str(binary), str(path)], capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def compare_222(env, binary, ours_path, theirs_path):
    ours, theirs = dump(binary, ours_path), dump(binary, theirs_path)
    a, b = ours["arrays"], theirs["arrays"]
    order = geom_matching(a["geom_bodyid"], a["geom_contype"], a["geom_conaffinity"],
                          b["geom_bodyid"], b["geom_contype"], b["geom_conaffinity"])
    ngeom_ours, ngeom_theirs = ours["sizes"]["ngeom"], theirs["sizes"]["ngeom"]
    report, ok = [], True
    for key in ["integrator", "timestep", "density", "viscosity", "impratio", "tolerance", "iterations",
                "cone", "jacobian", "solver", "o_margin", "disableflags", "enableflags", "gravity",
                "wind", "magnetic", "o_solref", "o_solimp"]:
        ok &= compare_arrays(env, "opt." + key, ours["opt"][key], theirs["opt"][key], report)
    for name in a:
        if name in SKIP_222 or not name.startswith(PHYSICS_PREFIXES):
            continue
        x, y = np.asarray(a[name], dtype=float), np.asarray(b[name], dtype=float)
        if name.startswith("geom_"):
            x = x.reshape(ngeom_ours, -1)
            y = y.reshape(ngeom_theirs, -1)[order]
        ok &= compare_arrays(env, name, x, y, report)
    print_report(f"{env}: {ours_path.name} vs Gymnasium {theirs_path.name}, compiled by MuJoCo "
                 f"{'.'.join(str(ours['version']))} (every mechanism array)", report)
    return ok


def main():
    # mujoco appends its warnings (e.g. that `settotalmass` is deprecated) to MUJOCO_LOG.TXT in
    # the working directory; keep that file out of the repository.
    os.chdir(tempfile.gettempdir())
    import mujoco
    all_ok = True
    summary = []
    with tempfile.TemporaryDirectory() as directory:
        binary = build_dumper(directory)
        for env, (ours_name, theirs_name) in PAIRS.items():
            ours_path, theirs_path = MODELS / ours_name, gymnasium_asset(theirs_name)
            ok = compare_pypi(env, ours_path, theirs_path)
            if binary is not None:
                ok &= compare_222(env, binary, ours_path, theirs_path)
            summary.append(f"{env}: {'equal' if ok else 'DIFFERENT'}")
            all_ok &= ok
            print()
    print("Summary (tolerance %g, deliberate differences as documented):" % TOLERANCE)
    for line in summary:
        print("   ", line)
    print(f"    engines: mujoco {mujoco.__version__} (PyPI)" + ("" if binary is None else ", MuJoCo 2.2.2 (system)"))
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
