"""segnas: neural architecture search for medical image segmentation, 2D and 3D.

From Python, `segnas.api` has the stages as functions on paths: plan, preprocess, search, train, predict,
evaluate, run (`from segnas import api`).
"""

__version__ = "0.1.0"
