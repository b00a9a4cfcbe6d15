import Foundation

/// An error as the API reports it: an HTTP status and OpenAI's error object
/// `{"error": {"message", "type", "param", "code"}}`. Every failure the server can answer with
/// is mapped to one of these in one place.
public struct APIError: Error, Equatable, Sendable {
    public var status: Int
    public var type: String
    public var code: String?
    public var param: String?
    public var message: String
    /// Extra response headers (`Retry-After` for 429).
    public var headers: [String: String]

    public init(status: Int, type: String, code: String?, param: String? = nil, message: String, headers: [String: String] = [:]) {
        self.status = status
        self.type = type
        self.code = code
        self.param = param
        self.message = message
        self.headers = headers
    }

    /// 400 `invalid_request_error`.
    public static func invalid(_ code: String, param: String?, _ message: String) -> APIError {
        APIError(status: 400, type: "invalid_request_error", code: code, param: param, message: message)
    }

    /// 400 `invalid_value` naming the parameter.
    public static func invalidValue(_ param: String, _ message: String) -> APIError {
        .invalid("invalid_value", param: param, message)
    }

    public static func modelNotFound(_ model: String) -> APIError {
        APIError(
            status: 404, type: "not_found_error", code: "model_not_found", param: "model",
            message: "The model '\(model)' does not exist on this server; it serves \(ModelCatalog.id).")
    }

    public static func notFound(_ code: String, _ message: String) -> APIError {
        APIError(status: 404, type: "not_found_error", code: code, message: message)
    }

    public static let invalidAPIKey = APIError(
        status: 401, type: "authentication_error", code: "invalid_api_key",
        message: "Incorrect or missing API key. Send it as 'Authorization: Bearer KEY'.")

    public static func payloadTooLarge(_ message: String) -> APIError {
        APIError(status: 413, type: "invalid_request_error", code: "payload_too_large", message: message)
    }

    public static func queueFull(retryAfterSeconds: Int) -> APIError {
        APIError(
            status: 429, type: "rate_limit_error", code: "queue_full",
            message: "The server's queue is full; retry in about \(retryAfterSeconds) s.", headers: ["Retry-After": "\(retryAfterSeconds)"])
    }

    public static func server(_ code: String, _ message: String, status: Int = 500) -> APIError {
        APIError(status: status, type: "server_error", code: code, message: message)
    }

}

extension APIError {
    /// The error back from its JSON body (`encode(to:)`'s output) and the status it was sent with.
    public init?(status: Int, body: Data) {
        struct Body: Decodable {
            struct Inner: Decodable {
                let message: String
                let type: String
                let param: String?
                let code: String?
            }
            let error: Inner
        }
        guard let decoded = try? JSONDecoder().decode(Body.self, from: body) else { return nil }
        self.init(status: status, type: decoded.error.type, code: decoded.error.code, param: decoded.error.param, message: decoded.error.message)
    }
}

extension APIError: Encodable {
    private enum Keys: String, CodingKey { case error, message, type, param, code }

    /// `{"error": {"message", "type", "param", "code"}}`, with explicit nulls as OpenAI sends them.
    public func encode(to encoder: any Encoder) throws {
        var outer = encoder.container(keyedBy: Keys.self)
        var inner = outer.nestedContainer(keyedBy: Keys.self, forKey: .error)
        try inner.encode(message, forKey: .message)
        try inner.encode(type, forKey: .type)
        try inner.encode(param, forKey: .param)
        try inner.encode(code, forKey: .code)
    }
}
