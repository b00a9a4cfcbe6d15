import Foundation
import ImageAPI

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Calls a job's webhook when it finishes: a JSON POST of the job, retried with backoff. Hosts
/// that resolve to private, loopback or link-local addresses are refused unless the operator
/// allows them, so a request cannot make the server probe its own network.
public struct WebhookSender: Sendable {
    public let allowPrivateAddresses: Bool
    /// Delays before each retry after the first attempt.
    public let retryDelays: [Duration]

    public init(allowPrivateAddresses: Bool, retryDelays: [Duration] = [.seconds(1), .seconds(4), .seconds(15)]) {
        self.allowPrivateAddresses = allowPrivateAddresses
        self.retryDelays = retryDelays
    }

    /// `url` if it is an http(s) URL to an allowed host; a 400 naming `webhook_url` otherwise.
    func validated(_ url: String) async throws -> String {
        guard let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased(), ["http", "https"].contains(scheme),
            let host = parsed.host, !host.isEmpty
        else { throw APIError.invalidValue("webhook_url", "webhook_url must be an http or https URL") }
        if !allowPrivateAddresses {
            let addresses = Self.resolve(host)
            guard !addresses.isEmpty else { throw APIError.invalidValue("webhook_url", "the webhook host \(host) does not resolve") }
            if let blocked = addresses.first(where: Self.isPrivate) {
                throw APIError.invalidValue("webhook_url", "the webhook host \(host) resolves to a private address (\(blocked)); the server does not call those")
            }
        }
        return url
    }

    /// POSTs the finished job until a 2xx answer or the retries run out.
    func deliver(_ record: JobRecord, to url: String) async {
        let job = record.id
        guard let data = try? JSONSerialization.data(withJSONObject: JobView(record: record, position: nil).json, options: [.sortedKeys, .withoutEscapingSlashes]),
            let target = URL(string: url)
        else { return }
        for delay in [Duration.zero] + retryDelays {
            try? await Task.sleep(for: delay)
            guard (try? await validated(url)) != nil else { return }
            var request = URLRequest(url: target, timeoutInterval: 10)
            request.httpMethod = "POST"
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.setValue(job, forHTTPHeaderField: "X-Kontext-Job")
            request.httpBody = data
            if let (_, response) = try? await URLSession.shared.data(for: request),
                let status = (response as? HTTPURLResponse)?.statusCode, (200..<300).contains(status)
            {
                return
            }
        }
    }

    /// The IPv4 and IPv6 addresses of `host`, as text.
    static func resolve(_ host: String) -> [String] {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &list) == 0 else { return [] }
        defer { freeaddrinfo(list) }
        var addresses = [String]()
        var entry = list
        while let current = entry {
            var buffer = [CChar](repeating: 0, count: Int(NI_MAXHOST))
            if getnameinfo(current.pointee.ai_addr, current.pointee.ai_addrlen, &buffer, socklen_t(buffer.count), nil, 0, NI_NUMERICHOST) == 0 {
                addresses.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
            }
            entry = current.pointee.ai_next
        }
        return addresses
    }

    /// Loopback, private (RFC 1918, unique-local), link-local, unspecified and CGNAT addresses.
    static func isPrivate(_ address: String) -> Bool {
        let lowered = address.lowercased()
        if lowered.contains(":") {
            return lowered == "::1" || lowered == "::" || lowered.hasPrefix("fc") || lowered.hasPrefix("fd") || lowered.hasPrefix("fe80")
                || lowered.hasPrefix("::ffff:") && isPrivate(String(lowered.dropFirst(7)))
        }
        let octets = address.split(separator: ".").compactMap { Int($0) }
        guard octets.count == 4 else { return true }
        switch (octets[0], octets[1]) {
        case (10, _), (127, _), (0, _), (169, 254), (192, 168): return true
        case (172, 16...31), (100, 64...127): return true
        default: return false
        }
    }
}
