import Foundation
import ImageAPI
import ImageCodecs
import KontextPipeline
import Synchronization

/// What runs generations: the Kontext pipeline, or a stand-in in tests.
public protocol ImageEngine: Sendable {
    /// Pixels per side of one token: requested sizes are rounded to multiples of this.
    var sizeMultiple: Int { get }
    /// Runs requests that share a batch (see `KontextPipeline.canBatch`); returns each one's images.
    func generate(
        batch requests: [GenerationRequest], previewAt: (Int) -> Bool, isCancelled: @Sendable () -> Bool, progress: (GenerationProgress) -> Void
    ) throws(PipelineError) -> [[RGBImage]]
}

extension KontextPipeline: ImageEngine {}

/// The outcome of one job.
public struct EngineResult: Sendable {
    public let images: [RGBImage]
    public let queueMilliseconds: Int
    public let inferenceMilliseconds: Int
    /// How many requests shared the forward passes.
    public let batchSize: Int
}

/// One engine, many clients: a bounded queue in front of a single worker thread.
///
/// Waiting text-to-image requests of the same size and step count are run together, one batch
/// per forward pass, up to `maxBatchImages` images.
///
/// Jobs run one at a time on a dedicated dispatch queue, away from Swift's cooperative threads, so
/// a long generation never starves the HTTP server. A job is cancelled when its client's task is
/// cancelled (the client disconnected) or its deadline passes, whether it is still waiting or
/// already running (then between two denoising steps).
public actor EngineScheduler {
    /// Jobs allowed to wait behind the running one; more are refused with 429.
    public let capacity: Int
    /// Most images one batched forward pass may hold.
    public let maxBatchImages: Int
    /// Longest a job may take from submission to result.
    public let deadline: Duration
    private var engine: (any ImageEngine)?
    private var loadFailure: String?
    private var waiting: [Job] = []
    private var running: [Job] = []
    private var acceptingWork = true
    private let worker = DispatchQueue(label: "kontext.engine", qos: .userInitiated)
    /// Recent job durations, for Retry-After.
    private var recentSeconds: [Double] = []

    final class Job: Sendable {
        let id = UUID()
        let request: GenerationRequest
        /// After which steps the caller wants a preview; nil: never (and the job may share a batch).
        let previewAt: (@Sendable (Int) -> Bool)?
        let progress: @Sendable (GenerationProgress) -> Void
        let submitted = ContinuousClock.now
        let deadline: ContinuousClock.Instant
        let cancelled = Atomic<Bool>(false)
        let continuation: Mutex<CheckedContinuation<EngineResult, any Error>?>

        init(request: GenerationRequest, previewAt: (@Sendable (Int) -> Bool)?, deadline: ContinuousClock.Instant,
             progress: @escaping @Sendable (GenerationProgress) -> Void, continuation: CheckedContinuation<EngineResult, any Error>) {
            self.request = request
            self.previewAt = previewAt
            self.deadline = deadline
            self.progress = progress
            self.continuation = Mutex(continuation)
        }

        /// Delivers the outcome once; later calls do nothing.
        func resume(_ result: Result<EngineResult, any Error>) {
            let taken = continuation.withLock { value -> CheckedContinuation<EngineResult, any Error>? in
                defer { value = nil }
                return value
            }
            taken?.resume(with: result)
        }

        var shouldStop: Bool { cancelled.load(ordering: .relaxed) || ContinuousClock.now > deadline }
    }

    public init(capacity: Int, maxBatchImages: Int = 4, deadline: Duration = .seconds(600)) {
        self.capacity = capacity
        self.maxBatchImages = maxBatchImages
        self.deadline = deadline
    }

    /// Makes the engine available; jobs are accepted from now on.
    public func attach(_ engine: any ImageEngine) {
        self.engine = engine
    }

    /// Records why the model could not be loaded; requests are answered with it.
    public func failedToLoad(_ reason: String) {
        loadFailure = reason
    }

    public var isReady: Bool { engine != nil }
    public var status: (ready: Bool, failure: String?, waiting: Int, running: Bool) {
        (engine != nil, loadFailure, waiting.count, !running.isEmpty)
    }

    public var sizeMultiple: Int { engine?.sizeMultiple ?? 16 }

    /// Waits until the model is loaded (true) or has failed to load (false).
    public func waitUntilReady() async -> Bool {
        while engine == nil, loadFailure == nil, !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(100))
        }
        return engine != nil
    }

    /// Runs `request` when its turn comes. Throws `APIError` for a full queue, a server that is not
    /// ready or is shutting down, a deadline, and engine failures; `CancellationError` when the
    /// calling task is cancelled.
    public func run(
        _ request: GenerationRequest, previewAt: (@Sendable (Int) -> Bool)? = nil,
        progress: @escaping @Sendable (GenerationProgress) -> Void = { _ in }
    ) async throws -> EngineResult {
        guard acceptingWork else { throw APIError.server("shutting_down", "The server is shutting down and takes no new work.", status: 503) }
        guard engine != nil else {
            throw APIError.server("model_not_loaded", loadFailure.map { "The model failed to load: \($0)" } ?? "The model is still loading; retry shortly.", status: 503)
        }
        guard waiting.count < capacity || (running.isEmpty && waiting.isEmpty) else { throw APIError.queueFull(retryAfterSeconds: retryAfter()) }
        let limit = ContinuousClock.now + deadline
        let cancelFlag = Mutex<Job?>(nil)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let job = Job(request: request, previewAt: previewAt, deadline: limit, progress: progress, continuation: continuation)
                cancelFlag.withLock { $0 = job }
                waiting.append(job)
                startNextIfIdle()
            }
        } onCancel: {
            guard let job = cancelFlag.withLock({ $0 }) else { return }
            job.cancelled.store(true, ordering: .relaxed)
            Task { await self.dropIfWaiting(job) }
        }
    }

    /// Stops taking new work; returns when the running and waiting jobs are done.
    public func drain() async {
        acceptingWork = false
        while !running.isEmpty || !waiting.isEmpty {
            try? await Task.sleep(for: .milliseconds(50))
        }
    }

    private func dropIfWaiting(_ job: Job) {
        guard let index = waiting.firstIndex(where: { $0.id == job.id }) else { return }
        waiting.remove(at: index)
        job.resume(.failure(CancellationError()))
    }

    private func startNextIfIdle() {
        guard running.isEmpty, let engine, !waiting.isEmpty else { return }
        let batch = takeBatch()
        running = batch
        let started = ContinuousClock.now
        worker.async {
            let live = batch.filter { !$0.shouldStop }
            for job in batch where job.shouldStop { job.resume(.failure(Self.stopReason(job))) }
            if !live.isEmpty {
                let outcome: Result<[[RGBImage]], any Error>
                do throws(PipelineError) {
                    let images = try engine.generate(
                        batch: live.map(\.request), previewAt: { step in live.count == 1 && live[0].previewAt?(step) == true },
                        isCancelled: { live.allSatisfy(\.shouldStop) },
                        progress: { progress in for job in live { job.progress(progress) } })
                    outcome = .success(images)
                } catch .cancelled {
                    outcome = .failure(CancellationError())
                } catch .invalidRequest(let message) {
                    outcome = .failure(APIError.invalid("invalid_value", param: nil, message))
                } catch .image(let error) {
                    outcome = .failure(APIError.invalid("unsupported_image_format", param: "image", error.message))
                } catch {
                    outcome = .failure(APIError.server("engine_error", "The engine failed: \(error.description)"))
                }
                let finished = ContinuousClock.now
                for (index, job) in live.enumerated() {
                    switch outcome {
                    case .success(let images) where !job.shouldStop:
                        job.resume(.success(EngineResult(
                            images: images[index], queueMilliseconds: Self.milliseconds(started - job.submitted),
                            inferenceMilliseconds: Self.milliseconds(finished - started), batchSize: live.count)))
                    case .success:
                        job.resume(.failure(Self.stopReason(job)))
                    case .failure(let error):
                        job.resume(.failure(error is CancellationError ? Self.stopReason(job) : error))
                    }
                }
            }
            Task { await self.finished(seconds: Double(Self.milliseconds(ContinuousClock.now - started)) / 1000) }
        }
    }

    /// The first waiting job and every later one that can share its forward passes.
    private func takeBatch() -> [Job] {
        var batch = [waiting.removeFirst()]
        guard batch[0].previewAt == nil else { return batch }
        var images = batch[0].request.count
        var index = 0
        while index < waiting.count {
            let candidate = waiting[index]
            if candidate.previewAt == nil, KontextPipeline.canBatch(batch[0].request, candidate.request),
                images + candidate.request.count <= maxBatchImages
            {
                batch.append(waiting.remove(at: index))
                images += candidate.request.count
            } else {
                index += 1
            }
        }
        return batch
    }

    /// Why a job stopped early: its client left, or its deadline passed.
    static func stopReason(_ job: Job) -> any Error {
        job.cancelled.load(ordering: .relaxed) ? CancellationError() : deadlineError
    }

    private func finished(seconds: Double) {
        running = []
        recentSeconds = Array((recentSeconds + [seconds]).suffix(8))
        startNextIfIdle()
    }

    /// Seconds until a slot is likely free: the waiting jobs times the recent average, at least 1.
    private func retryAfter() -> Int {
        let average = recentSeconds.isEmpty ? 5 : recentSeconds.reduce(0, +) / Double(recentSeconds.count)
        return max(1, Int((average * Double(waiting.count + 1)).rounded(.up)))
    }

    static let deadlineError = APIError.server("deadline_exceeded", "The request took longer than the server's deadline.", status: 504)

    static func milliseconds(_ duration: Duration) -> Int {
        Int(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
    }
}
