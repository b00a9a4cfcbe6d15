import Foundation
import Testing
import Safetensors
import Torch

@Suite("Tensor API")
struct TensorTests {
    @Test func arrayRoundTripKeepsValuesShapeAndDType() throws {
        let values: [Float] = (0..<24).map { Float($0) * 0.5 - 3 }
        let tensor = try Tensor(values, shape: [2, 3, 4])
        #expect(tensor.shape == [2, 3, 4])
        #expect(tensor.rank == 3)
        #expect(tensor.elementCount == 24)
        #expect(tensor.dtype == .float32)
        #expect(tensor.device == .cpu)
        #expect(try tensor.toArray(of: Float.self) == values)
        #expect(try Tensor([1, -2, 3] as [Int64], shape: [3]).toArray(of: Int64.self) == [1, -2, 3])
        #expect(try Tensor([1, 0, 1] as [UInt8], shape: [3]).dtype == .uint8)
        #expect(try Tensor([true, false], shape: [2]).toArray(of: Bool.self) == [true, false])
        #expect(try Tensor([2.5, 4] as [Double], shape: [2]).toArray(of: Float.self) == [2.5, 4])
    }

    @Test func wrongElementCountIsRejectedBeforeATen() throws {
        #expect(throws: TorchError.invalidArgument("3 values do not fill shape [2, 2]")) {
            try Tensor([1, 2, 3] as [Float], shape: [2, 2])
        }
    }

    @Test func atenErrorsSurfaceWithTheirMessage() throws {
        let a = try Tensor.zeros([2, 3])
        let b = try Tensor.zeros([4, 5])
        do {
            _ = try a.matmul(b)
            Issue.record("matmul of 2x3 by 4x5 succeeded")
        } catch let TorchError.operationFailed(operation, message) {
            #expect(operation == "matmul")
            #expect(message.contains("2x3") && message.contains("4x5"), "ATen message was: \(message)")
        }
        #expect(throws: TorchError.self) { try a.reshaped([7]) }
        #expect(throws: TorchError.self) { try a.narrowed(dim: 5, start: 0, length: 1) }
        #expect(throws: TorchError.self) { try Tensor.zeros([2], device: .cuda(0)) }
    }

    @Test func shapeOperations() throws {
        let x = try Tensor((0..<24).map(Float.init), shape: [2, 3, 4])
        #expect(try x.reshaped([6, -1]).shape == [6, 4])
        #expect(try x.permuted([2, 0, 1]).shape == [4, 2, 3])
        let transposed = try x.transposed(0, 2)
        #expect(transposed.shape == [4, 3, 2])
        #expect(!transposed.isContiguous)
        #expect(try transposed.contiguous().isContiguous)
        #expect(try transposed.toArray(of: Float.self).prefix(4) == [0, 12, 4, 16])
        #expect(try x.unsqueezed(1).shape == [2, 1, 3, 4])
        #expect(try x.unsqueezed(-1).shape == [2, 3, 4, 1])
        #expect(try x.flattened(from: 1).shape == [2, 12])
        #expect(try x.narrowed(dim: 2, start: 1, length: 2).toArray(of: Float.self).prefix(4) == [1, 2, 5, 6])
        #expect(try Tensor.cat([x, x], dim: 1).shape == [2, 6, 4])
        #expect(try x.expanded([3, 2, 3, 4]).shape == [3, 2, 3, 4])

        let pieces = try x.split(sizes: [1, 3], dim: 2)
        #expect(pieces.map(\.shape) == [[2, 3, 1], [2, 3, 3]])
        #expect(try pieces[0].toArray(of: Float.self) == [0, 4, 8, 12, 16, 20])
        // torch.chunk: 5 into 3 gives 2, 2, 1; 4 into 3 gives 2, 2.
        let five = try Tensor.arange(0, 5)
        #expect(try five.chunked(3, dim: 0).map(\.shape) == [[2], [2], [1]])
        #expect(try Tensor.arange(0, 4).chunked(3, dim: 0).map(\.shape) == [[2], [2]])
        #expect(try Tensor.cat(x.chunked(3, dim: 1), dim: 1).toArray(of: Float.self) == x.toArray(of: Float.self))
    }

    @Test func fullZerosOnesAndItem() throws {
        #expect(try Tensor.full([2, 2], value: 3.5).toArray(of: Float.self) == [3.5, 3.5, 3.5, 3.5])
        #expect(try Tensor.zeros([3], dtype: .bfloat16).dtype == .bfloat16)
        #expect(try Tensor.ones([1]).item() == 1)
        #expect(try (Tensor.ones([2, 2]) * 2).sum(dims: [0, 1]).item() == 8)
        #expect(throws: TorchError.self) { try Tensor.ones([2]).item() }
    }

    @Test func sameSeedSameNoiseAndDifferentSeedDifferentNoise() throws {
        let first = try Tensor.randn([64], generator: RandomGenerator(seed: 7)).toArray(of: Float.self)
        let again = try Tensor.randn([64], generator: RandomGenerator(seed: 7)).toArray(of: Float.self)
        let other = try Tensor.randn([64], generator: RandomGenerator(seed: 8)).toArray(of: Float.self)
        #expect(first == again)
        #expect(first != other)
    }

    @Test func borrowedBytesAreReadInPlaceAndOwnerOutlivesTheTensor() throws {
        final class Owner {
            let buffer: UnsafeMutableRawBufferPointer
            let released: @Sendable () -> Void
            init(values: [Float], released: @escaping @Sendable () -> Void) {
                let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: values.count * 4, alignment: 64)
                values.withUnsafeBytes { storage.copyMemory(from: $0) }
                buffer = storage
                self.released = released
            }
            deinit {
                buffer.deallocate()
                released()
            }
        }
        final class Flag: @unchecked Sendable { var value = false }
        let released = Flag()
        var view: Tensor?
        do {
            let owner = Owner(values: [1, 2, 3, 4, 5, 6]) { released.value = true }
            let tensor = try Tensor(borrowing: UnsafeRawBufferPointer(owner.buffer), shape: [2, 3], dtype: .float32, owner: owner)
            owner.buffer.storeBytes(of: Float(10), toByteOffset: 0, as: Float.self)
            #expect(try tensor.toArray(of: Float.self).first == 10, "the tensor must read the owner's memory, not a copy")
            view = try tensor.narrowed(dim: 1, start: 1, length: 2)
        }
        #expect(!released.value, "a view still uses the storage")
        #expect(try view?.toArray(of: Float.self) == [2, 3, 5, 6])
        view = nil
        #expect(released.value, "the owner is released with the last view")
    }

    @Test func dtypeAndDeviceNamesParse() {
        #expect(DType(name: "bf16") == .bfloat16)
        #expect(DType(name: "float8_e4m3fn") == .float8E4M3FN)
        #expect(DType(name: "float33") == nil)
        #expect(Device(name: "cuda:1") == .cuda(1))
        #expect(Device(name: "cuda") == .cuda(0))
        #expect(Device(name: "tpu") == nil)
    }

    @Test func runtimeReportsTheSameTorchItWasBuiltAgainst() throws {
        let info = try TorchRuntime.load()
        #expect(info.torchVersion.hasPrefix("2.11.0"))
        #expect(FileManager.default.fileExists(atPath: info.libraryDirectory + "/libtorch_cpu.so"))
        try TorchRuntime.synchronize(.cpu)
    }
}

