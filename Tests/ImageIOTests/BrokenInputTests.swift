// Every broken or unusual input gives the right gray image or a clear thrown error,
// never a crash, exit() or a longjmp through Swift frames.
import Foundation
import Testing
@testable import ImageIO

@Suite struct BrokenInputTests {
    private func temporaryFile(_ name: String, _ bytes: Data) throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("imageio-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let url = directory.appendingPathComponent(name)
        try bytes.write(to: url)
        return url
    }

    private func error(of body: () throws -> Any) -> ImageLoadingError? {
        do {
            _ = try body()
            return nil
        } catch let error as ImageLoadingError {
            return error
        } catch {
            Issue.record("unexpected error type \(type(of: error)): \(error)")
            return nil
        }
    }

    @Test func emptyFile() throws {
        let url = try temporaryFile("empty.jpg", Data())
        let failure = error { try GrayImage(contentsOf: url) }
        #expect(failure == .empty(source: url.path))
        #expect(failure?.description.contains("empty.jpg") == true)
    }

    @Test func missingFileNamesThePath() {
        let url = URL(fileURLWithPath: "/nonexistent/dir/photo.png")
        guard case .unreadable(let source, _)? = error(of: { try GrayImage(contentsOf: url) }) else {
            Issue.record("expected .unreadable")
            return
        }
        #expect(source == url.path)
    }

    @Test func textFileNamedJPEG() throws {
        let url = try temporaryFile("notes.jpg", Data("This is not an image.\n".utf8))
        #expect(error { try GrayImage(contentsOf: url) } == .unsupportedFormat(source: url.path, detected: nil))
    }

