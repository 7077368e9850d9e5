import Foundation

/// Fixtures Swift writes for the Python worker's tests (`python/tests/fixtures`), so that its
/// numpy code is checked against what Swift computes on the same inputs.
enum PythonFixture {
    /// Writes `fixture` as JSON (sorted keys) to `python/tests/fixtures/<name>`, atomically.
    static func write<Fixture: Encodable>(_ fixture: Fixture, named name: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(fixture)
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let directory = repository.appendingPathComponent("python/tests/fixtures")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try data.write(to: directory.appendingPathComponent(name), options: .atomic)
    }
}
