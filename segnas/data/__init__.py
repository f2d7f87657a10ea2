"""The data world: NIfTI files, dataset layouts, validation, planning, preprocessing, folds and training patches.

Nothing here knows about networks or search; it imports only `segnas.errors` and `segnas.runtime`.
"""
