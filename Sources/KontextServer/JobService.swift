import Foundation
import GRDB
import ImageAPI
import KontextPipeline
import Synchronization

/// A job as stored: the request that made it, where it stands, and how it ended.
struct JobRecord: Codable, FetchableRecord, PersistableRecord, Sendable {
    static let databaseTableName = "jobs"

    var id: String
    var createdAt: Double
    var status: JobStatus
    var operation: String
    /// The request's fields, as JSON.
    var fields: String
    var imageCount: Int
    var baseURL: String
    var webhookURL: String?
    /// The synchronous answer's JSON, once succeeded.
    var result: String?
    /// The error's JSON body and HTTP status, once failed.
    var error: String?
    var errorStatus: Int?
    var step: Int
    var totalSteps: Int
    var startedAt: Double?
    var finishedAt: Double?
    /// Why the job was re-queued or failed without running, for the person who asks.
    var note: String?
}

enum JobStatus: String, Codable, Sendable, DatabaseValueConvertible {
    case queued, running, succeeded, failed, canceled

    var isFinal: Bool { self == .succeeded || self == .failed || self == .canceled }
}

/// Something that happened to a job, for `/events` and for `Prefer: wait`.
enum JobEvent: Sendable {
    case progress(step: Int, total: Int, preview: GenerationProgress?)
    case finished(JobRecord)
}

