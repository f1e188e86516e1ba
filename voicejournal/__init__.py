"""voicejournal: a private, voice-first journaling companion.

Only light modules are imported here so that `voicejournal --help`, `list` and `show`
start fast; the speech, audio and model stacks are imported where they are used.
"""

__version__ = "0.1.0"
