"""Networks: an architecture fitted to a dataset's channels, classes and patch, built as a torch module; the
hand-designed baselines; and a trained model loaded from its run folder."""
