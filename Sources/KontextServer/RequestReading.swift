import Foundation
import Hummingbird
import ImageAPI
import ImageCodecs
import MultipartKit

/// The limits applied while a request body is read, not after.
public struct BodyLimits: Sendable {
    /// Largest JSON body (a JSON edit carries its images as data URIs).
    public var jsonBytes: Int
    /// Largest image file, as uploaded.
    public var imageBytes: Int
    /// Most images an edit may carry.
    public var images: Int
    /// Largest multipart body in all.
    public var multipartBytes: Int

    public init(jsonBytes: Int = 4 * 68 << 20, imageBytes: Int = 50 << 20, images: Int = 4, multipartBytes: Int = 4 * (50 << 20) + (1 << 20)) {
        self.jsonBytes = jsonBytes
        self.imageBytes = imageBytes
        self.images = images
        self.multipartBytes = multipartBytes
    }
}

/// A request's fields and uploaded image files.
struct RequestContent {
    var fields: [String: ParameterValue] = [:]
    var images: [[UInt8]] = []
}

enum RequestReader {
    static func tooManyImages(_ limit: Int) -> APIError {
        .invalid("too_many_images", param: "image", "an edit takes 1 to \(limit) images")
    }

    static func imageTooLarge(_ limit: Int) -> APIError {
        .invalid("image_too_large", param: "image", "an image must be at most \(limit >> 20) MB")
    }

    /// A JSON object body, read up to `limit` bytes.
    static func json(_ body: RequestBody, limit: Int) async throws -> RequestContent {
        let collected: ByteBuffer
        do {
            collected = try await body.collect(upTo: limit)
        } catch {
            throw APIError.payloadTooLarge("the request body is larger than \(limit >> 20) MB")
        }
        let fields: [String: ParameterValue]
        do {
            fields = try JSONDecoder().decode([String: ParameterValue].self, from: Data(buffer: collected))
        } catch {
            throw APIError.invalid("invalid_json", param: nil, "the body must be a JSON object: \(error.localizedDescription)")
        }
        return RequestContent(fields: fields)
    }

    /// A JSON edit: `image_url` (string) or `images` (array) of `data:` URIs, decoded with the limits.
    static func jsonEdit(_ body: RequestBody, limits: BodyLimits) async throws -> RequestContent {
        var content = try await json(body, limit: limits.jsonBytes)
        var uris = [String]()
        for name in ["image_url", "image", "images", "image[]"] {
            switch content.fields.removeValue(forKey: name) {
            case .string(let uri): uris.append(uri)
            case .array(let values):
                for value in values {
                    guard case .string(let uri) = value else { throw APIError.invalidValue(name, "\(name) must hold data: URI strings") }
                    uris.append(uri)
                }
            case nil, .null: break
            case .some: throw APIError.invalidValue(name, "\(name) must be a data: URI string or an array of them")
            }
        }
        guard uris.count <= limits.images else { throw tooManyImages(limits.images) }
        content.images = try uris.map { uri in try decodeDataURI(uri, limit: limits.imageBytes) }
        return content
    }

    /// `data:[type];base64,...` to bytes; remote URLs are refused (fetching them is off by default).
    static func decodeDataURI(_ uri: String, limit: Int) throws -> [UInt8] {
        guard uri.hasPrefix("data:"), let comma = uri.firstIndex(of: ",") else {
            if uri.hasPrefix("http://") || uri.hasPrefix("https://") {
                throw APIError.invalid("unsupported_parameter", param: "image_url", "remote image URLs are not enabled on this server; send a data: URI")
            }
            throw APIError.invalidValue("image_url", "an image must be a data: URI (data:image/png;base64,...)")
        }
        guard uri[..<comma].hasSuffix(";base64") else { throw APIError.invalidValue("image_url", "the data: URI must be base64-encoded") }
        let encoded = uri[uri.index(after: comma)...]
        guard encoded.utf8.count / 4 * 3 <= limit + 3 else { throw imageTooLarge(limit) }
        guard let data = Data(base64Encoded: String(encoded), options: .ignoreUnknownCharacters) else {
            throw APIError.invalidValue("image_url", "the data: URI is not valid base64")
        }
        guard data.count <= limit else { throw imageTooLarge(limit) }
        return [UInt8](data)
    }

    /// A multipart form, parsed as it streams in: images counted and sized part by part, the body
    /// refused as soon as it passes the limit.
    static func multipart(_ body: RequestBody, boundary: String, limits: BodyLimits) async throws -> RequestContent {
        let parser = MultipartParser(boundary: boundary)
        let state = MultipartState(limits: limits)
        parser.onHeader = { name, value in state.header(name, value) }
        parser.onBody = { buffer in state.body(&buffer) }
        parser.onPartComplete = { state.partComplete() }
        var total = 0
        var failure: APIError?
        for try await chunk in body {
            total += chunk.readableBytes
            // After a refusal the rest of the upload is read and dropped (up to twice the body
            // limit), so that clients which send everything before reading get the answer.
            if failure != nil {
                if total > 2 * limits.multipartBytes { break }
                continue
            }
            if total > limits.multipartBytes {
                failure = APIError.payloadTooLarge("the request body is larger than \(limits.multipartBytes >> 20) MB")
                continue
            }
            do {
                try parser.execute(chunk)
            } catch {
                failure = APIError.invalid("invalid_multipart", param: nil, "the multipart body is malformed: \(error)")
            }
            failure = failure ?? state.error
        }
        if let failure { throw failure }
        if let error = state.error { throw error }
        return state.content
    }
}

/// Accumulates parts for `RequestReader.multipart`; records the first limit it sees broken.
private final class MultipartState {
    let limits: BodyLimits
    var content = RequestContent()
    var error: APIError?
    private var name: String?
    private var isFile = false
    private var bytes: [UInt8] = []

    init(limits: BodyLimits) { self.limits = limits }

    func header(_ field: String, _ value: String) {
        guard field.lowercased() == "content-disposition" else { return }
        name = Self.parameter("name", in: value)
        isFile = Self.parameter("filename", in: value) != nil
    }

    func body(_ buffer: inout ByteBuffer) {
        guard error == nil else { return }
        let isImage = name.map { ImageRequest.imageFields.contains($0) } ?? false
        if isImage {
            if bytes.isEmpty, content.images.count >= limits.images {
                error = RequestReader.tooManyImages(limits.images)
                return
            }
            guard bytes.count + buffer.readableBytes <= limits.imageBytes else {
                error = RequestReader.imageTooLarge(limits.imageBytes)
                return
            }
        } else if bytes.count + buffer.readableBytes > 1 << 20 {
            error = .invalidValue(name ?? "field", "a form field must be at most 1 MB")
            return
        }
        bytes += buffer.readableBytesView
    }

    func partComplete() {
        defer {
            name = nil
            isFile = false
            bytes = []
        }
        guard error == nil, let name else { return }
        if ImageRequest.imageFields.contains(name) {
            guard content.images.count < limits.images else {
                error = RequestReader.tooManyImages(limits.images)
                return
            }
            content.images.append(bytes)
        } else if name == "mask" || isFile {
            content.fields[name] = .string("(file)")
        } else {
            content.fields[name] = .string(String(decoding: bytes, as: UTF8.self))
        }
    }

    /// `name="value"` inside a Content-Disposition header.
    static func parameter(_ key: String, in header: String) -> String? {
        for part in header.split(separator: ";") {
            let pair = part.trimmingCharacters(in: .whitespaces)
            guard pair.lowercased().hasPrefix(key + "=") else { continue }
            var value = String(pair.dropFirst(key.count + 1))
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
            return value
        }
        return nil
    }
}
