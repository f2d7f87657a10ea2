"""Training an architecture: networks fitted to a dataset (`model`), hand-designed baselines, losses and `train()`."""
