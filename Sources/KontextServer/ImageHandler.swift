import Foundation
import HTTPTypes
import Hummingbird
import ImageAPI
import ImageCodecs
import KontextPipeline

/// Turns a parsed request into images and an OpenAI-shaped answer.
struct ImageHandler: Sendable {
    let scheduler: EngineScheduler
    let store: ImageStore
    let capabilities: ServerCapabilities
    let limits: BodyLimits
    let publicURL: String?
    let metrics: ServerMetrics

    /// `acceleration: high`'s first-block cache threshold: ParaAttention's recommended value for
    /// FLUX. Speed and quality on the real model are still to be measured on a GPU (issue #7).
    static let highAccelerationThreshold = 0.08

    /// Decoding limits for uploads: the contract's 50 MB and 14142 px a side.
    var decodeLimits: DecodeLimits { DecodeLimits(maxBytes: limits.imageBytes, maxSide: 14142) }

    /// A request checked, its images decoded and its sizes resolved: ready for the engine.
    struct Prepared: Sendable {
        let parameters: ImageRequest
        let size: PixelSize
        let generation: GenerationRequest
    }

    func prepare(_ operation: ImageOperation, content: RequestContent) async throws -> Prepared {
        let parameters = try ImageRequest(operation, fields: content.fields, capabilities: capabilities)
        if operation == .edit, content.images.isEmpty {
            throw APIError.invalid("invalid_value", param: "image", "an edit needs 1 to \(limits.images) images in 'image' or 'image[]'")
        }
        let images = try content.images.map { bytes -> RGBImage in
            do throws(ImageCodecError) {
                return try ImageDecoder.decode(bytes, limits: decodeLimits, accepting: [.png, .jpeg, .webp])
            } catch {
                if case .tooLarge = error { throw APIError.invalid("image_too_large", param: "image", error.message) }
                throw APIError.invalid("unsupported_image_format", param: "image", error.message)
            }
        }
        let size = try parameters.size(firstImage: images.first.map { PixelSize(width: $0.width, height: $0.height) })
        let engineSize = size.engineSize(multiple: await scheduler.sizeMultiple)
        let generation = GenerationRequest(
            prompt: parameters.prompt, images: images, referenceSizing: .preferredBucket, width: engineSize.width,
            height: engineSize.height, steps: parameters.steps, guidance: parameters.guidance,
            seed: parameters.seed ?? UInt64.random(in: 0...UInt64(UInt32.max)), count: parameters.count,
            stepCacheThreshold: parameters.acceleration == .high ? Self.highAccelerationThreshold : nil)
        return Prepared(parameters: parameters, size: size, generation: generation)
    }

