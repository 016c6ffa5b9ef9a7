"""flask-talk: a Flask site as the single-sign-on identity provider for Coral Talk."""
from __future__ import annotations

from .errors import ConfigurationError as ConfigurationError
from .errors import StoreUnavailable as StoreUnavailable
from .errors import TalkError as TalkError
from .errors import TokenError as TokenError
from .extension import TalkAuth as TalkAuth
from .readers import current_reader as current_reader
from .state import current_talk as current_talk
from .tokens import TokenCodec as TokenCodec
from .tokens import TokenPolicy as TokenPolicy

__version__ = "0.1.0"

__all__ = [
    "ConfigurationError", "StoreUnavailable", "TalkAuth", "TalkError", "TokenCodec",
    "TokenError", "TokenPolicy", "current_reader", "current_talk",
]
