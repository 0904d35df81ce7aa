"""Prompt names → Asterisk media URIs, in one place.

The menu speaks in prompt names (``greeting``, ``record``: the keys of ``ivr.menu.prompts``); Asterisk plays
media URIs. A prompt is the sound ``gridline/<name>``: record each as
``/var/lib/asterisk/sounds/<lang>/gridline/<name>.wav`` for ``zh`` and ``en`` (Asterisk picks the folder from
the ``lang`` of the play request; the texts to record are the prompts' texts in ``ivr.menu.prompts``).
``ivr.ari.prompts`` in the config maps a name to other media (``sound:vm-goodbye``, ``recording:...``).
A prompt that already is a media URI (``digits:12345``, ``number:3``) is played as it is.
"""

from __future__ import annotations

#: Media schemes ARI's ``POST /channels/{id}/play`` accepts (channels.json: ``media``).
MEDIA_SCHEMES = ("sound:", "recording:", "number:", "digits:", "characters:", "tone:")


def media_for(prompt: str, overrides: dict[str, str] | None = None) -> str:
    """The media URI to play for ``prompt``."""
    if prompt.startswith(MEDIA_SCHEMES):
        return prompt
    if overrides and prompt in overrides:
        return overrides[prompt]
    return f"sound:gridline/{prompt}"
