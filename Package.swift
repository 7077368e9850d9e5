// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "trpo",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "trpo", targets: ["trpo"]),
        .library(name: "Core", targets: ["Core"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        // MARK: - C libraries from Debian packages
        .systemLibrary(name: "CBLAS", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CZMQ", providers: [.apt(["libzmq3-dev"])]),
        .systemLibrary(name: "CGlibcExtras"),
        .systemLibrary(name: "CMuJoCo", providers: [.apt(["libmujoco-dev"])]),
        // Headers only: Render opens libEGL.so.1 at run time.
        .systemLibrary(name: "CEGL", providers: [.apt(["libegl-dev"])]),

        // MARK: - Library modules
        // The kernels are optimised in debug builds too: the hand-tiled products run ~90× slower
        // at -O0 than at -O2, which made the debug test suite's learners slow enough to miss
        // their workers' heartbeat deadlines on a loaded machine.
        .target(name: "CKernels", cSettings: [.unsafeFlags(["-O2"], .when(configuration: .debug))]),
        .target(name: "Core", dependencies: ["CBLAS", "CGlibcExtras", "CKernels"]),
        .target(name: "Simulators", dependencies: ["Core", "CMuJoCo"], exclude: ["Models"]),
        .target(name: "ZMQ", dependencies: ["CZMQ"]),
        .target(name: "Protocol", dependencies: ["Core"]),
        .target(name: "Transport", dependencies: ["Core", "ZMQ", "Protocol"]),
        .target(name: "Sampling", dependencies: ["Core"]),
        .target(name: "Worker", dependencies: ["Core", "Simulators", "Sampling", "Protocol", "Transport"]),
        .target(name: "TensorBoard", dependencies: [.product(name: "SwiftProtobuf", package: "swift-protobuf")],
                exclude: ["event.proto"]),
        .target(name: "Learner", dependencies: ["Core", "Simulators", "Sampling", "Protocol", "Transport", "TensorBoard"]),
        .target(name: "Plot", dependencies: ["Core"]),
        .target(name: "Supervision", dependencies: ["Core", "Learner", "Protocol", "CGlibcExtras"]),
        .target(name: "Render", dependencies: ["Core", "Simulators", "CMuJoCo", "CEGL"]),
        // Prometheus metrics of a learner over a small HTTP server of its own (`trpo learner --metrics`).
        .target(name: "MetricsExport", dependencies: ["Core", "Learner", "ZMQ", "CGlibcExtras", .product(name: "Prometheus", package: "swift-prometheus")]),
        .target(name: "Bench", dependencies: ["Core", "Simulators", "Sampling", "Worker", "Learner", "Protocol", "Transport", "ZMQ"]),

        // MARK: - The command-line tool
        .executableTarget(
            name: "trpo",
            dependencies: [
                "Core", "Simulators", "Worker", "Learner", "Supervision", "Plot", "Bench", "Render", "MetricsExport", "ZMQ",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),

        // MARK: - Fuzzing
        // `swift build -c release --scratch-path .build-fuzz --product ProtocolFuzz -Xswiftc -sanitize=fuzzer
        //  -Xswiftc -DFUZZING -Xswiftc -enable-experimental-feature -Xswiftc Extern` gives a libFuzzer
        // binary; a plain build replays inputs and writes a seed corpus (Fuzz/ProtocolFuzz/Replay.swift).
        .executableTarget(name: "ProtocolFuzz", dependencies: ["Core", "Protocol"], path: "Fuzz/ProtocolFuzz"),

        // MARK: - Tests
        .testTarget(name: "CoreTests", dependencies: ["Core", "CKernels"]),
        .testTarget(name: "SimulatorsTests", dependencies: ["Simulators"], exclude: ["Fixtures"]),
        .testTarget(name: "LearnerTests", dependencies: ["Core", "Simulators", "Sampling", "Learner"]),
        .testTarget(name: "PlotTests", dependencies: ["Plot"]),
        .testTarget(name: "TensorBoardTests", dependencies: ["TensorBoard", "Learner"]),
        .testTarget(name: "RenderTests", dependencies: ["Render", "Simulators", "Core", "trpo"]),
        .testTarget(name: "ZMQTests", dependencies: ["ZMQ"]),
        .testTarget(name: "ProtocolTests", dependencies: ["Protocol"]),
        .testTarget(name: "WorkerTests", dependencies: ["Core", "Protocol", "Transport", "Worker"]),
        // The learner's conversation state machine, driven without sockets.
        .testTarget(name: "ConversationTests", dependencies: ["Core", "Protocol", "Learner"]),
        .testTarget(name: "CLITests", dependencies: ["trpo"]),
        // The exporter and its HTTP server, pure and over real sockets, and `trpo learner --metrics` scraped with curl.
        .testTarget(name: "MetricsExportTests", dependencies: ["MetricsExport", "Learner", "Core", "trpo"]),
        .testTarget(name: "SupervisionTests", dependencies: ["Supervision", "Learner"]),
        .testTarget(name: "DistributedTests", dependencies: ["trpo", "Core", "ZMQ", "Protocol", "Transport"]),
        // Drives the scripts under deploy/ (Slurm, ssh, systemd, Kubernetes) with the trpo binary.
        .testTarget(name: "DeployTests", dependencies: ["trpo"], exclude: ["scripts"]),
    ]
)
