import Testing
@testable import ImageIO
@Suite struct SmokeTests { @Test func detect() { #expect(ImageFormat.detect([0xFF, 0xD8, 0xFF, 0xE0]) == .jpeg) } }
