import ArgumentParser
import Core
import Foundation
import Learner
import Protocol
import Simulators

/// The training options shared by `trpo train` and `trpo learner`: the environment's preset,
/// overridden by any option given; or, with `--resume`, the saved run, which only `--steps`
/// (to continue it) and the vine's Q̂ settings (``TrainingOptions/changeableOnResume``) may
/// change.
struct TrainingOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The environment: a built-in Gymnasium id (see `trpo env list`), or gym:ID (any Gymnasium environment) or py:MODULE:FACTORY (your own class or function), which Python workers make (docs/environments.md).", valueName: "env"))
    var env: String?

    @Option(name: .customLong("env-kwargs"), help: ArgumentHelp("With gym:ID or py:MODULE:FACTORY: keyword arguments to make the environment with, as a JSON object, e.g. '{\"continuous\": true}'.", valueName: "json"))
    var envKwargs: String?

    @Option(parsing: .unconditional, help: "Run seed: every random stream derives from it (default: 1).")
    var seed: UInt64?

    @Option(parsing: .unconditional, help: "Total environment steps (with --resume: more than the run's to continue it).")
    var steps: Int?

    @Option(name: .customLong("batch-steps"), parsing: .unconditional, help: "Environment steps per iteration.")
    var batchSteps: Int?

    @Option(name: .customLong("max-kl"), parsing: .unconditional, help: "Trust-region size δ: bound on the mean KL(π_old‖π_new).")
    var maxKL: Double?
    @Option(name: .customLong("kl-schedule"),
            help: "How δ changes over the run: constant (the paper), or linear, from --max-kl to 0 at --steps.")
    var klSchedule: KLSchedule?

    @Option(help: "Run directory (default: runs/<env>-seed<seed>).")
    var out: String?

    @Option(help: "Directory for TensorBoard event files (default: tensorboard/ in the run directory; give each run its own).")
    var tensorboard: String?

    @Flag(name: .customLong("no-tensorboard"), help: "Write no TensorBoard event files.")
    var noTensorBoard = false

    @Option(name: .customLong("eval-every"), parsing: .unconditional, help: ArgumentHelp("Evaluate the policy after every N-th iteration (N counts iterations) and the last, on separate simulators; the best is kept in best/ (default: off).", valueName: "N"))
    var evalEvery: Int?

    @Option(name: .customLong("eval-episodes"), parsing: .unconditional, help: ArgumentHelp("Deterministic episodes per --eval-every evaluation (default: 10).", valueName: "K"))
    var evalEpisodes: Int?

    @Flag(name: .customLong("no-overlap"), help: "Fit the value function after the policy step and before the next batch is sampled, instead of beside both (same numbers; for timing the two).")
    var noOverlap = false

    @Option(name: .customLong("checkpoint-every"), parsing: .unconditional, help: ArgumentHelp("Rewrite checkpoint.json at most once per SECONDS (0: after every iteration); the first and last iteration, a new best and a stop are always saved, so a crash loses at most SECONDS of training.", valueName: "SECONDS"))
    var checkpointEvery: Double = CheckpointSchedule.defaultInterval

    @Option(name: .customLong("keep-every"), parsing: .unconditional, help: ArgumentHelp("Also keep the checkpoint of every N-th iteration in checkpoints/iteration-N/ (the run's history, for `trpo eval --checkpoint` and `trpo render`); may be given or changed on --resume (default: off).", valueName: "N"))
    var keepEvery: Int?

    @Option(parsing: .unconditional, help: "Environment copies each sampler steps in lockstep.")
    var envs: Int?

    @Option(name: .customLong("chunk-steps"), parsing: .unconditional, help: "Rows per sample chunk (the unit workers send).")
    var chunkSteps: Int?

    @Option(help: "Hidden layer widths of policy and value networks, e.g. 64,64.", transform: LayerWidths.parse)
    var hidden: LayerWidths?

    @Option(parsing: .unconditional, help: "Discount γ.")
    var gamma: Double?

    @Option(parsing: .unconditional, help: "GAE λ.")
    var lambda: Double?

    @Option(name: .customLong("cg-iters"), parsing: .unconditional, help: "Conjugate-gradient iterations.")
    var cgIterations: Int?

    @Option(name: .customLong("cg-damping"), parsing: .unconditional, help: "Damping added to the Fisher matrix.")
    var cgDamping: Double?

    @Option(name: .customLong("fisher-subsample"), parsing: .unconditional, help: "Fraction of the batch used for Fisher-vector products, in (0, 1].")
    var fisherSubsample: Double?

    @Option(name: .customLong("vf-epochs"), parsing: .unconditional, help: "Value-function epochs per iteration.")
    var valueEpochs: Int?

    @Option(name: .customLong("vf-lr"), parsing: .unconditional, help: "Value-function Adam learning rate.")
    var valueLearningRate: Double?

    @Option(name: .customLong("vf-minibatch"), parsing: .unconditional, help: "Value-function minibatch size.")
    var valueMinibatch: Int?

    @Option(name: .customLong("init-log-std"), parsing: .unconditional, help: "Initial log standard deviation of a Gaussian policy.")
    var initialLogStd: Double?

    @Option(help: "Sampling scheme: single-path or vine (the paper's §5.2).")
    var sampler: SamplerKind?

    @Option(name: .customLong("trunk-steps"), parsing: .unconditional, help: "Vine: steps of each copy's trunk per iteration.")
    var trunkSteps: Int?

    @Option(name: .customLong("vine-states"), parsing: .unconditional, help: "Vine: N, rollout-set states per iteration.")
    var vineStates: Int?

    @Option(name: .customLong("vine-actions"), parsing: .unconditional, help: "Vine: K, actions per state (every action once for small discrete spaces).")
    var vineActions: Int?

    @Option(name: .customLong("vine-length"), parsing: .unconditional, help: "Vine: T, the most steps of a branch.")
    var vineLength: Int?

    @Flag(name: .customLong("crn"), inversion: .prefixedNo, help: "Vine: common random numbers across a state's branches (default: on).")
    var commonRandomNumbers: Bool?

    @Option(name: .customLong("vine-bootstrap"), help: "Vine: complete the Q̂ of a branch cut by T or the time limit with γᴸ V(s_L), V fitted on the trunks (value, the default except for CartPole-v1), or not (none, the paper's estimator).")
    var vineBootstrap: VineBootstrap?

    @Option(name: .customLong("vine-kl-states"), help: "Vine: where the step measures the KL constraint and the Fisher matrix: rollout-set (the N states, the paper's) or trunks (every trunk state).")
    var vineTrustRegion: VineTrustRegion?

    @Option(help: "A custom MJCF model for a MuJoCo environment (same joints and actuators; the environment's rewards and observations). With workers, the learner sends it to them.")
    var model: String?

    @Flag(name: .customLong("obs-norm"), inversion: .prefixedNo, help: "Standardise observations with running statistics (default: the preset's choice).")
    var observationNormalization: Bool?

    @Flag(name: .customLong("reward-norm"), inversion: .prefixedNo, help: "Scale rewards by the running standard deviation of the discounted return (default: the preset's choice).")
    var rewardNormalization: Bool?

    @Option(help: "The networks' trunk: auto (convolutional cnn-small when the environment's observations are frames — uint8 of height × width × channels, as gym:ALE/… gives them — an MLP of --hidden otherwise), mlp, cnn-small (Baselines' cnn_small), dqn-2013 (Mnih et al. 2013) or paper-atari (the TRPO paper's network).")
    var trunk: TrunkChoice?

    @Flag(name: .customLong("reward-clip"), inversion: .prefixedNo, help: "Train on the sign of each reward (−1, 0, +1), as Atari agents do; logged returns stay the game's score. Single path only (default: the preset's choice).")
    var rewardClipping: Bool?

    @Option(help: "Continue the run saved in this directory from its last checkpoint (other options must agree with the run; --steps may raise its total).")
    var resume: String?

    @Flag(help: "Replace the run already in --out (without it, such a directory is refused).")
    var overwrite = false

    @Flag(help: "Print only the final summary.")
    var quiet = false

    @Option(help: "A YAML file of run settings (keys: the long option names, and env, sampler, model); options given override it.")
    var config: String?

    @Flag(name: .customLong("print-config"), help: "Print the resolved configuration as YAML (for --config) and exit without creating anything.")
    var printConfig = false

    /// One setting of the run that an option (or a `--config` key) gives: the option's name
    /// (for a file's key, the file and the key) and what it does to a configuration.
    struct Setting {
        var option: String
        /// The `--config` key: the option's long name without `--` (and without `no-` for a flag).
        var key: String
        /// The value given, as the command line or the file wrote it (nil for a command-line flag).
        var value: String?
        /// The value in a configuration.
        var current: (TrainingConfiguration) -> String
        var apply: (inout TrainingConfiguration) -> Void
    }

    /// The settings the command line gives, in the order they apply.
    var settings: [Setting] { catalog.compactMap(\.given) }

    /// Every setting an option (or a `--config` key) can give, each option named once, in the
    /// order they apply (`--sampler`, which picks the preset, and `--model`, read from its
    /// file, are apart), with the value the command line gives, if any.
    var catalog: [SettingEntry] {
        var entries: [SettingEntry] = []
        func set<Value: SettingValue>(_ option: String, _ value: Value?, _ paths: WritableKeyPath<TrainingConfiguration, Value>...) {
            entries.append(SettingEntry(option: option, value: value, paths: paths))
        }
        set("--seed", seed, \.seed)
        set("--steps", steps, \.totalSteps)
        set("--batch-steps", batchSteps, \.batchSteps)
        set("--max-kl", maxKL, \.trpo.maxKL)
        set("--kl-schedule", klSchedule, \.klSchedule)
        set("--envs", envs, \.environmentsPerSampler)
        set("--chunk-steps", chunkSteps, \.chunkSteps)
        set("--hidden", hidden?.widths, \.policyHiddenSizes, \.valueHiddenSizes)
        set("--gamma", gamma, \.gamma)
        set("--lambda", lambda, \.lambda)
        set("--cg-iters", cgIterations, \.trpo.cgIterations)
        set("--cg-damping", cgDamping, \.trpo.damping)
        set("--fisher-subsample", fisherSubsample, \.trpo.fisherSubsample)
        set("--vf-epochs", valueEpochs, \.valueFit.epochs)
        set("--vf-lr", valueLearningRate, \.valueFit.learningRate)
        set("--vf-minibatch", valueMinibatch, \.valueFit.minibatchSize)
        set("--init-log-std", initialLogStd, \.initialLogStd)
        set(observationNormalization == false ? "--no-obs-norm" : "--obs-norm", observationNormalization, \.normalizeObservations)
        set(rewardNormalization == false ? "--no-reward-norm" : "--reward-norm", rewardNormalization, \.normalizeRewards)
        set(rewardClipping == false ? "--no-reward-clip" : "--reward-clip", rewardClipping, \.clipRewards)
        set("--trunk", trunk, \.trunk)
        set("--trunk-steps", trunkSteps, \.vine.trunkSteps)
        set("--vine-states", vineStates, \.vine.rolloutStates)
        set("--vine-actions", vineActions, \.vine.actionsPerState)
        set("--vine-length", vineLength, \.vine.rolloutLength)
        set(commonRandomNumbers == false ? "--no-crn" : "--crn", commonRandomNumbers, \.vine.commonRandomNumbers)
        set("--vine-bootstrap", vineBootstrap, \.vineBootstrap)
        set("--vine-kl-states", vineTrustRegion, \.vineTrustRegion)
        return entries
    }

    /// The settings that make the run, in the order they apply: the `--config` file's that no
    /// option overrides, then the command line's.
    func givenSettings(file: ConfigFile?) -> [Setting] {
        let overridden = Set(settings.map(\.key))
        return (file?.settings ?? []).filter { !overridden.contains($0.key) } + settings
    }

    /// The preset of `environment` for `--sampler` (or the file's `sampler`), with the
    /// settings of `file` applied and then those of the command line.
    /// - Throws: `ValidationError` naming the first option (or the file and key) whose value
    ///   makes the configuration invalid (it is checked after each), with the configuration's reason.
    func newConfiguration(environment: String, file: ConfigFile?) throws -> TrainingConfiguration {
        var c = TrainingConfiguration.preset(for: environment, sampler: sampler ?? file?.sampler ?? .singlePath)
        c.environmentArguments = envKwargs ?? file?.envKwargs
        let settings = givenSettings(file: file)
        func applying(_ settings: [Setting]) -> TrainingConfiguration {
            var configured = c
            for setting in settings { setting.apply(&configured) }
            // The vine's Q-values discount as the run does.
            if configured.sampler == .vine { configured.vine.gamma = configured.gamma }
            return configured
        }
        let configured = applying(settings)
        do { try configured.validate() } catch {
            // Settings are checked together (--trunk-steps may need the --vine-states given
            // after it); the one to blame is the first without which the rest would do.
            let culprit = settings.indices.first { i in
                let others = settings.enumerated().filter { $0.offset != i }.map(\.element)
                return (try? applying(others).validate()) != nil
            }
            guard let culprit else {
                throw ValidationError("\(settings.map(\.option).joined(separator: ", ")) together: \(error.message)")
            }
            let setting = settings[culprit]
            throw ValidationError("\(setting.option)\(setting.value.map { " \($0)" } ?? ""): \(error.message)")
        }
        return configured
    }

    func validate() throws {
        if tensorboard != nil && noTensorBoard { throw ValidationError("--tensorboard DIR and --no-tensorboard contradict each other: give one of them") }
        if let evalEvery, evalEvery <= 0 { throw ValidationError("--eval-every must be positive (got \(evalEvery))") }
        if let keepEvery, keepEvery <= 0 { throw ValidationError("--keep-every must be positive (got \(keepEvery))") }
        guard checkpointEvery >= 0 && checkpointEvery.isFinite else {
            throw ValidationError("--checkpoint-every must be a number of seconds ≥ 0 (got \(checkpointEvery))")
        }
        if let evalEpisodes {
            guard evalEvery != nil else { throw ValidationError("--eval-episodes applies with --eval-every N") }
            guard evalEpisodes > 0 else { throw ValidationError("--eval-episodes must be positive (got \(evalEpisodes))") }
        }
        let file = try configFile()
        if resume != nil {
            guard !overwrite else { throw ValidationError("--resume continues a run and --overwrite replaces one: give one of them") }
            if let steps, steps <= 0 { throw ValidationError("--steps must be positive (got \(steps))") }
            return
        }
        guard let env = env ?? file?.env else {
            throw ValidationError("--env is required (see `trpo env list`)\(config.map { ", or an env key in \($0)" } ?? "")")
        }
        if let problem = Self.environmentProblem(env) { throw ValidationError(problem) }
        if EnvironmentName.isExternal(env) {
            if model ?? file?.model != nil { throw ValidationError("--model is for the built-in MuJoCo environments, not \(env)") }
        } else if envKwargs ?? file?.envKwargs != nil {
            throw ValidationError("--env-kwargs applies to gym:ID and py:MODULE:FACTORY environments, which workers make; \(env) is built in")
        }
        if let kwargs = envKwargs, let problem = Self.argumentsProblem(kwargs) { throw ValidationError("--env-kwargs: \(problem)") }
        _ = try newConfiguration(environment: env, file: file)
    }

    /// Why `env` names no environment (nil: it names one): an unknown built-in id, or a
    /// malformed external name.
    static func environmentProblem(_ env: String) -> String? {
        if EnvironmentName.isExternal(env) { return EnvironmentName.problem(env) }
        do { _ = try EnvironmentRegistry.make(env) } catch {
            return error.description + "; or gym:ID for any Gymnasium environment, py:MODULE:FACTORY for your own (docs/environments.md)"
        }
        return nil
    }

    /// Why `text` is not a JSON object (nil: it is one).
    static func argumentsProblem(_ text: String) -> String? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) else {
            return "'\(text)' is not valid JSON (quote the keys, e.g. '{\"continuous\": true}')"
        }
        return object is [String: Any] ? nil : "'\(text)' is not a JSON object ({\"name\": value, …})"
    }

    /// The default run directory's name for `env`: `gym:LunarLander-v3` → `gym-LunarLander-v3`.
    static func directoryName(of env: String) -> String {
        env.replacingOccurrences(of: ":", with: "-").replacingOccurrences(of: "/", with: "-")
    }

    /// The `--config` keys a resumed run takes from the command line (or file): the step
    /// budget, and how the vine turns branches into a step (how a cut branch's Q̂ is completed,
    /// T, where the KL is measured), which change what later batches mean but nothing of the
    /// state being continued. E.g. a vine that plateaued with `--vine-bootstrap none` goes on
    /// with `value`. Every other setting must be the run's.
    static let changeableOnResume: [String] = ["steps", "vine-bootstrap", "vine-length", "vine-kl-states"]

    /// The run the command line asks for: a new one in its directory, or the saved one it resumes.
    struct Run {
        enum Start {
            /// A new run with this configuration.
            case new(TrainingConfiguration)
            /// The run saved in ``Run/directory``, from this checked state (its step budget
            /// perhaps raised by `--steps`).
            case resume(TrainerState)
        }
        var directory: URL
        var start: Start
        /// Where TensorBoard event files go (nil: none).
        var tensorBoardDirectory: URL?
        /// The configuration as `--config` reads it (``TrainingOptions/yaml(of:)``): a new run
        /// writes it to `config.yaml`.
        var yaml: String
        /// When to evaluate the policy during training (nil: never).
        var evaluation: EvaluationSchedule?
        /// When to rewrite `checkpoint.json`.
        var checkpoints: CheckpointSchedule
        /// Whether a single-path iteration's value fit runs while the next batch is sampled.
        var overlapsValueFit: Bool
        /// A resumed run's settings that the command line changed (other than `--steps`), as
        /// "--vine-bootstrap value (was none)".
        var changes: [String] = []
        /// For `--eval-every` on an external environment: how the session evaluates its
        /// checkpoints (``TrainingSession/checkpointEvaluator``) and whom it tells.
        var checkpointEvaluator: CheckpointEvaluator?
        var onBackgroundEvaluation: ((Int, Result<EvaluationResult, any Error>) -> Void)?

        /// The configuration the run trains with.
        var configuration: TrainingConfiguration {
            switch start {
            case .new(let c): c
            case .resume(let state): state.configuration
            }
        }

        /// The run's session: a new run's `config.json` written and `progress.csv` started, or
        /// the saved run reloaded.
        func session() throws -> TrainingSession {
            switch start {
            case .new(let c): return try newSession(c)
            case .resume(let state):
                do {
                    return withEvaluator(try TrainingSession(resuming: state, in: directory, tensorBoardDirectory: tensorBoardDirectory,
                                                             evaluation: evaluation, checkpoints: checkpoints))
                } catch { throw runFailure(error) }
            }
        }

        private func withEvaluator(_ session: TrainingSession) -> TrainingSession {
            var session = session
            session.checkpointEvaluator = checkpointEvaluator
            session.onBackgroundEvaluation = onBackgroundEvaluation
            return session
        }

        /// What a learner serves: the session, or, for a new run of an external environment,
        /// the configuration whose session starts once the first worker described the environment.
        func learnerRun() throws -> LearnerRun {
            if case .new(let c) = start, c.isExternal, c.environmentSpec == nil {
                return .awaitingSpec(c, start: newSession)
            }
            return .session(try session())
        }

        /// A new run's session in ``directory``, with its `config.yaml`.
        private func newSession(_ c: TrainingConfiguration) throws -> TrainingSession {
            do {
                let session = try TrainingSession(configuration: c, outputDirectory: directory, resume: false,
                                                  tensorBoardDirectory: tensorBoardDirectory, evaluation: evaluation,
                                                  checkpoints: checkpoints)
                try AtomicFile.write(Data(yaml.utf8), to: directory.appendingPathComponent(RunDirectory.configYAMLName))
                return withEvaluator(session)
            } catch { throw runFailure(error) }
        }
    }

    /// The run: the new run's configuration (preset ⊕ `--config` file ⊕ options, reading
    /// `--model`), or the checked checkpoint of the run `--resume` names with `--steps` (or the
    /// file's `steps`) applied.
    /// - Throws: exit 2 (``runFailure(_:)-(String)``) for an unreadable model file, config
    ///   file or checkpoint, or options (or file settings) that contradict the resumed run.
    func resolve() throws -> Run {
        let file = try configFile()
        guard let resume else {
            let env = (env ?? file?.env)!  // validate() requires one
            var c = try newConfiguration(environment: env, file: file)
            if let model = model ?? file?.model {
                guard let data = FileManager.default.contents(atPath: model), let xml = String(data: data, encoding: .utf8) else {
                    throw runFailure("cannot read model file \(model)")
                }
                c.modelXML = xml
                c.modelFile = model
            }
            let directory = URL(fileURLWithPath: out ?? "runs/\(Self.directoryName(of: env))-seed\(c.seed)")
            return Run(directory: directory, start: .new(c), tensorBoardDirectory: tensorBoardDirectory(of: directory),
                       yaml: yaml(of: c), evaluation: evaluation, checkpoints: CheckpointSchedule(interval: checkpointEvery, keepEvery: keepEvery),
                       overlapsValueFit: !noOverlap)
        }
        let directory = URL(fileURLWithPath: resume)
        var state: TrainerState
        do { state = try Checkpoint.load(from: directory) } catch { throw runFailure(error) }
        let problems = contradictions(with: state.configuration, directory: directory, file: file)
        guard problems.isEmpty else {
            throw runFailure("--resume \(resume) continues the run as it was configured; only "
                             + Self.changeableOnResume.map { "--" + $0 }.joined(separator: ", ") + " may change, and "
                             + problems.joined(separator: "; "))
        }
        var changes: [String] = []
        for setting in givenSettings(file: file) where Self.changeableOnResume.contains(setting.key) {
            let before = state.configuration
            setting.apply(&state.configuration)
            if setting.key != "steps" && state.configuration != before {
                changes.append("\(setting.option) \(setting.current(state.configuration)) (was \(setting.current(before)))")
            }
            do { try state.configuration.validate() } catch {
                throw runFailure("--resume \(resume): \(setting.option) \(setting.current(state.configuration)): \(error.message)")
            }
        }
        return Run(directory: directory, start: .resume(state), tensorBoardDirectory: tensorBoardDirectory(of: directory),
                   yaml: yaml(of: state.configuration), evaluation: evaluation,
                   checkpoints: CheckpointSchedule(interval: checkpointEvery, keepEvery: keepEvery), overlapsValueFit: !noOverlap, changes: changes)
    }

    /// `--eval-every N` with `--eval-episodes K` (default 10); nil without `--eval-every`.
    private var evaluation: EvaluationSchedule? {
        evalEvery.map { EvaluationSchedule(every: $0, episodes: evalEpisodes ?? 10) }
    }

    /// `--tensorboard`, or the run directory's `tensorboard/` unless `--no-tensorboard`.
    private func tensorBoardDirectory(of run: URL) -> URL? {
        if noTensorBoard { return nil }
        return tensorboard.map { URL(fileURLWithPath: $0) } ?? run.appendingPathComponent(RunDirectory.tensorBoardDirectoryName)
    }

    /// Readies `run` to start: a resumed run that is already finished is reported on standard
    /// output (nothing to train: returns false); a resumed one is announced (`announce`) as
    /// "resuming DIR from iteration N (T steps)". The process that `ownsDirectory` (not a
    /// supervised learner, whose supervisor owns it) claims the directory with a
    /// ``RunDirectoryLock`` held until it exits, so a second command on the same run is refused;
    /// it then checks a new run's directory with ``RunDirectory/prepareNewRun(in:overwrite:)``,
    /// so a run already there is refused without `--overwrite`, and a resumed run's checkpoint
    /// for a change since it was read (a process that was still training it).
    /// With `--print-config`, only prints the run's configuration as YAML on standard output
    /// and returns false (nothing is created).
    /// - Returns: whether there is anything to train.
    func begin(_ run: Run, ownsDirectory: Bool, announce: Bool) throws -> Bool {
        if printConfig {
            print(run.yaml, terminator: "")
            return false
        }
        if ownsDirectory { try claim(run) }
        switch run.start {
        case .resume(let state):
            let c = state.configuration
            guard state.timesteps < c.totalSteps else {
                print("\(run.directory.path) is finished: \(grouped(state.timesteps)) steps done at iteration \(state.iteration), "
                      + "\(steps == nil ? "its total" : "--steps") is \(grouped(c.totalSteps)); nothing to train "
                      + "(give --steps above \(grouped(state.timesteps)) to continue it)")
                return false
            }
            if announce && !quiet {
                note("resuming \(run.directory.path) from iteration \(state.iteration) (\(grouped(state.timesteps)) steps; "
                     + "the run ends at \(grouped(c.totalSteps)))"
                     + (run.changes.isEmpty ? "" : " with " + run.changes.joined(separator: ", ")))
            }
        case .new:
            guard ownsDirectory else { break }
            do {
                if try RunDirectory.prepareNewRun(in: run.directory, overwrite: overwrite) {
                    note("--overwrite: removed the run that was in \(run.directory.path)")
                }
            } catch { throw runFailure(error) }
        }
        return true
    }

    /// Locks `run`'s directory (creating a new run's) for the rest of this process; a resumed
    /// run whose checkpoint moved on since ``resolve()`` read it is refused.
    private func claim(_ run: Run) throws {
        do {
            try FileManager.default.createDirectory(at: run.directory, withIntermediateDirectories: true)
        } catch {
            throw runFailure("cannot create the run directory \(run.directory.path): \(error.localizedDescription)")
        }
        do { _ = try RunDirectoryLock(run.directory) } catch { throw runFailure(error) }
        guard case .resume(let state) = run.start else { return }
        let now = try? Checkpoint.load(from: run.directory)
        if now?.iteration != state.iteration || now?.timesteps != state.timesteps {
            throw runFailure("\(run.directory.path) changed while this command read it (a process was still training it): "
                             + "run the command again")
        }
    }

    /// What in the command line (and the `--config` file) disagrees with `saved`, the
    /// configuration of the run resumed from `directory`: one phrase per option or key.
    func contradictions(with saved: TrainingConfiguration, directory: URL, file: ConfigFile?) -> [String] {
        var problems: [String] = []
        if let env, env != saved.environment { problems.append("--env \(env) is not the run's \(saved.environment)") }
        if self.env == nil, let file, let env = file.env, env != saved.environment {
            problems.append("\(file.path): env \(env) is not the run's \(saved.environment)")
        }
        if self.sampler == nil, let file, let sampler = file.sampler, sampler != saved.sampler {
            problems.append("\(file.path): sampler \(sampler.rawValue) is not the run's \(saved.sampler.rawValue)")
        }
        if let kwargs = envKwargs ?? file?.envKwargs, kwargs != saved.environmentArguments {
            problems.append("--env-kwargs \(kwargs) is not the run's \(saved.environmentArguments ?? "(none)")")
        }
        if let out, URL(fileURLWithPath: out).standardizedFileURL.path != directory.standardizedFileURL.path {
            problems.append("--out \(out) is not the run's directory")
        }
        if let sampler, sampler != saved.sampler {
            problems.append("--sampler \(sampler.rawValue) is not the run's \(saved.sampler.rawValue)")
        }
        for setting in givenSettings(file: file) where !Self.changeableOnResume.contains(setting.key) {
            var changed = saved
            setting.apply(&changed)
            guard changed != saved else { continue }
            problems.append(setting.value.map { "\(setting.option) \($0) is not the run's \(setting.current(saved))" }
                            ?? "\(setting.option) is not how the run was configured")
        }
        if let model = model ?? file?.model {
            let xml = FileManager.default.contents(atPath: model).flatMap { String(data: $0, encoding: .utf8) }
            if xml != saved.modelXML {
                let hash = xml.map { String(Message.Model.hash(of: $0), radix: 16) } ?? "unreadable"
                let savedHash = saved.modelXML.map { String(Message.Model.hash(of: $0), radix: 16) } ?? "the built-in model"
                problems.append("--model \(model) (hash \(hash)) is not the run's model (\(savedHash))")
            }
        }
        return problems
    }
}

