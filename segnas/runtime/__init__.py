"""Run machinery shared by every stage: atomic files, the work folder's layout, locks, checkpoints, logs, progress,
worker processes, data parallelism, precision and the NaN guard. Imports nothing but `segnas.errors` and itself."""
