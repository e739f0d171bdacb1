import Foundation
import MailpipeCore
import XMLCoder
import ZIPFoundation

/// An .xlsx workbook read directly: a zip (ZIPFoundation) of XML parts (XMLCoder) —
/// `xl/workbook.xml` names the sheets, `xl/_rels/workbook.xml.rels` says which part holds each,
/// `xl/sharedStrings.xml` holds the texts cells refer to by number.
struct Spreadsheet {
    enum Failure: Error, CustomStringConvertible {
        case notAWorkbook(String)
        case noSuchSheet(String, [String])

        var description: String {
            switch self {
            case .notAWorkbook(let why): return "not an .xlsx workbook: \(why)"
            case .noSuchSheet(let name, let names): return "no sheet '\(name)' (sheets: \(names.joined(separator: ", ")))"
            }
        }
    }

    /// One row of a sheet: its number (1-based, as Excel shows it) and its cells' texts, in
    /// column order (empty cells as "").
    typealias Row = (number: Int, cells: [String])

    let sheetNames: [String]
    private let archive: Archive
    private let sheetParts: [String]
    private let sharedStrings: [String]

    init(bytes: [UInt8]) throws {
        do {
            archive = try Archive(data: Data(bytes), accessMode: .read)
        } catch {
            throw Failure.notAWorkbook("\(error)")
        }
        guard let workbookData = try? Spreadsheet.part("xl/workbook.xml", of: archive) else {
            throw Failure.notAWorkbook("no xl/workbook.xml")
        }
        let workbook = try Spreadsheet.decode(Workbook.self, from: workbookData, part: "xl/workbook.xml")
        let relations = try (try? Spreadsheet.part("xl/_rels/workbook.xml.rels", of: archive)).map {
            try Spreadsheet.decode(Relationships.self, from: $0, part: "xl/_rels/workbook.xml.rels")
        }
        var names: [String] = []
        var parts: [String] = []
        for (i, sheet) in (workbook.sheets.sheet ?? []).enumerated() {
            var target = relations?.relationship?.first { $0.id == sheet.id }?.target ?? "worksheets/sheet\(i + 1).xml"
            target = target.hasPrefix("/") ? String(target.dropFirst()) : "xl/" + target
            names.append(sheet.name)
            parts.append(target)
        }
        guard !parts.isEmpty else { throw Failure.notAWorkbook("the workbook names no sheet") }
        sheetNames = names
        sheetParts = parts
        if let data = try? Spreadsheet.part("xl/sharedStrings.xml", of: archive) {
            let table = try Spreadsheet.decode(SharedStrings.self, from: data, part: "xl/sharedStrings.xml")
            sharedStrings = (table.si ?? []).map(\.text)
        } else {
            sharedStrings = []
        }
    }

    /// The rows of the sheet named (the first when nil).
    func rows(ofSheet name: String?) throws -> (name: String, rows: [Row]) {
        var index = 0
        if let name {
            guard let i = sheetNames.firstIndex(of: name) ?? sheetNames.firstIndex(where: { $0.lowercased() == name.lowercased() }) else {
                throw Failure.noSuchSheet(name, sheetNames)
            }
            index = i
        }
        let part = sheetParts[index]
        guard let data = try? Spreadsheet.part(part, of: archive) else { throw Failure.notAWorkbook("no part \(part)") }
        let sheet = try Spreadsheet.decode(Worksheet.self, from: data, part: part)
        var rows: [Row] = []
        var next = 1
        for row in sheet.sheetData.row ?? [] {
            let number = row.r ?? next
            next = number + 1
            var cells: [String] = []
            for cell in row.c ?? [] {
                let column = cell.r.map(Spreadsheet.columnIndex) ?? cells.count
                while cells.count < column { cells.append("") }
                cells.append(text(of: cell))
            }
            rows.append((number, cells))
        }
        return (sheetNames[index], rows)
    }

    /// A cell's text: a shared string, an inline string, or the value as written (numbers,
    /// booleans, formula results).
    private func text(of cell: Worksheet.Cell) -> String {
        switch cell.t {
        case "s":
            guard let v = cell.v?.value, let i = Int(v.trimmingCharacters(in: .whitespaces)), i >= 0, i < sharedStrings.count else { return "" }
            return sharedStrings[i]
        case "inlineStr":
            return cell.inline?.text ?? ""
        case "b":
            return cell.v?.value == "1" ? "TRUE" : "FALSE"
        default:
            return Spreadsheet.number(cell.v?.value ?? "")
        }
    }

    /// A number as Excel stores it (`6.1234567800000000E8`, `33612345678`) written as a person
    /// would read it: whole numbers without exponent or decimals (phone numbers typed as numbers).
    static func number(_ v: String) -> String {
        guard v.contains("E") || v.contains("e") || v.hasSuffix(".0"), let d = Double(v), d.rounded() == d, abs(d) < 1e17 else { return v }
        return String(Int64(d))
    }

    /// `C12` → 2 (A is 0).
    static func columnIndex(_ reference: String) -> Int {
        var n = 0
        for u in reference.utf8 {
            guard u >= 0x41 && u <= 0x5A else { break }
            n = n * 26 + Int(u - 0x40)
        }
        return max(0, n - 1)
    }

