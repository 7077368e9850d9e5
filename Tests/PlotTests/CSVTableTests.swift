import Testing

@testable import Plot

@Suite struct CSVTableTests {
    static let header = "iteration,timesteps,wall_seconds,episode_return_mean,episode_length_mean,episodes,kl"

    @Test func readsHeaderRowsAndSkipsMissingReturns() throws {
        let text = """
            \(Self.header)
            1,2048,1.5,,,0,0.01
            2,4096,3.0,21.5,21.5,3,0.009
            3,6144,4.5,35,35,2,0.011

            """
        let table = try CSVTable(parsing: text)
        #expect(table.header.count == 7)
        #expect(table.rows.count == 3)
        #expect(table.rows[0][3] == "")
        let points = try table.points(x: "timesteps", y: "episode_return_mean")
        #expect(points == [CurvePoint(x: 4096, y: 21.5), CurvePoint(x: 6144, y: 35)])
    }

    @Test func lineEndsDoNotMatter() throws {
        let lf = "a,b\n1,2\n3,4\n"
        for text in [lf, lf.replacingOccurrences(of: "\n", with: "\r\n"), "a,b\n1,2\n3,4", "a,b\r\n1,2\r\n3,4"] {
            let table = try CSVTable(parsing: text)
            #expect(table.header == ["a", "b"])
            #expect(table.rows == [["1", "2"], ["3", "4"]])
            #expect(try table.points(x: "a", y: "b") == [CurvePoint(x: 1, y: 2), CurvePoint(x: 3, y: 4)])
        }
    }

    @Test func byteOrderMarkIsIgnored() throws {
        #expect(try CSVTable(parsing: "\u{FEFF}a,b\n1,2\n").header == ["a", "b"])
    }

    @Test func quotedFields() throws {
        let text = "name,\"value\"\r\n\"a,b\",1\n\"say \"\"hi\"\"\",2\n\"two\nlines\",3\n"
        let table = try CSVTable(parsing: text)
        #expect(table.header == ["name", "value"])
        #expect(table.rows == [["a,b", "1"], ["say \"hi\"", "2"], ["two\nlines", "3"]])
    }

    @Test func blankLinesAreSkippedAndShortRowsPadded() throws {
        let table = try CSVTable(parsing: "a,b,c\n\n1,2,3\n\n4,5\n7,8,9,\n")
        #expect(table.rows == [["1", "2", "3"], ["4", "5", ""], ["7", "8", "9"]])
    }

    @Test func nonFiniteValuesCountAsMissing() throws {
        let table = try CSVTable(parsing: "x,y\n1,nan\n2, 5 \n3,inf\n")
        #expect(try table.points(x: "x", y: "y") == [CurvePoint(x: 2, y: 5)])
    }

    @Test func errors() {
        #expect(throws: PlotError.emptyCSV(source: "f")) { try CSVTable(parsing: "\n\n", source: "f") }
        #expect(throws: PlotError.unterminatedQuote(source: "f", line: 2)) {
            try CSVTable(parsing: "a,b\n\"1,2\n3,4\n", source: "f")
        }
        #expect(throws: PlotError.extraFields(source: "f", line: 3, count: 3, expected: 2)) {
            try CSVTable(parsing: "a,b\n1,2\n3,4,5\n", source: "f")
        }
        #expect(throws: PlotError.missingColumn("wall_seconds", source: "f")) {
            try CSVTable(parsing: "timesteps,episode_return_mean\n1,2\n", source: "f")
                .points(x: "wall_seconds", y: "episode_return_mean")
        }
        #expect(throws: PlotError.invalidNumber(source: "f", line: 3, column: "y", text: "abc")) {
            try CSVTable(parsing: "x,y\n1,2\n2,abc\n", source: "f").points(x: "x", y: "y")
        }
    }

    @Test func errorLinesCountPhysicalLines() {
        // The quoted field spans lines 2–3, so the bad row is on line 5 after a blank line 4.
        #expect(throws: PlotError.invalidNumber(source: "f", line: 5, column: "x", text: "?")) {
            try CSVTable(parsing: "x,y,note\n1,2,\"two\nlines\"\n\n?,3,\n", source: "f").points(x: "x", y: "y")
        }
    }
}