    func handle(_ operation: ImageOperation, content: RequestContent, request: Request) async throws -> Response {
        let prepared = try await prepare(operation, content: content)
        var headers = HTTPFields()
        // A webhook only fires for jobs (Prefer: respond-async or wait); here it is unused.
        let ignored = prepared.parameters.ignored + (content.fields["webhook_url"] != nil ? ["webhook_url"] : [])
        if !ignored.isEmpty { headers[.kontextIgnoredParams] = ignored.joined(separator: ", ") }
        if prepared.parameters.stream {
            return streamingResponse(prepared.parameters, generation: prepared.generation, size: prepared.size, headers: headers)
        }
        let body = try await execute(prepared, baseURL: baseURL(request))
        headers[.contentType] = "application/json"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: try ImagesResponse.encoder.encode(body))))
    }

    /// Runs a prepared request and renders the synchronous answer.
    func execute(
        _ prepared: Prepared, baseURL: String, previewAt: (@Sendable (Int) -> Bool)? = nil,
        progress: @escaping @Sendable (GenerationProgress) -> Void = { _ in }
    ) async throws -> ImagesResponse {
        let parameters = prepared.parameters
        let result = try await scheduler.run(prepared.generation, previewAt: previewAt, progress: progress)
        metrics.generated(images: result.images.count, steps: parameters.steps, inferenceMilliseconds: result.inferenceMilliseconds)
        let (data, encodeMilliseconds) = try await encode(
            result.images, parameters: parameters, size: prepared.size, seed: prepared.generation.seed, baseURL: baseURL)
        return ImagesResponse(
            created: Int(Date().timeIntervalSince1970), data: data, model: parameters.model, size: prepared.size.description,
            outputFormat: parameters.outputFormat.rawValue,
            usage: .init(images: result.images.count, steps: parameters.steps, megapixels: (prepared.size.megapixels * 100).rounded() / 100),
            timings: .init(
                queueMs: result.queueMilliseconds, inferenceMs: result.inferenceMilliseconds, encodeMs: encodeMilliseconds,
                batchSize: result.batchSize))
    }

    /// Resamples to the exact size, encodes, and stores or inlines each image.
    func encode(_ images: [RGBImage], parameters: ImageRequest, size: PixelSize, seed: UInt64, baseURL: String) async throws
        -> ([ImagesResponse.Item], Int)
    {
        let started = ContinuousClock.now
        var items = [ImagesResponse.Item]()
        for (index, image) in images.enumerated() {
            let bytes = try encodedBytes(image, parameters: parameters, size: size)
            var item = ImagesResponse.Item(revisedPrompt: parameters.prompt, seed: seed &+ UInt64(index))
            let format = ImageFormat(parameters.outputFormat)
            if parameters.syncMode {
                item.url = "data:\(format.mimeType);base64," + Data(bytes).base64EncodedString()
            } else if parameters.responseFormat == .b64JSON {
                item.b64JSON = Data(bytes).base64EncodedString()
            } else {
                let name = try await store.save(bytes, fileExtension: format.fileExtension)
                item.url = baseURL + "/v1/images/files/" + name
            }
            items.append(item)
        }
        return (items, EngineScheduler.milliseconds(ContinuousClock.now - started))
    }

    func encodedBytes(_ image: RGBImage, parameters: ImageRequest, size: PixelSize) throws -> [UInt8] {
        let exact = image.width == size.width && image.height == size.height ? image : try image.resized(width: size.width, height: size.height)
        do {
            return try ImageEncoder.encode(exact, as: ImageFormat(parameters.outputFormat), options: EncodeOptions(quality: parameters.quality))
        } catch {
            throw APIError.server("encoding_failed", error.message)
        }
    }

    /// The public base URL: configured, or from the request's Host.
    func baseURL(_ request: Request) -> String {
        if let publicURL { return publicURL.hasSuffix("/") ? String(publicURL.dropLast()) : publicURL }
        let host = request.head.authority ?? "localhost"
        return "http://\(host)"
    }

    /// OpenAI's image streaming: `partial_image` events with previews while denoising, then one
    /// `completed` event per image, as server-sent events.
    func streamingResponse(_ parameters: ImageRequest, generation: GenerationRequest, size: PixelSize, headers: HTTPFields) -> Response {
        var headers = headers
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-cache"
        let (events, sink) = AsyncStream<ByteBuffer>.makeStream()
        let task = Task { await streamEvents(parameters, generation: generation, size: size, into: sink) }
        sink.onTermination = { _ in task.cancel() }
        return Response(status: .ok, headers: headers, body: .init(asyncSequence: events))
    }

    private func streamEvents(
        _ parameters: ImageRequest, generation: GenerationRequest, size: PixelSize, into sink: AsyncStream<ByteBuffer>.Continuation
    ) async {
        let prefix = parameters.operation.eventPrefix
        let wanted = parameters.partialImages
        // The steps after which a partial image is sent: evenly spread, the last before the end.
        let previewSteps = Array(Set((1...max(wanted, 1)).map { max(1, generation.steps * $0 / (wanted + 1)) }.prefix(wanted))).sorted()
        func send(_ kind: String, _ image: RGBImage, extra: [String: Any]) throws {
            let bytes = try encodedBytes(image, parameters: parameters, size: size)
            var payload: [String: Any] = [
                "type": "\(prefix).\(kind)", "b64_json": Data(bytes).base64EncodedString(), "created_at": Int(Date().timeIntervalSince1970),
                "size": size.description, "quality": "auto", "background": "opaque", "output_format": parameters.outputFormat.rawValue,
            ]
            payload.merge(extra) { $1 }
            sink.yield(Self.event("\(prefix).\(kind)", payload))
        }
        // Previews are resampled and encoded here, off the engine's thread, in step order.
        let (previews, previewSink) = AsyncStream<PartialPreview>.makeStream()
        let partials = Task {
            for await partial in previews { try? send("partial_image", partial.image, extra: ["partial_image_index": partial.index]) }
        }
        let wantsPreview: @Sendable (Int) -> Bool = { step in previewSteps.contains(step) }
        let previewAt = wanted > 0 ? wantsPreview : nil
        let progress: @Sendable (GenerationProgress) -> Void = { progress in
            guard let preview = progress.preview, let index = previewSteps.firstIndex(of: progress.step) else { return }
            previewSink.yield(PartialPreview(index: index, image: preview))
        }
        do {
            let result = try await scheduler.run(generation, previewAt: previewAt, progress: progress)
            previewSink.finish()
            await partials.value
            metrics.generated(images: result.images.count, steps: parameters.steps, inferenceMilliseconds: result.inferenceMilliseconds)
            let usage: [String: Any] = ["images": result.images.count, "steps": parameters.steps, "input_tokens": 0, "output_tokens": 0, "total_tokens": 0]
            for image in result.images { try send("completed", image, extra: ["usage": usage]) }
        } catch {
            previewSink.finish()
            let apiError = (error as? APIError) ?? APIError.server("engine_error", "\(error)")
            if let data = try? JSONEncoder().encode(apiError), let text = String(data: data, encoding: .utf8) {
                sink.yield(ByteBuffer(string: "event: error\ndata: \(text)\n\n"))
            }
        }
        sink.finish()
    }

    static func event(_ name: String, _ payload: [String: Any]) -> ByteBuffer {
        let data = (try? JSONSerialization.data(withJSONObject: payload, options: [.sortedKeys])) ?? Data("{}".utf8)
        return ByteBuffer(string: "event: \(name)\ndata: \(String(decoding: data, as: UTF8.self))\n\n")
    }
}

