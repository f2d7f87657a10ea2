"""The NAS core: architectures as data (`arch`), search spaces (`spaces/`), search strategies (`strategies/`) and the
`search()` loop that meets them, with its budget in minutes and its decision diagnostics."""
