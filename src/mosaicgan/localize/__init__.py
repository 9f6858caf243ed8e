"""Finding regions to mosaic: class activation maps of a classifier, and faces.

Every localizer ends in the same shapes: a heatmap (H, W) in [0, 1] (`cam`, with
`heatmap_to_mask`), a bool mask (H, W), boxes `Box(x0, y0, x1, y1)` (`boxes`: pad, IoU, merge).
Turning a user's request (a mask file, boxes, faces, a CAM class) into the mask of a frame is
`infer.region_finder`'s job; this package only finds things in images. Imports flow down only:
localize uses nets/checkpoint/data, and nothing below it imports localize.
"""

from mosaicgan.localize.boxes import Box, boxes_to_mask, mask_to_boxes, merge_boxes
from mosaicgan.localize.cam.classifier import ImageClassifier, Prediction, load_classifier, shipped_classifier_path
from mosaicgan.localize.cam.maps import class_activation_map, grad_cam, heatmap_to_mask, supports_cam
from mosaicgan.localize.cam.policy import check_allowed_class, is_restricted
from mosaicgan.localize.faces.centerface import Face, FaceDetector, load_face_detector, shipped_detector_path
from mosaicgan.localize.faces.detect import detect_faces, detect_faces_batch, face_mask

__all__ = [
    "Box",
    "Face",
    "FaceDetector",
    "ImageClassifier",
    "Prediction",
    "boxes_to_mask",
    "check_allowed_class",
    "class_activation_map",
    "detect_faces",
    "detect_faces_batch",
    "face_mask",
    "grad_cam",
    "heatmap_to_mask",
    "is_restricted",
    "load_classifier",
    "load_face_detector",
    "mask_to_boxes",
    "merge_boxes",
    "shipped_classifier_path",
    "shipped_detector_path",
    "supports_cam",
]
