import Foundation
import HTTPTypes
import Hummingbird
import ImageAPI
import ImageCodecs
import Logging

/// How `kontext serve` runs.
public struct ServerConfiguration: Sendable {
    public var host = "127.0.0.1"
    public var port = 8080
    public var dataDirectory: String
    public var publicURL: String?
    /// Empty: the server is open, as a local tool.
    public var apiKeys: [String] = []
    public var queueCapacity = 4
    public var maxBatchImages = 4
    public var deadline: Duration = .seconds(600)
    public var imageTimeToLive: Duration = .seconds(3600)
    public var limits = BodyLimits()
    /// Lets webhooks call private, loopback and link-local addresses (off: requests cannot make the
    /// server probe its own network).
    public var allowPrivateWebhooks = false

    public init(dataDirectory: String) {
        self.dataDirectory = dataDirectory
    }
}

/// The OpenAI-compatible HTTP server around one engine.
public struct KontextServer: Sendable {
    public let configuration: ServerConfiguration
    public let scheduler: EngineScheduler
    public let store: ImageStore
    public let jobs: JobService
    public let metrics = ServerMetrics()
    let handler: ImageHandler
    let logger: Logger

    public init(configuration: ServerConfiguration, logger: Logger) throws {
        self.configuration = configuration
        scheduler = EngineScheduler(capacity: configuration.queueCapacity, maxBatchImages: configuration.maxBatchImages, deadline: configuration.deadline)
        store = try ImageStore(directory: configuration.dataDirectory + "/images", timeToLive: configuration.imageTimeToLive)
        handler = ImageHandler(
            scheduler: scheduler, store: store, capabilities: ServerCapabilities(accelerations: [.none, .high]), limits: configuration.limits,
            publicURL: configuration.publicURL, metrics: metrics)
        jobs = try JobService(
            dataDirectory: configuration.dataDirectory, handler: handler, timeToLive: configuration.imageTimeToLive,
            webhooks: WebhookSender(allowPrivateAddresses: configuration.allowPrivateWebhooks))
        self.logger = logger
    }

