import Foundation
import Testing

@testable import ImageAPI

@Suite("Request parameters (the contract's parameter table)")
struct ImageParametersTests {
    func request(_ fields: [String: ParameterValue], _ operation: ImageOperation = .generation,
                 capabilities: ServerCapabilities = ServerCapabilities()) throws(APIError) -> ImageRequest {
        try ImageRequest(operation, fields: fields, capabilities: capabilities)
    }

    /// The error `fields` must give, checked for status, code and param.
    func expectError(_ fields: [String: ParameterValue], status: Int = 400, code: String, param: String?,
                     _ operation: ImageOperation = .generation, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try request(fields, operation)
            Issue.record("no error for \(fields)", sourceLocation: sourceLocation)
        } catch {
            #expect(error.status == status && error.code == code && error.param == param, "\(fields): \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func defaultsFollowTheReference() throws {
        let r = try request(["prompt": .string("a cat")])
        #expect(r.model == "flux.1-kontext-dev" && r.count == 1 && r.seed == nil)
        #expect(r.steps == 28 && r.guidance == 2.5 && r.quality == 90)
        #expect(r.responseFormat == .url && r.outputFormat == .png && r.acceleration == .none)
        #expect(!r.syncMode && !r.stream && r.partialImages == 0 && r.ignored.isEmpty)
        #expect(try r.size(firstImage: nil) == PixelSize(width: 1024, height: 1024))
    }

    @Test func promptIsRequired() {
        expectError([:], code: "invalid_value", param: "prompt")
        expectError(["prompt": .string("   ")], code: "invalid_value", param: "prompt")
        expectError(["prompt": .integer(3)], code: "invalid_value", param: "prompt")
    }

    @Test func modelAliasesAndUnknownModels() throws {
        for alias in ["flux-kontext-dev", "black-forest-labs/FLUX.1-Kontext-dev", "fal/flux.1-kontext-dev", "replicate/flux.1-kontext-dev", "FLUX.1-KONTEXT-DEV"] {
            #expect(try request(["prompt": .string("x"), "model": .string(alias)]).model == "flux.1-kontext-dev")
        }
        expectError(["prompt": .string("x"), "model": .string("dall-e-3")], status: 404, code: "model_not_found", param: "model")
    }

    @Test func rangesNameTheParameter() {
        let cases: [(String, ParameterValue)] = [
            ("n", .integer(0)), ("n", .integer(11)), ("n", .string("two")), ("seed", .integer(-1)), ("num_inference_steps", .integer(51)),
            ("num_inference_steps", .integer(0)), ("cfg_scale", .number(20.5)), ("guidance_scale", .number(-1)), ("guidance", .string("high")),
            ("output_compression", .integer(101)), ("output_quality", .integer(-1)), ("partial_images", .integer(4)),
            ("response_format", .string("binary")), ("output_format", .string("bmp")), ("stream", .string("maybe")),
            ("sync_mode", .integer(2)), ("acceleration", .string("turbo")), ("n", .number(1.5)), ("n", .bool(true)),
        ]
        for (name, value) in cases {
            expectError(["prompt": .string("x"), name: value], code: "invalid_value", param: name)
        }
    }

    @Test func formTextIsParsedAsTheParameterType() throws {
        let r = try request([
            "prompt": .string("x"), "n": .string("3"), "seed": .string("42"), "cfg_scale": .string("3.5"), "stream": .string("true"),
            "partial_images": .string("2"), "num_inference_steps": .string("20"), "sync_mode": .string("0"),
        ])
        #expect(r.count == 3 && r.seed == 42 && r.guidance == 3.5 && r.stream && r.partialImages == 2 && r.steps == 20 && !r.syncMode)
    }

