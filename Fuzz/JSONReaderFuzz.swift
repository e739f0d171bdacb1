// libFuzzer target for the JSON reader: any byte string must parse or be refused — never crash,
// hang or read out of bounds (built with AddressSanitizer) — and whatever parses must survive a
// write → parse round trip unchanged.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSONReader(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    var parser = JSONParser(maxDepth: 64)
    defer { parser.deallocate() }
    let input = UnsafeRawBufferPointer(start: data, count: size)
    guard let document = try? parser.parse(input) else { return 0 }
    let value = JSONValue(document.root)
    let written = value.serialized
    guard let again = try? JSONValue.parse(written, maxDepth: 64), again == value else {
        fatalError("round trip changed the value: \(value)")
    }
    return 0
}