@Suite("Tensor from safetensors")
struct TensorSafetensorsTests {
    @Test func checkpointTensorsAreReadFromTheMappingAndCopiedOutExactly() throws {
        let path = NSTemporaryDirectory() + "kontext-tensor-\(UUID().uuidString).safetensors"
        defer { try? FileManager.default.removeItem(atPath: path) }
        var writer = SafetensorsWriter()
        let values: [Float] = [0.5, -1, 2, 3.25, 4, 5]
        writer.add("w", dtype: .float32, shape: [2, 3], bytes: values.withUnsafeBytes { Data($0) })
        writer.add("bf", dtype: .bfloat16, shape: [2], bytes: Data([0x80, 0x3f, 0x00, 0xc0]))
        writer.add("odd", dtype: .int8, shape: [1], bytes: Data([7]))
        try writer.write(to: path)

        let checkpoint = try SafetensorsCheckpoint(path: path)
        let weight = try Tensor(named: "w", in: checkpoint)
        #expect(weight.shape == [2, 3] && weight.dtype == .float32)
        #expect(try weight.toArray(of: Float.self) == values)
        var raw = [UInt8](repeating: 0, count: 24)
        try raw.withUnsafeMutableBytes { try weight.copyBytes(to: $0) }
        #expect(raw == values.withUnsafeBytes { Array($0) })
        #expect(throws: TorchError.self) {
            var short = [UInt8](repeating: 0, count: 8)
            try short.withUnsafeMutableBytes { try weight.copyBytes(to: $0) }
        }
        #expect(try Tensor(named: "bf", in: checkpoint).toArray(of: Float.self) == [1, -2])
        #expect(throws: TorchError.self) { try Tensor(named: "odd", in: checkpoint) }
        #expect(throws: SafetensorsError.self) { try Tensor(named: "missing", in: checkpoint) }
    }
}
