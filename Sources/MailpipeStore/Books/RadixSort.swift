/// Sorting 64-bit keys with a 32-bit payload (positions), stable: an LSD radix sort, 16 bits a
/// pass. Lets a batch be matched against sorted hash lists by one sequential merge instead of a
/// cache miss per event.
enum RadixSort {
    static func sort(_ keys: inout [UInt64], _ payload: inout [Int32]) {
        let n = keys.count
        precondition(payload.count == n)
        guard n > 1 else { return }
        var keys2 = [UInt64](repeating: 0, count: n)
        var payload2 = [Int32](repeating: 0, count: n)
        var counts = [Int](repeating: 0, count: 1 << 16)
        for pass in 0..<4 {
            let shift = UInt64(pass * 16)
            keys.withUnsafeBufferPointer { k in
                payload.withUnsafeBufferPointer { p in
                    keys2.withUnsafeMutableBufferPointer { k2 in
                        payload2.withUnsafeMutableBufferPointer { p2 in
                            counts.withUnsafeMutableBufferPointer { c in
                                for i in 0..<c.count { c[i] = 0 }
                                for i in 0..<n { c[Int(truncatingIfNeeded: (k[i] >> shift) & 0xFFFF)] += 1 }
                                var sum = 0
                                for i in 0..<c.count { let v = c[i]; c[i] = sum; sum += v }
                                for i in 0..<n {
                                    let d = Int(truncatingIfNeeded: (k[i] >> shift) & 0xFFFF)
                                    let at = c[d]
                                    c[d] = at + 1
                                    k2[at] = k[i]
                                    p2[at] = p[i]
                                }
                            }
                        }
                    }
                }
            }
            swap(&keys, &keys2)
            swap(&payload, &payload2)
        }
    }
}