    private static func part(_ path: String, of archive: Archive) throws -> Data {
        guard let entry = archive[path] else { throw Failure.notAWorkbook("no part \(path)") }
        var data = Data()
        _ = try archive.extract(entry, skipCRC32: false) { data.append($0) }
        return data
    }

    private static func decode<T: Decodable>(_ type: T.Type, from data: Data, part: String) throws -> T {
        let decoder = XMLDecoder(trimValueWhitespaces: false)
        decoder.shouldProcessNamespaces = false
        do {
            return try decoder.decode(T.self, from: data)
        } catch {
            throw Failure.notAWorkbook("\(part): \(error)")
        }
    }

    // The parts' XML, as much of it as is read.

    struct Workbook: Decodable {
        struct Sheets: Decodable { let sheet: [Sheet]? }
        struct Sheet: Decodable {
            let name: String
            let id: String
            enum CodingKeys: String, CodingKey { case name, id = "r:id" }
        }
        let sheets: Sheets
    }

    struct Relationships: Decodable {
        struct Relationship: Decodable {
            let id: String
            let target: String
            enum CodingKeys: String, CodingKey { case id = "Id", target = "Target" }
        }
        let relationship: [Relationship]?
        enum CodingKeys: String, CodingKey { case relationship = "Relationship" }
    }

    /// Text of an element (`<t xml:space="preserve"> a</t>`).
    struct Text: Decodable {
        let value: String
        enum CodingKeys: String, CodingKey { case value = "" }
        init(from decoder: Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            value = (try? container.decode(String.self, forKey: .value)) ?? ""
        }
    }

    /// A string item: plain (`<t>`) or rich text (runs `<r><t>`); phonetic runs are left out.
    struct StringItem: Decodable {
        struct Run: Decodable { let t: Text? }
        let t: Text?
        let r: [Run]?
        var text: String { t?.value ?? (r ?? []).map { $0.t?.value ?? "" }.joined() }
    }

    struct SharedStrings: Decodable { let si: [StringItem]? }

    struct Worksheet: Decodable {
        struct SheetData: Decodable { let row: [Row]? }
        struct Row: Decodable {
            let r: Int?
            let c: [Cell]?
        }
        struct Cell: Decodable {
            let r: String?
            let t: String?
            let v: Text?
            let inline: StringItem?
            enum CodingKeys: String, CodingKey { case r, t, v, inline = "is" }
        }
        let sheetData: SheetData
    }
}

extension IngestRun {
    /// An .xlsx input: the sheet's rows become CSV records (every field quoted) for the CSV path,
    /// numbered as Excel numbers them; rows before the header row are skipped as a preamble.
    mutating func ingestXLSX(lines: inout LineReader, file: String?, source: String, layout: inout InputLayout,
                             output: inout OutputSink) throws {
        let name = file ?? "stdin"
        let sheet: (name: String, rows: [Spreadsheet.Row])
        do {
            sheet = try Spreadsheet(bytes: try lines.readAll()).rows(ofSheet: options.sheet)
        } catch let failure as Spreadsheet.Failure {
            if case .noSuchSheet = failure { throw StageError.usage("\(name): \(failure)") }
            throw StageError.runtime("\(name): \(failure)")
        }
        layout.sheet = sheet.name
        layout.delimiter = 0x2C
        layout.delimiterFrom = "cells"
        // Rows without a value are blank lines; the header row is found as for CSV (the first
        // row with a column we know, after a preamble).
        let rows = sheet.rows.filter { row in
            if row.cells.allSatisfy({ $0.allSatisfy(\.isWhitespace) }) { blankLines += 1; return false }
            return true
        }
        let headerIndex = CSVHead.headerIndex(rows.prefix(30).map(\.cells), knows: { self.knows(header: $0) })
        var table = CSVTable(delimiter: 0x2C, file: file, source: source,
                             batch: RowBatch(threads: options.threads ?? Cores.workers, stage: rejects.stage))
        defer { table.batch.release() }
        var record: [UInt8] = []
        let width = rows.isEmpty ? 0 : rows[headerIndex].cells.count
        for (i, row) in rows.enumerated() {
            if i < headerIndex { preambleLines += 1; layout.preambleLines += 1; continue }
            record.removeAll(keepingCapacity: true)
            // Excel leaves out a row's empty cells at its end.
            var cells = row.cells
            while cells.count > width, cells.last?.isEmpty == true { cells.removeLast() }
            while cells.count < width { cells.append("") }
            for (c, cell) in cells.enumerated() {
                if c > 0 { record.append(0x2C) }
                record.append(0x22)
                for b in cell.utf8 {
                    if b == 0x22 { record.append(0x22) }
                    record.append(b)
                }
                record.append(0x22)
            }
            try record.withUnsafeBytes {
                try table.take($0, line: row.number, run: &self, layout: &layout, output: &output, flush: false)
            }
        }
        try table.drain(run: &self, output: &output)
        if table.header == nil { layout.headerLine = 0 }
    }
}