/// One compact line per iteration on standard error, with an ETA (``RemainingTime``); the
/// summary on standard output.
struct ProgressPrinter {
    let configuration: TrainingConfiguration
    let quiet: Bool
    private var remainingTime = RemainingTime()
    /// The returns of the last ``recentEpisodes`` episodes that finished (fewer at first), oldest first.
    private var recentReturns: [Double] = []
    /// Episodes in the running mean each line shows beside the iteration's own: an Atari
    /// iteration finishes a few games, so its own mean jumps by tens of points.
    static let recentEpisodes = 100

    init(configuration: TrainingConfiguration, quiet: Bool) {
        self.configuration = configuration
        self.quiet = quiet
    }

    private var iterations: Int { (configuration.totalSteps + configuration.batchSteps - 1) / configuration.batchSteps }

    func banner(directory: URL) {
        let c = configuration
        let perIteration = switch c.sampler {
        case .singlePath: "\(grouped(c.batchSteps)) per iteration"
        case .vine:
            "vine: \(c.environmentsPerSampler) trunks of \(grouped(c.vine.trunkSteps)), N=\(c.vine.rolloutStates), "
                + "K=\(c.vine.actionsPerState), T=\(c.vine.rolloutLength), CRN \(c.vine.commonRandomNumbers ? "on" : "off"), "
                + "bootstrap \(c.vineBootstrap.rawValue), KL on \(c.vineTrustRegion.rawValue)"
        }
        note("trpo train \(c.environment) seed \(c.seed): \(grouped(c.totalSteps)) steps, \(perIteration), δ=\(c.trpo.maxKL)\(c.klSchedule == .linear ? " shrinking linearly to 0" : ""), "
            + "OpenBLAS \(NumericsRuntime.blasCore) kernels\(NumericsRuntime.layerProductKernels.map { " + \($0) layer products" } ?? "") → \(directory.path)")
    }