/// Jobs that outlive their HTTP connection: accepted, persisted in SQLite with their input images,
/// run one at a time through the engine queue, watched, cancelled, and kept until their images
/// expire. A server that restarts finds its queued jobs still queued and re-queues the one that was
/// running when it stopped.
public actor JobService {
    let database: DatabaseQueue
    let inputs: String
    let handler: ImageHandler
    let timeToLive: Duration
    let webhooks: WebhookSender
    private var runningID: String?
    private var runningTask: Task<Void, Never>?
    private var watchers: [String: [UUID: AsyncStream<JobEvent>.Continuation]] = [:]
    /// Watchers that asked for previews, per job: the engine makes previews only while there are some.
    nonisolated let previewWatchers = Mutex<[String: Int]>([:])
    private var loop: Task<Void, Never>?
    private var wake: AsyncStream<Void>.Continuation?

    init(dataDirectory: String, handler: ImageHandler, timeToLive: Duration, webhooks: WebhookSender) throws {
        let manager = FileManager.default
        inputs = dataDirectory + "/job-inputs"
        try manager.createDirectory(atPath: inputs, withIntermediateDirectories: true)
        database = try DatabaseQueue(path: dataDirectory + "/kontext.sqlite")
        var migrator = DatabaseMigrator()
        migrator.registerMigration("jobs") { db in
            try db.create(table: "jobs") { table in
                table.primaryKey("id", .text)
                table.column("createdAt", .double).notNull().indexed()
                table.column("status", .text).notNull().indexed()
                table.column("operation", .text).notNull()
                table.column("fields", .text).notNull()
                table.column("imageCount", .integer).notNull()
                table.column("baseURL", .text).notNull()
                table.column("webhookURL", .text)
                table.column("result", .text)
                table.column("error", .text)
                table.column("errorStatus", .integer)
                table.column("step", .integer).notNull()
                table.column("totalSteps", .integer).notNull()
                table.column("startedAt", .double)
                table.column("finishedAt", .double)
                table.column("note", .text)
            }
        }
        try migrator.migrate(database)
        // The job that was running when the server stopped runs again from the start.
        try database.write { db in
            try db.execute(
                sql: "UPDATE jobs SET status = 'queued', step = 0, startedAt = NULL, note = ? WHERE status = 'running'",
                arguments: ["re-queued: the server stopped while this job ran"])
        }
        self.handler = handler
        self.timeToLive = timeToLive
        self.webhooks = webhooks
    }

    /// Starts running queued jobs, oldest first, until `stop`.
    func start() {
        let (signals, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        wake = continuation
        continuation.yield()
        let scheduler = handler.scheduler
        loop = Task {
            // Jobs wait for the model; if it cannot load they stay queued for the next start.
            guard await scheduler.waitUntilReady() else { return }
            for await _ in signals {
                while let next = try? await self.nextQueued() {
                    await self.run(next)
                }
                if Task.isCancelled { return }
            }
        }
    }

    func stop() {
        loop?.cancel()
        wake?.finish()
    }

    /// Accepts a request as a job after checking it as the synchronous path would.
    func submit(_ operation: ImageOperation, content: RequestContent, baseURL: String) async throws -> JobRecord {
        let prepared = try await handler.prepare(operation, content: content)
        var webhook: String?
        if case .string(let url) = content.fields["webhook_url"] ?? .null {
            webhook = try await webhooks.validated(url)
        }
        let id = "job_" + ImageStore.randomName()
        let folder = inputs + "/" + id
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        for (index, bytes) in content.images.enumerated() {
            try Data(bytes).write(to: URL(fileURLWithPath: "\(folder)/\(index)"))
        }
        var fields = content.fields
        fields.removeValue(forKey: "webhook_url")
        // The seed is fixed now, so a job re-run after a restart makes the same images.
        fields["seed"] = .integer(Int(prepared.generation.seed))
        let record = JobRecord(
            id: id, createdAt: Date().timeIntervalSince1970, status: .queued, operation: operation.rawValue,
            fields: String(decoding: try JSONEncoder().encode(fields), as: UTF8.self), imageCount: content.images.count, baseURL: baseURL,
            webhookURL: webhook, result: nil, error: nil, errorStatus: nil, step: 0, totalSteps: prepared.parameters.steps, startedAt: nil, finishedAt: nil,
            note: nil)
        try await database.write { db in try record.insert(db) }
        wake?.yield()
        return record
    }

    /// A job and, while queued, how many jobs are ahead of it.
    func status(_ id: String) async throws -> (JobRecord, position: Int?) {
        guard let record = try await database.read({ db in try JobRecord.fetchOne(db, key: id) }) else {
            throw APIError.notFound("job_not_found", "No job '\(id)' (unknown, or expired with its images).")
        }
        guard record.status == .queued else { return (record, nil) }
        let ahead = try await database.read { db in
            try JobRecord.filter(Column("status") == JobStatus.queued.rawValue && Column("createdAt") < record.createdAt).fetchCount(db)
        }
        return (record, ahead + (runningID == nil ? 0 : 1))
    }

    /// Cancels a queued or running job; a finished one is left as it is.
    func cancel(_ id: String) async throws -> JobRecord {
        let (record, _) = try await status(id)
        guard !record.status.isFinal else { return record }
        if record.status == .running, runningID == id {
            runningTask?.cancel()
            return try await waitForFinal(id)
        }
        return try await finish(id, status: .canceled, result: nil, error: nil)
    }

    /// Events of a job until it finishes; the current state first. With `previews`, progress
    /// events carry preview images.
    func events(_ id: String, previews: Bool = false) async throws -> AsyncStream<JobEvent> {
        let (record, _) = try await status(id)
        let (stream, continuation) = AsyncStream<JobEvent>.makeStream()
        if record.status.isFinal {
            continuation.yield(.finished(record))
            continuation.finish()
            return stream
        }
        continuation.yield(.progress(step: record.step, total: record.totalSteps, preview: nil))
        let key = UUID()
        watchers[id, default: [:]][key] = continuation
        if previews { previewWatchers.withLock { $0[id, default: 0] += 1 } }
        continuation.onTermination = { _ in
            if previews { self.previewWatchers.withLock { $0[id, default: 1] -= 1 } }
            Task { await self.unwatch(id, key) }
        }
        return stream
    }

    /// The job once it is finished, or nil after `timeout`.
    func wait(_ id: String, timeout: Duration) async throws -> JobRecord? {
        let stream = try await events(id)
        return await withTaskGroup(of: JobRecord?.self) { group in
            group.addTask {
                for await event in stream { if case .finished(let record) = event { return record } }
                return nil
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }

    /// Deletes jobs finished longer ago than the image time-to-live, with their inputs.
    func sweep() async {
        let cutoff = Date().timeIntervalSince1970 - Double(timeToLive.components.seconds)
        let expired = (try? await database.write { db -> [String] in
            let ids = try String.fetchAll(db, sql: "SELECT id FROM jobs WHERE finishedAt IS NOT NULL AND finishedAt < ?", arguments: [cutoff])
            try db.execute(sql: "DELETE FROM jobs WHERE finishedAt IS NOT NULL AND finishedAt < ?", arguments: [cutoff])
            return ids
        }) ?? []
        for id in expired { try? FileManager.default.removeItem(atPath: inputs + "/" + id) }
    }

    private func unwatch(_ id: String, _ key: UUID) {
        watchers[id]?.removeValue(forKey: key)
        if watchers[id]?.isEmpty == true { watchers.removeValue(forKey: id) }
    }

    private func publish(_ id: String, _ event: JobEvent) {
        for continuation in watchers[id]?.values ?? [:].values {
            continuation.yield(event)
            if case .finished = event { continuation.finish() }
        }
        if case .finished = event { watchers.removeValue(forKey: id) }
    }

    private func waitForFinal(_ id: String) async throws -> JobRecord {
        while true {
            let (record, _) = try await status(id)
            if record.status.isFinal { return record }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    private func nextQueued() async throws -> JobRecord? {
        try await database.read { db in
            try JobRecord.filter(Column("status") == JobStatus.queued.rawValue).order(Column("createdAt")).fetchOne(db)
        }
    }

    private func run(_ record: JobRecord) async {
        let id = record.id
        try? await database.write { db in
            try db.execute(sql: "UPDATE jobs SET status = 'running', startedAt = ? WHERE id = ?", arguments: [Date().timeIntervalSince1970, id])
        }
        runningID = id
        // Progress is recorded and published in step order by one consumer, drained before the
        // final state, so watchers never see a step after the job has finished.
        let (updates, updateSink) = AsyncStream<GenerationProgress>.makeStream()
        let publisher = Task { for await progress in updates { await self.progressed(id, progress) } }
        let task = Task {
            // The outcome is recorded from a task of its own: this one may be cancelled, and GRDB
            // refuses to write for a cancelled task.
            let outcome: (JobStatus, String?, APIError?)
            do {
                let fields = try JSONDecoder().decode([String: ParameterValue].self, from: Data(record.fields.utf8))
                let images = try (0..<record.imageCount).map { index in
                    [UInt8](try Data(contentsOf: URL(fileURLWithPath: "\(self.inputs)/\(id)/\(index)")))
                }
                let operation = ImageOperation(rawValue: record.operation) ?? .generation
                let prepared = try await self.handler.prepare(operation, content: RequestContent(fields: fields, images: images))
                let body = try await self.handler.execute(
                    prepared, baseURL: record.baseURL, previewAt: { _ in self.previewWatchers.withLock { ($0[id] ?? 0) > 0 } }
                ) { progress in
                    updateSink.yield(progress)
                }
                outcome = (.succeeded, String(decoding: try ImagesResponse.encoder.encode(body), as: UTF8.self), nil)
            } catch is CancellationError {
                outcome = (.canceled, nil, nil)
            } catch {
                outcome = (.failed, nil, (error as? APIError) ?? APIError.server("engine_error", "\(error)"))
            }
            updateSink.finish()
            await publisher.value
            await Task { _ = try? await self.finish(id, status: outcome.0, result: outcome.1, error: outcome.2) }.value
        }
        runningTask = task
        await task.value
        runningID = nil
        runningTask = nil
    }

    private func progressed(_ id: String, _ progress: GenerationProgress) async {
        try? await database.write { db in
            try db.execute(sql: "UPDATE jobs SET step = ? WHERE id = ? AND status = 'running'", arguments: [progress.step, id])
        }
        publish(id, .progress(step: progress.step, total: progress.totalSteps, preview: progress))
    }

    @discardableResult
    private func finish(_ id: String, status: JobStatus, result: String?, error: APIError?) async throws -> JobRecord {
        let record = try await database.write { db -> JobRecord in
            guard var record = try JobRecord.fetchOne(db, key: id) else { throw APIError.notFound("job_not_found", "No job '\(id)'.") }
            guard !record.status.isFinal else { return record }
            record.status = status
            record.result = result
            record.error = try error.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) }
            record.errorStatus = error?.status
            record.finishedAt = Date().timeIntervalSince1970
            try record.update(db)
            return record
        }
        try? FileManager.default.removeItem(atPath: inputs + "/" + id)
        publish(id, .finished(record))
        if let webhook = record.webhookURL {
            Task { await webhooks.deliver(record, to: webhook) }
        }
        return record
    }
}

/// A job as the API shows it.
struct JobView {
    let record: JobRecord
    let position: Int?

    var json: [String: Any] {
        var view: [String: Any] = [
            "id": record.id, "object": "image.job", "status": record.status.rawValue, "operation": record.operation,
            "created_at": Int(record.createdAt),
            "progress": ["step": record.step, "total": record.totalSteps],
            "urls": [
                "get": "\(record.baseURL)/v1/jobs/\(record.id)", "cancel": "\(record.baseURL)/v1/jobs/\(record.id)/cancel",
                "events": "\(record.baseURL)/v1/jobs/\(record.id)/events",
            ],
        ]
        if let position { view["position"] = position }
        if let started = record.startedAt {
            view["elapsed_ms"] = Int(((record.finishedAt ?? Date().timeIntervalSince1970) - started) * 1000)
        }
        if let result = record.result, let object = try? JSONSerialization.jsonObject(with: Data(result.utf8)) { view["result"] = object }
        if let error = record.error, let object = try? JSONSerialization.jsonObject(with: Data(error.utf8)) as? [String: Any] {
            view["error"] = object["error"]
        }
        if let note = record.note { view["note"] = note }
        return view
    }
}
