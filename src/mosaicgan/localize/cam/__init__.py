"""Where a classifier sees a class: class activation maps and Grad-CAM (`maps`), the
classifier they read (`classifier`: the shipped ImageNet MobileNetV2 or one the user trained),
and the classes that are refused (`policy`)."""
