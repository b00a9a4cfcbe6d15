import Foundation

/// Where scripts/test writes the reference fixtures: `$KONTEXT_FIXTURES`, else
/// `.build/kontext-fixtures` in the package root.
public let fixtureDirectory: String = {
    if let explicit = ProcessInfo.processInfo.environment["KONTEXT_FIXTURES"], !explicit.isEmpty { return explicit }
    let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    return packageRoot.appendingPathComponent(".build/kontext-fixtures").path
}()

/// A fixture file that is not there: the message says how to make it.
public struct FixtureMissing: Error, CustomStringConvertible {
    public let path: String
    public init(path: String) { self.path = path }
    public var description: String { "\(path) is missing: run scripts/test, which generates the fixtures first" }
}
