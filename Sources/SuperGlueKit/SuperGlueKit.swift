// SuperGlueKit: SuperPoint keypoints and descriptors, SuperGlue matching, in Swift on OpenBLAS.
@_exported import Tensors
@_exported import ImageIO
@_exported import Checkpoints
