"""The test-only fault hook: failures injected into chosen models so the tests can check retries and a worker's
death. Nothing happens unless FAULT_ENV is set."""

import os

# Comma-separated model ids whose every attempt raises; an id with a trailing ! kills its worker process instead
# (as the kernel's out-of-memory killer would).
FAULT_ENV = "ANYNET_FAIL_MODELS"


def inject_fault(model_id: int | str) -> None:
    """Fail this attempt of the model as FAULT_ENV asks (raise, or end the process); return when it names it not."""
    faults = {i.strip().rstrip("!"): i.strip().endswith("!") for i in os.environ.get(FAULT_ENV, "").split(",")}
    if str(model_id) in faults:
        if faults[str(model_id)]:
            os._exit(1)
        raise RuntimeError(f"injected failure ({FAULT_ENV})")
