// SuperGlueKit: learned keypoint detection and matching in Swift on OpenBLAS.
// `import SuperGlueKit` gives the matching API: the networks and their protocols, the Matcher
// pipeline, image loading, weight files and the features/matches file formats. The kernels
// (Tensors) and building blocks (Layers) stay internal to the package's modules.
@_exported import Networks
@_exported import ImageIO
@_exported import MatchingIO
@_exported import Checkpoints
