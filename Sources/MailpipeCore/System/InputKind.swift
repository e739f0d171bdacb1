#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension FileDescriptor {
    /// Whether this descriptor is a pipe, a socket or a regular file — something that carries
    /// records — rather than a terminal, /dev/null or a closed descriptor. Stages that can read
    /// either their input or the tenant's state use it to choose a default.
    public var carriesData: Bool {
        var st = stat()
        guard fstat(rawValue, &st) == 0 else { return false }
        let type = st.st_mode & S_IFMT
        return type == S_IFIFO || type == S_IFREG || type == S_IFSOCK
    }
}
