"""The numpy policy against the Swift implementation on the same parameters.

``fixtures/policy_reference.json`` is written by Swift
(``TRPO_WRITE_FIXTURES=1 swift test --filter PolicyFixtureExport``, the test
``Tests/LearnerTests/PolicyFixtureExport.swift``): for four policies (categorical and Gaussian
heads, tanh and relu, with and without a normaliser, clip 10 and 3, a zero variance) it holds
raw observations and what Swift computes from them: the normalised observations
(``RunningNormalizer``), the network outputs in double precision (``MLP.forward``), the sampling
evaluator's single-precision outputs (``PolicyEvaluator``) and log-probabilities of given
actions (``PolicyHead.logProbabilities``).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from doc_examples import worked_examples
from trpo_worker import codec
from trpo_worker.codec import Activation, HeadKind
from trpo_worker.policy import Policy, PolicyShapeError

FIXTURE = Path(__file__).parent / "fixtures" / "policy_reference.json"


def load_cases() -> list[dict[str, Any]]:
    if not FIXTURE.exists():
        return []
    cases: list[dict[str, Any]] = json.loads(FIXTURE.read_text())["cases"]
    return cases


CASES = load_cases()


def policy_of(case: dict[str, Any], dtype: type = np.float64) -> Policy:
    norm = case.get("normalizer")
    return Policy(case["layerSizes"], case["parameters"],
                  HeadKind.CATEGORICAL if case["head"] == "categorical" else HeadKind.GAUSSIAN,
                  case["logStd"], Activation.TANH if case["activation"] == "tanh" else Activation.RELU,
                  None if norm is None else norm["mean"], None if norm is None else norm["variance"],
                  10.0 if norm is None else norm["clip"], dtype=dtype)


def reshape(case: dict[str, Any], key: str, width: int) -> np.ndarray:
    return np.asarray(case[key], dtype=np.float64).reshape(case["rows"], width)


def test_fixture_present() -> None:
    assert FIXTURE.exists(), f"{FIXTURE} is missing: run TRPO_WRITE_FIXTURES=1 swift test --filter PolicyFixtureExport"
    assert {c["name"] for c in CASES} >= {"categorical-tanh", "gaussian-tanh", "gaussian3-relu"}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["name"])
def test_matches_swift(case: dict[str, Any]) -> None:
    policy = policy_of(case)
    inputs, outputs = case["layerSizes"][0], case["layerSizes"][-1]
    raw = reshape(case, "observations", inputs)
    normalized = policy.normalize(raw)
    np.testing.assert_allclose(normalized, reshape(case, "normalizedObservations", inputs), rtol=1e-15, atol=0)
    out = policy.outputs(normalized)
    np.testing.assert_allclose(out, reshape(case, "outputs", outputs), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(policy.forward(raw), out, rtol=0, atol=0)
    log_p = policy.log_probabilities(out, np.asarray(case["actions"]).reshape(case["rows"], -1))
    np.testing.assert_allclose(log_p, case["logProbabilities"], rtol=1e-12, atol=1e-12)
    # Single precision, as the Swift sampling evaluator runs (its tanh is a rational
    # approximation with error < 1e-6, so agreement is to single-precision accuracy).
    single = policy_of(case, dtype=np.float32).outputs(normalized)
    np.testing.assert_allclose(single, reshape(case, "evaluatorOutputs", outputs), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["name"])
def test_through_a_parameters_message(case: dict[str, Any]) -> None:
    """The same policy carried by an encoded and decoded parameters message."""
    norm = case.get("normalizer")
    gaussian = case["head"] == "gaussian"
    message = codec.Parameters(
        session=1, version=1, seed=1, environment_id="X-v0", simulator_count=8, chunk_steps=64, quota=0,
        layer_sizes=case["layerSizes"], parameters=np.asarray(case["parameters"]),
        head=HeadKind.GAUSSIAN if gaussian else HeadKind.CATEGORICAL, head_size=case["headSize"],
        log_std=np.asarray(case["logStd"]),
        activation=Activation.TANH if case["activation"] == "tanh" else Activation.RELU,
        normalizer=None if norm is None else codec.Normalizer(np.asarray(norm["mean"]), np.asarray(norm["variance"]),
                                                              norm["count"], norm["clip"]))
    decoded = codec.decode(codec.encode(message))
    assert isinstance(decoded, codec.Parameters)
    policy = Policy.from_parameters(decoded)
    raw = reshape(case, "observations", case["layerSizes"][0])
    np.testing.assert_allclose(policy.forward(raw), reshape(case, "outputs", case["layerSizes"][-1]),
                               rtol=1e-12, atol=1e-12)


def test_worked_example_7_2_policy() -> None:
    p = codec.decode(worked_examples()["7.2"])
    assert isinstance(p, codec.Parameters)
    policy = Policy.from_parameters(p)
    # (1.5, −3) standardises to (1, −1) up to the 1e-8 epsilon; 0.5·1 − 0.5·(−1) + 0 = 1.
    out = policy.forward(np.array([[1.5, -3.0], [100.0, -1.0]]))
    np.testing.assert_allclose(out[:, 0], [1.0, 5.0], rtol=1e-8)  # the second row clips at 10
    log_p = policy.log_probabilities(out, np.array([[1.0], [5.0]]))
    np.testing.assert_allclose(log_p, [0.5 - 0.5 * math.log(2 * math.pi)] * 2)


def test_categorical_sampling_frequencies() -> None:
    policy = Policy([1, 3], [0.0, 0.0, 0.0, math.log(0.2), math.log(0.3), math.log(0.5)], HeadKind.CATEGORICAL)
    rng = np.random.default_rng(0)
    actions = policy.sample(np.zeros((200_000, 1)), rng)
    assert actions.shape == (200_000, 1)
    freq = np.bincount(actions[:, 0].astype(int), minlength=3) / 200_000
    np.testing.assert_allclose(freq, [0.2, 0.3, 0.5], atol=0.005)
    assert policy.sample(np.zeros((2, 1)), rng, deterministic=True).tolist() == [[2.0], [2.0]]


def test_gaussian_sampling_moments_and_no_clipping() -> None:
    policy = Policy([1, 2], [0.0, 0.0, 3.0, -1.0], HeadKind.GAUSSIAN, [math.log(2.0), math.log(0.5)])
    actions = policy.sample(np.zeros((200_000, 1)), np.random.default_rng(1))
    np.testing.assert_allclose(actions.mean(axis=0), [3.0, -1.0], atol=0.02)
    np.testing.assert_allclose(actions.std(axis=0), [2.0, 0.5], rtol=0.01)


def test_invalid_discrete_action_has_nan_log_probability() -> None:
    policy = Policy([1, 2], [0.0, 0.0, 0.0, 0.0], HeadKind.CATEGORICAL)
    out = policy.forward(np.zeros((3, 1)))
    log_p = policy.log_probabilities(out, np.array([[0.0], [2.0], [0.5]]))
    assert log_p[0] == pytest.approx(math.log(0.5)) and np.isnan(log_p[1]) and np.isnan(log_p[2])


def test_shape_errors() -> None:
    with pytest.raises(PolicyShapeError):
        Policy([2, 1], [0.0, 0.0], HeadKind.GAUSSIAN, [0.0])
    with pytest.raises(PolicyShapeError):
        Policy([2, 1], [0.0, 0.0, 0.0], HeadKind.GAUSSIAN, [])
    with pytest.raises(PolicyShapeError):
        Policy([2, 2], [0.0] * 6, HeadKind.CATEGORICAL, [0.0, 0.0])