/// A preview taken during denoising, numbered as OpenAI's `partial_image_index`.
struct PartialPreview: Sendable {
    let index: Int
    let image: RGBImage
}

/// The synchronous answer (OpenAI's `ImagesResponse` plus the contract's fields).
struct ImagesResponse: Codable, Sendable {
    static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return encoder
    }

    struct Item: Codable, Sendable {
        var url: String?
        var b64JSON: String?
        var revisedPrompt: String
        var seed: UInt64

        init(revisedPrompt: String, seed: UInt64) {
            self.revisedPrompt = revisedPrompt
            self.seed = seed
        }

        enum CodingKeys: String, CodingKey {
            case url, b64JSON = "b64_json", revisedPrompt = "revised_prompt", seed
        }
    }

    struct Usage: Codable, Sendable {
        let images: Int
        let steps: Int
        let megapixels: Double
    }

    struct Timings: Codable, Sendable {
        let queueMs: Int
        let inferenceMs: Int
        let encodeMs: Int
        /// Requests that shared the forward passes with this one (itself included).
        let batchSize: Int

        enum CodingKeys: String, CodingKey {
            case queueMs = "queue_ms", inferenceMs = "inference_ms", encodeMs = "encode_ms", batchSize = "batch_size"
        }
    }

    let created: Int
    let data: [Item]
    let model: String
    let size: String
    let outputFormat: String
    let usage: Usage
    let timings: Timings

    enum CodingKeys: String, CodingKey {
        case created, data, model, size, outputFormat = "output_format", usage, timings
    }
}

extension ImageFormat {
    init(_ format: OutputFormat) {
        switch format {
        case .png: self = .png
        case .jpeg: self = .jpeg
        case .gif: self = .gif
        case .webp: self = .webp
        case .avif: self = .avif
        }
    }
}

extension HTTPField.Name {
    static let kontextIgnoredParams = HTTPField.Name("X-Kontext-Ignored-Params")!
    static let requestID = HTTPField.Name("X-Request-Id")!
    static let prefer = HTTPField.Name("Prefer")!
    static let preferenceApplied = HTTPField.Name("Preference-Applied")!
}
