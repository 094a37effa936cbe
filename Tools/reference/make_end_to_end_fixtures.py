"""End-to-end goldens: the reference's own read_image + Matching, from image FILES, as
match_pairs.py runs them (cv2 grey decode, cv2.resize on uint8, /255 in double).

The SuperPoint and SuperGlue weights are the committed random-weight fixtures
(Tests/Fixtures/superpoint/superpoint_random.safetensors, Tests/Fixtures/superglue/
superglue_indoor.safetensors, int8 + power-of-two scale, dequantized exactly); the reference code
is imported from --reference and never copied.

Regenerate (from the repository root, with torch, numpy and opencv-python-headless installed):

    python3 Tools/reference/make_end_to_end_fixtures.py --reference /path/to/SuperGluePretrainedNetwork \
        --out Tests/Fixtures/end_to_end
"""
import argparse
import json
import sys
import types
from pathlib import Path
from unittest import mock

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fixture_io  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "Tests" / "Fixtures"

# Pairs of committed fixture images (paths relative to Tests/Fixtures). The ranking fixture's
# photo00 and photo03 contain its query under a perspective warp, so SuperGlue has real work.
PAIRS = [
    ("ranking/query.jpg", "ranking/images/photo00.jpg"),
    ("ranking/query.jpg", "ranking/images/photo03.jpg"),
    ("images/coffee_444.jpg", "images/rocket.jpg"),
]
CONFIG = {
    "superpoint": {"nms_radius": 4, "keypoint_threshold": 0.005, "max_keypoints": 1024},
    "superglue": {"weights": "indoor", "sinkhorn_iterations": 20, "match_threshold": 0.2},
}
RESIZE = [640, 480]


def load_state(path):
    tensors, _ = fixture_io.read_safetensors(path)
    return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in fixture_io.dequantize_fixture(tensors).items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reference", required=True, help="checkout of magicleap/SuperGluePretrainedNetwork")
    ap.add_argument("--out", default=str(FIXTURES / "end_to_end"))
    ap.add_argument("--superpoint-weights", default=str(FIXTURES / "superpoint" / "superpoint_random.safetensors"))
    ap.add_argument("--superglue-weights", default=str(FIXTURES / "superglue" / "superglue_indoor.safetensors"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.set_grad_enabled(False)
    sys.path.insert(0, str(Path(args.reference).resolve()))
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        # read_image plots nothing; the reference's utils module only imports matplotlib.
        stub = types.ModuleType("matplotlib")
        stub.use = lambda *a, **k: None
        stub.pyplot = types.ModuleType("matplotlib.pyplot")
        sys.modules["matplotlib"] = stub
        sys.modules["matplotlib.pyplot"] = stub.pyplot
    from models.matching import Matching
    from models.utils import read_image

    sp_state = load_state(args.superpoint_weights)
    sg_state = load_state(args.superglue_weights)

    def fake_load(path, *a, **k):
        # The reference's constructors load weights/<name>.pth; hand them the fixtures instead.
        return sp_state if "superpoint" in str(path) else sg_state

    with mock.patch.object(torch, "load", side_effect=fake_load):
        matching = Matching(CONFIG).eval()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for index, (name0, name1) in enumerate(PAIRS):
        _, inp0, scales0 = read_image(FIXTURES / name0, "cpu", RESIZE, 0, False)
        _, inp1, scales1 = read_image(FIXTURES / name1, "cpu", RESIZE, 0, False)
        pred = matching({"image0": inp0, "image1": inp1})
        pred = {k: v[0].numpy() for k, v in pred.items()}
        tensors = {
            "keypoints0": pred["keypoints0"].astype(np.float32), "keypoints1": pred["keypoints1"].astype(np.float32),
            "scores0": pred["scores0"].astype(np.float32), "scores1": pred["scores1"].astype(np.float32),
            "matches0": pred["matches0"].astype(np.int64), "matching_scores0": pred["matching_scores0"].astype(np.float32),
        }
        valid = int((pred["matches0"] > -1).sum())
        meta = {"image0": name0, "image1": name1, "config": json.dumps(CONFIG), "resize": json.dumps(RESIZE),
                "scales0": json.dumps(list(scales0)), "scales1": json.dumps(list(scales1)),
                "torch": torch.__version__, "regenerate": "python3 Tools/reference/make_end_to_end_fixtures.py --reference DIR"}
        fixture_io.write_safetensors(out / f"pair{index}.safetensors", tensors, meta)
        print(f"pair{index}: {name0} {name1}: {len(pred['keypoints0'])}/{len(pred['keypoints1'])} keypoints, {valid} matches")


if __name__ == "__main__":
    main()
