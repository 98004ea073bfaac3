"""Bounds that keep hostile or corrupt input from exhausting the provider process.

The decoders read bytes from Terraform over gRPC; none of these bounds is anywhere near what a real
schema needs, they only turn pathological input into a clean `CtyError` instead of a RecursionError,
a multi-gigabyte allocation or a number whose decimal text would run to megabytes.
"""

from tfprovider.cty.errors import CtyError

# Arrays/maps inside one another (values) or type constructors inside one another (type JSON).
MAX_NESTING_DEPTH = 64

# terraform-plugin-go raises gRPC's receive limit to 256 MiB; nothing larger can legitimately arrive.
MAX_INPUT_BYTES = 256 * 1024 * 1024

# go-cty refuses refinement payloads above 1 KiB for the same reason.
MAX_REFINEMENT_BYTES = 1024

# Numbers are kept exact and written back as plain decimal text, so 1e999999999 would expand to a
# gigabyte of digits on the way out. float64 tops out near 1e308; this leaves ample room beyond it.
MAX_DECIMAL_EXPONENT = 10_000


def checked_input(data: object, what: str) -> bytes | bytearray | memoryview:
    """Accept bytes-like input no larger than MAX_INPUT_BYTES; raise CtyError otherwise.

    Checks the size before anything is copied, so an oversized buffer costs nothing extra.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise CtyError(f"{what} must be bytes, got {type(data).__name__}")
    size = data.nbytes if isinstance(data, memoryview) else len(data)
    if size > MAX_INPUT_BYTES:
        raise CtyError(f"{what} is {size} bytes, over the {MAX_INPUT_BYTES}-byte limit")
    return data
