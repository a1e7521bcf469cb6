"""User-facing failures. The CLI prints `str(error)` on one line and exits 1."""


class SynthgenError(Exception):
    """Base class: the message must say what went wrong and what to do about it."""


class InputError(SynthgenError):
    """A document, flag or path given by the user cannot be used."""


class LineRangeError(SynthgenError):
    """A line span does not exist in the document."""


class ModelConfigError(SynthgenError):
    """The model cannot be resolved: unknown name, missing key, bad base URL."""


class ModelCallError(SynthgenError):
    """A model call failed after its retries."""


class GateError(SynthgenError):
    """A deterministic gate refused the run's output as a whole."""


class RunDirectoryError(SynthgenError):
    """The output directory cannot be used for this run."""


class AnswerRejected(Exception):
    """An agent's answer failed a substance gate again after it was sent back: its item is rejected.

    Raised by an output validator; the runner turns it into the item's rejection with this reason code.
    """

    def __init__(self, reason_code: str, message: str) -> None:
        super().__init__(message)
        self.reason_code = reason_code
