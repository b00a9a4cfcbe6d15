import Torch

/// First-block residual caching across the denoising steps of one generation (the idea of
/// ParaAttention's FBCache): each step runs only the first double-stream block, compares how much
/// that block changed the image stream with the last fully computed step, and when the relative
/// change is under `threshold`, adds the cached residual of all later blocks instead of running
/// them. Consecutive cached steps are capped so the approximation cannot drift far.
public final class FirstBlockCache {
    /// Largest relative change (mean |r - r_ref| / mean |r_ref|) at which a step is cached.
    public let threshold: Double
    /// Most cached steps in a row before a full pass is forced.
    public let maxConsecutiveCached: Int
    public private(set) var fullPasses = 0
    public private(set) var cachedPasses = 0
    private var referenceResidual: Tensor?
    private var laterBlocksResidual: Tensor?
    private var consecutiveCached = 0

    public init(threshold: Double, maxConsecutiveCached: Int = 3) {
        self.threshold = threshold
        self.maxConsecutiveCached = maxConsecutiveCached
    }

    /// The pure decision: reuse only with a cache, under the threshold, within the run-length cap.
    public static func shouldReuse(change: Double?, threshold: Double, consecutiveCached: Int, maxConsecutiveCached: Int) -> Bool {
        guard let change, change.isFinite else { return false }
        return change < threshold && consecutiveCached < maxConsecutiveCached
    }

    /// The later blocks' residual to add when the first block's residual `residual` is close
    /// enough to the reference; nil means: run the later blocks and call `store`.
    func reusableResidual(for residual: Tensor) throws(TorchError) -> Tensor? {
        var change: Double?
        if let referenceResidual, laterBlocksResidual != nil {
            let difference = try (residual - referenceResidual).abs().mean(dims: Array(0..<residual.rank)).item()
            let scale = try referenceResidual.abs().mean(dims: Array(0..<residual.rank)).item()
            change = scale > 0 ? difference / scale : nil
        }
        if Self.shouldReuse(change: change, threshold: threshold, consecutiveCached: consecutiveCached, maxConsecutiveCached: maxConsecutiveCached),
            let laterBlocksResidual
        {
            consecutiveCached += 1
            cachedPasses += 1
            return laterBlocksResidual
        }
        referenceResidual = residual
        return nil
    }

    /// Records a full pass: the residual the later blocks added to the image stream.
    func store(laterBlocksResidual residual: Tensor) {
        laterBlocksResidual = residual
        consecutiveCached = 0
        fullPasses += 1
    }

    /// Share of steps that ran every block.
    public var fullPassFraction: Double {
        let total = fullPasses + cachedPasses
        return total == 0 ? 1 : Double(fullPasses) / Double(total)
    }
}
