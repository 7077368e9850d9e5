/// The Prometheus text exposition format (version 0.0.4) as the server sends it.
public enum ExpositionText {
    /// `text` as a registry emitted it, made stable and strict: metric families (each a
    /// `# HELP`/`# TYPE` pair and its samples) in the order of their names, and non-finite
    /// sample values spelled as the format specifies, `NaN`, `+Inf` and `-Inf` (Swift's
    /// `description` gives `nan`, `inf` and `-inf`, which Prometheus's parser also takes but
    /// others need not). Samples must carry no timestamp: the value is a line's last field.
    public static func normalized(_ text: [UInt8]) -> [UInt8] {
        var families: [(name: String, lines: [Substring])] = []
        for line in String(decoding: text, as: UTF8.self).split(separator: "\n") {
            if line.hasPrefix("#") {
                let fields = line.split(separator: " ", maxSplits: 3)
                let name = fields.count >= 3 ? String(fields[2]) : ""
                if families.last?.name != name { families.append((name, [])) }
                families[families.count - 1].lines.append(line)
            } else {
                if families.isEmpty { families.append((String(line.prefix { $0 != "{" && $0 != " " }), [])) }
                families[families.count - 1].lines.append(Substring(spelledStrictly(line)))
            }
        }
        // Stable: families of the same name (none from one registry) keep their order.
        let sorted = families.enumerated().sorted { ($0.element.name, $0.offset) < ($1.element.name, $1.offset) }
        return Array(sorted.flatMap { $0.element.lines.map { $0 + "\n" } }.joined().utf8)
    }

    /// A sample line with a non-finite value spelled `NaN`, `+Inf` or `-Inf`.
    static func spelledStrictly(_ line: Substring) -> String {
        guard let space = line.lastIndex(of: " ") else { return String(line) }
        let value = line[line.index(after: space)...]
        let strict: String? = switch value.lowercased() {
        case "nan", "-nan", "+nan": "NaN"
        case "inf", "+inf": "+Inf"
        case "-inf": "-Inf"
        default: nil
        }
        guard let strict else { return String(line) }
        return line[...space] + strict
    }
}