    /// Serves until SIGINT/SIGTERM (then finishes running work and stops). The model is loaded by
    /// `loadEngine` in the background: `/healthz` answers at once, `/readyz` once it is loaded.
    public func run(loadEngine: @escaping @Sendable () throws -> any ImageEngine, onListening: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        let application = Application(
            router: makeRouter(),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "kontext"),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? 0) },
            logger: logger)
        let scheduler = scheduler
        let logger = logger
        let loader = Task.detached {
            let started = ContinuousClock.now
            do {
                let engine = try loadEngine()
                await scheduler.attach(engine)
                logger.info("model loaded in \(ContinuousClock.now - started); ready")
            } catch {
                logger.error("model failed to load: \(error)")
                await scheduler.failedToLoad("\(error)")
            }
        }
        let sweeper = Task { await store.runSweeper(every: .seconds(60)) }
        let jobs = jobs
        await jobs.start()
        let jobSweeper = Task {
            while !Task.isCancelled {
                await jobs.sweep()
                try? await Task.sleep(for: .seconds(60))
            }
        }
        defer {
            loader.cancel()
            sweeper.cancel()
            jobSweeper.cancel()
        }
        try await application.runService()
        await jobs.stop()
        await scheduler.drain()
    }

    func makeRouter() -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: APIMiddleware(apiKeys: configuration.apiKeys, metrics: metrics))
        let metrics = metrics
        let scheduler = scheduler
        let store = store
        let limits = configuration.limits
        let handler = handler
        let jobs = jobs

        router.get("/") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: Playground.html)))
        }
        router.get("/healthz") { _, _ in try jsonResponse(["status": "ok"]) }
        router.get("/metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                body: .init(byteBuffer: ByteBuffer(string: await metrics.exposition(scheduler: scheduler))))
        }
        router.get("/readyz") { _, _ in
            let status = await scheduler.status
            guard status.ready else {
                let message = status.failure.map { "The model failed to load: \($0)" } ?? "The model is still loading."
                throw APIError.server("model_not_loaded", message, status: 503)
            }
            return try jsonResponse(["status": "ready", "model": ModelCatalog.id, "waiting": status.waiting, "running": status.running ? 1 : 0] as [String: Any])
        }
        router.get("/v1/models") { _, _ in try jsonResponse(["object": "list", "data": [ModelDescription.summary]] as [String: Any]) }
        router.get("/v1/models/**") { _, context in
            let id = context.parameters.getCatchAll().joined(separator: "/")
            guard ModelCatalog.canonical(id) != nil else { throw APIError.modelNotFound(id) }
            return try jsonResponse(ModelDescription.detail)
        }
        router.post("/v1/images/generations") { request, _ in
            try await request.body.consumeWithCancellationOnInboundClose { body in
                let content = try await RequestReader.json(body, limit: limits.jsonBytes)
                return try await Self.respond(.generation, content: content, request: request, handler: handler, jobs: jobs)
            }
        }
        router.post("/v1/images/edits") { request, _ in
            let contentType = request.headers[.contentType] ?? ""
            return try await request.body.consumeWithCancellationOnInboundClose { body in
                let content: RequestContent
                if contentType.lowercased().hasPrefix("multipart/form-data") {
                    guard let boundary = Self.boundary(contentType) else {
                        throw APIError.invalid("invalid_multipart", param: nil, "multipart/form-data needs a boundary parameter")
                    }
                    content = try await RequestReader.multipart(body, boundary: boundary, limits: limits)
                } else if contentType.lowercased().hasPrefix("application/json") {
                    content = try await RequestReader.jsonEdit(body, limits: limits)
                } else {
                    throw APIError.invalid("invalid_content_type", param: nil, "send the edit as multipart/form-data (or JSON with data: URIs)")
                }
                return try await Self.respond(.edit, content: content, request: request, handler: handler, jobs: jobs)
            }
        }
        router.get("/v1/jobs/{id}") { request, context in
            let (record, position) = try await jobs.status(context.parameters.get("id") ?? "")
            return try jsonResponse(JobView(record: record, position: position).json)
        }
        router.post("/v1/jobs/{id}/cancel") { _, context in
            try jsonResponse(JobView(record: try await jobs.cancel(context.parameters.get("id") ?? ""), position: nil).json)
        }
        router.get("/v1/jobs/{id}/events") { request, context in
            let previews = request.uri.queryParameters.get("previews") == "true"
            let events = try await jobs.events(context.parameters.get("id") ?? "", previews: previews)
            return Response(
                status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
                body: .init(asyncSequence: events.map { event in Self.serverSentEvent(event, previews: previews, handler: handler) }))
        }
        router.get("/v1/images/files/{name}") { _, context in
            let name = context.parameters.get("name") ?? ""
            switch await store.file(named: name) {
            case .found(let data):
                let type = ImageStore.mimeType(of: name)
                return Response(status: .ok, headers: [.contentType: type, .cacheControl: "private, max-age=3600"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
            case .expired, .unknown:
                throw APIError.notFound("image_expired", "This image does not exist or has expired.")
            }
        }
        return router
    }

    /// The synchronous answer, or a job: `Prefer: respond-async` answers 202 with the job at once;
    /// `Prefer: wait=N` holds the request up to N seconds, then answers with the result or the job.
    static func respond(_ operation: ImageOperation, content: RequestContent, request: Request, handler: ImageHandler, jobs: JobService) async throws
        -> Response
    {
        let preference = (request.headers[.prefer] ?? "").lowercased()
        let wantsAsync = preference.contains("respond-async")
        let waitSeconds = preference.split(separator: ",").compactMap { part -> Int? in
            let pair = part.trimmingCharacters(in: .whitespaces)
            return pair.hasPrefix("wait=") ? Int(pair.dropFirst(5)) : nil
        }.first
        guard wantsAsync || waitSeconds != nil, content.fields["stream"] != .bool(true), content.fields["stream"] != .string("true") else {
            return try await handler.handle(operation, content: content, request: request)
        }
        let record = try await jobs.submit(operation, content: content, baseURL: handler.baseURL(request))
        if !wantsAsync, let waitSeconds, let finished = try await jobs.wait(record.id, timeout: .seconds(max(0, min(waitSeconds, 600)))) {
            if finished.status == .succeeded, let result = finished.result {
                return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: result)))
            }
            if finished.status == .failed, let body = finished.error, let status = finished.errorStatus,
                let error = APIError(status: status, body: Data(body.utf8))
            {
                throw error
            }
            return try jsonResponse(JobView(record: finished, position: nil).json)
        }
        let (current, position) = try await jobs.status(record.id)
        var response = try jsonResponse(JobView(record: current, position: position).json, status: .accepted)
        response.headers[.location] = "\(record.baseURL)/v1/jobs/\(record.id)"
        response.headers[.preferenceApplied] = wantsAsync ? "respond-async" : "wait=\(waitSeconds ?? 0)"
        return response
    }

    static func serverSentEvent(_ event: JobEvent, previews: Bool, handler: ImageHandler) -> ByteBuffer {
        switch event {
        case .progress(let step, let total, let progress):
            var payload: [String: Any] = ["step": step, "total": total]
            if previews, let preview = progress?.preview,
                let bytes = try? ImageEncoder.encode(preview, as: .png)
            {
                payload["preview"] = "data:image/png;base64," + Data(bytes).base64EncodedString()
            }
            return ImageHandler.event("progress", payload)
        case .finished(let record):
            return ImageHandler.event(record.status.rawValue, JobView(record: record, position: nil).json)
        }
    }

    /// The boundary parameter of a multipart content type.
    static func boundary(_ contentType: String) -> String? {
        for part in contentType.split(separator: ";").dropFirst() {
            let pair = part.trimmingCharacters(in: .whitespaces)
            if pair.lowercased().hasPrefix("boundary=") {
                let value = pair.dropFirst("boundary=".count)
                return value.hasPrefix("\"") && value.hasSuffix("\"") && value.count >= 2 ? String(value.dropFirst().dropLast()) : String(value)
            }
        }
        return nil
    }
}

