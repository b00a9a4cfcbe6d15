import Prometheus

/// What `GET /metrics` reports, in Prometheus' text format.
public struct ServerMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    let imagesGenerated: Counter
    let stepDuration: DurationHistogram
    let queueWaiting: Gauge
    let queueRunning: Gauge

    public init() {
        imagesGenerated = registry.makeCounter(name: "kontext_images_generated_total", help: "Images the engine has generated.")
        stepDuration = registry.makeDurationHistogram(
            name: "kontext_step_duration_seconds",
            buckets: [.milliseconds(10), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2), .seconds(5), .seconds(15)],
            help: "Time per denoising step of each generation (its inference time over its steps).")
        queueWaiting = registry.makeGauge(name: "kontext_queue_waiting", help: "Requests waiting for the engine.")
        queueRunning = registry.makeGauge(name: "kontext_queue_running", help: "Generations running (a batch counts once).")
    }

    /// One answered request, by route template and status.
    func request(route: String, status: Int) {
        let descriptor = MetricNameDescriptor(namespace: "kontext", metricName: "http_requests", unitName: "total", helpText: "HTTP requests answered.")
        registry.makeCounter(descriptor: descriptor, labels: [("route", route), ("status", String(status))]).increment()
    }

    /// One error answer, by its API error code.
    func error(code: String) {
        let descriptor = MetricNameDescriptor(namespace: "kontext", metricName: "errors", unitName: "total", helpText: "Error answers by API error code.")
        registry.makeCounter(descriptor: descriptor, labels: [("code", code)]).increment()
    }

    func generated(images: Int, steps: Int, inferenceMilliseconds: Int) {
        imagesGenerated.increment(by: Int64(images))
        if steps > 0 { stepDuration.record(.milliseconds(inferenceMilliseconds) / steps) }
    }

    /// The text exposition, with the queue gauges read now.
    func exposition(scheduler: EngineScheduler) async -> String {
        let status = await scheduler.status
        queueWaiting.set(to: Double(status.waiting))
        queueRunning.set(to: status.running ? 1.0 : 0.0)
        return registry.emitToString()
    }
}
