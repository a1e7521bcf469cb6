"""synthgen: verified, line-cited evaluation datasets from policy documents."""


def __getattr__(name: str) -> str:
    # `__version__` is read from the installed package's metadata on first use, not at import:
    # importlib.metadata costs a large share of `synthgen --help`'s start-up.
    if name != "__version__":
        raise AttributeError(f"module 'synthgen' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        value = version("synthgen")
    except PackageNotFoundError:  # running from a source tree without an install
        value = "0.0.0+source"
    globals()["__version__"] = value
    return value
