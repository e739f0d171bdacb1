/// The version every executable reports with `--version`.
public let mailpipeVersion = "0.1.0"
