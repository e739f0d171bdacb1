import MailpipeCore

/// One-time set-up an executable will need whatever its arguments (ingest: libphonenumber's
/// start-up, 10 ms), done on a side thread — the other core — while the command line is read
/// and the input opened, instead of when the first record needs it. The command's own code
/// calls what it needs as usual: the set-up must be safe to call from any thread at any time
/// (made once, a second caller waiting for the first).
///
/// The process waits for the thread before it exits, whichever way it ends (records written,
/// an error, `--help`): exit() runs static destructors, which must not run under a thread still
/// inside a library.
enum StartUpWork {
    /// Set and cleared by the main thread only: before the command line is read, and at exit.
    private static var thread: SideThread?

    /// Starts `work` on a side thread; without a thread (the process limit reached), nothing is
    /// done ahead and the command does it when it first needs it.
    static func begin(_ work: (() -> Void)?) {
        guard let work else { return }
        thread = try? SideThread(work)
    }

    /// Waits for the work begun, if any.
    static func finish() {
        thread?.wait()
        thread = nil
    }
}
