"""Which chat model plays the roles: `offline`, or any `provider:model` LangChain's init_chat_model knows.

Nothing else in the code base knows which provider it is. Problems with the model string (unknown
provider, missing package, missing key) are found here, before any work starts.
"""

import os

from langchain_core.language_models import BaseChatModel

from benchgen_dagster.agent.configuration import OFFLINE_MODEL
from benchgen_dagster.agent.offline.model import OfflinePolicyModel

# Providers whose client only fails at the first call without a key: check the key up front.
PROVIDER_KEYS = {
    "anthropic": "ANTHROPIC_API_KEY",
    "openai": "OPENAI_API_KEY",
    "google_genai": "GOOGLE_API_KEY",
    "mistralai": "MISTRAL_API_KEY",
    "groq": "GROQ_API_KEY",
    "fireworks": "FIREWORKS_API_KEY",
    "together": "TOGETHER_API_KEY",
}


class ModelConfigError(ValueError):
    """The model string cannot be used; the message says what to do."""


def chat_model(spec: str, role: str) -> BaseChatModel:
    """The chat model for `role`; raises ModelConfigError with a one-line reason."""
    if spec == OFFLINE_MODEL:
        return OfflinePolicyModel(role=role)
    if ":" not in spec:
        raise ModelConfigError(
            f"model {spec!r} must be 'offline' or 'provider:model', e.g. 'anthropic:claude-sonnet-4-5'"
        )
    provider = spec.split(":", 1)[0]
    key = PROVIDER_KEYS.get(provider)
    if key and not os.environ.get(key):
        raise ModelConfigError(f"model {spec!r} needs {key} in the environment")
    from langchain.chat_models import init_chat_model

    try:
        return init_chat_model(spec)
    except ImportError as error:
        raise ModelConfigError(f"model {spec!r}: {str(error).splitlines()[0]}") from None
    except Exception as error:  # each provider raises its own type for bad names and missing credentials
        raise ModelConfigError(f"model {spec!r} cannot be used: {str(error).splitlines()[0]}") from None