func jsonResponse(_ object: Any, status: HTTPResponse.Status = .ok) throws -> Response {
    let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
    return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
}

extension ImageStore {
    static func mimeType(of name: String) -> String {
        switch name.split(separator: ".").last {
        case "png": "image/png"
        case "jpg": "image/jpeg"
        case "gif": "image/gif"
        case "webp": "image/webp"
        case "avif": "image/avif"
        default: "application/octet-stream"
        }
    }
}

/// Request ids, API keys, and errors in OpenAI's shape for every response.
struct APIMiddleware<Context: RequestContext>: RouterMiddleware {
    let apiKeys: [[UInt8]]
    let metrics: ServerMetrics

    init(apiKeys: [String], metrics: ServerMetrics) {
        self.apiKeys = apiKeys.map { Array($0.utf8) }
        self.metrics = metrics
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let requestID = "req_" + ImageStore.randomName()
        var response: Response
        do {
            try authorize(request)
            response = try await next(request, context)
        } catch let error as APIError {
            response = Self.errorResponse(error)
            metrics.error(code: error.code ?? error.type)
        } catch let error as HTTPError {
            let translated = Self.translate(error)
            response = Self.errorResponse(translated)
            metrics.error(code: translated.code ?? translated.type)
        } catch is CancellationError {
            // The client went away; nobody reads this.
            response = Self.errorResponse(APIError(status: 499, type: "invalid_request_error", code: "client_closed", message: "The client closed the connection."))
        } catch {
            context.logger.error("request \(requestID) failed: \(error)")
            response = Self.errorResponse(APIError.server("server_error", "The server failed: \(error)"))
        }
        response.headers[.requestID] = requestID
        metrics.request(route: context.endpointPath ?? "unmatched", status: Int(response.status.code))
        return response
    }

    /// Without configured keys the server is open; with keys, /v1/ needs one (compared in constant
    /// time). Image files and job event streams are reached by unguessable names, as OpenAI's
    /// image URLs are (a browser's EventSource cannot send an Authorization header).
    func authorize(_ request: Request) throws {
        let path = request.uri.path
        let byUnguessableName = path.hasPrefix("/v1/images/files/") || (path.hasPrefix("/v1/jobs/job_") && path.hasSuffix("/events"))
        guard !apiKeys.isEmpty, path.hasPrefix("/v1/"), !byUnguessableName else { return }
        let header = request.headers[.authorization] ?? ""
        let presented = Array((header.lowercased().hasPrefix("bearer ") ? String(header.dropFirst(7)) : "").utf8)
        var matched = false
        for key in apiKeys where Self.constantTimeEquals(presented, key) { matched = true }
        guard matched else { throw APIError.invalidAPIKey }
    }

    static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(truncatingIfNeeded: a.count ^ b.count)
        for index in 0..<max(a.count, b.count) {
            difference |= (index < a.count ? a[index] : 0) ^ (index < b.count ? b[index] : 0)
        }
        return difference == 0
    }

    static func translate(_ error: HTTPError) -> APIError {
        switch error.status.code {
        case 404: return APIError.notFound("not_found", "No such endpoint.")
        case 405: return APIError(status: 405, type: "invalid_request_error", code: "method_not_allowed", message: "Method not allowed for this endpoint.")
        case 413: return APIError.payloadTooLarge(error.body ?? "The request body is too large.")
        default: return APIError(status: Int(error.status.code), type: "invalid_request_error", code: nil, message: error.body ?? "\(error.status)")
        }
    }

    static func errorResponse(_ error: APIError) -> Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        for (name, value) in error.headers {
            if let field = HTTPField.Name(name) { headers[field] = value }
        }
        let body = (try? JSONEncoder().encode(error)) ?? Data()
        return Response(status: .init(code: error.status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}
