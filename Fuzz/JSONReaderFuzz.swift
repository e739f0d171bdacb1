// libFuzzer target for the JSON reader: any byte string must parse or be refused — never crash,
// hang or read out of bounds (built with AddressSanitizer) — and whatever parses must survive a
// write → parse round trip unchanged. The lazy member scan (`parse(_:keeping:)`, which skips
// strings 16 bytes at a time and checks UTF-8 inside them) must refuse exactly what the full
// parse refuses, with the same error.

/// The members the lazy scan keeps: short keys the fuzzer finds quickly, and one a record has.
let fuzzSlots: FieldSlots = {
    let slots = FieldSlots()
    for key in ["a", "", "email"] { _ = slots.slot(key) }
    return slots
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSONReader(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    var parser = JSONParser(maxDepth: 64)
    var lazy = JSONParser(maxDepth: 64)
    defer { parser.deallocate(); lazy.deallocate() }
    let input = UnsafeRawBufferPointer(start: data, count: size)
    let lazyResult: Result<JSONDocument, JSONParseError>
    do throws(JSONParseError) { lazyResult = .success(try lazy.parse(input, keeping: fuzzSlots)) } catch { lazyResult = .failure(error) }
    let document: JSONDocument
    do throws(JSONParseError) {
        document = try parser.parse(input)
    } catch {
        guard case .failure(let lazyError) = lazyResult, lazyError == error else {
            fatalError("the full parse refuses (\(error)), the lazy scan gives \(lazyResult)")
        }
        return 0
    }
    if case .failure(let lazyError) = lazyResult { fatalError("the lazy scan refuses (\(lazyError)), the full parse accepts") }
    let value = JSONValue(document.root)
    let written = value.serialized
    guard let again = try? JSONValue.parse(written, maxDepth: 64), again == value else {
        fatalError("round trip changed the value: \(value)")
    }
    return 0
}
