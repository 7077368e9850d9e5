"""Atari from pixels end to end: a real learner (``$TRPO_BIN``, as in test_end_to_end.py) trains
``gym:ALE/Pong-v5`` through two Python workers. The first worker's spec says uint8 frames of
84×84×4, so the learner builds convolutional networks (``--trunk auto``: Baselines' cnn_small),
sends them in parameters with the convolutional flag (docs/protocol.md §3.3), and the workers
send their frames as bytes (§3.4, flag pixels). Two small iterations take about 10 s."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from test_end_to_end import TRPO_BIN
from test_external import check_rows, train

pytest.importorskip("ale_py")
pytestmark = pytest.mark.skipif(not TRPO_BIN.is_file() or not os.access(TRPO_BIN, os.X_OK),
                                reason=f"no trpo binary at {TRPO_BIN}")


def test_train_pong_from_pixels(tmp_path: Path) -> None:
    output, rows = train(["--env", "gym:ALE/Pong-v5", "--steps", "1024", "--batch-steps", "512", "--envs", "2",
                          "--reward-clip"], tmp_path / "run", cwd=tmp_path, timeout=180)
    check_rows(rows)
    assert [int(r["timesteps"]) for r in rows] == [512, 1024], rows
    assert "gym:ALE/Pong-v5: observations uint8 [84×84×4]" in output, output
    assert ("learner: gym:ALE/Pong-v5: a convolutional policy on 84×84×4 uint8 frames: 8 × 8×8/4, 16 × 4×4/2, "
            "dense [128] (170,910 parameters)") in output, output
    assert output.count("a convolutional policy on uint8 frames") == 2, output
    # The value function is fitted on the frames and predicts something of the clipped returns.
    assert all(float(r["value_loss"]) >= 0 for r in rows), rows
    # No observation statistics for frames: the checkpoint's policy is convolutional.
    checkpoint = json.loads((tmp_path / "run" / "checkpoint.json").read_text())
    assert checkpoint["policy"]["network"]["architecture"]["input"] == {"height": 84, "width": 84, "channels": 4}
    assert checkpoint["valueFunction"]["network"]["outputSize"] == 1
    assert checkpoint["configuration"]["clipRewards"] is True
    assert output.count("exiting with status 0") == 2, output


def test_train_pong_with_the_vine(tmp_path: Path) -> None:
    """The vine on Atari end to end: the workers snapshot ALE games, branch every one of Pong's 6
    actions from each rollout-set state (eq. 15) and send pixel vine chunks (§3.9 flag pixels);
    the learner fits its convolutional value function on the trunks' frames beside the next
    collection. 2 workers × 2 copies, trunks of 40 steps, N = 6 states per worker's share, T = 5."""
    output, rows = train(["--env", "gym:ALE/Pong-v5", "--sampler", "vine", "--envs", "2", "--trunk-steps", "40",
                          "--vine-states", "6", "--vine-length", "5", "--steps", "300"], tmp_path / "run", cwd=tmp_path,
                         timeout=180)
    check_rows(rows)
    assert "snapshot (from worker" in output, output
    for r in rows:
        assert (int(r["vine_states"]), int(r["vine_branches"])) == (6, 36), r  # every action of Pong once
        assert 0 < int(r["vine_branch_steps"]) <= 36 * 5, r
        assert float(r["value_loss"]) >= 0 and float(r["explained_variance_after"]) == float(r["explained_variance_after"]), r
    checkpoint = json.loads((tmp_path / "run" / "checkpoint.json").read_text())
    assert checkpoint["configuration"]["sampler"] == "vine" and checkpoint["configuration"]["clipRewards"] is False
    assert checkpoint["policy"]["network"]["architecture"]["input"] == {"height": 84, "width": 84, "channels": 4}
    assert "reconnect" not in output, output
    assert output.count("exiting with status 0") == 2, output
