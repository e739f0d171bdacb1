import AccountStage
import XCTest

/// The Prometheus text the metrics are written in: HELP and TYPE once per name (families of
/// several tenants merged), label values and help escaped, numbers as Prometheus reads them.
final class PrometheusTests: XCTestCase {
    func testFamiliesOfOneNameAreMergedAndEscaped() {
        var a = MetricFamily("mailpipe_sends_total", .counter, help: "Sends \\ with a\nline end.")
        a.add(3, [("tenant", "a")])
        var b = MetricFamily("mailpipe_sends_total", .counter, help: "Sends \\ with a\nline end.")
        b.add(5, [("tenant", "b\"q\\\nz")])
        var g = MetricFamily("mailpipe_suppressed", .gauge, help: "Held back.")
        g.add(0.00875)
        let text = String(decoding: MetricsExposition.render([a, g, b]), as: UTF8.self)
        XCTAssertEqual(text, """
            # HELP mailpipe_sends_total Sends \\\\ with a\\nline end.
            # TYPE mailpipe_sends_total counter
            mailpipe_sends_total{tenant="a"} 3
            mailpipe_sends_total{tenant="b\\"q\\\\\\nz"} 5
            # HELP mailpipe_suppressed Held back.
            # TYPE mailpipe_suppressed gauge
            mailpipe_suppressed 0.00875

            """)
    }

    func testNumbers() {
        XCTAssertEqual(MetricsExposition.number(42), "42")
        XCTAssertEqual(MetricsExposition.number(-3), "-3")
        XCTAssertEqual(MetricsExposition.number(0.5), "0.5")
        XCTAssertEqual(MetricsExposition.number(.infinity), "+Inf")
        XCTAssertEqual(MetricsExposition.number(-.infinity), "-Inf")
        XCTAssertEqual(MetricsExposition.number(.nan), "NaN")
        XCTAssertEqual(Double(MetricsExposition.number(1e-7)), 1e-7)
        XCTAssertEqual(Double(MetricsExposition.number(1e20)), 1e20)
    }
}
