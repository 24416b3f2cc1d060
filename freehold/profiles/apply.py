"""Wear a profile: one question to a model (or along a route) with the profile as its system
text, through the router, nothing stored.

The profile goes in ``ChatRequest.system``, and each provider puts that where its protocol
reads it (providers/*.py): Anthropic's ``system`` parameter, an OpenAI ``system`` message
first in ``messages``, Gemini's ``system_instruction``. ``freehold chat --profile`` sends the
same text through ``chat.Session`` (as the conversation's system message, so the archive shows
what the model was told); ``apply`` is the check that a model wears it, and what the break
test runs with a provider refused (pass its ``router``).
"""

from __future__ import annotations

from freehold.config import Config, ModelRef, Target
from freehold.providers.base import ChatRequest, Provider, Turn, connect
from freehold.router import Answer, Router

__all__ = ["CHECK_PROMPT", "ask"]

CHECK_PROMPT = (
    "In two or three sentences: what do you know about me, and how will you answer me? "
    "Say only what your instructions tell you."
)


def ask(
    system: str,
    prompt: str,
    config: Config,
    target: Target,
    *,
    router: Router | None = None,
) -> Answer:
    """The answer to ``prompt`` from the first model of ``target`` that gives one."""
    names = dict.fromkeys(ref.provider for ref in target.models)
    providers = {} if router else {n: connect(config.providers[n]) for n in names}
    try:
        run = (router or Router(providers, config.router)).run(
            target.models, lambda provider, ref: (_request(system, prompt, provider, ref), [])
        )
        for _ in run:
            pass  # the whole answer is wanted; the run keeps it
        return run.answer
    finally:
        for provider in providers.values():
            provider.close()


def _request(system: str, prompt: str, provider: Provider, ref: ModelRef) -> ChatRequest:
    room = min(provider.config.max_tokens, max(256, provider.context_window // 4))
    turns = (Turn("user", (prompt,)),)
    return ChatRequest(ref.model, turns, system or None, max_tokens=room, stream=False)
