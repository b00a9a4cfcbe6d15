import Foundation
import Testing

@testable import ImageAPI

@Suite("Size normalisation (the contract's table, row by row)")
struct SizeNormalizationTests {
    static let table: [(String, Int, Int)] = [
        ("1:1", 1024, 1024), ("4:3", 1183, 887), ("3:4", 887, 1182), ("5:4", 1145, 916), ("4:5", 916, 1145), ("3:2", 1254, 836),
        ("2:3", 836, 1254), ("16:9", 1365, 768), ("9:16", 768, 1365), ("21:9", 1563, 670), ("9:21", 670, 1564),
    ]

    func resolve(size: String? = nil, aspectRatio: String? = nil, resolution: String? = nil,
                 editSizing: SizeNormalization.EditSizing = .matchInput, image: PixelSize? = nil) throws(APIError) -> PixelSize {
        try SizeNormalization.resolve(size: size, aspectRatio: aspectRatio, resolution: resolution, editSizing: editSizing, firstImage: image)
    }

    @Test("every ratio at 1K, by aspect_ratio and by size W:H", arguments: table)
    func oneK(_ row: (String, Int, Int)) throws {
        #expect(try resolve(aspectRatio: row.0) == PixelSize(width: row.1, height: row.2))
        #expect(try resolve(size: row.0) == PixelSize(width: row.1, height: row.2))
        #expect(try resolve(aspectRatio: row.0, resolution: "1K") == PixelSize(width: row.1, height: row.2))
    }

    @Test("0.5K halves each side, rounded", arguments: table)
    func halfK(_ row: (String, Int, Int)) throws {
        let size = try resolve(aspectRatio: row.0, resolution: "0.5K")
        #expect(size == PixelSize(width: Int((Double(row.1) / 2).rounded(.toNearestOrEven)), height: Int((Double(row.2) / 2).rounded(.toNearestOrEven))))
        #expect(try resolve(aspectRatio: row.0, resolution: "0.25") == size)
    }

    @Test("2K doubles, then fits 2048; 4K maps to 2K", arguments: table)
    func twoK(_ row: (String, Int, Int)) throws {
        let size = try resolve(aspectRatio: row.0, resolution: "2K")
        #expect(max(size.width, size.height) == 2048)
        #expect(abs(Double(size.width) / Double(size.height) - Double(row.1) / Double(row.2)) < 0.002)
        #expect(try resolve(aspectRatio: row.0, resolution: "4K") == size)
        #expect(try resolve(aspectRatio: row.0, resolution: "4") == size)
    }

    @Test func twoKExamples() throws {
        #expect(try resolve(aspectRatio: "1:1", resolution: "2K") == PixelSize(width: 2048, height: 2048))
        #expect(try resolve(aspectRatio: "16:9", resolution: "2K") == PixelSize(width: 2048, height: 1152))
        #expect(try resolve(aspectRatio: "16:9", resolution: "0.5K") == PixelSize(width: 682, height: 384))
    }

    @Test func anyRatioMapsToTheNearestByLogDistance() throws {
        #expect(try resolve(aspectRatio: "1.9:1") == PixelSize(width: 1365, height: 768))
        #expect(try resolve(aspectRatio: "1000:999") == PixelSize(width: 1024, height: 1024))
        #expect(try resolve(aspectRatio: "3:1") == PixelSize(width: 1563, height: 670))
        #expect(try resolve(aspectRatio: "1:5") == PixelSize(width: 670, height: 1564))
    }

    @Test func exactSizesAreKeptInsideTheRange() throws {
        for (width, height) in [(64, 64), (2048, 2048), (1000, 700), (1365, 768), (77, 2048)] {
            #expect(try resolve(size: "\(width)x\(height)") == PixelSize(width: width, height: height))
        }
    }

    @Test func exactSizesOutsideTheRangeAreScaledUniformly() throws {
        #expect(try resolve(size: "4096x2048") == PixelSize(width: 2048, height: 1024))
        #expect(try resolve(size: "32x32") == PixelSize(width: 64, height: 64))
        #expect(try resolve(size: "3000x1000") == PixelSize(width: 2048, height: 683))
        #expect(try resolve(size: "1x32") == PixelSize(width: 64, height: 2048))
        #expect(try resolve(size: "14142x14142") == PixelSize(width: 2048, height: 2048))
    }

    @Test func impossibleSizesAreInvalidSize() {
        for text in ["0x512", "14143x512", "33x1", "1x33", "big", "12x", "x12", "1024*1024", "-5:3"] {
            #expect(throws: APIError.self) { try resolve(size: text) }
            do {
                _ = try resolve(size: text)
            } catch {
                #expect(error.code == "invalid_size" && error.param == "size" && error.status == 400, "\(text): \(error)")
            }
        }
        #expect(throws: APIError.invalid("invalid_size", param: "aspect_ratio", "aspect_ratio must be W:H (e.g. 16:9) or auto, not 'wide'")) {
            try resolve(aspectRatio: "wide")
        }
        #expect(throws: APIError.self) { try resolve(resolution: "8K!") }
    }

    @Test func priorityIsSizeThenRatioWithResolutionThenRatioThenResolution() throws {
        #expect(try resolve(size: "800x600", aspectRatio: "16:9", resolution: "2K") == PixelSize(width: 800, height: 600))
        #expect(try resolve(size: "16:9", aspectRatio: "1:1", resolution: "0.5K") == PixelSize(width: 682, height: 384))
        #expect(try resolve(size: "auto", aspectRatio: "4:3") == PixelSize(width: 1183, height: 887))
        #expect(try resolve(resolution: "2K") == PixelSize(width: 2048, height: 2048))
        #expect(try resolve() == PixelSize(width: 1024, height: 1024))
    }

    @Test func editsFollowResolutionMode() throws {
        let photo = PixelSize(width: 4000, height: 3000)
        #expect(try resolve(editSizing: .matchInput, image: photo) == PixelSize(width: 2048, height: 1536))
        #expect(try resolve(editSizing: .matchInput, image: PixelSize(width: 1000, height: 750)) == PixelSize(width: 1008, height: 752))
        #expect(try resolve(editSizing: .preferredBucket, image: photo) == PixelSize(width: 1184, height: 880))
        #expect(try resolve(editSizing: .ratio(16.0 / 9), image: photo) == PixelSize(width: 1365, height: 768))
        // resolution alone keeps the image's ratio, at that tier.
        #expect(try resolve(resolution: "1K", image: photo) == PixelSize(width: 1183, height: 887))
        // size and aspect_ratio still win over the mode.
        #expect(try resolve(aspectRatio: "1:1", editSizing: .preferredBucket, image: photo) == PixelSize(width: 1024, height: 1024))
    }

    @Test func engineSizeIsTheNearestMultipleOf16() {
        #expect(PixelSize(width: 1254, height: 836).engineSize() == PixelSize(width: 1248, height: 832))
        #expect(PixelSize(width: 1183, height: 887).engineSize() == PixelSize(width: 1184, height: 880))
        #expect(PixelSize(width: 1365, height: 768).engineSize() == PixelSize(width: 1360, height: 768))
        #expect(PixelSize(width: 64, height: 2048).engineSize() == PixelSize(width: 64, height: 2048))
        #expect(PixelSize(width: 683, height: 2048).engineSize() == PixelSize(width: 688, height: 2048))
    }
}
