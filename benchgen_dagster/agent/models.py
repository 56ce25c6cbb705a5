"""Which chat model plays the roles: `offline`, or any `provider:model` LangChain's init_chat_model knows.

Nothing else in the code base knows which provider it is. Problems with the model string (unknown
provider, missing package, missing key) are found here, before any work starts.
"""

import os
import tomllib
from functools import cache
from importlib import resources
from typing import Any

from langchain_core.language_models import BaseChatModel

from benchgen_dagster.agent.configuration import OFFLINE_MODEL
from benchgen_dagster.agent.offline.model import OfflinePolicyModel


@cache
def provider_table() -> dict[str, dict[str, Any]]:
    """providers.toml: each provider's key variable, base-URL variable and package."""
    return tomllib.loads(resources.files("benchgen_dagster.agent").joinpath("providers.toml").read_text())


def examples() -> list[str]:
    return [f"'{name}:{entry['example']}'" for name, entry in provider_table().items() if "example" in entry]


class ModelConfigError(ValueError):
    """The model string cannot be used; the message says what to do."""


def chat_model(spec: str, role: str) -> BaseChatModel:
    """The chat model for `role`; raises ModelConfigError with a one-line reason."""
    if spec == OFFLINE_MODEL:
        return OfflinePolicyModel(role=role)
    if ":" not in spec:
        raise ModelConfigError(f"model {spec!r} must be 'offline' or 'provider:model', e.g. {', '.join(examples())}")
    provider = spec.split(":", 1)[0]
    key = provider_table().get(provider, {}).get("key")
    if key and not os.environ.get(key):
        raise ModelConfigError(f"model {spec!r} needs {key} in the environment")
    from langchain.chat_models import init_chat_model

    try:
        # The client's own retries off: agent/model_calls.py retries the call, transient errors only,
        # and two layers of retries would multiply (one 500 became 9 requests).
        try:
            return init_chat_model(spec, max_retries=0)
        except (TypeError, ValueError) as error:
            if "max_retries" not in str(error):
                raise
            return init_chat_model(spec)
    except ImportError as error:
        package = provider_table().get(provider, {}).get("package")
        hint = f" (pip install {package})" if package else ""
        raise ModelConfigError(f"model {spec!r}: {str(error).splitlines()[0]}{hint}") from None
    except Exception as error:  # each provider raises its own type for bad names and missing credentials
        raise ModelConfigError(f"model {spec!r} cannot be used: {str(error).splitlines()[0]}") from None
