import Foundation

/// An output size in pixels.
public struct PixelSize: Sendable, Equatable, CustomStringConvertible {
    public var width: Int
    public var height: Int

    public init(width: Int, height: Int) {
        self.width = width
        self.height = height
    }

    /// "WxH", as the API reports it.
    public var description: String { "\(width)x\(height)" }

    public var megapixels: Double { Double(width * height) / 1_000_000 }

    /// The nearest size of the same shape in multiples of `multiple` that the engine generates at;
    /// the server resamples the result to this exact size.
    public func engineSize(multiple: Int = 16) -> PixelSize {
        func round(_ side: Int) -> Int { max(multiple, Int((Double(side) / Double(multiple)).rounded()) * multiple) }
        return PixelSize(width: round(width), height: round(height))
    }
}

/// The contract's size rules: supported ratios and tiers, `WxH` clamping, edit sizing modes.
public enum SizeNormalization {
    /// Supported ratios with their exact 1K sizes (the contract's table).
    public static let ratios: [(name: String, width: Int, height: Int)] = [
        ("1:1", 1024, 1024), ("4:3", 1183, 887), ("3:4", 887, 1182), ("5:4", 1145, 916), ("4:5", 916, 1145),
        ("3:2", 1254, 836), ("2:3", 836, 1254), ("16:9", 1365, 768), ("9:16", 768, 1365), ("21:9", 1563, 670), ("9:21", 670, 1564),
    ]

    /// Smallest and largest accepted side of a `WxH` size, and the range exact sizes are scaled into.
    public static let maxRequestedSide = 14142
    public static let minSide = 64
    public static let maxSide = 2048
    public static let maxRatio = 32.0

    public enum Tier: String, Sendable, CaseIterable {
        case half = "0.5K", one = "1K", two = "2K"

        /// The tier's size for a supported ratio's 1K size.
        func size(_ oneK: PixelSize) -> PixelSize {
            switch self {
            case .one: return oneK
            case .half:
                // Halved and rounded half to even, as Python's round() does.
                return PixelSize(width: Int((Double(oneK.width) / 2).rounded(.toNearestOrEven)),
                                 height: Int((Double(oneK.height) / 2).rounded(.toNearestOrEven)))
            case .two:
                let doubled = PixelSize(width: oneK.width * 2, height: oneK.height * 2)
                let scale = min(1, Double(SizeNormalization.maxSide) / Double(max(doubled.width, doubled.height)))
                return PixelSize(width: Int((Double(doubled.width) * scale).rounded()), height: Int((Double(doubled.height) * scale).rounded()))
            }
        }
    }

    /// The supported ratio nearest `ratio` (width / height) by distance of logarithms.
    public static func nearestRatio(_ ratio: Double) -> (name: String, width: Int, height: Int) {
        ratios.min { abs(log(Double($0.width) / Double($0.height)) - log(ratio)) < abs(log(Double($1.width) / Double($1.height)) - log(ratio)) }!
    }

