/// A comma-separated table with a header row, as written to `progress.csv`.
///
/// The reader accepts a leading byte-order mark, LF and CRLF line ends, a missing or present trailing newline, blank
/// lines (skipped), empty fields (missing values) and RFC 4180 quoted fields (`"a,b"`, with
/// `""` for a quote inside). Rows shorter than the header are padded with empty fields, so a
/// last line cut short by a writer that is still running reads as missing values. A row may
/// have extra fields only if they are all empty (a trailing comma).
public struct CSVTable: Sendable, Equatable {
    /// Where the text came from, used in error messages (a path, or a short description).
    public let source: String
    /// The column names, trimmed of surrounding spaces and tabs.
    public let header: [String]
    /// The data rows, each with exactly `header.count` fields.
    public let rows: [[String]]
    /// The 1-based line on which each row starts, for error messages.
    let lines: [Int]

    /// Parses `text`.
    ///
    /// - Parameters:
    ///   - text: The whole file.
    ///   - source: Where `text` came from, for error messages.
    /// - Throws: ``PlotError/emptyCSV(source:)`` when there is no header row,
    ///   ``PlotError/unterminatedQuote(source:line:)`` and
    ///   ``PlotError/extraFields(source:line:count:expected:)``.
    public init(parsing text: String, source: String = "CSV input") throws(PlotError) {
        let bytes = Array(text.utf8)
        let byteOrderMark: [UInt8] = [0xEF, 0xBB, 0xBF]
        let start = bytes.starts(with: byteOrderMark) ? byteOrderMark.count : 0
        var records = try CSVTable.records(in: bytes[start...], source: source)
        guard !records.isEmpty else { throw .emptyCSV(source: source) }
        let header = records.removeFirst().fields.map(CSVTable.trimmed)
        var rows: [[String]] = []
        rows.reserveCapacity(records.count)
        for record in records {
            var fields = record.fields
            if fields.count > header.count {
                guard fields[header.count...].allSatisfy(\.isEmpty) else {
                    throw .extraFields(source: source, line: record.line, count: fields.count, expected: header.count)
                }
                fields.removeLast(fields.count - header.count)
            }
            fields += Array(repeating: "", count: header.count - fields.count)
            rows.append(fields)
        }
        self.source = source
        self.header = header
        self.rows = rows
        self.lines = records.map(\.line)
    }

    /// The index of the first column called `name`.
    ///
    /// - Throws: ``PlotError/missingColumn(_:source:)``.
    public func columnIndex(_ name: String) throws(PlotError) -> Int {
        guard let index = header.firstIndex(of: name) else { throw .missingColumn(name, source: source) }
        return index
    }

    /// The (x, y) pairs of two numeric columns, in row order.
    ///
    /// A row is skipped when either field is empty or holds a non-finite number (`nan`, `inf`):
    /// both mean "no value on this row", e.g. no episode finished during that iteration.
    ///
    /// - Throws: ``PlotError/missingColumn(_:source:)`` and
    ///   ``PlotError/invalidNumber(source:line:column:text:)``.
    public func points(x xColumn: String, y yColumn: String) throws(PlotError) -> [CurvePoint] {
        let xIndex = try columnIndex(xColumn)
        let yIndex = try columnIndex(yColumn)
        var points: [CurvePoint] = []
        for (row, line) in zip(rows, lines) {
            guard let x = try number(row[xIndex], column: xColumn, line: line),
                let y = try number(row[yIndex], column: yColumn, line: line)
            else { continue }
            points.append(CurvePoint(x: x, y: y))
        }
        return points
    }

    /// The weight of each point ``points(x:y:)`` returns, from `weightColumn` (1 where the table
    /// has no such column or the field is empty), in the same order.
    /// - Throws: ``PlotError/invalidNumber(source:line:column:text:)`` for a weight that is not a
    ///   number or is negative, and what ``points(x:y:)`` throws.
    public func weights(x xColumn: String, y yColumn: String, weight weightColumn: String) throws(PlotError) -> [Double] {
        let xIndex = try columnIndex(xColumn)
        let yIndex = try columnIndex(yColumn)
        let weightIndex = try? columnIndex(weightColumn)
        var weights: [Double] = []
        for (row, line) in zip(rows, lines) {
            guard try number(row[xIndex], column: xColumn, line: line) != nil,
                  try number(row[yIndex], column: yColumn, line: line) != nil
            else { continue }
            var weight = 1.0
            if let weightIndex, let value = try number(row[weightIndex], column: weightColumn, line: line) {
                guard value >= 0 else {
                    throw .invalidNumber(source: source, line: line, column: weightColumn, text: CSVTable.trimmed(row[weightIndex]))
                }
                weight = value
            }
            weights.append(weight)
        }
        return weights
    }

    /// The finite number in `field`, or `nil` for an empty or non-finite field.
    private func number(_ field: String, column: String, line: Int) throws(PlotError) -> Double? {
        let text = CSVTable.trimmed(field)
        if text.isEmpty { return nil }
        guard let value = Double(text) else {
            throw .invalidNumber(source: source, line: line, column: column, text: text)
        }
        return value.isFinite ? value : nil
    }

    private static func trimmed(_ field: String) -> String {
        let isBlank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        return String(field.drop(while: isBlank).reversed().drop(while: isBlank).reversed())
    }

    /// One logical line of the file: its fields and the physical line it starts on.
    private struct Record {
        var line: Int
        var fields: [String]
    }

    /// Splits `bytes` into records, dropping blank lines.
    private static func records(in bytes: ArraySlice<UInt8>, source: String) throws(PlotError) -> [Record] {
        let quote = UInt8(ascii: "\""), comma = UInt8(ascii: ",")
        let cr = UInt8(ascii: "\r"), lf = UInt8(ascii: "\n")
        var records: [Record] = []
        var current = Record(line: 1, fields: [])
        var field: [UInt8] = []
        var line = 1, quoteLine = 1
        var inQuotes = false
        var index = bytes.startIndex

        func endField() {
            current.fields.append(String(decoding: field, as: UTF8.self))
            field.removeAll(keepingCapacity: true)
        }
        func endRecord() {
            endField()
            if current.fields != [""] { records.append(current) }
            current = Record(line: line, fields: [])
        }

        while index < bytes.endIndex {
            let byte = bytes[index]
            index += 1
            if inQuotes {
                if byte != quote {
                    if byte == lf { line += 1 }
                    field.append(byte)
                } else if index < bytes.endIndex, bytes[index] == quote {
                    field.append(quote)
                    index += 1
                } else {
                    inQuotes = false
                }
                continue
            }
            switch byte {
            case quote where field.isEmpty:
                inQuotes = true
                quoteLine = line
            case comma:
                endField()
            case cr where index < bytes.endIndex && bytes[index] == lf:
                break  // the LF that follows ends the record
            case cr, lf:
                line += 1
                endRecord()
            default:
                field.append(byte)
            }
        }
        if inQuotes { throw .unterminatedQuote(source: source, line: quoteLine) }
        if !field.isEmpty || !current.fields.isEmpty { endRecord() }
        return records
    }
}
