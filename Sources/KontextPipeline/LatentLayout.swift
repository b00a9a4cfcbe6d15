import Torch

/// How latents become transformer tokens: 2x2 patches of the (channels, h, w) latent, one token
/// each, with (index, row, column) position ids.
public enum LatentLayout {
    /// (B, C, h, w) -> (B, h/2 * w/2, 4C), as diffusers' `_pack_latents`.
    public static func pack(_ latents: Tensor) throws(TorchError) -> Tensor {
        let s = latents.shape
        let (batch, channels, height, width) = (s[0], s[1], s[2], s[3])
        return try latents.reshaped([batch, channels, height / 2, 2, width / 2, 2]).permuted([0, 2, 4, 1, 3, 5])
            .reshaped([batch, (height / 2) * (width / 2), channels * 4])
    }

    /// (B, tokens, 4C) -> (B, C, h, w) for a latent of `height` x `width` cells (`_unpack_latents`).
    public static func unpack(_ tokens: Tensor, height: Int, width: Int) throws(TorchError) -> Tensor {
        let s = tokens.shape
        let (batch, channels) = (s[0], s[2] / 4)
        return try tokens.reshaped([batch, height / 2, width / 2, channels, 2, 2]).permuted([0, 3, 1, 4, 2, 5])
            .reshaped([batch, channels, height, width])
    }

    /// Position ids (rows * columns, 3) of a token grid: (index, row + rowOffset, column + columnOffset).
    public static func positionIds(rows: Int, columns: Int, index: Int = 0, rowOffset: Int = 0, columnOffset: Int = 0) -> [Float] {
        var ids = [Float]()
        ids.reserveCapacity(rows * columns * 3)
        for row in 0..<rows {
            for column in 0..<columns {
                ids += [Float(index), Float(row + rowOffset), Float(column + columnOffset)]
            }
        }
        return ids
    }

    /// Where each reference image's tokens sit: all at index 1, the first at the origin (which is
    /// exactly the reference pipeline's single-image layout), each further one placed right of or
    /// below the canvas so far, whichever keeps the canvas squarer (ComfyUI's "offset" method).
    /// - Parameter grids: each reference's token grid (rows, columns).
    /// - Returns: each reference's (row, column) offset.
    public static func referenceOffsets(_ grids: [(rows: Int, columns: Int)]) -> [(row: Int, column: Int)] {
        var canvasRows = 0, canvasColumns = 0
        return grids.map { grid in
            var offset = (row: 0, column: 0)
            if grid.rows + canvasRows > grid.columns + canvasColumns {
                offset.column = canvasColumns
            } else {
                offset.row = canvasRows
            }
            canvasRows = max(canvasRows, grid.rows + offset.row)
            canvasColumns = max(canvasColumns, grid.columns + offset.column)
            return offset
        }
    }
}

/// The sizes the reference pipeline prefers for Kontext (width, height): about one megapixel, the
/// ratios the model was trained on.
public let preferredKontextResolutions: [(width: Int, height: Int)] = [
    (672, 1568), (688, 1504), (720, 1456), (752, 1392), (800, 1328), (832, 1248), (880, 1184), (944, 1104), (1024, 1024),
    (1104, 944), (1184, 880), (1248, 832), (1328, 800), (1392, 752), (1456, 720), (1504, 688), (1568, 672),
]

/// How a reference image is sized before encoding.
public enum ReferenceSizing: String, Sendable, CaseIterable {
    /// The preferred Kontext resolution nearest the image's aspect ratio (the reference pipeline's default).
    case preferredBucket = "auto"
    /// The image's own size, rounded down to multiples of 16 and scaled into `maxReferencePixels`.
    case matchInput = "match_input"

    /// Largest reference the engine encodes at its own size (4 megapixels); larger ones are scaled down.
    public static let maxReferencePixels = 2048 * 2048

    /// The encoding size for an image of `width` x `height`: multiples of `multiple`.
    public func size(width: Int, height: Int, multiple: Int = 16) -> (width: Int, height: Int) {
        var (w, h) = (width, height)
        switch self {
        case .preferredBucket:
            let ratio = Double(width) / Double(height)
            // min over (|ratio - w/h|, w, h) as the reference's tuple comparison does.
            let best = preferredKontextResolutions.min { a, b in
                let (da, db) = (abs(ratio - Double(a.width) / Double(a.height)), abs(ratio - Double(b.width) / Double(b.height)))
                return da != db ? da < db : (a.width, a.height) < (b.width, b.height)
            }!
            (w, h) = (best.width, best.height)
        case .matchInput:
            if w * h > Self.maxReferencePixels {
                let scale = (Double(Self.maxReferencePixels) / Double(w * h)).squareRoot()
                (w, h) = (Int(Double(w) * scale), Int(Double(h) * scale))
            }
        }
        return (max(multiple, w / multiple * multiple), max(multiple, h / multiple * multiple))
    }
}
