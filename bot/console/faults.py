"""`fault …` lines: make the sandbox misbehave from the console prompt."""

from __future__ import annotations

from commands.platform.sandbox import Sandbox, SandboxError

FAULT_HELP = """  fault version V [unhealthy] [error-rate 5%] [latency 800ms] [missing]
                    make version V misbehave wherever it runs (error_rate=0.05 and
                    latency_ms=800 work too)
  fault app APP [SLOT] [down] [error_rate=R] [latency_ms=N] [slow_start_s=S]
  fault arm KIND [match=TEXT] [times=N] [seconds=S]
                    KIND: throttle, server_error, slow_lro, swap_failed, hang
  fault clear       everything behaves again
  load RPS          synthetic requests/s on every front door (0 = off; load: show it)"""
FLAGS = {"unhealthy": "unhealthy", "down": "down", "missing": "missing_artifact"}
NUMBERS = {
    "error_rate": float,
    "latency_ms": int,
    "slow_start_s": float,
    "times": int,
    "polls": int,
    "seconds": float,
}


def apply_fault(sandbox: Sandbox, words: list[str]) -> str:
    if not words:
        raise ValueError("fault what? try: fault version v1.3.0 unhealthy")
    kind, args = words[0], spelled_out(words[1:])
    if kind == "clear":
        sandbox.faults.clear()
        return "(all faults cleared)"
    positional = [a for a in args if "=" not in a and a not in FLAGS]
    options: dict[str, object] = {FLAGS[a]: True for a in args if a in FLAGS}
    for arg in args:
        if "=" in arg:
            key, _, value = arg.partition("=")
            convert = NUMBERS.get(key, str)
            try:
                options[key] = convert(value)
            except ValueError:
                raise ValueError(f"{key} takes a number, not {value!r}") from None
    if kind == "version" and len(positional) == 1:
        sandbox.faults.version(positional[0], **options)  # type: ignore[arg-type]
        return f"(version {positional[0]} now misbehaves: {_describe(options)})"
    if kind == "app" and 1 <= len(positional) <= 2:
        sandbox.faults.app(*positional, **options)  # type: ignore[arg-type]
        return f"({'/'.join(positional)} now misbehaves: {_describe(options)})"
    if kind == "arm" and len(positional) == 1:
        sandbox.faults.arm(positional[0], **options)  # type: ignore[arg-type]
        return f"(Azure will answer {positional[0]} {_describe(options)})"
    raise ValueError(f"not a fault I know: {' '.join(words)}; type help")


SPELLED = {"error-rate": "error_rate", "latency": "latency_ms", "slow-start": "slow_start_s"}
SUFFIXES = {"error_rate": ("%",), "latency_ms": ("ms",), "slow_start_s": ("s",)}


def spelled_out(args: list[str]) -> list[str]:
    """``error-rate 5%`` → ``error_rate=0.05``, ``latency 800ms`` → ``latency_ms=800``."""
    out: list[str] = []
    words = iter(args)
    for word in words:
        key = SPELLED.get(word)
        if key is None:
            out.append(word)
            continue
        value = next(words, None)
        if value is None:
            raise ValueError(f"{word} needs a value, e.g. {_example(key)}")
        out.append(f"{key}={_number(key, value)}")
    return out


def _number(key: str, value: str) -> str:
    text = value.strip().lower()
    suffix = next((s for s in SUFFIXES[key] if text.endswith(s)), "")
    try:
        number = float(text.removesuffix(suffix))
    except ValueError:
        raise ValueError(f"{value!r} is not a number; e.g. {_example(key)}") from None
    if key == "error_rate" and suffix == "%":
        number /= 100
    if key == "latency_ms":
        return f"{number:g}" if number != int(number) else str(int(number))
    return f"{number:g}"


def _example(key: str) -> str:
    return {"error_rate": "error-rate 5%", "latency_ms": "latency 800ms"}.get(key, "slow-start 5s")


def apply_load(sandbox: Sandbox, rest: str) -> str:
    load = sandbox.load
    if rest.strip():
        try:
            load.set_rate(float(rest.strip().removesuffix("rps").strip()))
        except (ValueError, SandboxError):
            message = f"load takes requests a second (0 = off), not {rest.strip()!r}"
            raise ValueError(message) from None
    doors = load.snapshot()["doors"]
    sent = ", ".join(f"{door} {stats['sent']}" for door, stats in doors.items())
    return f"(load: {load.rps:g} requests/s per front door; sent so far: {sent})"


def _describe(options: dict[str, object]) -> str:
    return ", ".join(k if v is True else f"{k}={v}" for k, v in options.items()) or "as asked"
