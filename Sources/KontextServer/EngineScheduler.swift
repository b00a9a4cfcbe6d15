import Foundation
import ImageAPI
import ImageCodecs
import KontextPipeline
import Synchronization

/// What runs generations: the Kontext pipeline, or a stand-in in tests.
public protocol ImageEngine: Sendable {
    /// Pixels per side of one token: requested sizes are rounded to multiples of this.
    var sizeMultiple: Int { get }
    func generate(
        _ request: GenerationRequest, previews: Bool, isCancelled: @Sendable () -> Bool, progress: (GenerationProgress) -> Void
    ) throws(PipelineError) -> [RGBImage]
}

extension KontextPipeline: ImageEngine {}

/// The outcome of one job.
public struct EngineResult: Sendable {
    public let images: [RGBImage]
    public let queueMilliseconds: Int
    public let inferenceMilliseconds: Int
}

/// One engine, many clients: a bounded queue in front of a single worker thread.
///
/// Jobs run one at a time on a dedicated dispatch queue, away from Swift's cooperative threads, so
/// a long generation never starves the HTTP server. A job is cancelled when its client's task is
/// cancelled (the client disconnected) or its deadline passes, whether it is still waiting or
/// already running (then between two denoising steps).
public actor EngineScheduler {
    /// Jobs allowed to wait behind the running one; more are refused with 429.
    public let capacity: Int
    /// Longest a job may take from submission to result.
    public let deadline: Duration
    private var engine: (any ImageEngine)?
    private var loadFailure: String?
    private var waiting: [Job] = []
    private var running: Job?
    private var acceptingWork = true
    private let worker = DispatchQueue(label: "kontext.engine", qos: .userInitiated)
    /// Recent job durations, for Retry-After.
    private var recentSeconds: [Double] = []

    final class Job: Sendable {
        let id = UUID()
        let request: GenerationRequest
        let previews: Bool
        let progress: @Sendable (GenerationProgress) -> Void
        let submitted = ContinuousClock.now
        let deadline: ContinuousClock.Instant
        let cancelled = Atomic<Bool>(false)
        let continuation: Mutex<CheckedContinuation<EngineResult, any Error>?>

        init(request: GenerationRequest, previews: Bool, deadline: ContinuousClock.Instant,
             progress: @escaping @Sendable (GenerationProgress) -> Void, continuation: CheckedContinuation<EngineResult, any Error>) {
            self.request = request
            self.previews = previews
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

    public init(capacity: Int, deadline: Duration = .seconds(600)) {
        self.capacity = capacity
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
        (engine != nil, loadFailure, waiting.count, running != nil)
    }

    public var sizeMultiple: Int { engine?.sizeMultiple ?? 16 }

    /// Runs `request` when its turn comes. Throws `APIError` for a full queue, a server that is not
    /// ready or is shutting down, a deadline, and engine failures; `CancellationError` when the
    /// calling task is cancelled.
    public func run(
        _ request: GenerationRequest, previews: Bool = false, progress: @escaping @Sendable (GenerationProgress) -> Void = { _ in }
    ) async throws -> EngineResult {
        guard acceptingWork else { throw APIError.server("shutting_down", "The server is shutting down and takes no new work.", status: 503) }
        guard engine != nil else {
            throw APIError.server("model_not_loaded", loadFailure.map { "The model failed to load: \($0)" } ?? "The model is still loading; retry shortly.", status: 503)
        }
        guard waiting.count < capacity || (running == nil && waiting.isEmpty) else { throw APIError.queueFull(retryAfterSeconds: retryAfter()) }
        let limit = ContinuousClock.now + deadline
        let cancelFlag = Mutex<Job?>(nil)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let job = Job(request: request, previews: previews, deadline: limit, progress: progress, continuation: continuation)
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
        while running != nil || !waiting.isEmpty {
            try? await Task.sleep(for: .milliseconds(50))
        }
    }

    private func dropIfWaiting(_ job: Job) {
        guard let index = waiting.firstIndex(where: { $0.id == job.id }) else { return }
        waiting.remove(at: index)
        job.resume(.failure(CancellationError()))
    }

    private func startNextIfIdle() {
        guard running == nil, let engine, !waiting.isEmpty else { return }
        let job = waiting.removeFirst()
        running = job
        let started = ContinuousClock.now
        worker.async {
            let outcome: Result<EngineResult, any Error>
            if job.shouldStop {
                outcome = .failure(job.cancelled.load(ordering: .relaxed) ? CancellationError() : Self.deadlineError)
            } else {
                do throws(PipelineError) {
                    let images = try engine.generate(job.request, previews: job.previews, isCancelled: { job.shouldStop }, progress: job.progress)
                    let finished = ContinuousClock.now
                    outcome = .success(EngineResult(
                        images: images, queueMilliseconds: Self.milliseconds(started - job.submitted),
                        inferenceMilliseconds: Self.milliseconds(finished - started)))
                } catch .cancelled {
                    outcome = .failure(job.cancelled.load(ordering: .relaxed) ? CancellationError() : Self.deadlineError)
                } catch .invalidRequest(let message) {
                    outcome = .failure(APIError.invalid("invalid_value", param: nil, message))
                } catch .image(let error) {
                    outcome = .failure(APIError.invalid("unsupported_image_format", param: "image", error.message))
                } catch {
                    outcome = .failure(APIError.server("engine_error", "The engine failed: \(error.description)"))
                }
            }
            job.resume(outcome)
            Task { await self.finished(job, seconds: Double(Self.milliseconds(ContinuousClock.now - started)) / 1000) }
        }
    }

    private func finished(_ job: Job, seconds: Double) {
        running = nil
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
