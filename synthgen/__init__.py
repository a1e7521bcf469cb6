"""synthgen: verified, line-cited evaluation datasets from policy documents."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("synthgen")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0+source"