    /// A ratio named "W:H" with positive numbers, or nil.
    public static func parseRatio(_ text: String) -> Double? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let w = Double(parts[0].trimmingCharacters(in: .whitespaces)),
            let h = Double(parts[1].trimmingCharacters(in: .whitespaces)), w > 0, h > 0, w.isFinite, h.isFinite
        else { return nil }
        return w / h
    }

    /// A tier from "0.5K", "1K", "2K", "4K" (maps to 2K) or megapixels ("0.25", "1", "4"; the nearest tier).
    public static func parseTier(_ text: String) -> Tier? {
        let upper = text.trimmingCharacters(in: .whitespaces).uppercased()
        if upper == "4K" { return .two }
        if let tier = Tier(rawValue: upper) { return tier }
        guard let megapixels = Double(upper), megapixels > 0, megapixels.isFinite else { return nil }
        let tiers: [(Tier, Double)] = [(.half, 0.25), (.one, 1), (.two, 4)]
        return tiers.min { abs(log($0.1) - log(megapixels)) < abs(log($1.1) - log(megapixels)) }!.0
    }

    /// A supported ratio at a tier.
    public static func size(ratio: Double, tier: Tier) -> PixelSize {
        let nearest = nearestRatio(ratio)
        return tier.size(PixelSize(width: nearest.width, height: nearest.height))
    }

    /// `WxH` as the contract keeps it: exact when both sides lie in 64...2048, otherwise scaled
    /// uniformly into that range; sides beyond 1...14142 or a ratio beyond 32:1 are refused.
    public static func exactSize(width: Int, height: Int, param: String = "size") throws(APIError) -> PixelSize {
        guard (1...maxRequestedSide).contains(width), (1...maxRequestedSide).contains(height) else {
            throw .invalid("invalid_size", param: param, "size \(width)x\(height): each side must be 1 to \(maxRequestedSide) pixels")
        }
        let ratio = Double(max(width, height)) / Double(min(width, height))
        guard ratio <= maxRatio else {
            throw .invalid("invalid_size", param: param, "size \(width)x\(height): the aspect ratio is more extreme than 32:1")
        }
        return clampedIntoRange(width: width, height: height)
    }

    /// Scales uniformly so both sides lie in 64...2048 (no change when they already do).
    static func clampedIntoRange(width: Int, height: Int) -> PixelSize {
        if (minSide...maxSide).contains(width), (minSide...maxSide).contains(height) { return PixelSize(width: width, height: height) }
        var scale = 1.0
        if max(width, height) > maxSide { scale = Double(maxSide) / Double(max(width, height)) }
        if Double(min(width, height)) * scale < Double(minSide) { scale = Double(minSide) / Double(min(width, height)) }
        func side(_ value: Int) -> Int { min(maxSide, max(minSide, Int((Double(value) * scale).rounded()))) }
        return PixelSize(width: side(width), height: side(height))
    }

    /// How an edit without `size` or `aspect_ratio` is sized.
    public enum EditSizing: Sendable, Equatable {
        case matchInput
        case preferredBucket
        case ratio(Double)
    }

    /// The reference pipeline's preferred Kontext resolutions (width, height).
    public static let preferredBuckets: [PixelSize] = [
        (672, 1568), (688, 1504), (720, 1456), (752, 1392), (800, 1328), (832, 1248), (880, 1184), (944, 1104), (1024, 1024),
        (1104, 944), (1184, 880), (1248, 832), (1328, 800), (1392, 752), (1456, 720), (1504, 688), (1568, 672),
    ].map { PixelSize(width: $0.0, height: $0.1) }

    /// The delivered size, by the contract's priority: `size` > `aspect_ratio` + `resolution` >
    /// `aspect_ratio` > `resolution` > auto (1024 x 1024, or the edit sizing for edits).
    /// - Parameter firstImage: the first input image's size, for edits.
    public static func resolve(
        size: String?, aspectRatio: String?, resolution: String?, editSizing: EditSizing, firstImage: PixelSize?
    ) throws(APIError) -> PixelSize {
        var ratio: Double?
        if let size = size?.trimmingCharacters(in: .whitespaces), !size.isEmpty, size.lowercased() != "auto" {
            let sides = size.lowercased().split(separator: "x", omittingEmptySubsequences: false)
            if sides.count == 2, let width = Int(sides[0]), let height = Int(sides[1]) {
                return try exactSize(width: width, height: height)
            }
            guard let parsed = parseRatio(size) else {
                throw .invalid("invalid_size", param: "size", "size must be WxH (e.g. 1024x768), W:H (e.g. 16:9) or auto, not '\(size)'")
            }
            ratio = parsed
        }
        if ratio == nil, let aspectRatio = aspectRatio?.trimmingCharacters(in: .whitespaces), !aspectRatio.isEmpty, aspectRatio.lowercased() != "auto" {
            guard let parsed = parseRatio(aspectRatio) else {
                throw .invalid("invalid_size", param: "aspect_ratio", "aspect_ratio must be W:H (e.g. 16:9) or auto, not '\(aspectRatio)'")
            }
            ratio = parsed
        }
        var tier: Tier?
        if let resolution = resolution?.trimmingCharacters(in: .whitespaces), !resolution.isEmpty, resolution.lowercased() != "auto" {
            guard let parsed = parseTier(resolution) else {
                throw .invalid("invalid_size", param: "resolution", "resolution must be 0.5K, 1K, 2K, 4K, a megapixel count or auto, not '\(resolution)'")
            }
            tier = parsed
        }
        if let ratio { return Self.size(ratio: ratio, tier: tier ?? .one) }
        if let tier {
            let imageRatio = firstImage.map { Double($0.width) / Double($0.height) } ?? 1
            return Self.size(ratio: imageRatio, tier: tier)
        }
        guard let firstImage else { return PixelSize(width: 1024, height: 1024) }
        switch editSizing {
        case .ratio(let value):
            return Self.size(ratio: value, tier: .one)
        case .preferredBucket:
            let imageRatio = Double(firstImage.width) / Double(firstImage.height)
            return preferredBuckets.min { a, b in
                let (da, db) = (abs(imageRatio - Double(a.width) / Double(a.height)), abs(imageRatio - Double(b.width) / Double(b.height)))
                return da != db ? da < db : (a.width, a.height) < (b.width, b.height)
            }!
        case .matchInput:
            // The first image's size within 64...2048 (ratio capped at 32:1), in multiples of 16.
            let ratio = Double(firstImage.width) / Double(firstImage.height)
            let capped = ratio > maxRatio ? PixelSize(width: firstImage.height * 32, height: firstImage.height)
                : ratio < 1 / maxRatio ? PixelSize(width: firstImage.width, height: firstImage.width * 32) : firstImage
            let inRange = clampedIntoRange(width: capped.width, height: capped.height)
            func multiple(_ side: Int) -> Int { min(maxSide, max(minSide, Int((Double(side) / 16).rounded()) * 16)) }
            return PixelSize(width: multiple(inRange.width), height: multiple(inRange.height))
        }
    }
}
