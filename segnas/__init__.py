"""segnas: neural architecture search for medical image segmentation, 2D and 3D."""

__version__ = "0.1.0"
