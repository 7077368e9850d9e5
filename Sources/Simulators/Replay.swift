import Core
import Foundation

/// A start state and actions to replay in a simulator: the input of `trpo env replay`.
public struct ReplayInput: Sendable, Equatable {
    /// The start state in Gymnasium's `env.unwrapped.state` layout.
    public var state: [Double]
    /// The actions, each as the simulator's action buffer holds it (see ``Simulator/step(_:)``).
    public var actions: [[Double]]

    public init(state: [Double], actions: [[Double]]) {
        self.state = state
        self.actions = actions
    }

    /// Parses `{"state": [numbers], "actions": [...]}` and checks every action against
    /// `simulator`'s action space: an integer index for a discrete space, an array of
    /// `width` numbers for a box (values outside the bounds are allowed; the simulator clips
    /// them as Gymnasium does).
    ///
    /// Numbers may also be written `NaN`, `Infinity` and `-Infinity`, bare (as Python's
    /// `json` module writes them) or quoted, so that such values are reported as invalid
    /// states or actions rather than as unreadable JSON.
    ///
    /// - Throws: ``ReplayError/malformedInput(_:)`` for invalid JSON or a wrong structure,
    ///   ``ReplayError/invalidAction(index:_:)`` for an action of the wrong shape or out of
    ///   range. The state is checked when it is applied, by ``Simulator/replay(_:)``.
    public init(json: Data, for simulator: any Simulator) throws(ReplayError) {
        let raw: RawInput
        let decoder = JSONDecoder()
        decoder.allowsJSON5 = true
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(
            positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        do {
            raw = try decoder.decode(RawInput.self, from: json)
        } catch let error as DecodingError {
            throw .malformedInput(Self.describe(error, in: json))
        } catch {
            throw .malformedInput("\(error)")
        }
        state = raw.state
        actions = []
        actions.reserveCapacity(raw.actions.count)
        for (index, value) in raw.actions.enumerated() {
            let action: [Double]
            switch (simulator.actionSpace, value) {
            case (.discrete, .number(let x)):
                action = [x]
            case (.box, .numbers(let xs)):
                action = xs
            case (.discrete(let count), .numbers):
                throw .invalidAction(index: index, .invalidAction("expected an integer in 0..<\(count), got an array"))
            case (.box(let low, _), .number):
                throw .invalidAction(index: index, .invalidAction("expected an array of \(low.count) numbers, got one number"))
            }
            do {
                try simulator.validate(action: action)
            } catch {
                throw .invalidAction(index: index, error)
            }
            actions.append(action)
        }
    }

    /// The JSON document as decoded, before it is checked against an action space.
    private struct RawInput: Decodable {
        var state: [Double]
        var actions: [RawAction]
    }

    private enum RawAction: Decodable {
        case number(Double)
        case numbers([Double])

        init(from decoder: Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let x = try? container.decode(Double.self) {
                self = .number(x)
            } else if let xs = try? container.decode([Double].self) {
                self = .numbers(xs)
            } else {
                throw DecodingError.typeMismatch(RawAction.self, .init(
                    codingPath: decoder.codingPath,
                    debugDescription: "an action must be a number or an array of numbers"))
            }
        }
    }

    /// A one-line account of a decoding failure, naming where it happened (`actions[3]: …`).
    ///
    /// `JSONDecoder` does not say where a syntax error is; `JSONSerialization` does, so a
    /// document that is not JSON at all is described by the latter.
    private static func describe(_ error: DecodingError, in json: Data) -> String {
        func located(_ message: String, _ path: [CodingKey]) -> String {
            guard !path.isEmpty else { return message }
            let rendered = path.map { key in key.intValue.map { "[\($0)]" } ?? ".\(key.stringValue)" }.joined()
            return (rendered.hasPrefix(".") ? String(rendered.dropFirst()) : rendered) + ": " + message
        }
        let message: String
        switch error {
        case .keyNotFound(let key, let context):
            message = located("missing key '\(key.stringValue)'", context.codingPath)
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            message = located(context.debugDescription, context.codingPath)
        case .dataCorrupted(let context) where context.codingPath.isEmpty:
            message = syntaxError(in: json) ?? context.debugDescription
        case .dataCorrupted(let context):
            message = located(context.debugDescription, context.codingPath)
        @unknown default:
            message = "\(error)"
        }
        return message.split(whereSeparator: \.isNewline).joined(separator: " ")
    }

    /// `JSONSerialization`'s description of why `json` does not parse, if it does not.
    private static func syntaxError(in json: Data) -> String? {
        do {
            _ = try JSONSerialization.jsonObject(with: json)
            return nil
        } catch {
            let nsError = error as NSError
            return nsError.userInfo[NSDebugDescriptionErrorKey] as? String ?? nsError.localizedDescription
        }
    }
}

/// Why a replay could not run.
public enum ReplayError: Error, Equatable, CustomStringConvertible {
    /// The input is not JSON of the expected structure.
    case malformedInput(String)
    /// The simulator refused the start state.
    case invalidState(SimulatorError)
    /// Action `index` (from 0) does not fit the action space.
    case invalidAction(index: Int, SimulatorError)

