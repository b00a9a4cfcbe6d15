import Foundation

/// `scheduler/scheduler_config.json` (diffusers' `FlowMatchEulerDiscreteScheduler`).
public struct SchedulerConfig: Codable, Sendable, Equatable {
    public var baseImageSeqLen: Int
    public var maxImageSeqLen: Int
    public var baseShift: Double
    public var maxShift: Double
    public var numTrainTimesteps: Int
    public var shift: Double
    public var useDynamicShifting: Bool

    enum CodingKeys: String, CodingKey {
        case baseImageSeqLen = "base_image_seq_len", maxImageSeqLen = "max_image_seq_len", baseShift = "base_shift"
        case maxShift = "max_shift", numTrainTimesteps = "num_train_timesteps", shift, useDynamicShifting = "use_dynamic_shifting"
    }

    /// FLUX.1's scheduler.
    public static let flux = SchedulerConfig(
        baseImageSeqLen: 256, maxImageSeqLen: 4096, baseShift: 0.5, maxShift: 1.15, numTrainTimesteps: 1000, shift: 3,
        useDynamicShifting: true)
}

/// The shifted flow-matching Euler schedule of the reference pipeline, computed in the same
/// float32 steps as numpy and torch so that every sigma is bit-identical.
public struct FlowMatchSchedule: Sendable, Equatable {
    /// Noise levels from about 1 down to the last step's, then a final 0: `steps + 1` values.
    public let sigmas: [Float]
    /// `sigma * num_train_timesteps` for each step (without the final 0).
    public let timesteps: [Float]

    /// - Parameter imageTokens: the count of noise tokens (reference-image tokens do not count).
    public init(steps: Int, imageTokens: Int, config: SchedulerConfig = .flux) {
        precondition(steps > 0)
        // np.linspace(1.0, 1 / steps, steps) in float64, then float32.
        let start = 1.0, stop = 1.0 / Double(steps)
        let step = steps > 1 ? (stop - start) / Double(steps - 1) : 0
        var base = (0..<steps).map { Float(Double($0) * step + start) }
        if steps > 1 { base[steps - 1] = Float(stop) }
        let shifted: [Float]
        if config.useDynamicShifting {
            // calculate_shift, then the exponential time shift exp(mu) / (exp(mu) + (1 / t - 1)).
            let slope = (config.maxShift - config.baseShift) / Double(config.maxImageSeqLen - config.baseImageSeqLen)
            let intercept = config.baseShift - slope * Double(config.baseImageSeqLen)
            let mu = Double(imageTokens) * slope + intercept
            let scale = Float(Foundation.exp(mu))
            shifted = base.map { scale / (scale + (1 / $0 - 1)) }
        } else {
            let shift = Float(config.shift)
            shifted = base.map { shift * $0 / (1 + (shift - 1) * $0) }
        }
        let trainSteps = Float(config.numTrainTimesteps)
        timesteps = shifted.map { $0 * trainSteps }
        sigmas = shifted + [0]
    }
}
