#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A command run through `/bin/sh -c` with bytes on its standard input (an alert to `mail`,
/// a chat sender…). Its standard output and error are the caller's.
public enum ChildProcess {
    /// How a child ended.
    public enum Ending: Equatable, Sendable, CustomStringConvertible {
        case exited(Int32)
        case signalled(Int32)

        public var succeeded: Bool { self == .exited(0) }

        public var description: String {
            switch self {
            case .exited(let code): return "exited \(code)"
            case .signalled(let signal): return "was killed by signal \(signal)"
            }
        }
    }

    /// Runs `command` with `sh -c`, writes `input` to its standard input, closes it and waits.
    /// A command that exits without reading all of it is judged by its exit status alone.
    public static func shell(_ command: String, input: [UInt8]) throws -> Ending {
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else { throw SystemError("pipe") }
        let (readEnd, writeEnd) = (ends[0], ends[1])
        // The child must not inherit the write end, or it would never see end-of-file.
        _ = fcntl(writeEnd, F_SETFD, FD_CLOEXEC)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, readEnd, 0)
        if readEnd != 0 { posix_spawn_file_actions_addclose(&actions, readEnd) }
        // The stages ignore SIGPIPE; the command gets the default back (a `| head` in it works).
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGPIPE)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF))
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/sh"), strdup("-c"), strdup(command), nil]
        defer { for a in argv { free(a) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, "/bin/sh", &actions, &attributes, argv, environ)
        close(readEnd)
        guard spawned == 0 else {
            close(writeEnd)
            throw SystemError("posix_spawn /bin/sh", errno: Errno(rawValue: spawned))
        }
        let pipeEnd = FileDescriptor(rawValue: writeEnd)
        do { try pipeEnd.writeAll(input) } catch let error as SystemError where error.errno == Errno(rawValue: EPIPE) {
            // It stopped reading: its exit status says whether that was a failure.
        } catch {
            pipeEnd.close()
            _ = try? wait(pid)
            throw error
        }
        pipeEnd.close()
        return try wait(pid)
    }

    static func wait(_ pid: pid_t) throws -> Ending {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { throw SystemError("waitpid") }
        }
        // WIFEXITED / WEXITSTATUS / WTERMSIG are macros Swift does not import.
        let signal = status & 0x7F
        return signal == 0 ? .exited((status >> 8) & 0xFF) : .signalled(signal)
    }
}
