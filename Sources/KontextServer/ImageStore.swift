import Foundation

/// Generated images kept on the local disk for their URLs, each for `timeToLive` after it was
/// written; a sweeper deletes what has expired. Expiry is read from the files' modification
/// times, so a restarted server keeps serving what it wrote before and still sweeps it on time.
public actor ImageStore {
    public let directory: String
    public let timeToLive: Duration

    public init(directory: String, timeToLive: Duration) throws {
        self.directory = directory
        self.timeToLive = timeToLive
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    /// Stores `bytes` under a new unguessable name with `fileExtension`; returns the name.
    public func save(_ bytes: [UInt8], fileExtension: String) throws -> String {
        let name = Self.randomName() + "." + fileExtension
        try Data(bytes).write(to: URL(fileURLWithPath: directory + "/" + name), options: .atomic)
        return name
    }

    public enum Lookup: Sendable {
        case found(Data)
        case expired
        case unknown
    }

    /// The stored file `name`, unless it has expired (and been or is about to be swept).
    public func file(named name: String) -> Lookup {
        guard Self.isValidName(name) else { return .unknown }
        let path = directory + "/" + name
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
            let modified = attributes[.modificationDate] as? Date
        else { return .expired }
        guard Date().timeIntervalSince(modified) < seconds(timeToLive), let data = FileManager.default.contents(atPath: path) else {
            return .expired
        }
        return .found(data)
    }

    /// Deletes every expired file; returns how many.
    @discardableResult
    public func sweep() -> Int {
        let manager = FileManager.default
        var removed = 0
        for name in (try? manager.contentsOfDirectory(atPath: directory)) ?? [] where Self.isValidName(name) {
            let path = directory + "/" + name
            guard let modified = (try? manager.attributesOfItem(atPath: path))?[.modificationDate] as? Date else { continue }
            if Date().timeIntervalSince(modified) >= seconds(timeToLive), (try? manager.removeItem(atPath: path)) != nil { removed += 1 }
        }
        return removed
    }

    /// Sweeps every `interval` until the task is cancelled.
    public func runSweeper(every interval: Duration) async {
        while !Task.isCancelled {
            sweep()
            try? await Task.sleep(for: interval)
        }
    }

    private func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    static func randomName() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<24).map { _ in String("abcdefghijklmnopqrstuvwxyz0123456789".randomElement(using: &generator)!) }.joined()
    }

    /// Names this store writes: 24 letters and digits, a dot, an extension. Nothing else is served.
    static func isValidName(_ name: String) -> Bool {
        let parts = name.split(separator: ".")
        return parts.count == 2 && parts[0].count == 24 && parts[0].allSatisfy { $0.isLetter || $0.isNumber }
            && ["png", "jpg", "gif", "webp", "avif"].contains(String(parts[1]))
    }
}
