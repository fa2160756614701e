"""Error types shared by every layer. Every message names the field, what was allowed and what was given."""


class AdvisorError(Exception):
    """Base class for every error the advisor raises on purpose."""


class SituationError(AdvisorError, ValueError):
    """The user's situation (questionnaire answers, CLI flags, YAML file) is invalid."""


class KnowledgeBaseError(AdvisorError, ValueError):
    """A file under knowledge/ is malformed; raised at load time, never while advising."""


class ProbeError(AdvisorError, RuntimeError):
    """A probe could not be set up (bad data, unknown model) before any training started."""
