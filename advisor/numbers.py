"""Numbers written for people: parameter counts, model sizes and counted nouns (shared by the report text and the
UI's view model)."""


def params_text(n: float) -> str:
    """39,976,960 -> '40.0M'; 7e9 -> '7.0B'; 163,840 -> '164K'; 512 -> '512'."""
    for scale, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M")):
        if n >= scale:
            return f"{n / scale:.1f}{suffix}"
    return f"{n / 1e3:.0f}K" if n >= 1e4 else f"{n / 1e3:.1f}K" if n >= 1e3 else f"{int(n):,}"


def model_size_text(params_b: float) -> str:
    """Model size in billions -> '7B', '0.135B' -> '135M'."""
    return params_text(params_b * 1e9).replace(".0", "")


def counted(count: float, noun: str) -> str:
    """1, 'point' -> '1 point'; 2.5, 'minute' -> '2.5 minutes'."""
    return f"{count:g} {noun}{'' if count == 1 else 's'}"
