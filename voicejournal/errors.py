"""One base exception; every message says what to do next.

The CLI turns a `VoiceJournalError` into its message and `exit_code`; nothing below the
CLI prints or exits.
"""


class VoiceJournalError(Exception):
    """Base for every error the user can act on."""

    exit_code = 1


class UserInputError(VoiceJournalError):
    """Something typed on the command line or in a file can't be used as given."""

    exit_code = 2


class EntryNotFound(VoiceJournalError):
    """No entry matches the id (or prefix) given."""

    exit_code = 3


class JournalError(VoiceJournalError):
    """The journal file can't be read, written or locked."""

    exit_code = 4


class JournalCorrupt(JournalError):
    """The journal file exists but is not a journal we can read. It is never overwritten."""


class JournalLocked(JournalError):
    """Another process holds the journal's write lock for too long."""


class ConfigError(UserInputError):
    """A configuration value is invalid."""


class DeviceError(VoiceJournalError):
    """A microphone, speaker or audio library is missing or busy."""

    exit_code = 5


class ModelError(VoiceJournalError):
    """A speech or language model is not available or failed."""

    exit_code = 6


class AudioError(UserInputError):
    """An audio file can't be read or holds no usable speech."""