    public var description: String {
        switch self {
        case .malformedInput(let why): "malformed input: \(why)"
        case .invalidState(let error): "invalid state: \(error)"
        case .invalidAction(let index, let error): "action \(index): \(error)"
        }
    }
}

/// What one replayed step produced.
public struct ReplayStep: Sendable, Equatable {
    /// The step's index, from 0.
    public var t: Int
    /// The observation after the step.
    public var observation: [Double]
    public var reward: Double
    public var terminated: Bool
    public var truncated: Bool
    /// The internal state after the step (Gymnasium's layout).
    public var state: [Double]

    public init(t: Int, observation: [Double], reward: Double, terminated: Bool, truncated: Bool, state: [Double]) {
        self.t = t
        self.observation = observation
        self.reward = reward
        self.terminated = terminated
        self.truncated = truncated
        self.state = state
    }

    /// The step as one compact JSON object:
    /// `{"t":0,"obs":[...],"reward":1.0,"terminated":false,"truncated":false,"state":[...]}`.
    ///
    /// Numbers use Swift's shortest round-tripping form (`Double.description`), so parsing
    /// them gives back the exact values; a non-finite number is written as `null`.
    public var json: String {
        func number(_ x: Double) -> String { x.isFinite ? x.description : "null" }
        func list(_ xs: [Double]) -> String { "[" + xs.map(number).joined(separator: ",") + "]" }
        return "{\"t\":\(t),\"obs\":\(list(observation)),\"reward\":\(number(reward)),"
            + "\"terminated\":\(terminated),\"truncated\":\(truncated),\"state\":\(list(state))}"
    }
}

extension Simulator {
    /// Sets the simulator to `input.state` (restarting its time limit) and steps through
    /// `input.actions`, stopping after the step that terminates or truncates.
    ///
    /// - Precondition: the actions were checked against this simulator, as
    ///   ``ReplayInput/init(json:for:)`` does.
    /// - Throws: ``ReplayError/invalidState(_:)`` if the simulator refuses the state; nothing
    ///   has been stepped then.
    public func replay(_ input: ReplayInput) throws(ReplayError) -> [ReplayStep] {
        do {
            try setState(input.state)
        } catch {
            throw .invalidState(error)
        }
        var steps: [ReplayStep] = []
        for (t, action) in input.actions.enumerated() {
            let outcome = step(action)
            steps.append(ReplayStep(
                t: t, observation: observation(), reward: outcome.reward,
                terminated: outcome.terminated, truncated: outcome.truncated, state: state))
            if outcome.terminated || outcome.truncated { break }
        }
        return steps
    }
}
