"""`fault …` lines: make the sandbox misbehave from the console prompt."""

from __future__ import annotations

from commands.platform.sandbox import Sandbox, SandboxError

FAULT_HELP = """  fault version V [unhealthy] [error_rate=R] [latency_ms=N] [missing]
                    make version V misbehave wherever it runs
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
    kind, args = words[0], words[1:]
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
