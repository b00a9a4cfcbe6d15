import Foundation
import KontextPipeline
import Safetensors
import TestSupport
import Testing
import Torch

@Suite("Pipeline logic")
struct PipelineLogicTests {
    @Test("schedule equals the scheduler's, bit for bit", arguments: [1, 2, 4, 28, 50], [16, 256, 1024, 4096, 9216])
    func scheduleMatchesDiffusers(steps: Int, tokens: Int) throws {
        let path = fixtureDirectory + "/flux/schedules.safetensors"
        guard FileManager.default.fileExists(atPath: path) else { throw FixtureMissing(path: path) }
        let reference = try SafetensorsCheckpoint(path: path)
        let schedule = FlowMatchSchedule(steps: steps, imageTokens: tokens)
        #expect(schedule.sigmas == (try Tensor(named: "sigmas.\(steps).\(tokens)", in: reference).toArray(of: Float.self)))
        #expect(schedule.timesteps == (try Tensor(named: "timesteps.\(steps).\(tokens)", in: reference).toArray(of: Float.self)))
    }

    @Test func packAndUnpackAreInverse() throws {
        let latents = try Tensor.randn([2, 16, 6, 8], generator: RandomGenerator(seed: 1))
        let tokens = try LatentLayout.pack(latents)
        #expect(tokens.shape == [2, 12, 64])
        let back = try LatentLayout.unpack(tokens, height: 6, width: 8)
        #expect(try back.toArray(of: Float.self) == latents.contiguous().toArray(of: Float.self))
        // Token 0 holds the 2x2 patch at the origin, channel-major: channel 0's four pixels first.
        let first = try tokens.narrowed(dim: 1, start: 0, length: 1).contiguous().toArray(of: Float.self)
        let patch = try latents.narrowed(dim: 0, start: 0, length: 1).narrowed(dim: 1, start: 0, length: 1)
            .narrowed(dim: 2, start: 0, length: 2).narrowed(dim: 3, start: 0, length: 2).contiguous().toArray(of: Float.self)
        #expect(Array(first.prefix(4)) == patch)
    }

    @Test func positionIdsAreIndexRowColumn() {
        let ids = LatentLayout.positionIds(rows: 2, columns: 3, index: 1, rowOffset: 10, columnOffset: 20)
        #expect(ids == [1, 10, 20, 1, 10, 21, 1, 10, 22, 1, 11, 20, 1, 11, 21, 1, 11, 22])
    }

    @Test func oneReferenceSitsAtTheOriginAsInTheReferencePipeline() {
        #expect(LatentLayout.referenceOffsets([(rows: 40, columns: 60)]).map { [$0.row, $0.column] } == [[0, 0]])
        #expect(LatentLayout.referenceOffsets([(rows: 60, columns: 40)]).map { [$0.row, $0.column] } == [[0, 0]])
    }

    @Test func furtherReferencesTileTheCanvasSquarely() {
        // Two landscape images stack vertically; a portrait one then goes to the right of both.
        let offsets = LatentLayout.referenceOffsets([(rows: 32, columns: 64), (rows: 32, columns: 64), (rows: 64, columns: 32), (rows: 16, columns: 16)])
        #expect(offsets.map { [$0.row, $0.column] } == [[0, 0], [32, 0], [0, 64], [64, 0]])
    }

    @Test func preferredBucketIsTheNearestRatio() {
        #expect(ReferenceSizing.preferredBucket.size(width: 4000, height: 3000) == (1184, 880))
        #expect(ReferenceSizing.preferredBucket.size(width: 512, height: 512) == (1024, 1024))
        #expect(ReferenceSizing.preferredBucket.size(width: 300, height: 1000) == (672, 1568))
        #expect(ReferenceSizing.matchInput.size(width: 100, height: 70) == (96, 64))
        // Larger than 4 megapixels: scaled down with the ratio kept, then to multiples of 16.
        let large = ReferenceSizing.matchInput.size(width: 6000, height: 4000)
        #expect(large.width * large.height <= ReferenceSizing.maxReferencePixels)
        #expect(large == (2496, 1664))
    }
}
