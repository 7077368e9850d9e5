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
    ],
    targets: [
        // MARK: - C libraries from Debian packages
        .systemLibrary(name: "CBLAS", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CZMQ", providers: [.apt(["libzmq3-dev"])]),
        .systemLibrary(name: "CGlibcExtras"),
        .systemLibrary(name: "CMuJoCo", providers: [.apt(["libmujoco-dev"])]),

        // MARK: - Library modules
        .target(name: "Core", dependencies: ["CBLAS", "CGlibcExtras"]),
        .target(name: "Simulators", dependencies: ["Core", "CMuJoCo"], exclude: ["Models"]),
        .target(name: "ZMQ", dependencies: ["CZMQ"]),
        .target(name: "Protocol", dependencies: ["Core"]),
        .target(name: "Worker", dependencies: ["Core", "Simulators"]),
        .target(name: "Learner", dependencies: ["Core", "Simulators", "Worker"]),
        .target(name: "Plot", dependencies: ["Core"]),
        .target(name: "Bench", dependencies: ["Core", "Simulators", "Worker", "Learner"]),

        // MARK: - The command-line tool
        .executableTarget(
            name: "trpo",
            dependencies: [
                "Core", "Simulators", "Worker", "Learner", "Plot", "Bench",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // MARK: - Tests
        .testTarget(name: "CoreTests", dependencies: ["Core"]),
        .testTarget(name: "SimulatorsTests", dependencies: ["Simulators"], exclude: ["Fixtures"]),
        .testTarget(name: "LearnerTests", dependencies: ["Core", "Simulators", "Worker", "Learner"]),
        .testTarget(name: "PlotTests", dependencies: ["Plot"]),
        .testTarget(name: "ZMQTests", dependencies: ["ZMQ"]),
        .testTarget(name: "ProtocolTests", dependencies: ["Protocol"]),
        .testTarget(name: "CLITests", dependencies: ["trpo"]),
    ]
)
