/// The name of an A/B variant: what `segment --split` draws and `render` finds a folder for.
public enum VariantName {
    /// 1–32 characters of `a-z 0-9 _ -` (a folder name on every file system, a JSON string
    /// without escapes).
    public static func isValid(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.count <= 32 && s.utf8.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 95 || $0 == 45 }
    }
}
