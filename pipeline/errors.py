"""What stops a run. Everything about one mail or file is a Finding instead."""


class IntakeError(Exception):
    """Base of every error that ends a run; the CLI prints it on one line."""


class ConfigError(IntakeError):
    """The config file or the environment it names is unusable."""


class RulesError(ConfigError):
    """A rules file names an unknown check, bad params or a duplicate code."""


class MailboxError(IntakeError):
    """The IMAP server cannot be reached, refuses login or the folder."""


class SmtpError(IntakeError):
    """The SMTP server cannot be reached or refuses login."""


class StoreError(IntakeError):
    """The database or storage directory cannot be used."""


class LockedError(IntakeError):
    """Another intake run holds the lock on this storage directory."""