    @Test func aliasesAndTheirPriority() throws {
        #expect(try request(["prompt": .string("x"), "guidance_scale": .number(4)]).guidance == 4)
        #expect(try request(["prompt": .string("x"), "guidance": .integer(5)]).guidance == 5)
        #expect(try request(["prompt": .string("x"), "guidance": .integer(5), "guidance_scale": .number(4), "cfg_scale": .number(3)]).guidance == 3)
        #expect(try request(["prompt": .string("x"), "output_quality": .integer(40)]).quality == 40)
        #expect(try request(["prompt": .string("x"), "output_quality": .integer(40), "output_compression": .integer(70)]).quality == 70)
        #expect(try request(["prompt": .string("x"), "output_format": .string("jpg")]).outputFormat == .jpeg)
    }

    @Test func unknownParametersAreListedNotRefused() throws {
        let r = try request(["prompt": .string("x"), "quality": .string("high"), "background": .string("transparent"), "resolution_mode": .string("auto")])
        #expect(r.ignored == ["resolution_mode", "background", "quality"])
        let edit = try request(["prompt": .string("x"), "resolution_mode": .string("auto"), "image[]": .null], .edit)
        #expect(edit.ignored.isEmpty && edit.editSizing == .preferredBucket)
    }

    @Test func maskAndUnavailableFeaturesAreRefusedByName() {
        expectError(["prompt": .string("x"), "mask": .string("m.png")], code: "unsupported_parameter", param: "mask", .edit)
        expectError(["prompt": .string("x"), "enable_safety_checker": .bool(true)], code: "safety_checker_unavailable", param: "enable_safety_checker")
        expectError(["prompt": .string("x"), "disable_safety_checker": .string("false")], code: "safety_checker_unavailable", param: "disable_safety_checker")
        expectError(["prompt": .string("x"), "enhance_prompt": .bool(true)], code: "prompt_enhancer_unavailable", param: "enhance_prompt")
        expectError(["prompt": .string("x"), "acceleration": .string("high")], code: "unsupported_value", param: "acceleration")
        expectError(["prompt": .string("x"), "resolution_mode": .string("sideways")], code: "invalid_value", param: "resolution_mode", .edit)
        expectError(["prompt": .string("x"), "size": .string("99999x1")], code: "invalid_size", param: "size")
    }

    @Test func turningCheckersOffIsFine() throws {
        #expect(try request(["prompt": .string("x"), "disable_safety_checker": .bool(true)]).safetyChecker == false)
        #expect(try request(["prompt": .string("x"), "enable_safety_checker": .bool(true)], capabilities: ServerCapabilities(safetyChecker: true)).safetyChecker == true)
    }

    @Test func errorsEncodeInOpenAIShape() throws {
        let data = try JSONEncoder().encode(APIError.invalidValue("n", "n must be 1 to 10, not 11"))
        let object = try JSONSerialization.jsonObject(with: data) as? [String: [String: Any]]
        let error = try #require(object?["error"])
        #expect(error["message"] as? String == "n must be 1 to 10, not 11")
        #expect(error["type"] as? String == "invalid_request_error")
        #expect(error["param"] as? String == "n")
        #expect(error["code"] as? String == "invalid_value")
        let unauthorised = try JSONSerialization.jsonObject(with: JSONEncoder().encode(APIError.invalidAPIKey)) as? [String: [String: Any]]
        #expect(unauthorised?["error"]?["param"] is NSNull)
    }

    @Test func errorsComeBackFromTheirBody() throws {
        let original = APIError.server("deadline_exceeded", "too slow", status: 504)
        let body = try JSONEncoder().encode(original)
        #expect(APIError(status: 504, body: body) == original)
        #expect(APIError(status: 400, body: Data("{}".utf8)) == nil)
    }

    @Test func jsonValuesKeepTheirTypes() throws {
        let decoded = try JSONDecoder().decode([String: ParameterValue].self, from: Data(#"{"a": true, "b": 1, "c": 1.5, "d": "x", "e": null, "f": [1], "g": {}}"#.utf8))
        #expect(decoded == ["a": .bool(true), "b": .integer(1), "c": .number(1.5), "d": .string("x"), "e": .null, "f": .array([.integer(1)]), "g": .object])
    }
}