    mutating func iteration(_ s: IterationStatistics, wall: Double, extra: String? = nil) {
        guard !quiet else { return }
        remainingTime.record(steps: s.timesteps, wall: wall)
        let remaining = remainingTime.seconds(toReach: configuration.totalSteps)
        let ret = s.episodeReturns.isEmpty ? "      —" : String(format: "%8.1f", s.episodeReturns.reduce(0, +) / Double(s.episodeReturns.count))
        let step = s.policyStep
        let status = step.accepted ? String(format: "kl %.4f bt %d", step.kl, step.backtracks) : "rejected (\(step.rejection?.rawValue ?? "?"))"
        // A vine iteration's simulator steps vary, so its count of iterations is not known ahead.
        let counter = configuration.sampler == .vine ? String(format: "%4d", s.iteration) : String(format: "%4d/%d", s.iteration, iterations)
        var line = String(format: "iter %@ | steps %@ | return %@ (%3d ep) | %@", counter, grouped(s.timesteps), ret,
                          s.episodeReturns.count, status)
        recentReturns.append(contentsOf: s.episodeReturns)
        recentReturns.removeFirst(max(0, recentReturns.count - Self.recentEpisodes))
        if !recentReturns.isEmpty {
            line += String(format: " | %d-ep %.1f", recentReturns.count, recentReturns.reduce(0, +) / Double(recentReturns.count))
        }
        if !s.valueFit.explainedVarianceBefore.isNaN { line += String(format: " | ev %5.2f", s.valueFit.explainedVarianceBefore) }
        if let evaluation = s.evaluation { line += String(format: " | eval %.1f", evaluation.returnMean) }
        if let extra { line += " | \(extra)" }
        note(line + " | \(humanDuration(wall)) | ETA \(humanDuration(remaining))")
    }

    /// The last line: how the run ended (finished, or interrupted before its step budget was
    /// spent: then how to continue it) and where its checkpoint is.
    func summary(_ state: TrainerState, lastReturn: Double, directory: URL) {
        guard state.timesteps >= configuration.totalSteps else {
            guard state.iteration > 0 else {
                print("interrupted before the first iteration: no checkpoint was written to \(directory.path)")
                return
            }
            print("interrupted at iteration \(state.iteration): \(grouped(state.timesteps)) of \(grouped(configuration.totalSteps)) "
                  + "steps in \(humanDuration(state.wallSeconds)); checkpoint \(Checkpoint.url(in: directory).path); "
                  + "continue with --resume \(directory.path)")
            return
        }
        let ret = lastReturn.isNaN ? "no episode finished in the last iteration"
            : String(format: "last iteration's mean return %.1f", lastReturn)
        print(String(format: "done: %@ steps in %@, %@; checkpoint %@",
                     grouped(state.timesteps), humanDuration(state.wallSeconds), ret,
                     Checkpoint.url(in: directory).path))
    }
}