    @Test func otherFormatsAreNamed() throws {
        #expect(error { try GrayImage(encoded: Data([0x42, 0x4D, 0, 0, 0, 0, 0, 0, 0, 0]), source: "x.bmp") }
                == .unsupportedFormat(source: "x.bmp", detected: "BMP"))
        #expect(error { try GrayImage(encoded: Data("GIF89a.....".utf8), source: "x.gif") }
                == .unsupportedFormat(source: "x.gif", detected: "GIF"))
    }

    @Test func wrongExtensionIsIgnored() throws {
        // PNG bytes in a .jpg file and JPEG bytes in a .png file decode by their content, as cv2 does.
        let png = try ImageFixtures.data("coffee_gray.png")
        let jpeg = try ImageFixtures.data("chelsea_baseline.jpg")
        let fromPNG = try GrayImage(contentsOf: try temporaryFile("really_png.jpg", png))
        let fromJPEG = try GrayImage(contentsOf: try temporaryFile("really_jpeg.png", jpeg))
        #expect(fromPNG == (try ImageFixtures.grayGolden("decode/coffee_gray.png")))
        #expect(fromJPEG == (try ImageFixtures.grayGolden("decode/chelsea_baseline.jpg")))
    }

    @Test func truncatedPNGAlwaysThrows() throws {
        let png = try ImageFixtures.data("chelsea_rgb.png")
        var offsets = Array(1..<80)
        offsets += Array(stride(from: 80, to: png.count, by: 613))
        offsets += [png.count - 12, png.count - 4, png.count - 1]
        for offset in offsets {
            let failure = error { try GrayImage(encoded: png.prefix(offset), source: "cut\(offset).png") }
            // Under 8 bytes the signature is incomplete, so the data is not recognised as PNG.
            #expect(failure != nil, "truncation at \(offset) of \(png.count) decoded")
            if offset >= 8, case .corrupt(_, let format, let reason)? = failure {
                #expect(format == .png)
                #expect(!reason.isEmpty)
            } else if offset >= 8 {
                Issue.record("truncation at \(offset): \(String(describing: failure))")
            }
        }
    }

    @Test func truncatedJPEGThrowsOrRecoversWithWarning() throws {
        let jpeg = try ImageFixtures.data("chelsea_progressive.jpg")
        let full = try ImageFixtures.grayGolden("decode/chelsea_progressive.jpg")
        var offsets = Array(1..<64)
        offsets += Array(stride(from: 64, to: jpeg.count, by: 157))
        offsets += [jpeg.count - 2, jpeg.count - 1]
        var recovered = 0, refused = 0
        for offset in offsets {
            do {
                let decoded = try ImageDecoder.decode(data: jpeg.prefix(offset), source: "cut\(offset).jpg")
                // libjpeg (and so cv2) fills in what is missing and warns "Premature end of JPEG file".
                #expect(decoded.image.width == full.width && decoded.image.height == full.height)
                #expect(decoded.warningCount > 0, "truncation at \(offset) gave no warning")
                recovered += 1
                #expect(throws: ImageLoadingError.self) {
                    try ImageDecoder.decode(data: jpeg.prefix(offset), options: .init(acceptsDamagedJPEG: false))
                }
            } catch let failure as ImageLoadingError {
                refused += 1
                #expect(!failure.description.isEmpty)
            }
        }
        #expect(recovered > 0 && refused > 0)
    }

    @Test func corruptEntropyDataMatchesOpenCVPartialImage() throws {
        // cv2.imread returns the image libjpeg reconstructs from corrupt scan data; so do we (with warnings).
        let decoded = try ImageDecoder.decode(contentsOf: ImageFixtures.url("damaged_corrupt_scan.jpg"))
        #expect(decoded.warningCount > 0)
        #expect(decoded.image == (try ImageFixtures.grayGolden("decode/damaged_corrupt_scan.jpg")))
    }

    @Test func randomByteCorruptionNeverCrashes() throws {
        // A bounded mutation loop over JPEG and PNG fixtures: every outcome must be an image or an ImageLoadingError.
        var generator = SplitMix64(seed: 0x5EED)
        for name in ["chelsea_baseline.jpg", "chelsea_progressive.jpg", "chelsea_cmyk.jpg", "coffee_gray4.png", "chelsea_palette_trns.png", "exif_orientation_6.jpg"] {
            let original = [UInt8](try ImageFixtures.data(name))
            for _ in 0..<60 {
                var bytes = original
                let flips = Int(generator.next() % 8) + 1
                for _ in 0..<flips {
                    // Keep the signature so the codec, not format detection, sees the damage.
                    let position = 4 + Int(generator.next() % UInt64(bytes.count - 4))
                    bytes[position] = UInt8(truncatingIfNeeded: generator.next())
                }
                do {
                    let image = try GrayImage(encoded: Data(bytes), source: name)
                    #expect(image.pixels.count == image.width * image.height)
                } catch is ImageLoadingError {
                }
            }
        }
    }

    @Test func hugePNGHeaderIsRefusedBeforeAllocation() throws {
        // IHDR claiming 100000 x 100000 (10^10 pixels), then a token IDAT: refused from the header.
        let png = makePNG(width: 100_000, height: 100_000, idat: [0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01])
        let failure = error { try GrayImage(encoded: png, source: "huge.png") }
        #expect(failure == .tooManyPixels(source: "huge.png", width: 100_000, height: 100_000, limit: 100_000_000))
    }

    @Test func hugeJPEGHeaderIsRefusedBeforeAllocation() throws {
        // The 7x7 JPEG with its SOF0 dimensions patched to 65000 x 65000 (4.2 gigapixels).
        var bytes = [UInt8](try ImageFixtures.data("tiny_7x7.jpg"))
        let sof = try #require(findMarker(0xC0, in: bytes))
        bytes[sof + 5] = 0xFD; bytes[sof + 6] = 0xE8  // height 65000
        bytes[sof + 7] = 0xFD; bytes[sof + 8] = 0xE8  // width 65000
        let failure = error { try GrayImage(encoded: Data(bytes), source: "huge.jpg") }
        #expect(failure == .tooManyPixels(source: "huge.jpg", width: 65000, height: 65000, limit: 100_000_000))
    }

    @Test func pixelLimitIsAnOption() throws {
        let url = ImageFixtures.url("chelsea_baseline.jpg")
        let image = try GrayImage(contentsOf: url)
        let limit = image.width * image.height - 1
        #expect(error { try GrayImage(contentsOf: url, options: .init(maxPixelCount: limit)) }
                == .tooManyPixels(source: url.path, width: image.width, height: image.height, limit: limit))
        #expect(try GrayImage(contentsOf: url, options: .init(maxPixelCount: limit + 1)) == image)
        let png = ImageFixtures.url("coffee_gray.png")
        guard case .tooManyPixels? = error(of: { try GrayImage(contentsOf: png, options: .init(maxPixelCount: 10)) }) else {
            Issue.record("PNG pixel limit not applied")
            return
        }
    }

    @Test func zeroSizedJPEGHeaderThrows() throws {
        var bytes = [UInt8](try ImageFixtures.data("tiny_7x7.jpg"))
        let sof = try #require(findMarker(0xC0, in: bytes))
        bytes[sof + 5] = 0; bytes[sof + 6] = 0
        guard case .corrupt(_, .jpeg, _)? = error(of: { try GrayImage(encoded: Data(bytes)) }) else {
            Issue.record("zero-height JPEG not refused")
            return
        }
    }

    @Test func fileSizeLimitIsCheckedBeforeReading() throws {
        let url = ImageFixtures.url("chelsea_rgb.png")
        guard case .fileTooLarge? = error(of: { try GrayImage(contentsOf: url, options: .init(maxFileBytes: 1000)) }) else {
            Issue.record("file size limit not applied")
            return
        }
    }

    @Test func chunkLengthPastTheFileIsRefusedWithoutAllocatingIt() throws {
        // Found by Tools/fuzz/libfuzzer.sh (its copy: Tools/fuzz/regressions/image/): a 93-byte PNG
        // whose eXIf chunk header claims 0x2000001A bytes made libpng allocate 512 MiB before
        // reading the chunk. The shim's allocator now refuses any single libpng allocation beyond
        // the file size (1 MiB at least) plus row buffers, so the file is refused as truncated
        // without it; the fuzzer's -malloc_limit_mb is what checks the allocation itself.
        let bytes: [UInt8] = [
            0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
            0x00, 0x00, 0x00, 0x60, 0x00, 0x00, 0x00, 0x40, 0x08, 0x00, 0x00, 0x00, 0x00, 0xc0, 0x5f, 0x2d,
            0xd2, 0x20, 0x00, 0x00, 0x1a, 0x65, 0x58, 0x49, 0x66, 0x49, 0x31, 0x49, 0x2a, 0x00, 0x08, 0x00,
            0x00, 0x78, 0xda, 0x15, 0x97, 0xe7, 0x77, 0xdb, 0x66, 0xb6, 0xf5, 0xf9, 0xe5, 0x2f, 0x8e, 0x51,
            0x51, 0x51, 0x51, 0x51, 0x51, 0x51, 0x51, 0x51, 0x51, 0x51, 0x51, 0x51, 0x51, 0x51, 0x51, 0x51,
            0xcc, 0x64, 0x50, 0x96, 0x86, 0x32, 0x81, 0x68, 0x78, 0xe0, 0x00, 0x10, 0xf8,
        ]
        for length: [UInt8] in [[0x20, 0x00, 0x00, 0x1A], [0x7F, 0xFF, 0xFF, 0xFF], [0x00, 0x00, 0x01, 0x00]] {
            var png = bytes
            png.replaceSubrange(33..<37, with: length)
            let failure = error { try GrayImage(encoded: Data(png), source: "exif.png") }
            guard case let .corrupt(source, format, _)? = failure else {
                Issue.record("expected a corrupt-PNG error, got \(String(describing: failure))")
                continue
            }
            #expect(source == "exif.png" && format == .png)
        }
    }

    @Test func garbageAfterSignatures() throws {
        var jpeg: [UInt8] = [0xFF, 0xD8, 0xFF]
        var png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        var generator = SplitMix64(seed: 7)
        for _ in 0..<200 {
            jpeg.append(UInt8(truncatingIfNeeded: generator.next()))
            png.append(UInt8(truncatingIfNeeded: generator.next()))
        }
        guard case .corrupt(_, .jpeg, _)? = error(of: { try GrayImage(encoded: Data(jpeg)) }) else {
            Issue.record("garbage JPEG not refused")
            return
        }
        guard case .corrupt(_, .png, _)? = error(of: { try GrayImage(encoded: Data(png)) }) else {
            Issue.record("garbage PNG not refused")
            return
        }
    }

    @Test func concurrentDecodingIsConsistent() async throws {
        let names = ["chelsea_baseline.jpg", "chelsea_progressive.jpg", "coffee_gray16.png", "chelsea_palette.png"]
        let serial = try names.map { try GrayImage(contentsOf: ImageFixtures.url($0)) }
        let parallel = try await withThrowingTaskGroup(of: (Int, GrayImage).self) { group in
            for round in 0..<4 {
                for (index, name) in names.enumerated() {
                    group.addTask { (index + round * 0, try GrayImage(contentsOf: ImageFixtures.url(name))) }
                }
            }
            var results: [(Int, GrayImage)] = []
            for try await result in group { results.append(result) }
            return results
        }
        #expect(parallel.count == 16)
        for (index, image) in parallel { #expect(image == serial[index]) }
    }
}

// MARK: - helpers

/// Index of the 0xFF byte of the first marker 0xFF `code`.
func findMarker(_ code: UInt8, in bytes: [UInt8]) -> Int? {
    guard bytes.count > 1 else { return nil }
    for i in 0..<(bytes.count - 1) where bytes[i] == 0xFF && bytes[i + 1] == code { return i }
    return nil
}

/// A PNG with the given IHDR size (8-bit gray) and raw IDAT payload.
func makePNG(width: UInt32, height: UInt32, idat: [UInt8]) -> Data {
    func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }
    func chunk(_ type: String, _ payload: [UInt8]) -> [UInt8] {
        let body = Array(type.utf8) + payload
        return be32(UInt32(payload.count)) + body + be32(crc32(body))
    }
    var bytes: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
    bytes += chunk("IHDR", be32(width) + be32(height) + [8, 0, 0, 0, 0])
    bytes += chunk("IDAT", idat)
    bytes += chunk("IEND", [])
    return Data(bytes)
}

func crc32(_ bytes: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in bytes {
        crc ^= UInt32(byte)
        for _ in 0..<8 { crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
    }
    return crc ^ 0xFFFF_FFFF
}

/// Deterministic pseudo-random numbers for reproducible mutation tests.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
